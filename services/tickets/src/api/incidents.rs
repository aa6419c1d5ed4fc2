//! Incidents (crisis mode): many tickets with one cause, one response, one resolution.

use kefu_proto::v1::{
    CreateIncidentRequest, GetIncidentRequest, Incident, LinkTicketsToIncidentRequest,
    ListIncidentsRequest, ListIncidentsResponse, PostIncidentResponseRequest,
    ResolveIncidentRequest, UnlinkTicketFromIncidentRequest, UpdateIncidentRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// `CreateIncident`: not built yet.
pub(super) async fn create_incident(
    _shared: &Shared,
    _request: Request<CreateIncidentRequest>,
) -> Result<Response<Incident>, Status> {
    Err(Status::unimplemented("CreateIncident is not built yet"))
}

/// `GetIncident`: not built yet.
pub(super) async fn get_incident(
    _shared: &Shared,
    _request: Request<GetIncidentRequest>,
) -> Result<Response<Incident>, Status> {
    Err(Status::unimplemented("GetIncident is not built yet"))
}

/// `ListIncidents`: not built yet.
pub(super) async fn list_incidents(
    _shared: &Shared,
    _request: Request<ListIncidentsRequest>,
) -> Result<Response<ListIncidentsResponse>, Status> {
    Err(Status::unimplemented("ListIncidents is not built yet"))
}

/// `UpdateIncident`: not built yet.
pub(super) async fn update_incident(
    _shared: &Shared,
    _request: Request<UpdateIncidentRequest>,
) -> Result<Response<Incident>, Status> {
    Err(Status::unimplemented("UpdateIncident is not built yet"))
}

/// `LinkTicketsToIncident`: not built yet.
pub(super) async fn link_tickets_to_incident(
    _shared: &Shared,
    _request: Request<LinkTicketsToIncidentRequest>,
) -> Result<Response<Incident>, Status> {
    Err(Status::unimplemented(
        "LinkTicketsToIncident is not built yet",
    ))
}

/// `UnlinkTicketFromIncident`: not built yet.
pub(super) async fn unlink_ticket_from_incident(
    _shared: &Shared,
    _request: Request<UnlinkTicketFromIncidentRequest>,
) -> Result<Response<Incident>, Status> {
    Err(Status::unimplemented(
        "UnlinkTicketFromIncident is not built yet",
    ))
}

/// `PostIncidentResponse`: not built yet.
pub(super) async fn post_incident_response(
    _shared: &Shared,
    _request: Request<PostIncidentResponseRequest>,
) -> Result<Response<Incident>, Status> {
    Err(Status::unimplemented(
        "PostIncidentResponse is not built yet",
    ))
}

/// `ResolveIncident`: not built yet.
pub(super) async fn resolve_incident(
    _shared: &Shared,
    _request: Request<ResolveIncidentRequest>,
) -> Result<Response<Incident>, Status> {
    Err(Status::unimplemented("ResolveIncident is not built yet"))
}
