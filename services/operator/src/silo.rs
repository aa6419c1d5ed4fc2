//! The silo tier: a namespace per tenant (`kefu-t-{slug}`) with a
//! ResourceQuota and a default-deny NetworkPolicy, the tenant's own database
//! Secret, and a Deployment and Service per data service (customers,
//! tickets, callbacks, analytics), each migrating its own schema in an init
//! container before it serves.
//!
//! The builders are pure (tested without a cluster); [`provision`] applies
//! them with server-side apply under the operator's field manager, so a
//! repeat changes nothing and a hand edit of a managed field is put back.
//!
//! The tenants service stays in the shared pool: it is the registry every
//! tenant is created in and the identity service the gateway resolves each
//! caller with, so a silo's placement routes only the data services.

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Namespace, ResourceQuota, Secret, Service},
    networking::v1::NetworkPolicy,
};
use kefu_proto::v1::TenantPlacement;
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{Error, Result};

/// The services a silo runs (and its placement routes).
pub const SILO_SERVICES: &[&str] = &["customers", "tickets", "callbacks", "analytics"];
/// The port every Kefu service listens on (`listen.service`).
pub const SERVICE_PORT: i32 = 50051;
/// The Secret holding the silo's database URL (key [`DATABASE_URL_KEY`]).
pub const DATABASE_SECRET: &str = "kefu-database";
/// The key of the database URL in [`DATABASE_SECRET`].
pub const DATABASE_URL_KEY: &str = "url";
/// The Secret holding what the silo shares with the installation: the
/// internal-credential key and the Redis URL.
pub const RUNTIME_SECRET: &str = "kefu-runtime";
/// The field manager of everything the operator applies.
pub const FIELD_MANAGER: &str = "kefu-operator";
/// The label naming the tenant a silo object belongs to.
pub const TENANT_LABEL: &str = "kefu.io/tenant";

/// How silos are laid out, from `operator.silo` and the operator's own
/// credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct SiloSettings {
    /// Prefix of a silo's namespace.
    pub namespace_prefix: String,
    /// The image of the silo's services.
    pub image: Option<String>,
    /// The database URL with `{slug}`.
    pub database_url_template: Option<String>,
    /// Where the gateway runs (admitted by the NetworkPolicy).
    pub gateway_namespace: String,
    /// Replicas per service.
    pub replicas: i32,
    /// ResourceQuota: CPU requests.
    pub quota_cpu: String,
    /// ResourceQuota: memory.
    pub quota_memory: String,
    /// ResourceQuota: pods.
    pub quota_pods: String,
    /// `auth.internal_key`, which the silo's services verify calls with.
    pub internal_key: Option<String>,
    /// `bus.redis_url`, the silo's event bus (under its own key namespace).
    pub redis_url: Option<String>,
}

impl SiloSettings {
    /// Settings for tests and defaults: no image, no database template.
    pub fn for_test() -> Self {
        Self {
            namespace_prefix: "kefu-t-".into(),
            image: Some("kefu:test".into()),
            database_url_template: Some("postgres://kefu@db:5432/kefu_t_{slug}".into()),
            gateway_namespace: "kefu".into(),
            replicas: 1,
            quota_cpu: "4".into(),
            quota_memory: "8Gi".into(),
            quota_pods: "20".into(),
            internal_key: Some("a2VmdS10ZXN0LWludGVybmFsLWtleS0zMi1ieXRlcyE=".into()),
            redis_url: Some("redis://redis:6379".into()),
        }
    }

    /// The namespace of the silo of `slug`.
    pub fn namespace(&self, slug: &str) -> String {
        format!("{}{slug}", self.namespace_prefix)
    }
}

/// Who a silo belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiloTenant<'a> {
    /// The tenant's id in the tenants service.
    pub id: &'a str,
    /// Its slug.
    pub slug: &'a str,
}

fn labels(tenant: &SiloTenant<'_>) -> Value {
    json!({
        "app.kubernetes.io/part-of": "kefu",
        "app.kubernetes.io/managed-by": FIELD_MANAGER,
        TENANT_LABEL: tenant.id,
    })
}

fn typed<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(Error::Serde)
}

/// The namespace, under the restricted pod-security profile.
pub fn namespace(settings: &SiloSettings, tenant: &SiloTenant<'_>) -> Result<Namespace> {
    let mut labels = labels(tenant);
    labels["pod-security.kubernetes.io/enforce"] = json!("restricted");
    labels["kefu.io/tenant-slug"] = json!(tenant.slug);
    typed(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": settings.namespace(tenant.slug), "labels": labels},
    }))
}

/// The quota of the namespace.
pub fn quota(settings: &SiloSettings, tenant: &SiloTenant<'_>) -> Result<ResourceQuota> {
    typed(json!({
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {
            "name": "kefu-quota",
            "namespace": settings.namespace(tenant.slug),
            "labels": labels(tenant),
        },
        "spec": {"hard": {
            "requests.cpu": settings.quota_cpu,
            "requests.memory": settings.quota_memory,
            "limits.memory": settings.quota_memory,
            "pods": settings.quota_pods,
        }},
    }))
}

/// Default deny, then the flows a silo needs: in, the gateway (and the
/// silo's own pods) on the service port; out, DNS, the silo itself, the
/// installation's namespace (Redis, the collector, an in-cluster
/// PostgreSQL) and PostgreSQL, Redis and OTLP ports of managed servers
/// outside the cluster.
pub fn network_policy(settings: &SiloSettings, tenant: &SiloTenant<'_>) -> Result<NetworkPolicy> {
    let installation = json!({"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": settings.gateway_namespace,
    }}});
    typed(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "kefu-silo",
            "namespace": settings.namespace(tenant.slug),
            "labels": labels(tenant),
        },
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{
                "from": [installation, {"podSelector": {}}],
                "ports": [{"protocol": "TCP", "port": SERVICE_PORT}],
            }],
            "egress": [
                {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                {"to": [{"podSelector": {}}, installation]},
                {"ports": [
                    {"protocol": "TCP", "port": 5432},
                    {"protocol": "TCP", "port": 6379},
                    {"protocol": "TCP", "port": 4317},
                ]},
            ],
        },
    }))
}

/// The silo's own database URL, from the template.
pub fn database_url(settings: &SiloSettings, slug: &str) -> Option<String> {
    settings
        .database_url_template
        .as_ref()
        .map(|template| template.replace("{slug}", &slug.replace('-', "_")))
}

/// The database Secret, when the template can name the database.
pub fn database_secret(settings: &SiloSettings, tenant: &SiloTenant<'_>) -> Result<Option<Secret>> {
    let Some(url) = database_url(settings, tenant.slug) else {
        return Ok(None);
    };
    typed(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": DATABASE_SECRET,
            "namespace": settings.namespace(tenant.slug),
            "labels": labels(tenant),
        },
        "type": "Opaque",
        "stringData": {DATABASE_URL_KEY: url},
    }))
    .map(Some)
}

/// The Secret of what the silo shares with the installation.
pub fn runtime_secret(settings: &SiloSettings, tenant: &SiloTenant<'_>) -> Result<Secret> {
    let (Some(key), Some(redis)) = (&settings.internal_key, &settings.redis_url) else {
        return Err(Error::Config(
            "a silo's services need auth.internal_key and bus.redis_url in the operator's configuration".into(),
        ));
    };
    typed(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": RUNTIME_SECRET,
            "namespace": settings.namespace(tenant.slug),
            "labels": labels(tenant),
        },
        "type": "Opaque",
        "stringData": {"internal-key": key, "redis-url": redis},
    }))
}

fn component_labels(tenant: &SiloTenant<'_>, service: &str) -> Value {
    let mut labels = labels(tenant);
    labels["app.kubernetes.io/name"] = json!("kefu");
    labels["app.kubernetes.io/component"] = json!(service);
    labels
}

/// The Deployment of `service` (`tickets`): `kefu serve --target tickets`
/// after `kefu migrate --target tickets`, restricted and read-only, probed
/// on grpc.health.v1.
pub fn deployment(
    settings: &SiloSettings,
    tenant: &SiloTenant<'_>,
    service: &str,
) -> Result<Deployment> {
    let image = settings.image.as_ref().ok_or_else(|| {
        Error::Config("operator.silo.image is not set: silos cannot be provisioned".into())
    })?;
    let namespace = settings.namespace(tenant.slug);
    let secret_env = |name: &str, secret: &str, key: &str| json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}});
    let env = json!([
        secret_env("KEFU_STORAGE__DATABASE_URL", DATABASE_SECRET, DATABASE_URL_KEY),
        secret_env("KEFU_AUTH__INTERNAL_KEY", RUNTIME_SECRET, "internal-key"),
        secret_env("KEFU_BUS__REDIS_URL", RUNTIME_SECRET, "redis-url"),
        // Its own key space on the shared Redis: the silo's consumer groups
        // never take the pool's events, nor the pool the silo's.
        {"name": "KEFU_BUS__NAMESPACE", "value": namespace},
        {"name": "KEFU_LISTEN__SERVICE", "value": format!("0.0.0.0:{SERVICE_PORT}")},
        {"name": "KEFU_TELEMETRY__LOG_FORMAT", "value": "json"},
    ]);
    let container_security = json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
        "capabilities": {"drop": ["ALL"]},
    });
    let probe = json!({"grpc": {"port": SERVICE_PORT}, "periodSeconds": 10});
    let selector = json!({
        "app.kubernetes.io/name": "kefu",
        "app.kubernetes.io/component": service,
    });
    typed(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": format!("kefu-{service}"),
            "namespace": namespace,
            "labels": component_labels(tenant, service),
        },
        "spec": {
            "replicas": settings.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": component_labels(tenant, service)},
                "spec": {
                    "automountServiceAccountToken": false,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "initContainers": [{
                        "name": "migrate",
                        "image": image,
                        "args": ["migrate", "--target", service],
                        "env": env,
                        "securityContext": container_security,
                        "resources": {
                            "requests": {"cpu": "50m", "memory": "64Mi"},
                            "limits": {"memory": "256Mi"},
                        },
                    }],
                    "containers": [{
                        "name": service,
                        "image": image,
                        "args": ["serve", "--target", service],
                        "env": env,
                        "ports": [{"name": "grpc", "containerPort": SERVICE_PORT}],
                        "readinessProbe": probe,
                        "livenessProbe": probe,
                        "securityContext": container_security,
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"memory": "512Mi"},
                        },
                    }],
                },
            },
        },
    }))
}

/// The Service in front of `service`'s Deployment.
pub fn service(settings: &SiloSettings, tenant: &SiloTenant<'_>, service: &str) -> Result<Service> {
    typed(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": format!("kefu-{service}"),
            "namespace": settings.namespace(tenant.slug),
            "labels": component_labels(tenant, service),
        },
        "spec": {
            "selector": {
                "app.kubernetes.io/name": "kefu",
                "app.kubernetes.io/component": service,
            },
            "ports": [{
                "name": "grpc",
                "port": SERVICE_PORT,
                "targetPort": SERVICE_PORT,
                "appProtocol": "grpc",
            }],
        },
    }))
}

/// The placement the gateway routes by: each data service's address in the
/// silo's namespace; `ready` once all of them serve.
pub fn placement(settings: &SiloSettings, slug: &str, ready: bool) -> TenantPlacement {
    let namespace = settings.namespace(slug);
    let upstreams = SILO_SERVICES
        .iter()
        .map(|service| {
            (
                (*service).to_owned(),
                format!("http://kefu-{service}.{namespace}.svc:{SERVICE_PORT}"),
            )
        })
        .collect();
    TenantPlacement {
        namespace,
        upstreams,
        ready,
        update_time: None,
    }
}

/// Whether `current` already says what `wanted` does (the time aside).
pub fn same_placement(current: Option<&TenantPlacement>, wanted: &TenantPlacement) -> bool {
    current.is_some_and(|current| {
        current.namespace == wanted.namespace
            && current.upstreams == wanted.upstreams
            && current.ready == wanted.ready
    })
}

/// What [`provision`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiloState {
    /// Every object applied; `ready` when every Deployment has an
    /// available replica.
    Applied {
        /// Every service serves.
        ready: bool,
    },
    /// The database Secret does not exist and no template can write it.
    DatabaseSecretMissing,
}

fn apply_params() -> PatchParams {
    // Forced: the operator owns these fields; a hand edit is put back.
    PatchParams::apply(FIELD_MANAGER).force()
}

async fn apply<K>(api: &Api<K>, name: &str, object: &K) -> Result<K>
where
    K: kube::Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    Ok(api
        .patch(name, &apply_params(), &Patch::Apply(object))
        .await?)
}

/// Applies the silo of `tenant`.
pub async fn provision(
    client: &Client,
    settings: &SiloSettings,
    tenant: &SiloTenant<'_>,
) -> Result<SiloState> {
    let namespace_name = settings.namespace(tenant.slug);
    // Checked before anything is created, so a misconfigured operator
    // leaves no half silo behind.
    let runtime = runtime_secret(settings, tenant)?;
    let deployments = SILO_SERVICES
        .iter()
        .map(|name| deployment(settings, tenant, name))
        .collect::<Result<Vec<_>>>()?;

    let namespaces: Api<Namespace> = Api::all(client.clone());
    apply(&namespaces, &namespace_name, &namespace(settings, tenant)?).await?;
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), &namespace_name);
    apply(&quotas, "kefu-quota", &quota(settings, tenant)?).await?;
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &namespace_name);
    apply(&policies, "kefu-silo", &network_policy(settings, tenant)?).await?;

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace_name);
    apply(&secrets, RUNTIME_SECRET, &runtime).await?;
    // The database Secret is written once and then left alone: an
    // administrator may have created it (or rotated its password) by hand.
    if secrets.get_opt(DATABASE_SECRET).await?.is_none() {
        match database_secret(settings, tenant)? {
            Some(secret) => {
                secrets.create(&PostParams::default(), &secret).await?;
            }
            None => return Ok(SiloState::DatabaseSecretMissing),
        }
    }

    let services: Api<Service> = Api::namespaced(client.clone(), &namespace_name);
    let deployments_api: Api<Deployment> = Api::namespaced(client.clone(), &namespace_name);
    let mut ready = true;
    for (name, deployment) in SILO_SERVICES.iter().zip(&deployments) {
        let object_name = format!("kefu-{name}");
        apply(&services, &object_name, &service(settings, tenant, name)?).await?;
        let applied = apply(&deployments_api, &object_name, deployment).await?;
        let available = applied
            .status
            .as_ref()
            .and_then(|status| status.available_replicas)
            .unwrap_or(0);
        ready &= available > 0;
    }
    Ok(SiloState::Applied { ready })
}

/// Deletes the silo's namespace (and with it everything in it). The
/// database itself outlives it: dropping it is the database owner's call.
pub async fn teardown(client: &Client, settings: &SiloSettings, slug: &str) -> Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces
        .delete(&settings.namespace(slug), &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: SiloTenant<'static> = SiloTenant {
        id: "0194e0f0-0000-7000-8000-000000000001",
        slug: "acme-shop",
    };

    #[test]
    fn a_silo_lives_in_its_own_restricted_namespace() {
        let settings = SiloSettings::for_test();
        let namespace = namespace(&settings, &TENANT).expect("namespace");
        assert_eq!(namespace.metadata.name.as_deref(), Some("kefu-t-acme-shop"));
        let labels = namespace.metadata.labels.expect("labels");
        assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
        assert_eq!(labels[TENANT_LABEL], TENANT.id);
    }

    #[test]
    fn the_database_is_named_after_the_slug() {
        let settings = SiloSettings::for_test();
        assert_eq!(
            database_url(&settings, "acme-shop").as_deref(),
            Some("postgres://kefu@db:5432/kefu_t_acme_shop")
        );
        let without = SiloSettings {
            database_url_template: None,
            ..settings
        };
        assert!(database_secret(&without, &TENANT).expect("built").is_none());
    }

    #[test]
    fn deployments_migrate_then_serve_under_the_restricted_profile() {
        let settings = SiloSettings::for_test();
        let deployment = deployment(&settings, &TENANT, "tickets").expect("deployment");
        let spec = deployment.spec.expect("spec").template.spec.expect("pod");
        let init = &spec.init_containers.expect("init")[0];
        assert_eq!(
            init.args.as_deref(),
            Some(&["migrate".to_owned(), "--target".into(), "tickets".into()][..])
        );
        let container = &spec.containers[0];
        assert_eq!(
            container.args.as_deref(),
            Some(&["serve".to_owned(), "--target".into(), "tickets".into()][..])
        );
        let security = container.security_context.as_ref().expect("security");
        assert_eq!(security.read_only_root_filesystem, Some(true));
        assert_eq!(security.allow_privilege_escalation, Some(false));
        assert!(
            container
                .readiness_probe
                .as_ref()
                .and_then(|probe| probe.grpc.as_ref())
                .is_some()
        );
        let env: Vec<_> = container
            .env
            .as_ref()
            .expect("env")
            .iter()
            .map(|var| var.name.as_str())
            .collect();
        assert!(env.contains(&"KEFU_STORAGE__DATABASE_URL"));
        assert!(env.contains(&"KEFU_AUTH__INTERNAL_KEY"));
        let without_image = SiloSettings {
            image: None,
            ..settings
        };
        assert!(matches!(
            super::deployment(&without_image, &TENANT, "tickets"),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn the_network_policy_denies_by_default_and_admits_the_gateway() {
        let settings = SiloSettings::for_test();
        let policy = network_policy(&settings, &TENANT).expect("policy");
        let spec = policy.spec.expect("spec");
        assert_eq!(
            spec.policy_types.as_deref(),
            Some(&["Ingress".to_owned(), "Egress".into()][..])
        );
        let ingress = serde_json::to_string(&spec.ingress).expect("json");
        assert!(
            ingress.contains(r#""kubernetes.io/metadata.name":"kefu""#),
            "{ingress}"
        );
    }

    #[test]
    fn the_placement_routes_every_data_service_into_the_namespace() {
        let settings = SiloSettings::for_test();
        let placement = placement(&settings, "acme-shop", false);
        assert_eq!(placement.namespace, "kefu-t-acme-shop");
        assert_eq!(placement.upstreams.len(), SILO_SERVICES.len());
        assert_eq!(
            placement.upstreams["tickets"],
            "http://kefu-tickets.kefu-t-acme-shop.svc:50051"
        );
        assert!(!same_placement(None, &placement));
        assert!(same_placement(Some(&placement), &placement));
        let ready = TenantPlacement {
            ready: true,
            ..placement.clone()
        };
        assert!(!same_placement(Some(&placement), &ready));
    }
}
