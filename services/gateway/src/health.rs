//! `grpc.health.v1` at the gateway: the gateway itself (`""`) is serving
//! while it runs; a `kefu.v1` service's health is asked of that service, so a
//! load balancer or a test sees through the gateway whether each works.

use std::{pin::Pin, sync::Arc};

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};
use tonic_health::pb::{
    HealthCheckRequest, HealthCheckResponse,
    health_check_response::ServingStatus,
    health_client::HealthClient,
    health_server::{Health, HealthServer},
};

use crate::proxy::ProxyState;

pub(crate) fn server(state: Arc<ProxyState>) -> HealthServer<ForwardingHealth> {
    HealthServer::new(ForwardingHealth { state })
}

pub(crate) struct ForwardingHealth {
    state: Arc<ProxyState>,
}

fn serving() -> HealthCheckResponse {
    HealthCheckResponse {
        status: ServingStatus::Serving.into(),
    }
}

#[tonic::async_trait]
impl Health for ForwardingHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let service = request.into_inner().service;
        if service.is_empty() {
            return Ok(Response::new(serving()));
        }
        let channel = self
            .state
            .channel_for(&service)
            .map_err(|_| Status::not_found(format!("unknown service {service}")))?;
        HealthClient::new(channel)
            .check(HealthCheckRequest { service })
            .await
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let service = request.into_inner().service;
        if service.is_empty() {
            let stream =
                futures::stream::once(async { Ok(serving()) }).chain(futures::stream::pending());
            return Ok(Response::new(Box::pin(stream)));
        }
        let channel = self
            .state
            .channel_for(&service)
            .map_err(|_| Status::not_found(format!("unknown service {service}")))?;
        let upstream = HealthClient::new(channel)
            .watch(HealthCheckRequest { service })
            .await?
            .into_inner();
        Ok(Response::new(Box::pin(upstream)))
    }
}
