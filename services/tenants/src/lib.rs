//! The tenants service: tenants, industry templates, identity, SLA policies and approval rules.
//!
//! Only `api` exists so far: the contract's methods answer UNIMPLEMENTED
//! until this service's issue builds them, as `api` translating gRPC calls,
//! `domain` deciding (pure rules, injected clock) and `store` persisting
//! through sea-orm, with events leaving through the outbox in the store's
//! transactions.
#![forbid(unsafe_code)]

pub mod api;

use kefu_kit::{auth::InternalAuth, service::KefuService};
use tonic::service::RoutesBuilder;

/// The target name: `kefu serve --target tenants`, its schema, its event stream.
pub const NAME: &str = "tenants";

/// The gRPC services this target serves.
pub const GRPC_SERVICES: &[&str] = &["kefu.v1.TenantService", "kefu.v1.IdentityService"];

/// The tenants service.
#[derive(Debug, Clone, Copy, Default)]
pub struct TenantsService;

impl KefuService for TenantsService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn grpc_services(&self) -> &'static [&'static str] {
        GRPC_SERVICES
    }

    fn add_routes(&self, routes: &mut RoutesBuilder, auth: InternalAuth) {
        api::add_routes(routes, &auth);
    }
}
