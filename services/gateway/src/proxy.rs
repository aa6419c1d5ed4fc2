//! Forwarding `kefu.v1` calls to the service that owns them.

use std::{collections::HashMap, sync::Arc};

use axum::{extract::Request, response::Response};
use http::{HeaderName, HeaderValue};
use kefu_kit::{
    auth::CALLER_SET_TENANT_HEADERS,
    clock::SharedClock,
    credential::{CREDENTIAL_HEADER, CredentialSigner},
};
use tonic::transport::Channel;
use tower::ServiceExt;

use crate::{
    GatewayConfig, GatewayError,
    authn::{Authenticator, bearer_token},
};

/// What the proxy shares between calls.
pub(crate) struct ProxyState {
    pub(crate) upstreams: HashMap<String, Channel>,
    signer: CredentialSigner,
    authenticator: Arc<dyn Authenticator>,
    clock: SharedClock,
}

impl ProxyState {
    pub(crate) fn new(config: GatewayConfig) -> Self {
        Self {
            upstreams: config.upstreams,
            signer: config.signer,
            authenticator: config.authenticator,
            clock: config.clock,
        }
    }

    /// The channel of the service serving `service` (`kefu.v1.TicketService`).
    pub(crate) fn channel_for(&self, service: &str) -> Result<Channel, GatewayError> {
        let target = kefu_proto::target_of(service)
            .ok_or_else(|| GatewayError::UnknownService(service.to_owned()))?;
        self.upstreams
            .get(target)
            .cloned()
            .ok_or_else(|| GatewayError::Upstream(target.to_owned()))
    }
}

/// Forwards one call: authenticate, sign, route. Errors are answered as gRPC
/// statuses (HTTP 200 with `grpc-status`), as gRPC clients expect.
pub(crate) async fn forward(state: Arc<ProxyState>, request: Request) -> Response {
    match try_forward(&state, request).await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(error = %error, "call refused at the gateway");
            tonic::Status::from(error).into_http()
        }
    }
}

async fn try_forward(state: &ProxyState, mut request: Request) -> Result<Response, GatewayError> {
    let service = request
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let channel = state.channel_for(&service)?;
    if let Some(header) = CALLER_SET_TENANT_HEADERS
        .iter()
        .find(|header| request.headers().contains_key(**header))
    {
        return Err(GatewayError::CallerSetTenant(header));
    }
    let caller = state
        .authenticator
        .authenticate(bearer_token(
            request.headers().get(http::header::AUTHORIZATION),
        )?)
        .await?;
    let credential = state
        .signer
        .mint(caller.tenant_id, caller.principal, state.clock.now());

    let headers = request.headers_mut();
    // The caller's own secret stops here; the service sees only what we signed.
    headers.remove(http::header::AUTHORIZATION);
    let credential =
        HeaderValue::from_str(&credential).map_err(|_| GatewayError::Upstream(service.clone()))?;
    headers.insert(HeaderName::from_static(CREDENTIAL_HEADER), credential);
    kefu_kit::telemetry::inject_trace_headers(headers);

    let upstream = request.map(tonic::body::Body::new);
    let response = channel.oneshot(upstream).await.map_err(|error| {
        tracing::warn!(service = %service, error = %error, "upstream call failed");
        GatewayError::Upstream(service.clone())
    })?;
    Ok(response.map(axum::body::Body::new))
}
