//! What the operator's tests run against: the real tenants service on a
//! fresh SQLite file behind the real gateway (the operator's door), both on
//! loopback port 0, and the Kubernetes API faked in memory.

#![allow(dead_code)]

pub mod fake_kube;

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use kefu_gateway::{
    GatewayConfig, authn::OperatorToken, limits::RateLimits, placement::TenantsPlacements,
    ratelimit::InProcessLimiter,
};
use kefu_kit::{
    auth::InternalAuth,
    bus::InProcessBus,
    clock::{SharedClock, SystemClock},
    config::{LimitsConfig, OutboxConfig},
    credential::{CredentialKey, CredentialSigner, CredentialVerifier},
    outbox::OutboxSignal,
    relay::RelaySettings,
    service::{Runtime, ServiceContext, start},
    testing::TestDatabase,
};
use kefu_operator::{Context, silo::SiloSettings, tenants::TenantsClient};
use kefu_proto::v1::{
    ListTenantExportsRequest, ListTenantsRequest, Tenant, TenantExport,
    tenant_service_client::TenantServiceClient,
};
use kube::Client;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::transport::Channel;

/// The tenants service and the gateway in this process.
pub struct TenantsStack {
    pub gateway: SocketAddr,
    pub operator_token: String,
    /// The gateway's view of silo placements.
    pub placements: Arc<TenantsPlacements>,
    _shutdown: DropGuard,
    _database: TestDatabase,
    _mail: tempfile::TempDir,
}

impl TenantsStack {
    pub async fn start() -> Self {
        let database = TestDatabase::sqlite(kefu_tenants::NAME).await;
        let mail = tempfile::tempdir().expect("mail dir");
        let shutdown = CancellationToken::new();
        let clock: SharedClock = Arc::new(SystemClock);
        let key = CredentialKey::generate();
        let runtime = Runtime {
            bus: Arc::new(InProcessBus::new()),
            auth: InternalAuth::new(CredentialVerifier::new(vec![key.clone()]), clock.clone()),
            relay: RelaySettings::from(&OutboxConfig::default()),
            consumer_name: "operator-test".into(),
            shutdown: shutdown.clone(),
        };
        let context = ServiceContext {
            db: database.db.clone(),
            outbox: OutboxSignal::default(),
            clock: clock.clone(),
        };
        let mailer = Arc::new(kefu_tenants::mail::FileMailer::new(Some(
            mail.path().join("mail.jsonl"),
        )));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let mut tenants = start(
            Arc::new(kefu_tenants::TenantsService::new(mailer)),
            &context,
            listener,
            &runtime,
        )
        .await
        .expect("tenants service starts");
        tenants.start_relay();
        let upstream = Channel::from_shared(format!("http://{}", tenants.local_addr))
            .expect("uri")
            .connect_lazy();

        let operator_token = format!("kefu_op_test_{}", uuid::Uuid::now_v7().simple());
        let signer = Arc::new(CredentialSigner::new(key, chrono::Duration::seconds(60)));
        // What the gateway routes silo tenants by, read as it reads it.
        let placements = Arc::new(TenantsPlacements::new(
            upstream.clone(),
            signer.clone(),
            clock.clone(),
        ));
        let gateway = kefu_gateway::serve(
            GatewayConfig {
                upstreams: HashMap::from([(kefu_tenants::NAME.to_owned(), upstream)]),
                signer,
                authenticator: Arc::new(OperatorToken::new(&operator_token)),
                limiter: Arc::new(InProcessLimiter::new()),
                limits: RateLimits::new(LimitsConfig {
                    enabled: false,
                    ..LimitsConfig::default()
                }),
                trusted_proxies: 0,
                clock: clock.clone(),
                placements: placements.clone(),
            },
            TcpListener::bind(("127.0.0.1", 0)).await.expect("bind"),
            shutdown.clone(),
        )
        .await
        .expect("gateway starts");
        Self {
            gateway: gateway.local_addr,
            operator_token,
            placements,
            _shutdown: shutdown.drop_guard(),
            _database: database,
            _mail: mail,
        }
    }

    /// The operator's client of this stack.
    pub fn client(&self) -> TenantsClient {
        TenantsClient::connect(&format!("http://{}", self.gateway), &self.operator_token)
            .expect("client")
    }

    /// The tenants service as the platform operator, for assertions.
    pub async fn api(
        &self,
    ) -> TenantServiceClient<
        tonic::service::interceptor::InterceptedService<
            Channel,
            kefu_operator::tenants::OperatorBearer,
        >,
    > {
        let channel = Channel::from_shared(format!("http://{}", self.gateway))
            .expect("uri")
            .connect_lazy();
        let bearer = format!("Bearer {}", self.operator_token)
            .parse()
            .expect("header");
        TenantServiceClient::with_interceptor(
            channel,
            kefu_operator::tenants::OperatorBearer::new(bearer),
        )
    }

    /// Every tenant (up to 500).
    pub async fn tenants(&self) -> Vec<Tenant> {
        self.api()
            .await
            .list_tenants(ListTenantsRequest {
                page_size: 500,
                ..ListTenantsRequest::default()
            })
            .await
            .expect("list tenants")
            .into_inner()
            .tenants
    }

    /// The tenant `tenants/{id}` (DELETING ones included).
    pub async fn tenant(&self, id: &str) -> Option<Tenant> {
        self.client().get(id).await.expect("get tenant")
    }

    /// The exports of `tenants/{id}`.
    pub async fn exports(&self, id: &str) -> Vec<TenantExport> {
        self.api()
            .await
            .list_tenant_exports(ListTenantExportsRequest {
                parent: format!("tenants/{id}"),
                ..ListTenantExportsRequest::default()
            })
            .await
            .expect("list exports")
            .into_inner()
            .tenant_exports
    }
}

/// A tenants service address nothing listens on.
pub async fn unreachable_tenants() -> TenantsClient {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    TenantsClient::connect(&format!("http://{address}"), "kefu_op_unused").expect("client")
}

/// A controller context over `client` and `tenants`.
pub fn context(client: &Client, tenants: TenantsClient) -> Arc<Context> {
    Arc::new(Context::new(
        client.clone(),
        tenants,
        SiloSettings::for_test(),
    ))
}

/// A `Tenant` resource as a person would apply it.
pub fn tenant_resource(name: &str, slug: &str, tier: &str) -> Value {
    json!({
        "apiVersion": "kefu.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": uuid::Uuid::now_v7().to_string(),
            "generation": 1,
        },
        "spec": {
            "slug": slug,
            "displayName": "Acme Shop",
            "industry": "Ecommerce",
            "plan": "Starter",
            "isolationTier": tier,
            "timeZone": "Asia/Shanghai",
            "locale": "zh-CN",
            "initialAdmin": {"email": format!("admin@{slug}.example"), "displayName": "Admin"},
            "deletionGracePeriodDays": 0,
        },
    })
}

/// Polls `check` until it answers `Some`, for what another task finishes
/// (an export): at most 5 seconds.
pub async fn eventually<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in 5 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
