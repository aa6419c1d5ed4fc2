//! gRPC handlers of the tickets service.
//!
//! Methods not written here answer UNIMPLEMENTED (the generated default)
//! until the issue that builds this service implements them.

use kefu_kit::auth::InternalAuth;
use kefu_proto::v1::{
    complaint_service_server::{ComplaintService, ComplaintServiceServer},
    dispatch_service_server::{DispatchService, DispatchServiceServer},
    ticket_service_server::{TicketService, TicketServiceServer},
};
use tonic::service::RoutesBuilder;

/// Adds every gRPC service of this target, each behind `auth`.
pub fn add_routes(routes: &mut RoutesBuilder, auth: &InternalAuth) {
    routes.add_service(TicketServiceServer::with_interceptor(
        TicketApi,
        auth.clone(),
    ));
    routes.add_service(ComplaintServiceServer::with_interceptor(
        ComplaintApi,
        auth.clone(),
    ));
    routes.add_service(DispatchServiceServer::with_interceptor(
        DispatchApi,
        auth.clone(),
    ));
}

/// Handlers of `kefu.v1.TicketService`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TicketApi;

#[tonic::async_trait]
impl TicketService for TicketApi {}

/// Handlers of `kefu.v1.ComplaintService`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ComplaintApi;

#[tonic::async_trait]
impl ComplaintService for ComplaintApi {}

/// Handlers of `kefu.v1.DispatchService`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DispatchApi;

#[tonic::async_trait]
impl DispatchService for DispatchApi {}
