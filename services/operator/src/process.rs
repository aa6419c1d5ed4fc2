//! The operator as a process (`kefu serve --target operator`): the
//! controller over the Kubernetes API, plus one port answering
//! `grpc.health.v1` (the probes, as every Kefu target) and `GET /metrics`.

use std::{net::SocketAddr, sync::Arc};

use futures::StreamExt;
use kefu_kit::{config::KefuConfig, server::Readiness};
use kube::{
    Api, Client,
    runtime::{Controller, watcher},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::RoutesBuilder;

use crate::{
    Context, Error, Result, metrics::Metrics, resource::Tenant, silo::SiloSettings,
    tenants::TenantsClient,
};

/// The operator's settings, checked before anything starts.
#[derive(Debug, Clone)]
pub struct OperatorSettings {
    /// The gateway the tenants service is reached through.
    pub gateway_url: String,
    /// The platform operator's token.
    pub operator_token: String,
    /// Only this namespace's resources; `None`: all.
    pub watch_namespace: Option<String>,
    /// Silo layout.
    pub silo: SiloSettings,
}

impl OperatorSettings {
    /// From the one configuration; the operator's own namespace comes from
    /// `POD_NAMESPACE` (the downward API) when `operator.silo.gateway_namespace`
    /// is unset.
    pub fn from_config(config: &KefuConfig) -> Result<Self> {
        let operator = &config.operator;
        let gateway_url = operator.gateway_url.clone().ok_or_else(|| {
            Error::Config(
                "the operator needs operator.gateway_url (KEFU_OPERATOR__GATEWAY_URL)".into(),
            )
        })?;
        let operator_token = config.auth.operator_token.clone().ok_or_else(|| {
            Error::Config(
                "the operator needs auth.operator_token (KEFU_AUTH__OPERATOR_TOKEN)".into(),
            )
        })?;
        let silo = &operator.silo;
        let gateway_namespace = silo
            .gateway_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "kefu".to_owned());
        Ok(Self {
            gateway_url,
            operator_token,
            watch_namespace: operator.watch_namespace.clone(),
            silo: SiloSettings {
                namespace_prefix: silo.namespace_prefix.clone(),
                image: silo.image.clone(),
                database_url_template: silo.database_url_template.clone(),
                gateway_namespace,
                replicas: silo.replicas,
                quota_cpu: silo.quota_cpu.clone(),
                quota_memory: silo.quota_memory.clone(),
                quota_pods: silo.quota_pods.clone(),
                internal_key: config.auth.internal_key.clone(),
                redis_url: config.bus.redis_url.clone(),
            },
        })
    }
}

/// Ready while the Kubernetes API answers.
struct KubeApiReady(Client);

#[async_trait::async_trait]
impl Readiness for KubeApiReady {
    async fn check(&self) -> Result<(), String> {
        self.0
            .apiserver_version()
            .await
            .map(|_| ())
            .map_err(|error| error.to_string())
    }
}

/// Serves health and metrics on `listener` until `shutdown`.
async fn serve_probes(
    listener: TcpListener,
    client: Client,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let ready: Arc<dyn Readiness> = Arc::new(KubeApiReady(client));
    let routes = kefu_kit::server::with_health_and_reflection(
        RoutesBuilder::default(),
        &[],
        ready,
        shutdown.clone(),
    )
    .await
    .map_err(|error| Error::Config(format!("health service: {error}")))?;
    let app = routes.into_axum_router().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move { metrics.render() }
        }),
    );
    Ok(tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    }))
}

/// Runs the operator until `shutdown`: health and metrics on `listener`,
/// the controller on the in-cluster (or kubeconfig) Kubernetes API.
pub async fn run(
    settings: OperatorSettings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<()> {
    let client = Client::try_default().await?;
    let tenants = TenantsClient::connect(&settings.gateway_url, &settings.operator_token)?;
    let context = Arc::new(Context::new(client.clone(), tenants, settings.silo));
    let metrics = context.metrics.clone();
    let address: SocketAddr = listener.local_addr()?;
    let probes = serve_probes(listener, client.clone(), metrics.clone(), shutdown.clone()).await?;
    tracing::info!(address = %address, gateway = %settings.gateway_url, "operator serving health and metrics");

    let tenants: Api<Tenant> = match &settings.watch_namespace {
        Some(namespace) => Api::namespaced(client, namespace),
        None => Api::all(client),
    };
    Controller::new(tenants, watcher::Config::default().any_semantic())
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(crate::reconcile, crate::error_policy, context)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(tenant = %object.name, "reconciled"),
                Err(error) => tracing::debug!(error = %error, "reconcile not done"),
            }
        })
        .await;
    shutdown.cancel();
    if let Ok(Err(error)) = probes.await {
        tracing::warn!(error = %error, "health server failed");
    }
    tracing::info!(metrics = ?metrics.snapshot(), "operator stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    #[tokio::test]
    async fn metrics_are_served_as_text_beside_the_health_service() {
        let (service, _api) = tower_test::mock::pair::<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >();
        let client = Client::new(service, "default");
        let metrics = Arc::new(Metrics::default());
        metrics.reconcile();
        metrics.failure("tenants_unavailable");
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let address = listener.local_addr().expect("address");
        let shutdown = CancellationToken::new();
        let server = serve_probes(listener, client, metrics, shutdown.clone())
            .await
            .expect("serving");
        let response = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(address).expect("connect");
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nhost: operator\r\nconnection: close\r\n\r\n")
                .expect("request");
            let mut response = String::new();
            stream.read_to_string(&mut response).expect("response");
            response
        })
        .await
        .expect("request ran");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            response.contains("kefu_operator_reconciles_total 1"),
            "{response}"
        );
        assert!(
            response
                .contains("kefu_operator_reconcile_errors_total{error=\"tenants_unavailable\"} 1"),
            "{response}"
        );
        shutdown.cancel();
        server.await.expect("joined").expect("drained");
    }

    #[test]
    fn the_operator_needs_the_gateway_and_the_operator_token() {
        let mut config = KefuConfig::default();
        let missing = OperatorSettings::from_config(&config).expect_err("no gateway");
        assert!(
            missing.to_string().contains("operator.gateway_url"),
            "{missing}"
        );
        config.operator.gateway_url = Some("http://kefu-gateway:8080".into());
        let missing = OperatorSettings::from_config(&config).expect_err("no token");
        assert!(
            missing.to_string().contains("auth.operator_token"),
            "{missing}"
        );
        config.auth.operator_token = Some("kefu_op_x".into());
        config.bus.redis_url = Some("redis://redis:6379".into());
        config.operator.silo.gateway_namespace = Some("kefu-system".into());
        config.operator.silo.image = Some("kefu:1.0".into());
        let settings = OperatorSettings::from_config(&config).expect("complete");
        assert_eq!(settings.silo.gateway_namespace, "kefu-system");
        assert_eq!(
            settings.silo.redis_url.as_deref(),
            Some("redis://redis:6379")
        );
        assert_eq!(settings.silo.image.as_deref(), Some("kefu:1.0"));
        assert_eq!(settings.silo.namespace("acme"), "kefu-t-acme");
    }
}
