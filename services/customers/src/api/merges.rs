//! Duplicates and merges (合并), reversible by record.

use kefu_proto::v1::{
    CustomerMerge, FindDuplicateCustomersRequest, FindDuplicateCustomersResponse,
    GetCustomerMergeRequest, ListCustomerMergesRequest, ListCustomerMergesResponse,
    MergeCustomersRequest, UndoCustomerMergeRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// FindDuplicateCustomers.
pub(super) async fn find_duplicate_customers(
    _shared: &Shared,
    _request: Request<FindDuplicateCustomersRequest>,
) -> Result<Response<FindDuplicateCustomersResponse>, Status> {
    Err(Status::unimplemented(
        "FindDuplicateCustomers is not built yet",
    ))
}

/// MergeCustomers.
pub(super) async fn merge_customers(
    _shared: &Shared,
    _request: Request<MergeCustomersRequest>,
) -> Result<Response<CustomerMerge>, Status> {
    Err(Status::unimplemented("MergeCustomers is not built yet"))
}

/// GetCustomerMerge.
pub(super) async fn get_customer_merge(
    _shared: &Shared,
    _request: Request<GetCustomerMergeRequest>,
) -> Result<Response<CustomerMerge>, Status> {
    Err(Status::unimplemented("GetCustomerMerge is not built yet"))
}

/// ListCustomerMerges.
pub(super) async fn list_customer_merges(
    _shared: &Shared,
    _request: Request<ListCustomerMergesRequest>,
) -> Result<Response<ListCustomerMergesResponse>, Status> {
    Err(Status::unimplemented("ListCustomerMerges is not built yet"))
}

/// UndoCustomerMerge.
pub(super) async fn undo_customer_merge(
    _shared: &Shared,
    _request: Request<UndoCustomerMergeRequest>,
) -> Result<Response<CustomerMerge>, Status> {
    Err(Status::unimplemented("UndoCustomerMerge is not built yet"))
}
