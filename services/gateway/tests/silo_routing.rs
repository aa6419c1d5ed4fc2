//! The gateway routes a silo tenant's data calls to the upstream its
//! placement names, everyone else's to the shared upstream, and answers
//! UNAVAILABLE while a silo is not serving. The upstreams here are stand-ins
//! that answer every call with a status naming themselves.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use async_trait::async_trait;
use kefu_gateway::{
    GatewayConfig, GatewayError,
    authn::{Authenticated, Authenticator},
    limits::RateLimits,
    placement::PlacementSource,
    ratelimit::InProcessLimiter,
};
use kefu_kit::{
    clock::{SharedClock, SystemClock},
    config::LimitsConfig,
    context::{Principal, PrincipalKind, TenantId},
    credential::{CredentialKey, CredentialSigner},
};
use kefu_proto::v1::{
    GetCustomerRequest, PlanTier, TenantPlacement, customer_service_client::CustomerServiceClient,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Code, transport::Channel};

/// An upstream answering every gRPC call NOT_FOUND with `who` as message.
async fn stand_in(who: &'static str) -> SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let address = listener.local_addr().expect("address");
    let app = axum::Router::new().fallback(move || async move {
        http::Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", "5")
            .header("grpc-message", who)
            .body(axum::body::Body::empty())
            .expect("response")
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// Callers by bearer token: `silo`, `pool` and `starting` are admins of
/// their tenants, `operator` is the platform operator.
struct Callers(HashMap<&'static str, TenantId>);

#[async_trait]
impl Authenticator for Callers {
    async fn authenticate(&self, bearer: &str) -> Result<Authenticated, GatewayError> {
        let tenant = self
            .0
            .get(bearer)
            .copied()
            .ok_or(GatewayError::Unauthenticated("unknown"))?;
        Ok(Authenticated {
            tenant_id: Some(tenant),
            principal: Principal {
                kind: PrincipalKind::User,
                id: "admin".into(),
                roles: vec!["ROLE_ADMIN".into()],
                session: None,
                approval_level: 0,
            },
            plan_tier: PlanTier::Starter,
        })
    }
}

struct Placed(HashMap<TenantId, TenantPlacement>);

#[async_trait]
impl PlacementSource for Placed {
    async fn placement(&self, tenant: TenantId) -> Result<Option<TenantPlacement>, GatewayError> {
        Ok(self.0.get(&tenant).cloned())
    }
}

fn placement(address: SocketAddr, ready: bool) -> TenantPlacement {
    TenantPlacement {
        namespace: "kefu-t-acme".into(),
        upstreams: [("customers".to_owned(), format!("http://{address}"))].into(),
        ready,
        update_time: None,
    }
}

async fn get_customer(gateway: SocketAddr, token: &str) -> tonic::Status {
    let channel = Channel::from_shared(format!("http://{gateway}"))
        .expect("uri")
        .connect_lazy();
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().expect("header");
    let mut client =
        CustomerServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("authorization", bearer.clone());
            Ok(request)
        });
    client
        .get_customer(GetCustomerRequest {
            name: "customers/0194e0f0-0000-7000-8000-000000000001".into(),
        })
        .await
        .expect_err("the stand-ins answer NOT_FOUND")
}

#[tokio::test]
async fn a_silo_tenants_calls_reach_its_own_services_and_nobody_elses_do() {
    let pool = stand_in("served-by-pool").await;
    let silo = stand_in("served-by-silo").await;
    let (silo_tenant, pool_tenant, starting) = (TenantId::new(), TenantId::new(), TenantId::new());
    let clock: SharedClock = Arc::new(SystemClock);
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let gateway = kefu_gateway::serve(
        GatewayConfig {
            upstreams: HashMap::from([(
                "customers".to_owned(),
                Channel::from_shared(format!("http://{pool}"))
                    .expect("uri")
                    .connect_lazy(),
            )]),
            signer: Arc::new(CredentialSigner::new(
                CredentialKey::generate(),
                chrono::Duration::seconds(60),
            )),
            authenticator: Arc::new(Callers(HashMap::from([
                ("silo", silo_tenant),
                ("pool", pool_tenant),
                ("starting", starting),
            ]))),
            limiter: Arc::new(InProcessLimiter::new()),
            limits: RateLimits::new(LimitsConfig {
                enabled: false,
                ..LimitsConfig::default()
            }),
            trusted_proxies: 0,
            clock,
            placements: Arc::new(Placed(HashMap::from([
                (silo_tenant, placement(silo, true)),
                (starting, placement(silo, false)),
            ]))),
        },
        TcpListener::bind(("127.0.0.1", 0)).await.expect("bind"),
        shutdown,
    )
    .await
    .expect("gateway starts");
    let gateway = gateway.local_addr;

    let silo_answer = get_customer(gateway, "silo").await;
    assert_eq!(
        (silo_answer.code(), silo_answer.message()),
        (Code::NotFound, "served-by-silo")
    );
    let pool_answer = get_customer(gateway, "pool").await;
    assert_eq!(
        (pool_answer.code(), pool_answer.message()),
        (Code::NotFound, "served-by-pool")
    );
    let not_ready = get_customer(gateway, "starting").await;
    assert_eq!(not_ready.code(), Code::Unavailable, "{not_ready:?}");
    assert!(
        not_ready.message().contains("not serving yet"),
        "{not_ready:?}"
    );
}
