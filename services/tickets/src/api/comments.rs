//! Public replies and internal notes, and the read side of the immutable audit trail.

use kefu_proto::v1::{
    CreateTicketCommentRequest, GetTicketAuditEntryRequest, GetTicketCommentRequest,
    ListTicketAuditEntriesRequest, ListTicketAuditEntriesResponse, ListTicketCommentsRequest,
    ListTicketCommentsResponse, TicketAuditEntry, TicketComment,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// `CreateTicketComment`: not built yet.
pub(super) async fn create_ticket_comment(
    _shared: &Shared,
    _request: Request<CreateTicketCommentRequest>,
) -> Result<Response<TicketComment>, Status> {
    Err(Status::unimplemented(
        "CreateTicketComment is not built yet",
    ))
}

/// `GetTicketComment`: not built yet.
pub(super) async fn get_ticket_comment(
    _shared: &Shared,
    _request: Request<GetTicketCommentRequest>,
) -> Result<Response<TicketComment>, Status> {
    Err(Status::unimplemented("GetTicketComment is not built yet"))
}

/// `ListTicketComments`: not built yet.
pub(super) async fn list_ticket_comments(
    _shared: &Shared,
    _request: Request<ListTicketCommentsRequest>,
) -> Result<Response<ListTicketCommentsResponse>, Status> {
    Err(Status::unimplemented("ListTicketComments is not built yet"))
}

/// `GetTicketAuditEntry`: not built yet.
pub(super) async fn get_ticket_audit_entry(
    _shared: &Shared,
    _request: Request<GetTicketAuditEntryRequest>,
) -> Result<Response<TicketAuditEntry>, Status> {
    Err(Status::unimplemented(
        "GetTicketAuditEntry is not built yet",
    ))
}

/// `ListTicketAuditEntries`: not built yet.
pub(super) async fn list_ticket_audit_entries(
    _shared: &Shared,
    _request: Request<ListTicketAuditEntriesRequest>,
) -> Result<Response<ListTicketAuditEntriesResponse>, Status> {
    Err(Status::unimplemented(
        "ListTicketAuditEntries is not built yet",
    ))
}
