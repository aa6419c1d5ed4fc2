//! The activity timeline, fed by events.

use kefu_proto::v1::{ListCustomerActivitiesRequest, ListCustomerActivitiesResponse};
use tonic::{Request, Response, Status};

use super::Shared;

/// ListCustomerActivities.
pub(super) async fn list_customer_activities(
    _shared: &Shared,
    _request: Request<ListCustomerActivitiesRequest>,
) -> Result<Response<ListCustomerActivitiesResponse>, Status> {
    Err(Status::unimplemented(
        "ListCustomerActivities is not built yet",
    ))
}

/// Whether another service has referenced customer `id` (its timeline holds
/// an activity that came from another service's event).
pub(crate) async fn referenced(
    _txn: &sea_orm::DatabaseTransaction,
    _tenant: kefu_kit::context::TenantId,
    _id: &str,
) -> crate::error::Result<bool> {
    Ok(false)
}
