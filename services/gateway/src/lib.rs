//! The gateway: the one door into Kefu for partners (gRPC) and simple
//! integrations (REST/JSON, `POST /v1/{Service}/{Method}`, and the download
//! of tenant exports) on one port.
//!
//! For every call it authenticates the caller, resolves the tenant, signs a
//! short-lived internal credential and forwards the call to the service that
//! owns the method. Callers never choose their tenant: a call that tries to
//! (a tenant header) is refused. Health (per `kefu.v1` service, answered by
//! that service) and reflection (the whole contract) are served here too.
#![forbid(unsafe_code)]

pub mod access;
pub mod authn;
mod contract;
mod download;
mod error;
mod health;
pub mod limits;
pub mod placement;
mod proxy;
pub mod ratelimit;
pub mod resolver;
mod rest;

use std::{collections::HashMap, io, net::SocketAddr, sync::Arc};

use kefu_kit::{clock::SharedClock, credential::CredentialSigner, server};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::{service::RoutesBuilder, transport::Channel};

pub use error::GatewayError;

use crate::{authn::Authenticator, limits::RateLimits, ratelimit::RateLimiter};

/// Everything the gateway needs.
pub struct GatewayConfig {
    /// A channel to each target (`tickets` → its address).
    pub upstreams: HashMap<String, Channel>,
    /// Signs the internal credential.
    pub signer: Arc<CredentialSigner>,
    /// Who may call.
    pub authenticator: Arc<dyn Authenticator>,
    /// Keeps the buckets of rate limits (in-process or Redis).
    pub limiter: Arc<dyn RateLimiter>,
    /// The rates of each plan.
    pub limits: RateLimits,
    /// Proxies in front of the gateway that append to `X-Forwarded-For`.
    pub trusted_proxies: usize,
    /// The clock credentials are minted at.
    pub clock: SharedClock,
    /// Where silo tenants' services run
    /// ([`placement::TenantsPlacements`] in production).
    pub placements: Arc<dyn placement::PlacementSource>,
}

/// A running gateway.
#[derive(Debug)]
pub struct RunningGateway {
    /// Where it listens.
    pub local_addr: SocketAddr,
    /// Ends when it has drained after shutdown.
    pub task: JoinHandle<io::Result<()>>,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listener failed.
    #[error("listen: {0}")]
    Io(#[from] io::Error),
    /// Reflection could not be built from the descriptors.
    #[error("reflection: {0}")]
    Reflection(#[from] server::ReflectionError),
}

/// Serves the gateway on `listener` until `shutdown`.
pub async fn serve(
    config: GatewayConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<RunningGateway, StartError> {
    let local_addr = listener.local_addr()?;
    let state = Arc::new(proxy::ProxyState::new(config));
    let mut routes = RoutesBuilder::default();
    routes.add_service(health::server(state.clone()));
    let contract: Vec<&str> = kefu_proto::SERVICES.iter().map(|(name, _)| *name).collect();
    // Health is answered by the forwarding service above, not a reporter.
    let routes = server::with_reflection(routes, &contract)?;
    let rest_state = state.clone();
    let download_state = state.clone();
    let app = routes
        .into_axum_router()
        .route(
            "/v1/{service}/{method}",
            axum::routing::post(move |path, request| rest::call(rest_state.clone(), path, request)),
        )
        // The `:download` custom method is part of the last segment; the
        // handler refuses any other.
        .route(
            "/v1/tenants/{tenant}/exports/{export}",
            axum::routing::get(move |path, request| {
                download::download(download_state.clone(), path, request)
            }),
        )
        .fallback(move |request: axum::extract::Request| proxy::forward(state.clone(), request));
    let task = tokio::spawn(async move {
        // The client's address is recorded on portal sessions and keys the
        // rate limit of calls without credential.
        // TCP_NODELAY: a small gRPC answer must not wait for the caller's
        // delayed ACK (about 40 ms a call on Linux).
        let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
            let _ = stream.set_nodelay(true);
        });
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    });
    tracing::info!(address = %local_addr, "gateway serving");
    Ok(RunningGateway { local_addr, task })
}
