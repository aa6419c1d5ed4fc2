//! gRPC handlers of the tenants service.
//!
//! Methods not written here answer UNIMPLEMENTED (the generated default)
//! until the issue that builds this service implements them.

use kefu_kit::auth::InternalAuth;
use kefu_proto::v1::{
    identity_service_server::{IdentityService, IdentityServiceServer},
    tenant_service_server::{TenantService, TenantServiceServer},
};
use tonic::service::RoutesBuilder;

/// Adds every gRPC service of this target, each behind `auth`.
pub fn add_routes(routes: &mut RoutesBuilder, auth: &InternalAuth) {
    routes.add_service(TenantServiceServer::with_interceptor(
        TenantApi,
        auth.clone(),
    ));
    routes.add_service(IdentityServiceServer::with_interceptor(
        IdentityApi,
        auth.clone(),
    ));
}

/// Handlers of `kefu.v1.TenantService`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TenantApi;

#[tonic::async_trait]
impl TenantService for TenantApi {}

/// Handlers of `kefu.v1.IdentityService`.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityApi;

#[tonic::async_trait]
impl IdentityService for IdentityApi {}
