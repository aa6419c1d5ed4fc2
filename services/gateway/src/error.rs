//! The gateway's errors.

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
    /// The path names no `kefu.v1` service.
    #[error("unknown service {0}")]
    UnknownService(String),
    /// The service that owns the method is not reachable.
    #[error("{0} service unavailable")]
    Upstream(String),
}

impl ServiceError for GatewayError {
    fn reason(&self) -> ErrorReason {
        match self {
            Self::Unauthenticated(_) | Self::CallerSetTenant(_) => ErrorReason::Unauthenticated,
            Self::UnknownService(_) => ErrorReason::NotImplemented,
            Self::Upstream(_) => ErrorReason::Unavailable,
        }
    }
}

impl From<GatewayError> for tonic::Status {
    fn from(error: GatewayError) -> Self {
        to_status(&error)
    }
}
