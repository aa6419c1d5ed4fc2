//! The gateway's errors.

use std::time::Duration;

use kefu_kit::{ErrorReason, ServiceError, error::to_status};

/// Why the gateway answered a call itself instead of forwarding it.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No credential, or one the gateway does not accept.
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// The caller tried to choose its tenant with a header.
    #[error("the tenant comes from the credential; header {0} is not accepted")]
    CallerSetTenant(&'static str),
    /// The caller's role or kind does not allow the method.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// An API key lacks the scope (`tickets:write`) the method needs.
    #[error("permission denied: the API key lacks the scope {0}")]
    ScopeMissing(String),
    /// The tenants service refused the presented secret (unknown, expired,
    /// revoked, tenant suspended); its status is passed on as it is.
    #[error("{}", .0.message())]
    Refused(tonic::Status),
    /// The caller's tenant or credential is over its rate.
    #[error("rate limit exceeded; retry after {} ms", .retry_after.as_millis())]
    RateLimited {
        /// When a retry may succeed.
        retry_after: Duration,
    },
    /// The path names no `kefu.v1` service.
    #[error("unknown service {0}")]
    UnknownService(String),
    /// The path names no method of the contract.
    #[error("unknown method {0}")]
    UnknownMethod(String),
    /// The service that owns the method is not reachable.
    #[error("{0} service unavailable")]
    Upstream(String),
    /// The caller's tenant is a silo whose services are not serving yet.
    #[error("the tenant's own services are not serving yet; retry later")]
    SiloNotReady,
}

impl ServiceError for GatewayError {
    fn reason(&self) -> ErrorReason {
        match self {
            Self::Unauthenticated(_) | Self::CallerSetTenant(_) => ErrorReason::Unauthenticated,
            Self::PermissionDenied(_) | Self::ScopeMissing(_) => ErrorReason::PermissionDenied,
            // Never reached for Refused: its status is returned unchanged.
            Self::Refused(_) => ErrorReason::Unauthenticated,
            Self::RateLimited { .. } => ErrorReason::RateLimited,
            Self::UnknownService(_) | Self::UnknownMethod(_) => ErrorReason::NotImplemented,
            Self::Upstream(_) | Self::SiloNotReady => ErrorReason::Unavailable,
        }
    }

    fn specific_reason(&self) -> Option<&'static str> {
        match self {
            // IdentityErrorReason: partners match on it to ask for a wider key.
            Self::ScopeMissing(_) => Some("SCOPE_MISSING"),
            _ => None,
        }
    }

    fn metadata(&self) -> std::collections::HashMap<String, String> {
        match self {
            Self::ScopeMissing(scope) => [("scope".to_owned(), scope.clone())].into(),
            Self::CallerSetTenant(header) => [("header".to_owned(), (*header).to_owned())].into(),
            _ => Default::default(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl From<GatewayError> for tonic::Status {
    fn from(error: GatewayError) -> Self {
        match error {
            GatewayError::Refused(status) => status,
            other => to_status(&other),
        }
    }
}
