//! gRPC handlers of the analytics service.
//!
//! Methods not written here answer UNIMPLEMENTED (the generated default)
//! until the issue that builds this service implements them.

use kefu_kit::auth::InternalAuth;
use kefu_proto::v1::analytics_service_server::{AnalyticsService, AnalyticsServiceServer};
use tonic::service::RoutesBuilder;

/// Adds every gRPC service of this target, each behind `auth`.
pub fn add_routes(routes: &mut RoutesBuilder, auth: &InternalAuth) {
    routes.add_service(AnalyticsServiceServer::with_interceptor(
        AnalyticsApi,
        auth.clone(),
    ));
}

/// Handlers of `kefu.v1.AnalyticsService`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnalyticsApi;

#[tonic::async_trait]
impl AnalyticsService for AnalyticsApi {}
