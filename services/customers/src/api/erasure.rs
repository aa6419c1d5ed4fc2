//! Erasure on request (PIPL / GDPR).

use kefu_proto::v1::{
    EraseCustomerRequest, ErasureRecord, GetErasureRecordRequest, ListErasureRecordsRequest,
    ListErasureRecordsResponse,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// EraseCustomer.
pub(super) async fn erase_customer(
    _shared: &Shared,
    _request: Request<EraseCustomerRequest>,
) -> Result<Response<ErasureRecord>, Status> {
    Err(Status::unimplemented("EraseCustomer is not built yet"))
}

/// GetErasureRecord.
pub(super) async fn get_erasure_record(
    _shared: &Shared,
    _request: Request<GetErasureRecordRequest>,
) -> Result<Response<ErasureRecord>, Status> {
    Err(Status::unimplemented("GetErasureRecord is not built yet"))
}

/// ListErasureRecords.
pub(super) async fn list_erasure_records(
    _shared: &Shared,
    _request: Request<ListErasureRecordsRequest>,
) -> Result<Response<ListErasureRecordsResponse>, Status> {
    Err(Status::unimplemented("ListErasureRecords is not built yet"))
}
