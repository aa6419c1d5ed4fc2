//! Kefu started in the bench's own process, reached through its gateway as
//! partners reach it, with tenants onboarded by the platform operator.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::{Context, anyhow};
use kefu_kit::{config::KefuConfig, credential::CredentialKey};
use kefu_proto::v1::{
    AcceptInvitationRequest, CreateTenantRequest, Industry, LoginRequest, Tenant,
    identity_service_client::IdentityServiceClient, tenant_service_client::TenantServiceClient,
};
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::{metadata::MetadataValue, service::Interceptor, transport::Channel};

use crate::processes::{Embedded, start_embedded};

/// The password the bench's administrators are given.
const PASSWORD: &str = "Correct-Horse-Battery-9";

/// Adds the bearer token to each call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<tonic::metadata::Ascii>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub fn bearer(token: &str) -> anyhow::Result<Bearer> {
    Ok(Bearer(format!("Bearer {token}").parse()?))
}

/// Kefu running in this process (every service, the in-process event bus,
/// the gateway; rate limits off) and how to reach it. Stops when dropped.
pub struct BenchStack {
    /// A connection to the gateway.
    pub channel: Channel,
    /// The platform operator's bearer token.
    pub operator: Bearer,
    mail_file: PathBuf,
    /// The configuration Kefu runs with.
    pub config: KefuConfig,
    _embedded: Embedded,
    _stop: DropGuard,
}

impl BenchStack {
    /// Starts Kefu on `database_url` (SQLite in `data_dir` when `None`).
    pub async fn start(database_url: Option<String>, data_dir: &Path) -> anyhow::Result<Self> {
        Self::start_with_pool(database_url, data_dir, None).await
    }

    /// [`BenchStack::start`] with each service's pool at most
    /// `max_connections` (Kefu's default, `storage.max_connections`, when
    /// `None`).
    pub async fn start_with_pool(
        database_url: Option<String>,
        data_dir: &Path,
        max_connections: Option<u32>,
    ) -> anyhow::Result<Self> {
        let mut config = KefuConfig::default();
        if let Some(max_connections) = max_connections {
            config.storage.max_connections = max_connections;
        }
        config.storage.data_dir = data_dir.to_path_buf();
        config.storage.database_url = database_url;
        config.listen.gateway = SocketAddr::from(([127, 0, 0, 1], 0));
        config.auth.internal_key = Some(CredentialKey::generate().to_base64());
        let operator_token = format!("kefu_op_bench_{}", uuid::Uuid::now_v7().simple());
        config.auth.operator_token = Some(operator_token.clone());
        let mail_file = data_dir.join("mail.jsonl");
        config.mail.outbox_file = Some(mail_file.clone());
        // The benches measure the work, not the per-tenant request budget.
        config.limits.enabled = false;
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone().drop_guard();
        let embedded = start_embedded(&config, shutdown)
            .await
            .context("starting Kefu")?;
        let channel = Channel::from_shared(format!("http://{}", embedded.gateway_addr()))?
            .connect()
            .await
            .context("reaching the gateway")?;
        Ok(Self {
            channel,
            operator: bearer(&operator_token)?,
            mail_file,
            config,
            _embedded: embedded,
            _stop: stop,
        })
    }

    /// Creates a tenant and signs its administrator in: the session token.
    pub async fn onboard(&self, slug: &str) -> anyhow::Result<String> {
        let email = format!("admin@{slug}.example");
        TenantServiceClient::with_interceptor(self.channel.clone(), self.operator.clone())
            .create_tenant(CreateTenantRequest {
                tenant: Some(Tenant {
                    slug: slug.into(),
                    display_name: format!("{slug} 客服部"),
                    industry: Industry::PropertyManagement as i32,
                    ..Tenant::default()
                }),
                initial_admin_email: email.clone(),
                initial_admin_display_name: "管理员".into(),
                ..CreateTenantRequest::default()
            })
            .await
            .with_context(|| format!("creating tenant {slug}"))?;
        let mail = std::fs::read_to_string(&self.mail_file).context("reading the mail outbox")?;
        let invitation = mail
            .lines()
            .rev()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|mail| mail["to"] == email.as_str())
            .and_then(|mail| mail["data"]["invitation_token"].as_str().map(str::to_owned))
            .ok_or_else(|| anyhow!("no invitation mailed to {email}"))?;
        let mut identity = IdentityServiceClient::new(self.channel.clone());
        identity
            .accept_invitation(AcceptInvitationRequest {
                invitation_token: invitation,
                password: PASSWORD.into(),
            })
            .await
            .context("accepting the invitation")?;
        Ok(identity
            .login(LoginRequest {
                tenant_slug: slug.into(),
                email,
                password: PASSWORD.into(),
            })
            .await
            .context("logging in")?
            .into_inner()
            .session_token)
    }
}
