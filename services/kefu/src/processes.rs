//! `kefu up` and `kefu serve`: building the pieces from configuration and
//! running them until a signal.

use std::{collections::HashMap, io::Write, net::SocketAddr, path::Path, sync::Arc};

use anyhow::{Context, bail};
use base64::Engine;
use kefu_gateway::{
    GatewayConfig, RunningGateway,
    authn::OperatorToken,
    limits::RateLimits,
    placement::TenantsPlacements,
    ratelimit::{InProcessLimiter, RateLimiter, RedisLimiter},
    resolver::TenantsAuthenticator,
};
use kefu_kit::{
    auth::InternalAuth,
    bus::{EventBus, InProcessBus, RedisStreamsBus, RedisStreamsSettings},
    clock::{SharedClock, SystemClock},
    config::KefuConfig,
    credential::{CredentialKey, CredentialSigner, CredentialVerifier},
    outbox::OutboxSignal,
    relay::RelaySettings,
    service::{KefuService, RunningService, Runtime, ServiceContext, start},
    shutdown::cancel_on_signal,
};
use rand::RngCore;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::{migrate::location, targets::Target};

/// The file under the data directory holding the generated operator token.
const OPERATOR_TOKEN_FILE: &str = "operator-token";

/// Everything `kefu up` started.
pub struct Embedded {
    gateway: RunningGateway,
    services: Vec<RunningService>,
}

impl Embedded {
    /// Where the gateway listens.
    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway.local_addr
    }

    /// Where the service `name` (`tenants`) listens, behind the gateway.
    pub fn service_addr(&self, name: &str) -> Option<SocketAddr> {
        self.services
            .iter()
            .find(|service| service.name == name)
            .map(|service| service.local_addr)
    }

    /// Waits until everything has drained after shutdown.
    pub async fn wait(self) {
        let _ = self.gateway.task.await;
        for service in self.services {
            service.wait().await;
        }
    }
}

/// `kefu up`: every service and the gateway in this process.
pub async fn up(config: KefuConfig) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    let embedded = start_embedded(&config, shutdown).await?;
    let token_source = match config.auth.operator_token {
        Some(_) => "auth.operator_token (configured)".to_owned(),
        None => config
            .storage
            .data_dir
            .join(OPERATOR_TOKEN_FILE)
            .display()
            .to_string(),
    };
    let storage = match &config.storage.database_url {
        Some(_) => "PostgreSQL (storage.database_url)".to_owned(),
        None => format!("SQLite files in {}", config.storage.data_dir.display()),
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "kefu is up: gateway listening on http://{} (gRPC and REST)",
        embedded.gateway_addr()
    )?;
    writeln!(stdout, "  storage: {storage}")?;
    writeln!(stdout, "  platform operator token: {token_source}")?;
    writeln!(stdout, "  stop with Ctrl-C")?;
    stdout.flush()?;
    drop(stdout);
    embedded.wait().await;
    Ok(())
}

/// Starts every service on a loopback port and the gateway in front of them.
pub async fn start_embedded(
    config: &KefuConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<Embedded> {
    start_embedded_with_clock(config, shutdown, Arc::new(SystemClock)).await
}

/// [`start_embedded`] with every part reading `clock`: tests of deadlines
/// and SLA clocks stand the whole stack at the instant they choose
/// (`kefu_kit::clock::ManualClock`).
pub async fn start_embedded_with_clock(
    config: &KefuConfig,
    shutdown: CancellationToken,
    clock: SharedClock,
) -> anyhow::Result<Embedded> {
    // One process: a key generated per start is shared by all its parts.
    let key = config
        .auth
        .signing_key()?
        .unwrap_or_else(CredentialKey::generate);
    let runtime = runtime(config, key.clone(), clock.clone(), shutdown.clone()).await?;
    let mut services = Vec::new();
    let mut upstreams = HashMap::new();
    for service in crate::targets::all_services(config) {
        let location = location(config, service.name());
        kefu_kit::db::migrate(&location)
            .await
            .with_context(|| format!("migrating {}", service.name()))?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let running = start_service(
            service,
            config,
            &location,
            listener,
            &runtime,
            clock.clone(),
        )
        .await?;
        upstreams.insert(
            running.name.to_owned(),
            lazy_channel(&format!("http://{}", running.local_addr))?,
        );
        services.push(running);
    }
    // Relays start once every service has subscribed (see `start_relay`).
    for service in &mut services {
        service.start_relay();
    }
    let operator_token = match &config.auth.operator_token {
        Some(token) => token.clone(),
        None => read_or_create_operator_token(&config.storage.data_dir)?,
    };
    let gateway = start_gateway(
        config,
        key,
        clock,
        upstreams,
        &operator_token,
        config.listen.gateway,
        shutdown,
    )
    .await?;
    Ok(Embedded { gateway, services })
}

/// `kefu serve --target <target>`.
pub async fn serve(
    config: KefuConfig,
    target: Target,
    listen: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    if target == Target::Operator {
        return serve_operator(&config, listen, shutdown).await;
    }
    let clock: SharedClock = Arc::new(SystemClock);
    let Some(key) = config.auth.signing_key()? else {
        bail!(
            "a separate process needs the shared key: set auth.internal_key (KEFU_AUTH__INTERNAL_KEY)"
        );
    };
    if target == Target::Gateway {
        let mut upstreams = HashMap::new();
        for name in kefu_migrations::SERVICES {
            let Some(address) = config.upstreams.get(name) else {
                bail!(
                    "the gateway needs upstreams.{name} (KEFU_UPSTREAMS__{})",
                    name.to_uppercase()
                );
            };
            upstreams.insert((*name).to_owned(), lazy_channel(address)?);
        }
        let Some(operator_token) = config.auth.operator_token.clone() else {
            bail!("the gateway needs auth.operator_token (KEFU_AUTH__OPERATOR_TOKEN)");
        };
        let listen = listen.unwrap_or(config.listen.gateway);
        let gateway = start_gateway(
            &config,
            key,
            clock,
            upstreams,
            &operator_token,
            listen,
            shutdown,
        )
        .await?;
        println!("gateway listening on http://{}", gateway.local_addr);
        let _ = gateway.task.await;
        return Ok(());
    }
    if config.bus.redis_url.is_none() {
        bail!(
            "a separate service process publishes on Redis: set bus.redis_url (KEFU_BUS__REDIS_URL)"
        );
    }
    let name = format!("{target:?}").to_lowercase();
    let service = crate::targets::service(&name, &config)
        .with_context(|| format!("no service named {name}"))?;
    let runtime = runtime(&config, key, clock.clone(), shutdown).await?;
    let listener = TcpListener::bind(listen.unwrap_or(config.listen.service)).await?;
    let running = start_service(
        service,
        &config,
        &location(&config, &name),
        listener,
        &runtime,
        clock,
    )
    .await?;
    println!("{name} listening on {}", running.local_addr);
    running.wait().await;
    Ok(())
}

/// The operator: no database, no bus of its own; it calls the tenants
/// service through the gateway and answers health and `/metrics` on
/// `listen.service`.
async fn serve_operator(
    config: &KefuConfig,
    listen: Option<SocketAddr>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let settings = kefu_operator::process::OperatorSettings::from_config(config)?;
    let listen = listen.unwrap_or(config.listen.service);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the operator to {listen}"))?;
    println!(
        "operator listening on {} (health, /metrics)",
        listener.local_addr()?
    );
    kefu_operator::process::run(settings, listener, shutdown).await?;
    Ok(())
}

async fn start_service(
    service: Arc<dyn KefuService>,
    config: &KefuConfig,
    location: &kefu_kit::db::DatabaseLocation,
    listener: TcpListener,
    runtime: &Runtime,
    clock: SharedClock,
) -> anyhow::Result<RunningService> {
    let location = location
        .clone()
        .acting_as(Some(config.storage.service_role.clone()));
    let db = kefu_kit::db::connect(&location, config.storage.max_connections)
        .await
        .with_context(|| format!("connecting {} to its database", service.name()))?;
    let context = ServiceContext {
        db,
        outbox: OutboxSignal::default(),
        clock,
    };
    let name = service.name();
    start(service, &context, listener, runtime)
        .await
        .with_context(|| format!("starting {name}"))
}

async fn start_gateway(
    config: &KefuConfig,
    key: CredentialKey,
    clock: SharedClock,
    upstreams: HashMap<String, Channel>,
    operator_token: &str,
    listen: SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningGateway> {
    let ttl = chrono::Duration::seconds(i64::try_from(config.auth.credential_ttl_secs)?);
    let signer = Arc::new(CredentialSigner::new(key, ttl));
    let tenants = upstreams
        .get(kefu_tenants::NAME)
        .cloned()
        .context("the gateway needs the tenants service to authenticate callers")?;
    let placements = TenantsPlacements::new(tenants.clone(), signer.clone(), clock.clone());
    let authenticator = TenantsAuthenticator::new(
        OperatorToken::new(operator_token),
        tenants,
        signer.clone(),
        clock.clone(),
    );
    let gateway_config = GatewayConfig {
        upstreams,
        signer,
        authenticator: Arc::new(authenticator),
        limiter: limiter(config).await?,
        limits: RateLimits::new(config.limits.clone()),
        trusted_proxies: config.listen.trusted_proxies,
        clock,
        placements: Arc::new(placements),
    };
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the gateway to {listen}"))?;
    Ok(kefu_gateway::serve(gateway_config, listener, shutdown).await?)
}

/// Rate-limit buckets in Redis when there is one (shared by every gateway
/// replica), otherwise in this process.
async fn limiter(config: &KefuConfig) -> anyhow::Result<Arc<dyn RateLimiter>> {
    Ok(match &config.bus.redis_url {
        // Limits off: no reason to need Redis for them.
        Some(url) if config.limits.enabled => {
            let client = redis::Client::open(url.as_str()).context("Redis URL")?;
            let manager = redis::aio::ConnectionManager::new(client)
                .await
                .context("connecting the rate limiter to Redis")?;
            Arc::new(RedisLimiter::new(manager, config.bus.namespace.clone()))
        }
        _ => Arc::new(InProcessLimiter::new()),
    })
}

/// What every service of this process shares: bus, credential check,
/// relay tuning, replica name, shutdown.
async fn runtime(
    config: &KefuConfig,
    key: CredentialKey,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> anyhow::Result<Runtime> {
    Ok(Runtime {
        bus: bus(config).await?,
        auth: internal_auth(config, key, clock)?,
        relay: RelaySettings::from(&config.outbox),
        consumer_name: consumer_name(),
        shutdown,
    })
}

async fn bus(config: &KefuConfig) -> anyhow::Result<Arc<dyn EventBus>> {
    Ok(match &config.bus.redis_url {
        Some(url) => Arc::new(
            RedisStreamsBus::connect(url, RedisStreamsSettings::from(&config.bus))
                .await
                .context("connecting to Redis")?,
        ),
        None => Arc::new(InProcessBus::new()),
    })
}

fn internal_auth(
    config: &KefuConfig,
    key: CredentialKey,
    clock: SharedClock,
) -> anyhow::Result<InternalAuth> {
    let mut keys = vec![key];
    keys.extend(config.auth.previous_keys()?);
    Ok(InternalAuth::new(CredentialVerifier::new(keys), clock))
}

fn lazy_channel(address: &str) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(address.to_owned())
        .with_context(|| format!("invalid upstream address {address}"))?
        .connect_lazy())
}

fn consumer_name() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| format!("kefu-{}", std::process::id()))
}

/// The operator token of an embedded installation: generated once into the
/// data directory (readable by the owner only) and reused at later starts.
fn read_or_create_operator_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(OPERATOR_TOKEN_FILE);
    if let Ok(token) = std::fs::read_to_string(&path) {
        let token = token.trim().to_owned();
        if !token.is_empty() {
            return Ok(token);
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!(
        "kefu_op_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(file, "{token}")?;
    Ok(token)
}
