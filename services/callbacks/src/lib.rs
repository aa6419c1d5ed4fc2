//! The callbacks service: return visits (回访), scripts and satisfaction surveys.
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

/// The target name: `kefu serve --target callbacks`, its schema, its event stream.
pub const NAME: &str = "callbacks";

/// The gRPC services this target serves.
pub const GRPC_SERVICES: &[&str] = &["kefu.v1.CallbackService"];

/// The callbacks service.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallbacksService;

impl KefuService for CallbacksService {
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
