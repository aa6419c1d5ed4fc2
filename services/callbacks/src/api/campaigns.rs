//! Campaigns (特色回访): a segment visited once in a period.
//!
//! Until written, each method answers UNIMPLEMENTED.

use kefu_proto::v1::{
    Campaign, CancelCampaignRequest, CreateCampaignRequest, GetCampaignRequest,
    ListCampaignsRequest, ListCampaignsResponse, StartCampaignRequest, UpdateCampaignRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// CreateCampaign.
pub(super) async fn create_campaign(
    _shared: &Shared,
    _request: Request<CreateCampaignRequest>,
) -> Result<Response<Campaign>, Status> {
    Err(Status::unimplemented("CreateCampaign is not written yet"))
}

/// GetCampaign.
pub(super) async fn get_campaign(
    _shared: &Shared,
    _request: Request<GetCampaignRequest>,
) -> Result<Response<Campaign>, Status> {
    Err(Status::unimplemented("GetCampaign is not written yet"))
}

/// ListCampaigns.
pub(super) async fn list_campaigns(
    _shared: &Shared,
    _request: Request<ListCampaignsRequest>,
) -> Result<Response<ListCampaignsResponse>, Status> {
    Err(Status::unimplemented("ListCampaigns is not written yet"))
}

/// UpdateCampaign.
pub(super) async fn update_campaign(
    _shared: &Shared,
    _request: Request<UpdateCampaignRequest>,
) -> Result<Response<Campaign>, Status> {
    Err(Status::unimplemented("UpdateCampaign is not written yet"))
}

/// StartCampaign.
pub(super) async fn start_campaign(
    _shared: &Shared,
    _request: Request<StartCampaignRequest>,
) -> Result<Response<Campaign>, Status> {
    Err(Status::unimplemented("StartCampaign is not written yet"))
}

/// CancelCampaign.
pub(super) async fn cancel_campaign(
    _shared: &Shared,
    _request: Request<CancelCampaignRequest>,
) -> Result<Response<Campaign>, Status> {
    Err(Status::unimplemented("CancelCampaign is not written yet"))
}
