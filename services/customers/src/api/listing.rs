//! ListCustomers: the AIP-160 filter and order over ACTIVE customers.

use kefu_proto::v1::{ListCustomersRequest, ListCustomersResponse};
use tonic::{Request, Response, Status};

use super::Shared;

/// ListCustomers.
pub(super) async fn list_customers(
    _shared: &Shared,
    _request: Request<ListCustomersRequest>,
) -> Result<Response<ListCustomersResponse>, Status> {
    Err(Status::unimplemented("ListCustomers is not built yet"))
}
