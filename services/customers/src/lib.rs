//! The customers service: the customer archive (客户档案).
//!
//! Only `api` exists so far: the contract's methods answer UNIMPLEMENTED
//! until this service's issue builds them, as `api` translating gRPC calls,
//! `domain` deciding (pure rules, injected clock) and `store` persisting
//! through sea-orm, with events leaving through the outbox in the store's
//! transactions.
#![forbid(unsafe_code)]

pub mod api;

use kefu_kit::{
    auth::InternalAuth,
    service::{KefuService, ServiceContext},
};
use tonic::service::RoutesBuilder;

/// The target name: `kefu serve --target customers`, its schema, its event stream.
pub const NAME: &str = "customers";

/// The gRPC services this target serves.
pub const GRPC_SERVICES: &[&str] = &["kefu.v1.CustomerService"];

/// The customers service.
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomersService;

impl KefuService for CustomersService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn grpc_services(&self) -> &'static [&'static str] {
        GRPC_SERVICES
    }

    fn add_routes(
        &self,
        routes: &mut RoutesBuilder,
        auth: InternalAuth,
        _context: &ServiceContext,
    ) {
        api::add_routes(routes, &auth);
    }
}
