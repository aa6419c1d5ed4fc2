//! The Kefu operator: a kube-rs controller that reconciles `Tenant` custom
//! resources (`tenants.kefu.io`) with the tenants service, provisions the
//! namespace of silo-tier tenants, and offboards a tenant (export, then
//! delete) through a finalizer before its resource goes.
//!
//! It runs as `kefu serve --target operator`; `kefu operator crd` prints the
//! CRD the chart installs.
#![forbid(unsafe_code)]

pub mod controller;
pub mod metrics;
pub mod process;
pub mod resource;
pub mod silo;
pub mod tenants;

use tonic::Code;

pub use controller::{Context, FINALIZER, error_policy, reconcile};
pub use resource::{Tenant, TenantSpec, TenantStatus, crd_yaml};

/// Why a reconcile (or the operator) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kubernetes API refused or could not be reached.
    #[error("kubernetes api: {0}")]
    Kube(#[from] kube::Error),
    /// The tenants service (through the gateway) answered with an error.
    #[error("tenants service {operation}: {} {}", .status.code(), .status.message())]
    Tenants {
        /// The method (`CreateTenant`).
        operation: &'static str,
        /// What it answered.
        status: tonic::Status,
    },
    /// The tenant this resource created is gone from the tenants service.
    #[error(
        "tenant {0} no longer exists in the tenants service; delete this resource and create it again to start over"
    )]
    TenantMissing(String),
    /// The spec changes a field the tenants service keeps for life.
    #[error("{0} cannot change after the tenant is created")]
    Immutable(String),
    /// The operator's configuration cannot do what the spec asks.
    #[error("operator configuration: {0}")]
    Config(String),
    /// A Kubernetes object could not be built from JSON.
    #[error("building an object: {0}")]
    Serde(#[source] serde_json::Error),
    /// The CRD could not be written as YAML.
    #[error("writing yaml: {0}")]
    Yaml(String),
    /// The operator's own port.
    #[error("listening: {0}")]
    Io(#[from] std::io::Error),
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error of a tenants service call.
    pub fn tenants(operation: &'static str, status: tonic::Status) -> Self {
        Self::Tenants { operation, status }
    }

    /// Whether retrying soon may succeed (unreachable service, conflict,
    /// overload), as opposed to a spec or configuration that must change.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Kube(kube::Error::Api(status)) => {
                status.code >= 500 || status.code == 409 || status.code == 429
            }
            Self::Kube(_) | Self::Io(_) => true,
            Self::Tenants { status, .. } => matches!(
                status.code(),
                Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::Cancelled
                    | Code::Aborted
                    | Code::ResourceExhausted
                    | Code::Internal
                    | Code::Unknown
            ),
            Self::TenantMissing(_)
            | Self::Immutable(_)
            | Self::Config(_)
            | Self::Serde(_)
            | Self::Yaml(_) => false,
        }
    }

    /// The reason of the `Ready=False` condition this error sets.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Tenants { status, .. } => match status.code() {
                Code::AlreadyExists => "SlugTaken",
                Code::InvalidArgument => "InvalidSpec",
                Code::PermissionDenied | Code::Unauthenticated => "OperatorNotAuthorized",
                _ if self.is_transient() => "TenantsUnavailable",
                _ => "TenantsRefused",
            },
            Self::Kube(_) => "KubernetesApiError",
            Self::TenantMissing(_) => "TenantMissing",
            Self::Immutable(_) => "ImmutableFieldChanged",
            Self::Config(_) | Self::Serde(_) | Self::Yaml(_) | Self::Io(_) => {
                "OperatorMisconfigured"
            }
        }
    }

    /// The label of this error in `kefu_operator_reconcile_errors_total`.
    pub fn metric_label(&self) -> &'static str {
        match self.reason() {
            "SlugTaken" => "slug_taken",
            "InvalidSpec" => "invalid_spec",
            "OperatorNotAuthorized" => "not_authorized",
            "TenantsUnavailable" => "tenants_unavailable",
            "TenantsRefused" => "tenants_refused",
            "KubernetesApiError" => "kubernetes_api",
            "TenantMissing" => "tenant_missing",
            "ImmutableFieldChanged" => "immutable_field",
            _ => "misconfigured",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_services_are_retried_and_bad_specs_are_reported() {
        let unavailable = Error::tenants("CreateTenant", tonic::Status::unavailable("refused"));
        assert!(unavailable.is_transient());
        assert_eq!(unavailable.reason(), "TenantsUnavailable");
        assert_eq!(unavailable.metric_label(), "tenants_unavailable");
        let taken = Error::tenants("CreateTenant", tonic::Status::already_exists("slug"));
        assert!(!taken.is_transient());
        assert_eq!(taken.reason(), "SlugTaken");
        let invalid = Error::tenants("CreateTenant", tonic::Status::invalid_argument("tz"));
        assert_eq!(invalid.reason(), "InvalidSpec");
        assert!(!Error::Immutable("slug".into()).is_transient());
    }
}
