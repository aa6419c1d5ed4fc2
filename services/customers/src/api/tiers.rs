//! Tiers (客户等级) and their rules.

use kefu_proto::v1::{
    CreateTierRequest, DeleteTierRequest, GetTierRequest, ListTiersRequest, ListTiersResponse,
    Tier, UpdateTierRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// CreateTier.
pub(super) async fn create_tier(
    _shared: &Shared,
    _request: Request<CreateTierRequest>,
) -> Result<Response<Tier>, Status> {
    Err(Status::unimplemented("CreateTier is not built yet"))
}

/// GetTier.
pub(super) async fn get_tier(
    _shared: &Shared,
    _request: Request<GetTierRequest>,
) -> Result<Response<Tier>, Status> {
    Err(Status::unimplemented("GetTier is not built yet"))
}

/// ListTiers.
pub(super) async fn list_tiers(
    _shared: &Shared,
    _request: Request<ListTiersRequest>,
) -> Result<Response<ListTiersResponse>, Status> {
    Err(Status::unimplemented("ListTiers is not built yet"))
}

/// UpdateTier.
pub(super) async fn update_tier(
    _shared: &Shared,
    _request: Request<UpdateTierRequest>,
) -> Result<Response<Tier>, Status> {
    Err(Status::unimplemented("UpdateTier is not built yet"))
}

/// DeleteTier.
pub(super) async fn delete_tier(
    _shared: &Shared,
    _request: Request<DeleteTierRequest>,
) -> Result<Response<()>, Status> {
    Err(Status::unimplemented("DeleteTier is not built yet"))
}
