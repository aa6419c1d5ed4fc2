//! Coverage (回访覆盖率) of campaigns and policies, and who is missing.
//!
//! Until written, each method answers UNIMPLEMENTED.

use kefu_proto::v1::{
    CallbackCoverage, GetCampaignCoverageRequest, GetPolicyCoverageRequest,
    ListUncoveredCustomersRequest, ListUncoveredCustomersResponse,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// GetCampaignCoverage.
pub(super) async fn get_campaign_coverage(
    _shared: &Shared,
    _request: Request<GetCampaignCoverageRequest>,
) -> Result<Response<CallbackCoverage>, Status> {
    Err(Status::unimplemented(
        "GetCampaignCoverage is not written yet",
    ))
}

/// GetPolicyCoverage.
pub(super) async fn get_policy_coverage(
    _shared: &Shared,
    _request: Request<GetPolicyCoverageRequest>,
) -> Result<Response<CallbackCoverage>, Status> {
    Err(Status::unimplemented(
        "GetPolicyCoverage is not written yet",
    ))
}

/// ListUncoveredCustomers.
pub(super) async fn list_uncovered_customers(
    _shared: &Shared,
    _request: Request<ListUncoveredCustomersRequest>,
) -> Result<Response<ListUncoveredCustomersResponse>, Status> {
    Err(Status::unimplemented(
        "ListUncoveredCustomers is not written yet",
    ))
}
