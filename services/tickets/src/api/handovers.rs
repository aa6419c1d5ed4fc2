//! Shift handovers (交接班): the open items of a shift handed to the next and acknowledged.

use kefu_proto::v1::{
    AcknowledgeHandoverRequest, CreateHandoverRequest, GetHandoverRequest, Handover,
    ListHandoversRequest, ListHandoversResponse, SubmitHandoverRequest, UpdateHandoverRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// `CreateHandover`: not built yet.
pub(super) async fn create_handover(
    _shared: &Shared,
    _request: Request<CreateHandoverRequest>,
) -> Result<Response<Handover>, Status> {
    Err(Status::unimplemented("CreateHandover is not built yet"))
}

/// `GetHandover`: not built yet.
pub(super) async fn get_handover(
    _shared: &Shared,
    _request: Request<GetHandoverRequest>,
) -> Result<Response<Handover>, Status> {
    Err(Status::unimplemented("GetHandover is not built yet"))
}

/// `ListHandovers`: not built yet.
pub(super) async fn list_handovers(
    _shared: &Shared,
    _request: Request<ListHandoversRequest>,
) -> Result<Response<ListHandoversResponse>, Status> {
    Err(Status::unimplemented("ListHandovers is not built yet"))
}

/// `UpdateHandover`: not built yet.
pub(super) async fn update_handover(
    _shared: &Shared,
    _request: Request<UpdateHandoverRequest>,
) -> Result<Response<Handover>, Status> {
    Err(Status::unimplemented("UpdateHandover is not built yet"))
}

/// `SubmitHandover`: not built yet.
pub(super) async fn submit_handover(
    _shared: &Shared,
    _request: Request<SubmitHandoverRequest>,
) -> Result<Response<Handover>, Status> {
    Err(Status::unimplemented("SubmitHandover is not built yet"))
}

/// `AcknowledgeHandover`: not built yet.
pub(super) async fn acknowledge_handover(
    _shared: &Shared,
    _request: Request<AcknowledgeHandoverRequest>,
) -> Result<Response<Handover>, Status> {
    Err(Status::unimplemented(
        "AcknowledgeHandover is not built yet",
    ))
}
