//! The errors of the complaint workflow that the service's shared error
//! type cannot carry: a stage's missing data (ErrorInfo metadata `field`
//! plus a matching field violation) and an approval above the caller's
//! level. Everything else is a [`TicketsError`].

use std::collections::HashMap;

use kefu_kit::error::{ErrorReason, FieldViolation, ServiceError};

use crate::error::TicketsError;

/// Why a complaint call failed.
#[derive(Debug, thiserror::Error)]
pub enum ComplaintError {
    /// FAILED_PRECONDITION `STAGE_DATA_MISSING`: the stage needs `field`.
    #[error("{0} is required for this stage")]
    StageDataMissing(String),
    /// PERMISSION_DENIED `APPROVAL_LEVEL_INSUFFICIENT`.
    #[error("{0}")]
    ApprovalLevelInsufficient(String),
    /// Any other error of the service.
    #[error(transparent)]
    Tickets(#[from] TicketsError),
}

impl ComplaintError {
    /// The stage needs `field` (`investigation.root_cause`).
    pub fn missing(field: &str) -> Self {
        Self::StageDataMissing(field.to_owned())
    }
}

impl From<sea_orm::DbErr> for ComplaintError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Tickets(error.into())
    }
}

impl From<kefu_kit::KitError> for ComplaintError {
    fn from(error: kefu_kit::KitError) -> Self {
        Self::Tickets(error.into())
    }
}

impl ServiceError for ComplaintError {
    fn reason(&self) -> ErrorReason {
        match self {
            Self::StageDataMissing(_) => ErrorReason::IllegalTransition,
            Self::ApprovalLevelInsufficient(_) => ErrorReason::PermissionDenied,
            Self::Tickets(error) => error.reason(),
        }
    }

    fn specific_reason(&self) -> Option<&'static str> {
        match self {
            Self::StageDataMissing(_) => Some("STAGE_DATA_MISSING"),
            Self::ApprovalLevelInsufficient(_) => Some("APPROVAL_LEVEL_INSUFFICIENT"),
            Self::Tickets(error) => error.specific_reason(),
        }
    }

    fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::StageDataMissing(field) => vec![FieldViolation::new(
                field.as_str(),
                format!("{field} is required for this stage"),
            )],
            Self::ApprovalLevelInsufficient(_) => Vec::new(),
            Self::Tickets(error) => error.field_violations(),
        }
    }

    fn metadata(&self) -> HashMap<String, String> {
        match self {
            Self::StageDataMissing(field) => HashMap::from([("field".to_owned(), field.clone())]),
            Self::ApprovalLevelInsufficient(_) => HashMap::new(),
            Self::Tickets(error) => error.metadata(),
        }
    }
}

impl From<ComplaintError> for tonic::Status {
    fn from(error: ComplaintError) -> Self {
        kefu_kit::error::to_status(&error)
    }
}

/// The result of the complaint workflow's operations.
pub type Result<T, E = ComplaintError> = std::result::Result<T, E>;
