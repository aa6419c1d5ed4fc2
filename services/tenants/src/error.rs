//! The tenants service's errors and their statuses.

use std::time::Duration;

use kefu_kit::{
    KitError,
    error::{ErrorReason, FieldViolation, ServiceError},
};

/// Why a call to the tenants service failed.
#[derive(Debug, thiserror::Error)]
pub enum TenantsError {
    /// Invalid input, naming the field.
    #[error("{}", .0.description)]
    Invalid(FieldViolation, Option<&'static str>),
    /// The resource does not exist for the caller (another tenant's included).
    #[error("{0} not found")]
    NotFound(String),
    /// A unique key is taken.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The etag sent is not the resource's current one.
    #[error("{0} was changed by someone else; read it again")]
    StaleEtag(String),
    /// The transition is not allowed from the current state.
    #[error("{0}")]
    IllegalTransition(String, Option<&'static str>),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String, Option<&'static str>),
    /// The caller could not be authenticated.
    #[error("{0}")]
    Unauthenticated(String, &'static str),
    /// A quota of the tenant's plan is used up (with the specific reason).
    #[error("{0}")]
    QuotaExceeded(String, &'static str),
    /// Too many attempts; retry after the delay.
    #[error("too many failed attempts; retry in {} seconds", .0.as_secs())]
    RateLimited(Duration),
    /// The runtime (database, bus) failed.
    #[error(transparent)]
    Kit(#[from] KitError),
    /// A fault of ours.
    #[error("{0}")]
    Internal(String),
}

impl TenantsError {
    /// Invalid `field`, described.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        Self::Invalid(FieldViolation::new(field, description), None)
    }

    /// Invalid `field`, with a service-specific reason.
    pub fn invalid_because(
        field: &str,
        description: impl Into<String>,
        reason: &'static str,
    ) -> Self {
        Self::Invalid(FieldViolation::new(field, description), Some(reason))
    }
}

impl From<sea_orm::DbErr> for TenantsError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Kit(KitError::Database(error))
    }
}

impl From<prost::DecodeError> for TenantsError {
    fn from(error: prost::DecodeError) -> Self {
        Self::Kit(KitError::Decode(error))
    }
}

impl ServiceError for TenantsError {
    fn reason(&self) -> ErrorReason {
        match self {
            Self::Invalid(..) => ErrorReason::InvalidArgument,
            Self::NotFound(_) => ErrorReason::NotFound,
            Self::AlreadyExists(_) => ErrorReason::AlreadyExists,
            Self::StaleEtag(_) => ErrorReason::StaleEtag,
            Self::IllegalTransition(..) => ErrorReason::IllegalTransition,
            Self::PermissionDenied(_, Some("TENANT_SUSPENDED")) => ErrorReason::TenantSuspended,
            Self::PermissionDenied(..) => ErrorReason::PermissionDenied,
            Self::Unauthenticated(..) => ErrorReason::Unauthenticated,
            Self::RateLimited(_) | Self::QuotaExceeded(..) => ErrorReason::RateLimited,
            Self::Kit(error) => error.reason(),
            Self::Internal(_) => ErrorReason::Internal,
        }
    }

    fn specific_reason(&self) -> Option<&'static str> {
        match self {
            Self::Invalid(_, reason)
            | Self::IllegalTransition(_, reason)
            | Self::PermissionDenied(_, reason) => *reason,
            Self::Unauthenticated(_, reason) | Self::QuotaExceeded(_, reason) => Some(reason),
            _ => None,
        }
    }

    fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::Invalid(violation, _) => vec![violation.clone()],
            _ => Vec::new(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited(delay) => Some(*delay),
            _ => None,
        }
    }
}

impl From<TenantsError> for tonic::Status {
    fn from(error: TenantsError) -> Self {
        kefu_kit::error::to_status(&error)
    }
}

/// The result of the service's operations.
pub type Result<T, E = TenantsError> = std::result::Result<T, E>;
