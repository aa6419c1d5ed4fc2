//! The tenant's ticket taxonomy: kinds, the category tree and custom-field
//! definitions. Every user reads them; the gateway lets only admins write.
//! A tenant starts with its industry template's (see `consumers::seed`).

mod categories;
mod fields;
mod kinds;

pub(super) use categories::{
    create_ticket_category, delete_ticket_category, get_ticket_category, list_ticket_categories,
    update_ticket_category,
};
pub(super) use fields::{
    create_ticket_field_definition, delete_ticket_field_definition, get_ticket_field_definition,
    list_ticket_field_definitions, update_ticket_field_definition,
};
pub(super) use kinds::{
    create_ticket_kind, delete_ticket_kind, get_ticket_kind, list_ticket_kinds, update_ticket_kind,
};

use std::cmp::Ordering;

use kefu_kit::{context::TenantId, db::is_unique_violation, idempotency, resource};
use prost_types::{FieldMask, Timestamp};
use sea_orm::{DatabaseTransaction, DbErr};

use crate::{
    error::{Result, TicketsError},
    store::taxonomy::Stored,
};

/// A request id: at most 100 characters (empty: not idempotent).
fn check_request_id(request_id: &str) -> Result<()> {
    if request_id.chars().count() > 100 {
        return Err(TicketsError::invalid(
            "request_id",
            "request_id is longer than 100 characters",
        ));
    }
    Ok(())
}

/// The key in `{collection}/{key}`, or NOT_FOUND naming `name`.
fn key_in<'a>(name: &'a str, collection: &str) -> Result<&'a str> {
    resource::id_in(name, collection).ok_or_else(|| TicketsError::not_found(name))
}

/// What `request_id` created before, if it was used.
async fn recall(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    request_id: &str,
) -> Result<Option<String>> {
    if request_id.is_empty() {
        return Ok(None);
    }
    Ok(idempotency::recall(txn, tenant.0, request_id)
        .await?
        .map(|remembered| remembered.resource_name))
}

/// Remembers that `request_id` created `name` with `method`.
async fn remember(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    request_id: &str,
    method: &str,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    if request_id.is_empty() {
        return Ok(());
    }
    Ok(idempotency::remember(txn, tenant.0, request_id, method, name, now).await?)
}

/// The paths of `mask`, each among `mutable` (a path may also name a
/// subfield of one, `routing.front_line_team`), or INVALID_ARGUMENT naming
/// `update_mask`.
fn mask_paths(mask: Option<FieldMask>, mutable: &[&str], method: &str) -> Result<Vec<String>> {
    let mask =
        mask.ok_or_else(|| TicketsError::invalid("update_mask", "update_mask is required"))?;
    if mask.paths.is_empty() {
        return Err(TicketsError::invalid(
            "update_mask",
            "update_mask must list the paths to change",
        ));
    }
    for path in &mask.paths {
        let top = path.split('.').next().unwrap_or_default();
        let allowed = mutable.contains(&path.as_str())
            || (top == "routing"
                && mutable.contains(&"routing")
                && ROUTING.contains(&path.as_str()));
        if !allowed {
            return Err(TicketsError::invalid(
                "update_mask",
                format!(
                    "update_mask names {path:?}, which {method} cannot change; mutable: {}",
                    mutable.join(", ")
                ),
            ));
        }
    }
    Ok(mask.paths)
}

/// The subfield paths of `routing` a mask may name.
const ROUTING: &[&str] = &[
    "routing.front_line_team",
    "routing.specialist_team",
    "routing.management_team",
    "routing.required_skills",
];

/// Applies the routing `path` of `from` onto `to`.
fn apply_routing(
    path: &str,
    to: &mut Option<kefu_proto::v1::TicketRouting>,
    from: Option<&kefu_proto::v1::TicketRouting>,
) {
    if path == "routing" {
        *to = from.cloned();
        return;
    }
    let source = from.cloned().unwrap_or_default();
    let target = to.get_or_insert_with(Default::default);
    match path {
        "routing.front_line_team" => target.front_line_team = source.front_line_team,
        "routing.specialist_team" => target.specialist_team = source.specialist_team,
        "routing.management_team" => target.management_team = source.management_team,
        _ => target.required_skills = source.required_skills,
    }
}

/// The teams a routing names must be teams of the tenant (the directory's
/// copy), or INVALID_ARGUMENT `UNKNOWN_REFERENCE` naming `field.<team>`.
async fn check_routing_teams(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    field: &str,
    routing: Option<&kefu_proto::v1::TicketRouting>,
) -> Result<()> {
    let Some(routing) = routing else {
        return Ok(());
    };
    for (name, team) in [
        ("front_line_team", &routing.front_line_team),
        ("specialist_team", &routing.specialist_team),
        ("management_team", &routing.management_team),
    ] {
        if !team.is_empty()
            && crate::store::directory::team(txn, tenant, team)
                .await?
                .is_none()
        {
            let path = format!("{field}.{name}");
            return Err(TicketsError::invalid_because(
                &path,
                format!("{path} {team:?} is not a team of the tenant"),
                "UNKNOWN_REFERENCE",
            ));
        }
    }
    Ok(())
}

/// FAILED_PRECONDITION `IN_USE`: `name` is still used by `what`.
fn in_use(name: &str, what: &str) -> TicketsError {
    TicketsError::FailedPrecondition(
        format!("{name} is still used by {what}: set active = false instead"),
        "IN_USE",
    )
}

/// ALREADY_EXISTS: a kind, category or field definition `name` exists.
fn already_exists(name: &str) -> TicketsError {
    TicketsError::AlreadyExists(format!("{name} already exists"), None)
}

/// The outcome of inserting `name`: a unique violation (a concurrent create
/// of the same key) reads as ALREADY_EXISTS.
fn inserted(outcome: std::result::Result<(), DbErr>, name: &str) -> Result<()> {
    match outcome {
        Err(error) if is_unique_violation(&error) => Err(already_exists(name)),
        other => Ok(other?),
    }
}

/// The stored `name` an update or delete sent with `etag` acts on:
/// NOT_FOUND when missing, ABORTED when it changed since `etag`.
fn at_etag<M>(stored: Option<Stored<M>>, name: &str, etag: &str) -> Result<Stored<M>> {
    let stored = stored.ok_or_else(|| TicketsError::not_found(name))?;
    if !resource::etag_matches(etag, stored.revision) {
        return Err(TicketsError::StaleEtag(name.to_owned()));
    }
    Ok(stored)
}

/// ABORTED naming `name` unless the revision-checked write `written` took.
fn unless_stale(written: bool, name: &str) -> Result<()> {
    if written {
        Ok(())
    } else {
        Err(TicketsError::StaleEtag(name.to_owned()))
    }
}

/// A create time as a sortable pair (none sorts first).
fn created(time: Option<&Timestamp>) -> (i64, i32) {
    time.map_or((0, 0), |time| (time.seconds, time.nanos))
}

/// `ordering`, reversed when the list was asked for descending.
fn directed(ordering: Ordering, desc: bool) -> Ordering {
    if desc { ordering.reverse() } else { ordering }
}
