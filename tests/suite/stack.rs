//! The whole of Kefu in this test process, as `kefu up` runs it: every
//! service on its own gRPC port behind the credential check, and the
//! gateway in front, on SQLite files or on a PostgreSQL database cloned from
//! the migrated template (services connected as the row-level-security
//! role) with Redis for events and rate limits. Callers talk to the gateway
//! over real gRPC, as partners and the portal do.

use std::{net::SocketAddr, path::PathBuf};

use bytes::{Buf, BufMut};
use futures::StreamExt;
use kefu::processes::{Embedded, start_embedded_with_clock};
use kefu_kit::{
    clock::{SharedClock, SystemClock},
    config::KefuConfig,
    credential::CredentialKey,
    testing::{Backend, TestDatabase, redis_url},
};
use kefu_proto::v1::{
    AcceptInvitationRequest, CreateTenantRequest, Industry, LoginRequest, Tenant,
    callback_service_client::CallbackServiceClient,
    complaint_service_client::ComplaintServiceClient,
    customer_service_client::CustomerServiceClient, dispatch_service_client::DispatchServiceClient,
    identity_service_client::IdentityServiceClient, tenant_service_client::TenantServiceClient,
    ticket_service_client::TicketServiceClient,
};
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    metadata::MetadataValue,
    service::interceptor::InterceptedService,
    transport::Channel,
};

/// A password that meets every tenant's policy.
pub const PASSWORD: &str = "Correct-Horse-Battery-9";

/// A running stack. Fields drop in order: the services stop before their
/// databases and files go.
pub struct Stack {
    _shutdown: DropGuard,
    pub backend: Backend,
    pub channel: Channel,
    /// Where the gateway listens (gRPC and REST).
    pub gateway: SocketAddr,
    pub operator_token: String,
    /// The key services verify internal credentials with.
    pub internal_key: CredentialKey,
    embedded: Option<Embedded>,
    config: KefuConfig,
    mail_file: PathBuf,
    _data_dir: tempfile::TempDir,
    database: Option<TestDatabase>,
}

/// A tenant with a signed-in administrator.
pub struct Onboarded {
    pub tenant: Tenant,
    pub admin_email: String,
    pub admin_user: String,
    /// The administrator's portal session token.
    pub admin_session: String,
}

/// A client whose every call carries `authorization: Bearer <token>`.
pub type Bearer = InterceptedService<Channel, BearerAuth>;

/// Adds the bearer token to each call.
#[derive(Clone)]
pub struct BearerAuth(Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for BearerAuth {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

impl Stack {
    /// Starts the stack on `backend`, after `configure` adjusted the
    /// configuration; `None` when the backend's servers are not configured
    /// (and not required).
    pub async fn start(backend: Backend, configure: impl FnOnce(&mut KefuConfig)) -> Option<Self> {
        Self::start_with_clock(backend, std::sync::Arc::new(SystemClock), configure).await
    }

    /// [`Stack::start`] with every service and the gateway reading `clock`
    /// (a `ManualClock` moves the whole stack's time).
    pub async fn start_with_clock(
        backend: Backend,
        clock: SharedClock,
        configure: impl FnOnce(&mut KefuConfig),
    ) -> Option<Self> {
        let data_dir = tempfile::tempdir().expect("data dir");
        let mut config = KefuConfig::default();
        config.storage.data_dir = data_dir.path().to_path_buf();
        config.listen.gateway = SocketAddr::from(([127, 0, 0, 1], 0));
        let internal_key = CredentialKey::generate();
        config.auth.internal_key = Some(internal_key.to_base64());
        let operator_token = format!("kefu_op_test_{}", uuid::Uuid::now_v7().simple());
        config.auth.operator_token = Some(operator_token.clone());
        let mail_file = data_dir.path().join("mail.jsonl");
        config.mail.outbox_file = Some(mail_file.clone());
        config.outbox.poll_interval_ms = 50;
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let database = TestDatabase::new(Backend::Postgres, "tenants").await?;
                config.storage.database_url = Some(database.location.url.clone());
                config.storage.max_connections = 4;
                config.bus.redis_url = Some(redis_url()?);
                config.bus.namespace = format!("kefu-test-{}", uuid::Uuid::now_v7().simple());
                Some(database)
            }
        };
        configure(&mut config);
        let shutdown = CancellationToken::new();
        let embedded = start_embedded_with_clock(&config, shutdown.clone(), clock)
            .await
            .expect("the stack starts");
        let gateway = embedded.gateway_addr();
        let channel = Channel::from_shared(format!("http://{gateway}"))
            .expect("uri")
            .connect()
            .await
            .expect("gateway reachable");
        Some(Self {
            backend,
            channel,
            gateway,
            operator_token,
            internal_key,
            embedded: Some(embedded),
            config,
            mail_file,
            _data_dir: data_dir,
            database,
            _shutdown: shutdown.drop_guard(),
        })
    }

    /// The PostgreSQL database the stack runs on (`None` on SQLite).
    pub fn database(&self) -> Option<&TestDatabase> {
        self.database.as_ref()
    }

    /// A connection to service `name`'s database as that service has it
    /// (on PostgreSQL as the row-level-security role).
    pub async fn service_connection(&self, name: &str) -> sea_orm::DatabaseConnection {
        let location = kefu::migrate::location(&self.config, name)
            .acting_as(Some(self.config.storage.service_role.clone()));
        kefu_kit::db::connect(&location, 2)
            .await
            .expect("service database opens")
    }

    /// Where service `name` listens behind the gateway.
    pub fn service_addr(&self, name: &str) -> SocketAddr {
        self.embedded
            .as_ref()
            .and_then(|embedded| embedded.service_addr(name))
            .expect("service runs")
    }

    fn bearer(token: Option<&str>) -> BearerAuth {
        BearerAuth(token.map(|token| {
            format!("Bearer {token}")
                .parse()
                .expect("token is metadata")
        }))
    }

    /// The tenant service as the holder of `token` (none: anonymous).
    pub fn tenants(&self, token: Option<&str>) -> TenantServiceClient<Bearer> {
        TenantServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    /// The identity service as the holder of `token` (none: anonymous).
    pub fn identity(&self, token: Option<&str>) -> IdentityServiceClient<Bearer> {
        IdentityServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    /// The customers service as the holder of `token`.
    pub fn customers(&self, token: Option<&str>) -> CustomerServiceClient<Bearer> {
        CustomerServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    /// The ticket service as the holder of `token`.
    pub fn tickets(&self, token: Option<&str>) -> TicketServiceClient<Bearer> {
        TicketServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    /// The callback service as the holder of `token`.
    pub fn callbacks(&self, token: Option<&str>) -> CallbackServiceClient<Bearer> {
        CallbackServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    /// The complaint service as the holder of `token`.
    pub fn complaints(&self, token: Option<&str>) -> ComplaintServiceClient<Bearer> {
        ComplaintServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    /// The dispatch service as the holder of `token`.
    pub fn dispatch(&self, token: Option<&str>) -> DispatchServiceClient<Bearer> {
        DispatchServiceClient::with_interceptor(self.channel.clone(), Self::bearer(token))
    }

    /// The invitation token last mailed to `email`.
    pub fn invitation_for(&self, email: &str) -> String {
        let mail = std::fs::read_to_string(&self.mail_file).expect("mail written");
        mail.lines()
            .rev()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|mail| mail["to"] == email)
            .and_then(|mail| mail["data"]["invitation_token"].as_str().map(str::to_owned))
            .expect("invitation mailed")
    }

    /// Accepts `email`'s invitation and logs in: the session token.
    pub async fn join(&self, slug: &str, email: &str) -> (String, String) {
        let user = self
            .identity(None)
            .accept_invitation(AcceptInvitationRequest {
                invitation_token: self.invitation_for(email),
                password: PASSWORD.into(),
            })
            .await
            .expect("invitation accepted through the gateway")
            .into_inner();
        let login = self
            .identity(None)
            .login(LoginRequest {
                tenant_slug: slug.into(),
                email: email.into(),
                password: PASSWORD.into(),
            })
            .await
            .expect("login through the gateway")
            .into_inner();
        (user.name, login.session_token)
    }

    /// Creates a tenant as the operator and signs its administrator in.
    pub async fn onboard(&self, prefix: &str, industry: Industry) -> Onboarded {
        let slug = format!(
            "{prefix}-{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let admin_email = format!("admin@{slug}.example");
        let tenant = self
            .tenants(Some(&self.operator_token))
            .create_tenant(CreateTenantRequest {
                tenant: Some(Tenant {
                    slug: slug.clone(),
                    display_name: format!("{prefix} 客服部"),
                    industry: industry as i32,
                    ..Tenant::default()
                }),
                initial_admin_email: admin_email.clone(),
                initial_admin_display_name: "管理员".into(),
                ..CreateTenantRequest::default()
            })
            .await
            .expect("the operator creates a tenant")
            .into_inner();
        let (admin_user, admin_session) = self.join(&slug, &admin_email).await;
        Onboarded {
            tenant,
            admin_email,
            admin_user,
            admin_session,
        }
    }

    /// Calls `path` (`kefu.v1.TicketService/GetTicket`) through the gateway
    /// with an encoded request, whatever the method's kind; every response
    /// message, encoded.
    pub async fn raw_call(
        &self,
        path: &str,
        request: Vec<u8>,
        bearer: Option<&str>,
    ) -> Result<Vec<Vec<u8>>, Status> {
        raw_call(self.channel.clone(), path, request, |metadata| {
            if let Some(token) = bearer {
                metadata.insert(
                    "authorization",
                    format!("Bearer {token}").parse().expect("ascii"),
                );
            }
        })
        .await
    }
}

/// An HTTP answer: status, headers (lower-case names), raw body.
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// `method path` with `body` (JSON when not empty) on a fresh HTTP/1.1
/// connection to `gateway`, as a simple integration speaks to it.
pub async fn http(
    gateway: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: &str,
    extra: &[(&str, &str)],
) -> HttpAnswer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(gateway)
        .await
        .expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: kefu\r\nConnection: close\r\n");
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    if let Some(token) = bearer {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("head and body");
    let head = String::from_utf8(raw[..split].to_vec()).expect("utf-8 head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_lowercase(), value.trim().to_owned()))
        .collect();
    HttpAnswer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// Calls `path` on `channel` with an encoded request, as a stream of one
/// message (which every kind of method accepts on the wire).
pub async fn raw_call(
    channel: Channel,
    path: &str,
    request: Vec<u8>,
    decorate: impl FnOnce(&mut tonic::metadata::MetadataMap),
) -> Result<Vec<Vec<u8>>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unavailable(error.to_string()))?;
    let mut call = tonic::Request::new(futures::stream::iter([request]));
    decorate(call.metadata_mut());
    let path = http::uri::PathAndQuery::try_from(format!("/{path}")).expect("path");
    let mut stream = grpc.streaming(call, path, RawCodec).await?.into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.next().await {
        messages.push(message?);
    }
    Ok(messages)
}

/// Passes encoded messages through untouched.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut item = vec![0; src.remaining()];
        src.copy_to_slice(&mut item);
        Ok(Some(item))
    }
}
