//! The tenants service: tenants, industry templates, identity, SLA policies and approval rules.
//!
//! `api` translates gRPC calls, `domain` decides (pure rules, the clock
//! passed in), `store` persists through sea-orm, and events leave through
//! the outbox in the same transactions. `templates` holds the industry
//! templates (data shipped with Kefu). Methods not built yet answer
//! UNIMPLEMENTED.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod error;
pub mod mail;
pub mod replica;
pub mod store;
pub mod templates;

use std::sync::Arc;

use kefu_kit::{
    auth::InternalAuth,
    service::{KefuService, ServiceContext},
};
use tonic::service::RoutesBuilder;

/// The target name: `kefu serve --target tenants`, its schema, its event stream.
pub const NAME: &str = "tenants";

/// The gRPC services this target serves.
pub const GRPC_SERVICES: &[&str] = &["kefu.v1.TenantService", "kefu.v1.IdentityService"];

/// The tenants service.
#[derive(Clone)]
pub struct TenantsService {
    mailer: Arc<dyn mail::Mailer>,
}

impl TenantsService {
    /// The service, sending its e-mail through `mailer`.
    pub fn new(mailer: Arc<dyn mail::Mailer>) -> Self {
        Self { mailer }
    }
}

impl KefuService for TenantsService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn grpc_services(&self) -> &'static [&'static str] {
        GRPC_SERVICES
    }

    fn purges_deleted_tenants(&self) -> bool {
        // DeleteTenant removes this service's rows in the transaction that
        // publishes TenantDeleted.
        false
    }

    fn add_routes(&self, routes: &mut RoutesBuilder, auth: InternalAuth, context: &ServiceContext) {
        api::add_routes(
            routes,
            &auth,
            api::Shared::new(context, self.mailer.clone()),
        );
    }
}
