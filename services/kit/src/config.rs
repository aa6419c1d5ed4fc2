//! Configuration: built-in defaults, then a TOML file, then `KEFU_*`
//! environment variables, each layer overriding the one before.
//!
//! Nested keys are separated by a double underscore in the environment:
//! `KEFU_STORAGE__DATABASE_URL` sets `storage.database_url`. Unknown keys in
//! a known section are an error, so a typo fails loudly instead of being
//! ignored. `kefu up` works with no configuration at all.

use std::{net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

use crate::credential::{CredentialError, CredentialKey};

/// The environment prefix of every setting.
pub const ENV_PREFIX: &str = "KEFU_";

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A layer could not be read or does not match the schema.
    #[error("invalid configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// A value is out of its allowed range or form.
    #[error("invalid configuration value {key}: {message}")]
    Invalid {
        /// The dotted key (`auth.credential_ttl_secs`).
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The whole configuration of a Kefu process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KefuConfig {
    /// Where servers listen.
    pub listen: ListenConfig,
    /// Where data is kept.
    pub storage: StorageConfig,
    /// The event bus between services.
    pub bus: BusConfig,
    /// The transactional outbox relay.
    pub outbox: OutboxConfig,
    /// Credentials.
    pub auth: AuthConfig,
    /// Where the gateway finds each service when they run as separate processes.
    pub upstreams: UpstreamsConfig,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
    /// Rate limits at the gateway.
    pub limits: LimitsConfig,
    /// Outgoing e-mail.
    pub mail: MailConfig,
    /// The Kubernetes operator (`kefu serve --target operator`).
    pub operator: OperatorConfig,
}

/// Listening addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenConfig {
    /// The gateway: gRPC and REST on one port.
    pub gateway: SocketAddr,
    /// A single service started with `kefu serve --target <service>`.
    pub service: SocketAddr,
    /// How many proxies (ingress, load balancer) stand in front of the
    /// gateway, each appending the address it saw to `X-Forwarded-For`. The
    /// client is then that many entries from the right; 0 trusts no header
    /// and takes the socket's peer. Used for per-client rate limits of
    /// Login and recorded on sessions.
    pub trusted_proxies: usize,
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            gateway: SocketAddr::from(([127, 0, 0, 1], 8080)),
            service: SocketAddr::from(([0, 0, 0, 0], 50051)),
            trusted_proxies: 0,
        }
    }
}

/// Where services keep their data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// The directory of the embedded SQLite files (one per service), created
    /// when absent. Used when `database_url` is not set.
    pub data_dir: PathBuf,
    /// A `postgres://` URL: every service then keeps its tables in its own
    /// schema of that database. Unset: SQLite files under `data_dir`.
    pub database_url: Option<String>,
    /// Connections per service pool.
    pub max_connections: u32,
    /// The PostgreSQL role the services act as (`SET ROLE` at connect), so
    /// row-level security applies even when the login role owns the tables;
    /// the migrations create it. Empty: act as the login role (which must
    /// then own nothing and lack BYPASSRLS).
    pub service_role: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("kefu-data"),
            database_url: None,
            max_connections: 10,
            service_role: crate::db::SERVICE_ROLE.to_owned(),
        }
    }
}

/// The event bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// A `redis://` URL: events travel on Redis Streams. Unset: in-process
    /// delivery, only possible when every service runs in one process.
    pub redis_url: Option<String>,
    /// A delivery not acknowledged for this long is taken over by another
    /// consumer of the group (its consumer is presumed dead).
    pub claim_idle_ms: u64,
    /// After this many deliveries an event goes to the dead-letter stream.
    pub max_deliveries: u64,
    /// Approximate number of entries each stream keeps.
    pub stream_max_len: usize,
    /// The first segment of every Redis key (streams, rate-limit buckets),
    /// so installations sharing one Redis never see each other's data.
    pub namespace: String,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            claim_idle_ms: 30_000,
            max_deliveries: 16,
            stream_max_len: 1_000_000,
            namespace: "kefu".to_owned(),
        }
    }
}

/// The outbox relay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// How often the relay looks for events when nothing woke it.
    pub poll_interval_ms: u64,
    /// Events published per round.
    pub batch_size: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            poll_interval_ms: 250,
            batch_size: 100,
        }
    }
}

/// Credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The key (base64, at least 32 bytes) the gateway signs internal
    /// credentials with and the services verify them with. Required when
    /// services run as separate processes; `kefu up` generates one per start.
    pub internal_key: Option<String>,
    /// Keys being rotated out: still accepted, never used to sign.
    pub previous_internal_keys: Vec<String>,
    /// Lifetime of an internal credential, in seconds.
    pub credential_ttl_secs: u64,
    /// The platform operator's bearer token (manages tenants only). `kefu up`
    /// generates one into the data directory when unset.
    pub operator_token: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            internal_key: None,
            previous_internal_keys: Vec::new(),
            credential_ttl_secs: 60,
            operator_token: None,
        }
    }
}

impl AuthConfig {
    /// The configured signing key, if any.
    pub fn signing_key(&self) -> Result<Option<CredentialKey>, CredentialError> {
        self.internal_key
            .as_deref()
            .map(CredentialKey::from_base64)
            .transpose()
    }

    /// The previous keys, still accepted.
    pub fn previous_keys(&self) -> Result<Vec<CredentialKey>, CredentialError> {
        self.previous_internal_keys
            .iter()
            .map(|key| CredentialKey::from_base64(key))
            .collect()
    }
}

/// The address of each service, for a gateway that runs apart from them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamsConfig {
    /// The tenants service, for example `http://kefu-tenants:50051`.
    pub tenants: Option<String>,
    /// The customers service.
    pub customers: Option<String>,
    /// The tickets service.
    pub tickets: Option<String>,
    /// The callbacks service.
    pub callbacks: Option<String>,
    /// The analytics service.
    pub analytics: Option<String>,
}

impl UpstreamsConfig {
    /// The configured address of `target`.
    pub fn get(&self, target: &str) -> Option<&str> {
        match target {
            "tenants" => self.tenants.as_deref(),
            "customers" => self.customers.as_deref(),
            "tickets" => self.tickets.as_deref(),
            "callbacks" => self.callbacks.as_deref(),
            "analytics" => self.analytics.as_deref(),
            _ => None,
        }
    }
}

/// Rate limits at the gateway: a token bucket per tenant (sized by its
/// plan) and one per credential inside it, so neither a flooding tenant nor
/// one noisy key of a tenant slows anybody else. Shared by every gateway
/// replica through Redis when `bus.redis_url` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Off: no call is ever refused for its rate (benchmarks, trusted installs).
    pub enabled: bool,
    /// Requests per second of a STARTER tenant (and of an unspecified plan).
    pub starter_per_second: f64,
    /// Requests per second of a PROFESSIONAL tenant.
    pub professional_per_second: f64,
    /// Requests per second of an ENTERPRISE tenant.
    pub enterprise_per_second: f64,
    /// The share of its tenant's rate one API key or user session may use.
    pub credential_share: f64,
    /// Requests per second of calls without credential (Login) per client
    /// address.
    pub anonymous_per_second: f64,
    /// Seconds of rate a bucket holds: how long a burst may go at full speed.
    pub burst_seconds: f64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            starter_per_second: 20.0,
            professional_per_second: 100.0,
            enterprise_per_second: 500.0,
            credential_share: 0.5,
            anonymous_per_second: 5.0,
            burst_seconds: 2.0,
        }
    }
}

/// Outgoing e-mail. There is no mail server integration yet: messages
/// (invitations) are logged and, when a file is named, appended to it as
/// JSON lines for an operator (or a test) to read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The JSON-lines file messages are appended to. Unset: `mail.jsonl` in
    /// `storage.data_dir` when embedded (no `storage.database_url`), else
    /// the log only.
    pub outbox_file: Option<PathBuf>,
}

/// The Kubernetes operator: how it reaches the tenants service and how it
/// lays out a silo tenant's namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperatorConfig {
    /// The gateway (`http://kefu-gateway:8080`) the operator manages tenants
    /// through, with `auth.operator_token`. Required by the operator.
    pub gateway_url: Option<String>,
    /// Watch `Tenant` resources of this namespace only; unset: every
    /// namespace.
    pub watch_namespace: Option<String>,
    /// Silo tenants' namespaces.
    pub silo: SiloConfig,
}

/// What the operator provisions for a SILO tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiloConfig {
    /// A silo's namespace is this prefix and the tenant's slug (`kefu-t-acme`).
    pub namespace_prefix: String,
    /// The image of the silo's services (the same image as every target).
    /// Unset: the operator refuses to provision silos.
    pub image: Option<String>,
    /// The silo's own database: `{slug}` is replaced by the tenant's slug
    /// with `-` as `_` (`postgres://kefu:…@db:5432/kefu_t_{slug}`). Written
    /// into the silo's `kefu-database` Secret only when that Secret does not
    /// exist yet; unset: an administrator creates that Secret.
    pub database_url_template: Option<String>,
    /// The namespace the gateway runs in, admitted by the silo's
    /// NetworkPolicy; unset: the operator's own (`POD_NAMESPACE`).
    pub gateway_namespace: Option<String>,
    /// Replicas of each silo service.
    pub replicas: i32,
    /// ResourceQuota of a silo namespace: total CPU requests.
    pub quota_cpu: String,
    /// Total memory requests (and limits) of a silo namespace.
    pub quota_memory: String,
    /// Pods a silo namespace may run.
    pub quota_pods: String,
}

impl Default for SiloConfig {
    fn default() -> Self {
        Self {
            namespace_prefix: "kefu-t-".to_owned(),
            image: None,
            database_url_template: None,
            gateway_namespace: None,
            replicas: 1,
            quota_cpu: "4".to_owned(),
            quota_memory: "8Gi".to_owned(),
            quota_pods: "20".to_owned(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logs and traces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// A `tracing` filter (`info`, `kefu_kit=debug,info`).
    pub log: String,
    /// Log line format.
    pub log_format: LogFormat,
    /// An OTLP/gRPC endpoint (`http://otel-collector:4317`); traces are
    /// exported only when set.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of exported traces.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log: "info".into(),
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            service_name: "kefu".into(),
        }
    }
}

/// The top-level sections, so that unrelated `KEFU_*` variables (the test
/// suite's `KEFU_TEST_DATABASE_URL`, say) are not mistaken for settings.
const SECTIONS: &[&str] = &[
    "listen",
    "storage",
    "bus",
    "outbox",
    "auth",
    "upstreams",
    "telemetry",
    "limits",
    "mail",
    "operator",
];

/// Whether an environment key (prefix removed, before or after the `__`
/// split) names a setting of one of the sections.
fn is_setting(key: &str) -> bool {
    let section = key.split(['.']).next().unwrap_or(key);
    let section = section.split("__").next().unwrap_or(section);
    SECTIONS
        .iter()
        .any(|known| known.eq_ignore_ascii_case(section))
}

impl KefuConfig {
    /// Loads defaults, then `file` when given, then the environment, and validates.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file))
    }

    /// The layered sources, for callers that add their own (command-line flags).
    pub fn figment(file: Option<&std::path::Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(KefuConfig::default()));
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment.merge(
            Env::prefixed(ENV_PREFIX)
                .split("__")
                .filter(|key| is_setting(key.as_str())),
        )
    }

    /// Extracts and validates a configuration from `figment`.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: KefuConfig = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=3600).contains(&self.auth.credential_ttl_secs) {
            return Err(ConfigError::Invalid {
                key: "auth.credential_ttl_secs",
                message: "must be between 1 and 3600".into(),
            });
        }
        self.auth
            .signing_key()
            .map_err(|error| ConfigError::Invalid {
                key: "auth.internal_key",
                message: error.to_string(),
            })?;
        self.auth
            .previous_keys()
            .map_err(|error| ConfigError::Invalid {
                key: "auth.previous_internal_keys",
                message: error.to_string(),
            })?;
        if let Some(url) = &self.storage.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                key: "storage.database_url",
                message: "must start with postgres:// or postgresql:// (SQLite files live under storage.data_dir)".into(),
            });
        }
        if let Some(url) = &self.bus.redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError::Invalid {
                key: "bus.redis_url",
                message: "must start with redis:// or rediss://".into(),
            });
        }
        if self.storage.max_connections == 0 {
            return Err(ConfigError::Invalid {
                key: "storage.max_connections",
                message: "must be at least 1".into(),
            });
        }
        let limits = &self.limits;
        for (key, value) in [
            ("limits.starter_per_second", limits.starter_per_second),
            (
                "limits.professional_per_second",
                limits.professional_per_second,
            ),
            ("limits.enterprise_per_second", limits.enterprise_per_second),
            ("limits.anonymous_per_second", limits.anonymous_per_second),
            ("limits.burst_seconds", limits.burst_seconds),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be a positive number".into(),
                });
            }
        }
        if !(limits.credential_share > 0.0 && limits.credential_share <= 1.0) {
            return Err(ConfigError::Invalid {
                key: "limits.credential_share",
                message: "must be above 0 and at most 1".into(),
            });
        }
        let namespace = &self.bus.namespace;
        if namespace.is_empty()
            || !namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::Invalid {
                key: "bus.namespace",
                message: "must be letters, digits, '-' or '_' (it prefixes every Redis key)".into(),
            });
        }
        if self.outbox.batch_size == 0 || self.outbox.poll_interval_ms == 0 {
            return Err(ConfigError::Invalid {
                key: "outbox",
                message: "batch_size and poll_interval_ms must be positive".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
// figment's `Jail` closures return its own large error type.
#[allow(clippy::result_large_err)]
mod tests {
    use figment::Jail;

    use super::*;

    #[test]
    fn defaults_need_no_configuration() {
        Jail::expect_with(|_jail| {
            let config = KefuConfig::load(None).expect("defaults are valid");
            assert_eq!(config, KefuConfig::default());
            assert_eq!(config.storage.data_dir, PathBuf::from("kefu-data"));
            Ok(())
        });
    }

    #[test]
    fn file_overrides_defaults_and_environment_overrides_file() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "kefu.toml",
                r#"
                [storage]
                database_url = "postgres://file-host/kefu"
                max_connections = 4
                [telemetry]
                log = "debug"
                "#,
            )?;
            jail.set_env("KEFU_STORAGE__DATABASE_URL", "postgres://env-host/kefu");
            let config = KefuConfig::load(Some(std::path::Path::new("kefu.toml"))).expect("valid");
            assert_eq!(
                config.storage.database_url.as_deref(),
                Some("postgres://env-host/kefu"),
                "env beats file"
            );
            assert_eq!(config.storage.max_connections, 4, "file beats default");
            assert_eq!(config.telemetry.log, "debug");
            assert_eq!(
                config.outbox,
                OutboxConfig::default(),
                "untouched sections keep defaults"
            );
            Ok(())
        });
    }

    #[test]
    fn a_typo_in_a_known_section_is_an_error_but_foreign_variables_are_ignored() {
        Jail::expect_with(|jail| {
            jail.set_env("KEFU_TEST_DATABASE_URL", "postgres://ignored");
            assert!(
                KefuConfig::load(None).is_ok(),
                "KEFU_TEST_* is not a setting"
            );
            jail.set_env("KEFU_STORAGE__DATABSE_URL", "postgres://typo");
            let error = KefuConfig::load(None).expect_err("typo refused");
            assert!(error.to_string().contains("databse_url"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        Jail::expect_with(|jail| {
            jail.set_env("KEFU_AUTH__CREDENTIAL_TTL_SECS", "0");
            let error = KefuConfig::load(None).expect_err("refused");
            assert!(
                error.to_string().contains("auth.credential_ttl_secs"),
                "{error}"
            );
            jail.set_env("KEFU_AUTH__CREDENTIAL_TTL_SECS", "60");
            jail.set_env("KEFU_AUTH__INTERNAL_KEY", "c2hvcnQ=");
            let error = KefuConfig::load(None).expect_err("weak key refused");
            assert!(error.to_string().contains("auth.internal_key"), "{error}");
            Ok(())
        });
    }
}
