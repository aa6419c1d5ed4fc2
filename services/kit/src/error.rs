//! The one place where errors become gRPC statuses (AIP-193).
//!
//! Each crate has its own `thiserror` enum and implements [`ServiceError`] on
//! it: a reason from the single table below, and the field violations or
//! metadata that tell a caller what to fix. [`to_status`] turns any of them
//! into a `tonic::Status` carrying `google.rpc.ErrorInfo` and, for invalid
//! input, `google.rpc.BadRequest`.

use std::{collections::HashMap, time::Duration};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The domain of every `ErrorInfo` Kefu sends.
pub const ERROR_DOMAIN: &str = "kefu.dev";

/// The machine-readable reasons of Kefu's errors: the single table of codes
/// (mirrors `kefu.v1.ErrorReason`), each with its gRPC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorReason {
    /// A field of the request is invalid.
    InvalidArgument,
    /// The resource does not exist for the caller's tenant.
    NotFound,
    /// A resource with the same unique key exists.
    AlreadyExists,
    /// The update's etag no longer matches.
    StaleEtag,
    /// The transition is not allowed from the current state.
    IllegalTransition,
    /// The caller's role or level does not allow the operation.
    PermissionDenied,
    /// No valid credential accompanied the call.
    Unauthenticated,
    /// The tenant is suspended.
    TenantSuspended,
    /// A rate limit or quota was exceeded.
    RateLimited,
    /// A dependency is unavailable; the call may be retried.
    Unavailable,
    /// An unexpected fault.
    Internal,
    /// The method is not served by this deployment yet.
    NotImplemented,
}

impl ErrorReason {
    /// The gRPC code this reason is answered with.
    pub fn code(self) -> Code {
        match self {
            Self::InvalidArgument => Code::InvalidArgument,
            Self::NotFound => Code::NotFound,
            Self::AlreadyExists => Code::AlreadyExists,
            Self::StaleEtag => Code::Aborted,
            Self::IllegalTransition => Code::FailedPrecondition,
            Self::PermissionDenied => Code::PermissionDenied,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::TenantSuspended => Code::PermissionDenied,
            Self::RateLimited => Code::ResourceExhausted,
            Self::Unavailable => Code::Unavailable,
            Self::Internal => Code::Internal,
            Self::NotImplemented => Code::Unimplemented,
        }
    }

    /// The `ErrorInfo.reason` string: the proto enum value without its prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::StaleEtag => "STALE_ETAG",
            Self::IllegalTransition => "ILLEGAL_TRANSITION",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::TenantSuspended => "TENANT_SUSPENDED",
            Self::RateLimited => "RATE_LIMITED",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal => "INTERNAL",
            Self::NotImplemented => "NOT_IMPLEMENTED",
        }
    }
}

/// One invalid field of a request: the path of the field (`ticket.subject`)
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field path, as in the request message.
    pub field: String,
    /// What is wrong, in a sentence a developer can act on.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// An error a service answers a call with.
pub trait ServiceError: std::error::Error {
    /// The reason from the single table.
    fn reason(&self) -> ErrorReason;

    /// A reason more specific than [`ServiceError::reason`] from the
    /// service's own `<Service>ErrorReason` proto enum (without its prefix,
    /// `REOPEN_WINDOW_EXPIRED`), sent as `ErrorInfo.reason` instead of the
    /// generic one. The status code still follows [`ServiceError::reason`].
    fn specific_reason(&self) -> Option<&'static str> {
        None
    }

    /// The invalid fields, for [`ErrorReason::InvalidArgument`] and for
    /// transitions refused for missing data.
    fn field_violations(&self) -> Vec<FieldViolation> {
        Vec::new()
    }

    /// Machine-readable detail for `ErrorInfo.metadata` (`resource`, `rule`…).
    fn metadata(&self) -> HashMap<String, String> {
        HashMap::new()
    }

    /// How long the caller should wait before retrying, when it should.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// Turns a service error into the status sent to the caller.
///
/// Internal faults are logged here with their detail and answered with a
/// message that reveals nothing of the server.
pub fn to_status<E: ServiceError + ?Sized>(error: &E) -> Status {
    let reason = error.reason();
    let message = if reason == ErrorReason::Internal {
        tracing::error!(error = %error, "internal error");
        "internal error".to_owned()
    } else {
        error.to_string()
    };
    let mut details = ErrorDetails::new();
    details.set_error_info(
        error.specific_reason().unwrap_or(reason.as_str()),
        ERROR_DOMAIN,
        error.metadata(),
    );
    for violation in error.field_violations() {
        details.add_bad_request_violation(violation.field, violation.description);
    }
    if let Some(delay) = error.retry_after() {
        details.set_retry_info(Some(delay));
    }
    Status::with_error_details(reason.code(), message, details)
}

/// The errors of the shared runtime itself.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// The call carried no internal credential.
    #[error("missing credential")]
    MissingCredential,
    /// The internal credential was refused.
    #[error("invalid credential: {0}")]
    InvalidCredential(#[from] crate::credential::CredentialError),
    /// The caller tried to choose the tenant with a plain header.
    #[error("the tenant comes from the credential; header {0} is not accepted")]
    CallerSetTenant(String),
    /// A tenant-scoped method was called without a tenant.
    #[error("this method acts inside a tenant; the credential names none")]
    TenantRequired,
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The event bus failed.
    #[error("event bus error: {0}")]
    Bus(#[from] crate::bus::BusError),
    /// A stored event could not be decoded.
    #[error("undecodable event: {0}")]
    Decode(#[from] prost::DecodeError),
}

impl ServiceError for KitError {
    fn reason(&self) -> ErrorReason {
        match self {
            Self::MissingCredential | Self::InvalidCredential(_) | Self::CallerSetTenant(_) => {
                ErrorReason::Unauthenticated
            }
            Self::TenantRequired => ErrorReason::PermissionDenied,
            Self::Database(sea_orm::DbErr::Conn(_) | sea_orm::DbErr::ConnectionAcquire(_)) => {
                ErrorReason::Unavailable
            }
            Self::Bus(_) => ErrorReason::Unavailable,
            Self::Database(_) | Self::Decode(_) => ErrorReason::Internal,
        }
    }
}

impl From<KitError> for Status {
    fn from(error: KitError) -> Self {
        to_status(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("subject must not be empty")]
    struct EmptySubject;

    impl ServiceError for EmptySubject {
        fn reason(&self) -> ErrorReason {
            ErrorReason::InvalidArgument
        }
        fn field_violations(&self) -> Vec<FieldViolation> {
            vec![FieldViolation::new("ticket.subject", "must not be empty")]
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the reopen window has passed")]
    struct ReopenTooLate;

    impl ServiceError for ReopenTooLate {
        fn reason(&self) -> ErrorReason {
            ErrorReason::IllegalTransition
        }
        fn specific_reason(&self) -> Option<&'static str> {
            Some("REOPEN_WINDOW_EXPIRED")
        }
    }

    #[test]
    fn a_service_specific_reason_replaces_the_generic_one_but_not_the_code() {
        let status = to_status(&ReopenTooLate);
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(
            status
                .get_error_details()
                .error_info()
                .expect("info")
                .reason,
            "REOPEN_WINDOW_EXPIRED"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("connection to 10.0.0.7:5432 refused by pg_hba.conf")]
    struct LeakyFault;

    impl ServiceError for LeakyFault {
        fn reason(&self) -> ErrorReason {
            ErrorReason::Internal
        }
    }

    #[test]
    fn invalid_input_names_the_field_and_the_reason() {
        let status = to_status(&EmptySubject);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "subject must not be empty");
        let details = status.get_error_details();
        let info = details.error_info().expect("error info present");
        assert_eq!(info.reason, "INVALID_ARGUMENT");
        assert_eq!(info.domain, ERROR_DOMAIN);
        let bad_request = details.bad_request().expect("bad request present");
        assert_eq!(bad_request.field_violations.len(), 1);
        assert_eq!(bad_request.field_violations[0].field, "ticket.subject");
    }

    #[test]
    fn internal_faults_reveal_nothing_of_the_server() {
        let status = to_status(&LeakyFault);
        assert_eq!(status.code(), Code::Internal);
        assert!(
            !status.message().contains("10.0.0.7"),
            "message leaked: {}",
            status.message()
        );
        assert_eq!(
            status
                .get_error_details()
                .error_info()
                .expect("info")
                .reason,
            "INTERNAL"
        );
    }

    #[test]
    fn stale_etag_is_aborted_and_transitions_are_failed_precondition() {
        assert_eq!(ErrorReason::StaleEtag.code(), Code::Aborted);
        assert_eq!(
            ErrorReason::IllegalTransition.code(),
            Code::FailedPrecondition
        );
        assert_eq!(ErrorReason::RateLimited.code(), Code::ResourceExhausted);
    }

    #[test]
    fn every_reason_matches_the_proto_table() {
        use kefu_proto::v1::ErrorReason as Proto;
        let all = [
            ErrorReason::InvalidArgument,
            ErrorReason::NotFound,
            ErrorReason::AlreadyExists,
            ErrorReason::StaleEtag,
            ErrorReason::IllegalTransition,
            ErrorReason::PermissionDenied,
            ErrorReason::Unauthenticated,
            ErrorReason::TenantSuspended,
            ErrorReason::RateLimited,
            ErrorReason::Unavailable,
            ErrorReason::Internal,
            ErrorReason::NotImplemented,
        ];
        for reason in all {
            let proto_name = format!("ERROR_REASON_{}", reason.as_str());
            assert!(
                Proto::from_str_name(&proto_name).is_some(),
                "{proto_name} missing from common.proto"
            );
        }
    }
}
