//! The `Tenant` custom resource (`tenants.kefu.io/v1alpha1`): what an
//! operator writes (the spec) and what the controller reports (the status).
//!
//! The CRD in the chart (`charts/kefu/crds/tenants.kefu.io.yaml`) is
//! generated from these types by [`crd_yaml`]; a test fails when the two
//! differ, and `kefu operator crd` prints it.

use kube::{CustomResource, CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A company on Kefu, managed by the Kefu operator: created and kept in line
/// with its spec through the tenants service, given its own namespace when
/// it is a silo, exported and deleted when the resource is deleted.
// Each `printcolumn(…)` repeats `type_ = "string"`, which clippy mistakes for
// a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[kube(
    group = "kefu.io",
    version = "v1alpha1",
    kind = "Tenant",
    namespaced,
    status = "TenantStatus",
    shortname = "kt",
    category = "kefu",
    derive = "PartialEq",
    doc = "A company on Kefu: created, updated, placed and offboarded through the tenants service by the Kefu operator.",
    printcolumn(name = "Slug", type_ = "string", json_path = ".spec.slug"),
    printcolumn(name = "Tier", type_ = "string", json_path = ".spec.isolationTier"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Tenant", type_ = "string", json_path = ".status.tenantId"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpec {
    /// Unique, URL-safe short name used at portal login: 3 to 40 characters
    /// of a-z, 0-9 and '-', starting with a letter, not ending with '-', no
    /// '--'. Immutable.
    #[schemars(
        length(min = 3, max = 40),
        regex(pattern = r"^[a-z]([a-z0-9]|-[a-z0-9])*$")
    )]
    #[x_kube(validation = Rule::new("self == oldSelf").message("slug is immutable"))]
    pub slug: String,
    /// The company's name as shown in the portal, 1 to 200 characters.
    #[schemars(length(min = 1, max = 200))]
    pub display_name: String,
    /// The industry; selects the template the tenant starts from. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("industry is immutable"))]
    pub industry: Industry,
    /// The commercial plan; sets quotas and rate limits.
    #[serde(default)]
    pub plan: Plan,
    /// Shared tables (Pool) or an own database and namespace (Silo).
    /// Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("isolationTier is immutable"))]
    pub isolation_tier: IsolationTier,
    /// IANA time zone of business hours, quiet hours and report days.
    #[serde(default = "default_time_zone")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: String,
    /// Default locale of the portal, notifications and callback scripts.
    #[serde(default)]
    pub locale: Locale,
    /// The tenant's first administrator, invited by e-mail when the tenant
    /// is created. Later changes have no effect.
    pub initial_admin: InitialAdmin,
    /// Days the tenant stays DELETING (its export still downloadable)
    /// before its data is purged, once this resource is deleted; 0 to 90,
    /// unset: the tenants service's default (7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 90))]
    pub deletion_grace_period_days: Option<i32>,
}

fn default_time_zone() -> String {
    "Asia/Shanghai".to_owned()
}

/// The tenant's first administrator.
#[derive(JsonSchema, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InitialAdmin {
    /// E-mail the invitation goes to.
    #[schemars(length(min = 3, max = 254))]
    pub email: String,
    /// Display name, 1 to 100 characters.
    #[schemars(length(min = 1, max = 100))]
    pub display_name: String,
}

/// The tenant's industry (`kefu.v1.Industry`).
#[derive(JsonSchema, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Industry {
    /// Property management (物业).
    PropertyManagement,
    /// E-commerce (电商).
    Ecommerce,
    /// Securities brokerage (证券).
    SecuritiesBrokerage,
    /// Car dealership (汽车 4S 店).
    CarDealership,
    /// Healthcare consulting (医院咨询).
    HealthcareConsulting,
    /// Hospitality (度假区).
    Hospitality,
    /// Any other business.
    Generic,
}

/// The commercial plan (`kefu.v1.PlanTier`).
#[derive(JsonSchema, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Plan {
    /// Up to 20 users, 20 requests per second.
    #[default]
    Starter,
    /// Up to 200 users, 100 requests per second.
    Professional,
    /// Quotas agreed per contract.
    Enterprise,
}

/// How the tenant's data is isolated (`kefu.v1.IsolationTier`).
#[derive(JsonSchema, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationTier {
    /// Shared tables protected by row-level security.
    #[default]
    Pool,
    /// Its own database and namespace, provisioned by the operator.
    Silo,
}

/// The portal's default locale.
#[derive(JsonSchema, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    /// Simplified Chinese.
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl Locale {
    /// The BCP 47 tag the tenants service stores.
    pub fn tag(self) -> &'static str {
        match self {
            Self::ZhCn => "zh-CN",
            Self::En => "en",
        }
    }
}

/// What the controller observed and did.
#[derive(JsonSchema, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// Where the tenant is in its life.
    #[serde(default)]
    pub phase: Phase,
    /// The tenant's id in the tenants service (`tenants/{tenantId}`), once
    /// created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The spec generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Synced` (the tenants service matches the spec) and, for
    /// silos, `SiloReady`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// A silo's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silo_namespace: Option<String>,
    /// Progress of the offboarding once the resource is being deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offboarding: Option<Offboarding>,
}

/// Where the tenant is in its life.
#[derive(JsonSchema, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Not created yet (or the tenants service has not answered yet).
    #[default]
    Pending,
    /// Created; its silo is not serving yet.
    Provisioning,
    /// In service and matching the spec.
    Ready,
    /// Suspended through the API; the operator leaves that decision alone.
    Suspended,
    /// Being exported and deleted.
    Offboarding,
    /// The spec cannot be applied (see the `Ready` condition).
    Failed,
}

/// Offboarding progress: the export made before deletion.
#[derive(JsonSchema, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Offboarding {
    /// The idempotency key of the export, chosen once so that retries
    /// answer the same export.
    pub export_request_id: String,
    /// The export (`tenants/{tenant}/exports/{export}`), once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<String>,
    /// Where the gateway serves the archive, once it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_uri: Option<String>,
}

/// A condition in the shape of Kubernetes' `metav1.Condition`.
#[derive(JsonSchema, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`, `Synced` or `SiloReady`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase reason (`TenantsUnavailable`).
    pub reason: String,
    /// What happened, for people.
    #[serde(default)]
    pub message: String,
    /// When the status last changed (RFC 3339).
    pub last_transition_time: String,
    /// The generation the condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The condition types.
pub mod condition {
    /// Everything in place.
    pub const READY: &str = "Ready";
    /// The tenants service's tenant matches the spec.
    pub const SYNCED: &str = "Synced";
    /// The silo's services serve and its placement is recorded.
    pub const SILO_READY: &str = "SiloReady";
}

impl TenantStatus {
    /// The condition of `type_`, if set.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions
            .iter()
            .find(|condition| condition.type_ == type_)
    }

    /// Sets a condition; its transition time moves only when its status
    /// changes, as Kubernetes clients expect.
    pub fn set_condition(
        &mut self,
        type_: &str,
        ok: bool,
        reason: &str,
        message: impl Into<String>,
        generation: Option<i64>,
        now: &str,
    ) {
        let status = if ok { "True" } else { "False" }.to_owned();
        let previous = self
            .conditions
            .iter()
            .position(|condition| condition.type_ == type_);
        let last_transition_time = match previous.map(|index| &self.conditions[index]) {
            Some(existing) if existing.status == status => existing.last_transition_time.clone(),
            _ => now.to_owned(),
        };
        let condition = Condition {
            type_: type_.to_owned(),
            status,
            reason: reason.to_owned(),
            message: message.into(),
            last_transition_time,
            observed_generation: generation,
        };
        match previous {
            Some(index) => self.conditions[index] = condition,
            None => self.conditions.push(condition),
        }
    }

    /// Drops a condition that no longer applies.
    pub fn remove_condition(&mut self, type_: &str) {
        self.conditions.retain(|condition| condition.type_ != type_);
    }
}

/// The CRD as the chart installs it.
pub fn crd_yaml() -> Result<String, crate::Error> {
    let crd = Tenant::crd();
    let yaml =
        serde_saphyr::to_string(&crd).map_err(|error| crate::Error::Yaml(error.to_string()))?;
    Ok(format!(
        "# Generated from services/operator/src/resource.rs: do not edit.\n\
         # Regenerate with `kefu operator crd > charts/kefu/crds/tenants.kefu.io.yaml`\n\
         # (or UPDATE_CRD=1 cargo test -p kefu-operator crd).\n{yaml}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRD_FILE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../charts/kefu/crds/tenants.kefu.io.yaml"
    );

    #[test]
    fn crd_in_the_chart_is_generated_from_the_rust_type() {
        let generated = crd_yaml().expect("crd serialises");
        if std::env::var("UPDATE_CRD").is_ok_and(|value| value == "1") {
            std::fs::write(CRD_FILE, &generated).expect("write the chart's CRD");
        }
        let committed = std::fs::read_to_string(CRD_FILE).unwrap_or_default();
        assert!(
            committed == generated,
            "charts/kefu/crds/tenants.kefu.io.yaml differs from the Tenant type; regenerate it with \
             `UPDATE_CRD=1 cargo test -p kefu-operator crd` (or `kefu operator crd > …`)"
        );
    }

    #[test]
    fn the_crd_is_namespaced_with_status_and_immutable_identity() {
        let crd = serde_json::to_value(Tenant::crd()).expect("json");
        assert_eq!(crd["metadata"]["name"], "tenants.kefu.io");
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha1");
        assert!(version["subresources"]["status"].is_object());
        let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
        for field in ["slug", "industry", "isolationTier"] {
            let rules = spec["properties"][field]["x-kubernetes-validations"].to_string();
            assert!(rules.contains("self == oldSelf"), "{field}: {rules}");
        }
        assert_eq!(
            spec["properties"]["isolationTier"]["enum"],
            serde_json::json!(["Pool", "Silo"])
        );
        let required = spec["required"].to_string();
        for field in ["slug", "displayName", "industry", "initialAdmin"] {
            assert!(required.contains(field), "{field} required: {required}");
        }
    }

    #[test]
    fn a_minimal_spec_takes_the_documented_defaults() {
        let spec: TenantSpec = serde_json::from_value(serde_json::json!({
            "slug": "acme",
            "displayName": "Acme",
            "industry": "Ecommerce",
            "initialAdmin": {"email": "it@acme.example", "displayName": "IT"},
        }))
        .expect("valid spec");
        assert_eq!(spec.plan, Plan::Starter);
        assert_eq!(spec.isolation_tier, IsolationTier::Pool);
        assert_eq!(spec.time_zone, "Asia/Shanghai");
        assert_eq!(spec.locale.tag(), "zh-CN");
    }

    #[test]
    fn a_condition_keeps_its_transition_time_while_its_status_holds() {
        let mut status = TenantStatus::default();
        status.set_condition("Ready", false, "Creating", "", Some(1), "t1");
        status.set_condition("Ready", false, "TenantsUnavailable", "", Some(1), "t2");
        assert_eq!(status.conditions.len(), 1);
        assert_eq!(status.conditions[0].last_transition_time, "t1");
        assert_eq!(status.conditions[0].reason, "TenantsUnavailable");
        status.set_condition("Ready", true, "Ready", "", Some(2), "t3");
        assert_eq!(status.conditions[0].last_transition_time, "t3");
        assert_eq!(status.conditions[0].status, "True");
    }
}
