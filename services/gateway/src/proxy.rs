//! Forwarding `kefu.v1` calls to the service that owns them.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, Request},
    response::Response,
};
use http::{HeaderName, HeaderValue};
use kefu_kit::{
    auth::{CALLER_SET_TENANT_HEADERS, CLIENT_ADDRESS_HEADER, GATEWAY_ONLY_HEADERS},
    clock::SharedClock,
    context::Principal,
    credential::{CREDENTIAL_HEADER, CredentialSigner},
};
use tonic::transport::Channel;
use tower::ServiceExt;

use crate::{
    GatewayConfig, GatewayError,
    access::{self, Audience},
    authn::{Authenticated, Authenticator, bearer_token},
    limits::RateLimits,
    placement::Placements,
    ratelimit::{BucketKey, Rate, RateLimitError, RateLimiter},
};

/// What the proxy shares between calls.
pub(crate) struct ProxyState {
    pub(crate) upstreams: HashMap<String, Channel>,
    signer: Arc<CredentialSigner>,
    authenticator: Arc<dyn Authenticator>,
    limiter: Arc<dyn RateLimiter>,
    limits: RateLimits,
    trusted_proxies: usize,
    clock: SharedClock,
    placements: Placements,
}

impl ProxyState {
    pub(crate) fn new(config: GatewayConfig) -> Self {
        Self {
            upstreams: config.upstreams,
            signer: config.signer,
            authenticator: config.authenticator,
            limiter: config.limiter,
            limits: config.limits,
            trusted_proxies: config.trusted_proxies,
            clock: config.clock,
            placements: Placements::new(config.placements),
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

    /// Takes a token from each bucket, or says how long to wait. A limiter
    /// that cannot decide (Redis down) lets the call through: losing the
    /// limit for a moment is better than refusing every tenant's work.
    async fn admit(&self, buckets: &[(BucketKey, Rate)]) -> Result<(), GatewayError> {
        if !self.limits.enabled() {
            return Ok(());
        }
        match self.limiter.acquire(buckets, self.clock.now()).await {
            Ok(()) => Ok(()),
            Err(RateLimitError::Limited(retry)) => Err(GatewayError::RateLimited {
                retry_after: retry.0,
            }),
            Err(RateLimitError::Unavailable(why)) => {
                tracing::warn!(reason = %why, "rate limiter unavailable; call admitted");
                Ok(())
            }
        }
    }
}

/// Forwards one call: authenticate, authorize, limit, sign, route. Errors
/// are answered as gRPC statuses (HTTP 200 with `grpc-status`), as gRPC
/// clients expect.
pub(crate) async fn forward(state: Arc<ProxyState>, request: Request) -> Response {
    match try_forward(&state, request).await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(error = %error, "call refused at the gateway");
            tonic::Status::from(error).into_http()
        }
    }
}

/// `(service, path)` of a gRPC request path: `kefu.v1.TicketService` and
/// `kefu.v1.TicketService/GetTicket`.
fn method_of(request: &Request) -> (String, String) {
    let path = request.uri().path().trim_start_matches('/').to_owned();
    let service = path.split('/').next().unwrap_or_default().to_owned();
    (service, path)
}

/// The client's address: the socket's peer, or with `trusted_proxies` in
/// front the entry of `X-Forwarded-For` the outermost of them appended.
/// Entries further left were written by the client and prove nothing.
fn client_address(headers: &http::HeaderMap, peer: &str, trusted_proxies: usize) -> String {
    if trusted_proxies == 0 {
        return peer.to_owned();
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    forwarded
        .len()
        .checked_sub(trusted_proxies)
        .and_then(|index| forwarded.get(index))
        .map_or_else(|| peer.to_owned(), |entry| (*entry).to_owned())
}

/// Who calls, once admitted: anonymous for the methods that need no
/// credential (limited per client address), else the authenticated holder
/// of the bearer secret, limited per tenant and credential, then checked
/// against the method's rule (after the limit, so hammering a forbidden
/// method costs the caller its tokens too).
async fn caller_of(
    state: &ProxyState,
    rule: &access::Rule,
    target: &str,
    headers: &http::HeaderMap,
    client: &str,
) -> Result<Authenticated, GatewayError> {
    if rule.audience == Audience::Anonymous {
        state.admit(&state.limits.anonymous_buckets(client)).await?;
        return Ok(Authenticated {
            tenant_id: None,
            principal: Principal::anonymous(),
            plan_tier: kefu_proto::v1::PlanTier::Unspecified,
        });
    }
    let bearer = bearer_token(headers.get(http::header::AUTHORIZATION))?;
    let caller = state.authenticator.authenticate(bearer).await?;
    state.admit(&state.limits.buckets(&caller)).await?;
    access::authorize(rule, target, &caller.principal)?;
    Ok(caller)
}

pub(crate) async fn try_forward(
    state: &ProxyState,
    mut request: Request,
) -> Result<Response, GatewayError> {
    let (service, path) = method_of(&request);
    let shared_channel = state.channel_for(&service)?;
    let target = kefu_proto::target_of(&service).unwrap_or_default();
    if let Some(header) = CALLER_SET_TENANT_HEADERS
        .iter()
        .find(|header| request.headers().contains_key(**header))
    {
        return Err(GatewayError::CallerSetTenant(header));
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip().to_string())
        .unwrap_or_default();
    let client = client_address(request.headers(), &peer, state.trusted_proxies);
    let rule = access::rule_of(&path).ok_or_else(|| GatewayError::UnknownMethod(path.clone()))?;
    let caller = caller_of(state, &rule, target, request.headers(), &client).await?;
    // A silo tenant's data calls go to its own services.
    let channel = match caller.tenant_id {
        Some(tenant) => state
            .placements
            .route(tenant, target)
            .await?
            .unwrap_or(shared_channel),
        None => shared_channel,
    };
    let credential = state
        .signer
        .mint(caller.tenant_id, caller.principal, state.clock.now());

    let headers = request.headers_mut();
    // The caller's own secret stops here; the service sees only what we
    // signed, and nothing a caller wrote into the gateway's own headers.
    headers.remove(http::header::AUTHORIZATION);
    for header in GATEWAY_ONLY_HEADERS {
        headers.remove(*header);
    }
    let credential =
        HeaderValue::from_str(&credential).map_err(|_| GatewayError::Upstream(service.clone()))?;
    headers.insert(HeaderName::from_static(CREDENTIAL_HEADER), credential);
    if let Ok(client) = HeaderValue::from_str(&client) {
        headers.insert(HeaderName::from_static(CLIENT_ADDRESS_HEADER), client);
    }
    kefu_kit::telemetry::inject_trace_headers(headers);

    let upstream = request.map(tonic::body::Body::new);
    let response = channel.oneshot(upstream).await.map_err(|error| {
        tracing::warn!(service = %service, error = %error, "upstream call failed");
        GatewayError::Upstream(service.clone())
    })?;
    Ok(response.map(axum::body::Body::new))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().expect("header"));
        }
        headers
    }

    #[test]
    fn the_client_is_what_the_outermost_trusted_proxy_saw() {
        let headers = forwarded(&["6.6.6.6, 203.0.113.7", "10.0.0.5"]);
        assert_eq!(client_address(&headers, "10.0.0.9", 0), "10.0.0.9");
        assert_eq!(client_address(&headers, "10.0.0.9", 1), "10.0.0.5");
        assert_eq!(client_address(&headers, "10.0.0.9", 2), "203.0.113.7");
        // More proxies configured than entries: nothing trustworthy, the peer.
        assert_eq!(client_address(&forwarded(&[]), "10.0.0.9", 1), "10.0.0.9");
    }
}
