//! Service requests (服务登记) and dispatch (派工): technicians, appointments, sign-off, countersignature.

use kefu_proto::v1::{
    ApproveOutOfTownDispatchRequest, CancelDispatchRequest, CompleteDispatchRequest,
    CountersignDispatchRequest, CreateDispatchRequest, CreateServiceRequestRequest,
    DeleteServiceRequestRequest, Dispatch, DispatchTechnicianRequest, GetDispatchRequest,
    GetServiceRequestRequest, ListDispatchQueueRequest, ListDispatchQueueResponse,
    ListDispatchesRequest, ListDispatchesResponse, ListServiceRequestsRequest,
    ListServiceRequestsResponse, RecordArrivalRequest, RecordCustomerSignOffRequest,
    RecordWorkRequest, RejectOutOfTownDispatchRequest, ServiceRequest, UpdateServiceRequestRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// `CreateServiceRequest`: not built yet.
pub(super) async fn create_service_request(
    _shared: &Shared,
    _request: Request<CreateServiceRequestRequest>,
) -> Result<Response<ServiceRequest>, Status> {
    Err(Status::unimplemented(
        "CreateServiceRequest is not built yet",
    ))
}

/// `GetServiceRequest`: not built yet.
pub(super) async fn get_service_request(
    _shared: &Shared,
    _request: Request<GetServiceRequestRequest>,
) -> Result<Response<ServiceRequest>, Status> {
    Err(Status::unimplemented("GetServiceRequest is not built yet"))
}

/// `ListServiceRequests`: not built yet.
pub(super) async fn list_service_requests(
    _shared: &Shared,
    _request: Request<ListServiceRequestsRequest>,
) -> Result<Response<ListServiceRequestsResponse>, Status> {
    Err(Status::unimplemented(
        "ListServiceRequests is not built yet",
    ))
}

/// `UpdateServiceRequest`: not built yet.
pub(super) async fn update_service_request(
    _shared: &Shared,
    _request: Request<UpdateServiceRequestRequest>,
) -> Result<Response<ServiceRequest>, Status> {
    Err(Status::unimplemented(
        "UpdateServiceRequest is not built yet",
    ))
}

/// `DeleteServiceRequest`: not built yet.
pub(super) async fn delete_service_request(
    _shared: &Shared,
    _request: Request<DeleteServiceRequestRequest>,
) -> Result<Response<()>, Status> {
    Err(Status::unimplemented(
        "DeleteServiceRequest is not built yet",
    ))
}

/// `ApproveOutOfTownDispatch`: not built yet.
pub(super) async fn approve_out_of_town_dispatch(
    _shared: &Shared,
    _request: Request<ApproveOutOfTownDispatchRequest>,
) -> Result<Response<ServiceRequest>, Status> {
    Err(Status::unimplemented(
        "ApproveOutOfTownDispatch is not built yet",
    ))
}

/// `RejectOutOfTownDispatch`: not built yet.
pub(super) async fn reject_out_of_town_dispatch(
    _shared: &Shared,
    _request: Request<RejectOutOfTownDispatchRequest>,
) -> Result<Response<ServiceRequest>, Status> {
    Err(Status::unimplemented(
        "RejectOutOfTownDispatch is not built yet",
    ))
}

/// `ListDispatchQueue`: not built yet.
pub(super) async fn list_dispatch_queue(
    _shared: &Shared,
    _request: Request<ListDispatchQueueRequest>,
) -> Result<Response<ListDispatchQueueResponse>, Status> {
    Err(Status::unimplemented("ListDispatchQueue is not built yet"))
}

/// `CreateDispatch`: not built yet.
pub(super) async fn create_dispatch(
    _shared: &Shared,
    _request: Request<CreateDispatchRequest>,
) -> Result<Response<Dispatch>, Status> {
    Err(Status::unimplemented("CreateDispatch is not built yet"))
}

/// `DispatchTechnician`: not built yet.
pub(super) async fn dispatch_technician(
    _shared: &Shared,
    _request: Request<DispatchTechnicianRequest>,
) -> Result<Response<Dispatch>, Status> {
    Err(Status::unimplemented("DispatchTechnician is not built yet"))
}

/// `RecordArrival`: not built yet.
pub(super) async fn record_arrival(
    _shared: &Shared,
    _request: Request<RecordArrivalRequest>,
) -> Result<Response<Dispatch>, Status> {
    Err(Status::unimplemented("RecordArrival is not built yet"))
}

/// `RecordWork`: not built yet.
pub(super) async fn record_work(
    _shared: &Shared,
    _request: Request<RecordWorkRequest>,
) -> Result<Response<Dispatch>, Status> {
    Err(Status::unimplemented("RecordWork is not built yet"))
}

/// `RecordCustomerSignOff`: not built yet.
pub(super) async fn record_customer_sign_off(
    _shared: &Shared,
    _request: Request<RecordCustomerSignOffRequest>,
) -> Result<Response<Dispatch>, Status> {
    Err(Status::unimplemented(
        "RecordCustomerSignOff is not built yet",
    ))
}

/// `CompleteDispatch`: not built yet.
pub(super) async fn complete_dispatch(
    _shared: &Shared,
    _request: Request<CompleteDispatchRequest>,
) -> Result<Response<Dispatch>, Status> {
    Err(Status::unimplemented("CompleteDispatch is not built yet"))
}

/// `CountersignDispatch`: not built yet.
pub(super) async fn countersign_dispatch(
    _shared: &Shared,
    _request: Request<CountersignDispatchRequest>,
) -> Result<Response<Dispatch>, Status> {
    Err(Status::unimplemented(
        "CountersignDispatch is not built yet",
    ))
}

/// `CancelDispatch`: not built yet.
pub(super) async fn cancel_dispatch(
    _shared: &Shared,
    _request: Request<CancelDispatchRequest>,
) -> Result<Response<Dispatch>, Status> {
    Err(Status::unimplemented("CancelDispatch is not built yet"))
}

/// `GetDispatch`: not built yet.
pub(super) async fn get_dispatch(
    _shared: &Shared,
    _request: Request<GetDispatchRequest>,
) -> Result<Response<Dispatch>, Status> {
    Err(Status::unimplemented("GetDispatch is not built yet"))
}

/// `ListDispatches`: not built yet.
pub(super) async fn list_dispatches(
    _shared: &Shared,
    _request: Request<ListDispatchesRequest>,
) -> Result<Response<ListDispatchesResponse>, Status> {
    Err(Status::unimplemented("ListDispatches is not built yet"))
}
