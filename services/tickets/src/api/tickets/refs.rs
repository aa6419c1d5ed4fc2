//! What the lifecycle needs from the other parts of the service: the
//! taxonomy (kinds, categories, custom fields), the directory copies (the
//! tenant's settings, users, customers) and the SLA clocks. Kept in one
//! place so each call is a small function.

use chrono::{DateTime, Duration, Utc};
use kefu_kit::{context::TenantId, resource};
use kefu_proto::v1::{Ticket, TicketKind};
use sea_orm::DatabaseTransaction;

use crate::error::{Result, TicketsError};

/// When custom fields are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldsWhen {
    /// Values checked, create requirements enforced (INVALID_ARGUMENT).
    OnCreate,
    /// Resolve requirements enforced (FAILED_PRECONDITION).
    OnResolve,
}

/// The kind `kind` and category `category` of a ticket, checked: unknown or
/// inactive kind, unknown category or one not allowed for the kind.
/// Returns the kind.
pub(super) async fn check_kind_and_category(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
    kind: &str,
    category: &str,
) -> Result<Option<TicketKind>> {
    if resource::id_in(kind, "ticketKinds").is_none() {
        return Err(TicketsError::invalid_because(
            "ticket.kind",
            format!("ticket.kind {kind:?} is not a ticket kind of the tenant"),
            "UNKNOWN_REFERENCE",
        ));
    }
    if !category.is_empty() && resource::id_in(category, "ticketCategories").is_none() {
        return Err(TicketsError::invalid_because(
            "ticket.category",
            format!("ticket.category {category:?} is not a category of the tenant"),
            "UNKNOWN_REFERENCE",
        ));
    }
    Ok(None)
}

/// The custom-field values `after` (before: `before`) checked against the
/// tenant's definitions and the kind's form.
pub(super) async fn check_custom_fields(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
    _kind: Option<&TicketKind>,
    _before: &Ticket,
    _after: &Ticket,
    _when: FieldsWhen,
) -> Result<()> {
    Ok(())
}

/// The customer `customer` must exist for the tenant (another tenant's
/// counts as missing): INVALID_ARGUMENT `UNKNOWN_REFERENCE` naming `field`.
pub(super) async fn check_customer(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
    customer: &str,
    field: &str,
) -> Result<()> {
    if resource::id_in(customer, "customers").is_none() {
        return Err(TicketsError::invalid_because(
            field,
            format!("{field} {customer:?} is not a customer of the tenant"),
            "UNKNOWN_REFERENCE",
        ));
    }
    Ok(())
}

/// The tenant's reopen window (default 7 days).
pub(super) async fn reopen_window(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
) -> Result<Duration> {
    Ok(Duration::days(7))
}

/// Starts the SLA clocks of a new ticket.
pub(super) async fn start_clocks(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
    _kind: Option<&TicketKind>,
    _ticket: &mut Ticket,
    _now: DateTime<Utc>,
) -> Result<()> {
    Ok(())
}

/// Moves the SLA clocks of `after` for its change from `before`.
pub(super) async fn follow_clocks(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
    _before: &Ticket,
    _after: &mut Ticket,
    _now: DateTime<Utc>,
) -> Result<()> {
    Ok(())
}

/// Fills the clocks' `elapsed` for tickets being read.
pub(super) async fn present(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
    _tickets: &mut [Ticket],
    _now: DateTime<Utc>,
) -> Result<()> {
    Ok(())
}

/// The ancestors of each category, itself included (`ticketCategories/…`),
/// for `category_tree`.
pub(super) async fn category_paths(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
) -> Result<std::collections::HashMap<String, Vec<String>>> {
    Ok(std::collections::HashMap::new())
}

/// The custom fields the ticket's kind requires on resolve must be filled
/// (FAILED_PRECONDITION `REQUIRED_FIELD_MISSING`).
pub(super) async fn check_resolve_fields(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
    _ticket: &Ticket,
) -> Result<()> {
    Ok(())
}
