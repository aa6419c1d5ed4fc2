//! gRPC handlers of the callbacks service.
//!
//! Methods not written here answer UNIMPLEMENTED (the generated default)
//! until the issue that builds this service implements them.

use kefu_kit::auth::InternalAuth;
use kefu_proto::v1::callback_service_server::{CallbackService, CallbackServiceServer};
use tonic::service::RoutesBuilder;

/// Adds every gRPC service of this target, each behind `auth`.
pub fn add_routes(routes: &mut RoutesBuilder, auth: &InternalAuth) {
    routes.add_service(CallbackServiceServer::with_interceptor(
        CallbackApi,
        auth.clone(),
    ));
}

/// Handlers of `kefu.v1.CallbackService`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallbackApi;

#[tonic::async_trait]
impl CallbackService for CallbackApi {}
