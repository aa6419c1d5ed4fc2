//! The callbacks service's errors and their statuses. Reasons specific to
//! the service are `CallbackErrorReason` names without their prefix
//! (`QUIET_HOURS`), sent in `ErrorInfo.reason`.

use kefu_kit::{
    KitError,
    error::{ErrorReason, FieldViolation, ServiceError},
};

/// Why a call to the callbacks service failed.
#[derive(Debug, thiserror::Error)]
pub enum CallbacksError {
    /// Invalid input, naming the field, with the service's reason if any.
    #[error("{}", .0.description)]
    Invalid(FieldViolation, Option<&'static str>),
    /// The resource does not exist for the caller (another tenant's
    /// included), with the service's reason if any.
    #[error("{0} not found")]
    NotFound(String, Option<&'static str>),
    /// A unique key is taken (`DUPLICATE_TRIGGER`, `SURVEY_ALREADY_SUBMITTED`).
    #[error("{0}")]
    AlreadyExists(String, Option<&'static str>),
    /// The etag sent is not the resource's current one.
    #[error("{0} was changed by someone else; read it again")]
    StaleEtag(String),
    /// The resource's state does not allow this (`QUIET_HOURS`).
    #[error("{0}")]
    FailedPrecondition(String, &'static str),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// A per-tenant limit is reached.
    #[error("{0}")]
    Exhausted(String),
    /// The runtime (database, bus) failed.
    #[error(transparent)]
    Kit(#[from] KitError),
    /// A fault of ours.
    #[error("{0}")]
    Internal(String),
}

impl CallbacksError {
    /// Invalid `field`, described.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        Self::Invalid(FieldViolation::new(field, description), None)
    }

    /// Invalid `field`, with a service-specific reason (`UNKNOWN_PLACEHOLDER`).
    pub fn invalid_because(
        field: &str,
        description: impl Into<String>,
        reason: &'static str,
    ) -> Self {
        Self::Invalid(FieldViolation::new(field, description), Some(reason))
    }

    /// NOT_FOUND for `name`, without a specific reason.
    pub fn not_found(name: impl Into<String>) -> Self {
        Self::NotFound(name.into(), None)
    }

    /// FAILED_PRECONDITION with the service's reason (`QUIET_HOURS`,
    /// `ATTEMPT_IN_PROGRESS`), or the API-wide `ILLEGAL_TRANSITION` for a
    /// task that has ended.
    pub fn precondition(what: impl Into<String>, reason: &'static str) -> Self {
        Self::FailedPrecondition(what.into(), reason)
    }
}

impl From<sea_orm::DbErr> for CallbacksError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Kit(KitError::Database(error))
    }
}

impl From<prost::DecodeError> for CallbacksError {
    fn from(error: prost::DecodeError) -> Self {
        Self::Kit(KitError::Decode(error))
    }
}

impl ServiceError for CallbacksError {
    fn reason(&self) -> ErrorReason {
        match self {
            Self::Invalid(..) => ErrorReason::InvalidArgument,
            Self::NotFound(..) => ErrorReason::NotFound,
            Self::AlreadyExists(..) => ErrorReason::AlreadyExists,
            Self::StaleEtag(_) => ErrorReason::StaleEtag,
            Self::FailedPrecondition(..) => ErrorReason::IllegalTransition,
            Self::PermissionDenied(_) => ErrorReason::PermissionDenied,
            Self::Exhausted(_) => ErrorReason::RateLimited,
            Self::Kit(error) => error.reason(),
            Self::Internal(_) => ErrorReason::Internal,
        }
    }

    fn specific_reason(&self) -> Option<&'static str> {
        match self {
            Self::Invalid(_, reason)
            | Self::NotFound(_, reason)
            | Self::AlreadyExists(_, reason) => *reason,
            Self::FailedPrecondition(_, reason) => Some(reason),
            _ => None,
        }
    }

    fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::Invalid(violation, _) => vec![violation.clone()],
            _ => Vec::new(),
        }
    }
}

impl From<CallbacksError> for tonic::Status {
    fn from(error: CallbacksError) -> Self {
        kefu_kit::error::to_status(&error)
    }
}

/// The result of the service's operations.
pub type Result<T, E = CallbacksError> = std::result::Result<T, E>;
