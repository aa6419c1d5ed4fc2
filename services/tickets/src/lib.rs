//! The tickets service: tickets (工单), the complaint workflow (投诉), service
//! dispatch (派工), incidents and handover.
//!
//! `api` translates gRPC calls, `domain` decides (pure rules, the clock
//! passed in), `store` persists through sea-orm, and events leave through
//! the outbox in the same transactions. `consumers` keeps this service's
//! copies of other services' data (the tenant's users, teams, calendar,
//! SLA policies and approval matrix; the customers) and runs the scheduled
//! scans (SLA clocks, overdue complaints, dispatch carry-over).
#![forbid(unsafe_code)]

pub mod api;
pub mod consumers;
pub mod domain;
pub mod error;
pub mod store;

use kefu_kit::{
    auth::InternalAuth,
    service::{KefuService, ServiceContext, ServiceSubscription},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::service::RoutesBuilder;

/// The target name: `kefu serve --target tickets`, its schema, its event stream.
pub const NAME: &str = "tickets";

/// The gRPC services this target serves.
pub const GRPC_SERVICES: &[&str] = &[
    "kefu.v1.TicketService",
    "kefu.v1.ComplaintService",
    "kefu.v1.DispatchService",
];

/// The tickets service.
#[derive(Debug, Clone, Copy, Default)]
pub struct TicketsService;

impl KefuService for TicketsService {
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
