//! Assignment (round robin, least loaded, skills, availability), escalation by tier, priority and triage.

use kefu_proto::v1::{
    AssignTicketRequest, EscalateTicketRequest, SetTicketPriorityRequest, Ticket,
    TriageTicketRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// `AssignTicket`: not built yet.
pub(super) async fn assign_ticket(
    _shared: &Shared,
    _request: Request<AssignTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("AssignTicket is not built yet"))
}

/// `EscalateTicket`: not built yet.
pub(super) async fn escalate_ticket(
    _shared: &Shared,
    _request: Request<EscalateTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("EscalateTicket is not built yet"))
}

/// `SetTicketPriority`: not built yet.
pub(super) async fn set_ticket_priority(
    _shared: &Shared,
    _request: Request<SetTicketPriorityRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("SetTicketPriority is not built yet"))
}

/// `TriageTicket`: not built yet.
pub(super) async fn triage_ticket(
    _shared: &Shared,
    _request: Request<TriageTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Err(Status::unimplemented("TriageTicket is not built yet"))
}
