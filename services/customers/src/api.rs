//! gRPC handlers of the customers service.
//!
//! Methods not written here answer UNIMPLEMENTED (the generated default)
//! until the issue that builds this service implements them.

use kefu_kit::auth::InternalAuth;
use kefu_proto::v1::customer_service_server::{CustomerService, CustomerServiceServer};
use tonic::service::RoutesBuilder;

/// Adds every gRPC service of this target, each behind `auth`.
pub fn add_routes(routes: &mut RoutesBuilder, auth: &InternalAuth) {
    routes.add_service(CustomerServiceServer::with_interceptor(
        CustomerApi,
        auth.clone(),
    ));
}

/// Handlers of `kefu.v1.CustomerService`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerApi;

#[tonic::async_trait]
impl CustomerService for CustomerApi {}
