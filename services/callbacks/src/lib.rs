//! The callbacks service: return visits (回访), scripts (话术) and
//! satisfaction surveys (满意度调查).
//!
//! `api` translates gRPC calls, `domain` decides (pure rules, the clock
//! passed in), `store` persists through sea-orm, and events leave through
//! the outbox in the same transactions. `consumers` keeps this service's
//! copies of other services' data (the tenant's users, teams and calendar;
//! the customers' contact facts and segment memberships), schedules tasks
//! from the tickets events and runs the scheduled scans (overdue tasks,
//! unanswered SMS surveys, campaign periods).
#![forbid(unsafe_code)]

pub mod api;
pub mod consumers;
pub mod domain;
pub mod error;
pub mod sms;
pub mod store;

use kefu_kit::{
    auth::InternalAuth,
    service::{KefuService, ServiceContext, ServiceSubscription},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
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

    fn add_routes(&self, routes: &mut RoutesBuilder, auth: InternalAuth, context: &ServiceContext) {
        api::add_routes(routes, &auth, context.clone());
    }

    fn subscriptions(&self, context: &ServiceContext) -> Vec<ServiceSubscription> {
        consumers::subscriptions(context)
    }

    fn background(
        &self,
        context: &ServiceContext,
        shutdown: CancellationToken,
    ) -> Vec<JoinHandle<()>> {
        consumers::background(context, shutdown)
    }
}
