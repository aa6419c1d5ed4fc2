//! Callback policies (回访制度): CRUD and validation.
//!
//! Until written, each method answers UNIMPLEMENTED.

use kefu_proto::v1::{
    CallbackPolicy, CreateCallbackPolicyRequest, DeleteCallbackPolicyRequest,
    GetCallbackPolicyRequest, ListCallbackPoliciesRequest, ListCallbackPoliciesResponse,
    UpdateCallbackPolicyRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// CreateCallbackPolicy.
pub(super) async fn create_callback_policy(
    _shared: &Shared,
    _request: Request<CreateCallbackPolicyRequest>,
) -> Result<Response<CallbackPolicy>, Status> {
    Err(Status::unimplemented(
        "CreateCallbackPolicy is not written yet",
    ))
}

/// GetCallbackPolicy.
pub(super) async fn get_callback_policy(
    _shared: &Shared,
    _request: Request<GetCallbackPolicyRequest>,
) -> Result<Response<CallbackPolicy>, Status> {
    Err(Status::unimplemented(
        "GetCallbackPolicy is not written yet",
    ))
}

/// ListCallbackPolicies.
pub(super) async fn list_callback_policies(
    _shared: &Shared,
    _request: Request<ListCallbackPoliciesRequest>,
) -> Result<Response<ListCallbackPoliciesResponse>, Status> {
    Err(Status::unimplemented(
        "ListCallbackPolicies is not written yet",
    ))
}

/// UpdateCallbackPolicy.
pub(super) async fn update_callback_policy(
    _shared: &Shared,
    _request: Request<UpdateCallbackPolicyRequest>,
) -> Result<Response<CallbackPolicy>, Status> {
    Err(Status::unimplemented(
        "UpdateCallbackPolicy is not written yet",
    ))
}

/// DeleteCallbackPolicy.
pub(super) async fn delete_callback_policy(
    _shared: &Shared,
    _request: Request<DeleteCallbackPolicyRequest>,
) -> Result<Response<()>, Status> {
    Err(Status::unimplemented(
        "DeleteCallbackPolicy is not written yet",
    ))
}
