//! Tickets: create, read, list (the agents' views), update, the state transitions and flags.

use kefu_proto::v1::{
    CloseTicketRequest, CreateTicketRequest, FlagTicketRequest, GetTicketRequest,
    HoldTicketRequest, ListTicketsRequest, ListTicketsResponse, OpenTicketRequest,
    PendTicketRequest, ReopenTicketRequest, ResolveTicketRequest, ResumeTicketRequest, Ticket,
    UpdateTicketRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// `GetTicket`: not built yet.
pub(super) async fn get_ticket(
    _shared: &Shared,
    _request: Request<GetTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("GetTicket is not built yet"))
}

/// `ListTickets`: not built yet.
pub(super) async fn list_tickets(
    _shared: &Shared,
    _request: Request<ListTicketsRequest>,
) -> Result<Response<ListTicketsResponse>, Status> {
    Err(Status::unimplemented("ListTickets is not built yet"))
}

/// `CreateTicket`: not built yet.
pub(super) async fn create_ticket(
    _shared: &Shared,
    _request: Request<CreateTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("CreateTicket is not built yet"))
}

/// `UpdateTicket`: not built yet.
pub(super) async fn update_ticket(
    _shared: &Shared,
    _request: Request<UpdateTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("UpdateTicket is not built yet"))
}

/// `OpenTicket`: not built yet.
pub(super) async fn open_ticket(
    _shared: &Shared,
    _request: Request<OpenTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("OpenTicket is not built yet"))
}

/// `PendTicket`: not built yet.
pub(super) async fn pend_ticket(
    _shared: &Shared,
    _request: Request<PendTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("PendTicket is not built yet"))
}

/// `HoldTicket`: not built yet.
pub(super) async fn hold_ticket(
    _shared: &Shared,
    _request: Request<HoldTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("HoldTicket is not built yet"))
}

/// `ResumeTicket`: not built yet.
pub(super) async fn resume_ticket(
    _shared: &Shared,
    _request: Request<ResumeTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("ResumeTicket is not built yet"))
}

/// `ResolveTicket`: not built yet.
pub(super) async fn resolve_ticket(
    _shared: &Shared,
    _request: Request<ResolveTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("ResolveTicket is not built yet"))
}

/// `CloseTicket`: not built yet.
pub(super) async fn close_ticket(
    _shared: &Shared,
    _request: Request<CloseTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("CloseTicket is not built yet"))
}

/// `ReopenTicket`: not built yet.
pub(super) async fn reopen_ticket(
    _shared: &Shared,
    _request: Request<ReopenTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("ReopenTicket is not built yet"))
}

/// `FlagTicket`: not built yet.
pub(super) async fn flag_ticket(
    _shared: &Shared,
    _request: Request<FlagTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("FlagTicket is not built yet"))
}
