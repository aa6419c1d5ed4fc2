//! Tickets: the encoded `kefu.v1.Ticket` beside the columns the views and
//! scans filter and order on, the per-tenant ticket numbers, and the one
//! way every area changes a ticket ([`save_change`]: revision, due time,
//! index columns and one audit entry together).

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    events::{from_timestamp, to_timestamp},
    resource,
};
use kefu_proto::v1::{Actor, Ticket, TicketAuditAction, TicketAuditEntry};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, QueryResult, Value,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};
use uuid::Uuid;

use super::{
    audit,
    rows::{self, ident},
};
use crate::{
    domain::ticket::{self, changes, id_of},
    error::{Result, TicketsError},
};

/// The revision an etag (`r{n}`) stands for.
fn revision_of(etag: &str) -> Option<i64> {
    etag.strip_prefix('r')?.parse().ok()
}

/// The columns every read selects.
fn select() -> SelectStatement {
    Query::select()
        .columns([ident("resource"), ident("revision")])
        .from(ident("tickets"))
        .to_owned()
}

/// A row of [`select`] as a ticket with its etag.
fn from_row(row: &QueryResult) -> Result<Ticket> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    let revision: i64 = row.try_get("", "revision")?;
    let mut ticket = Ticket::decode(bytes.as_slice())?;
    ticket.etag = resource::etag(revision);
    Ok(ticket)
}

/// A text column, NULL when empty.
fn non_empty(text: &str) -> Value {
    if text.is_empty() {
        Option::<String>::None.into()
    } else {
        Some(text.to_owned()).into()
    }
}

/// A time column.
fn time(timestamp: Option<&prost_types::Timestamp>) -> Value {
    timestamp.and_then(from_timestamp).into()
}

/// The column values derived from `ticket`, and the encoded resource.
fn columns(ticket: &Ticket, revision: i64) -> Vec<(&'static str, Value)> {
    let mut stored = ticket.clone();
    stored.etag = String::new();
    vec![
        ("ticket_number", ticket.ticket_number.clone().into()),
        ("state", ticket.state.into()),
        ("priority", ticket.priority.into()),
        ("kind", ticket.kind.clone().into()),
        ("category", non_empty(&ticket.category)),
        ("customer", non_empty(&ticket.customer)),
        ("assignee", non_empty(&ticket.assignee)),
        ("team", non_empty(&ticket.team)),
        ("incident", non_empty(&ticket.incident)),
        ("due_time", time(ticket.due_time.as_ref())),
        ("resolve_time", time(ticket.resolve_time.as_ref())),
        ("resource", stored.encode_to_vec().into()),
        ("revision", revision.into()),
        ("update_time", time(ticket.update_time.as_ref())),
    ]
}

/// The next ticket number of `tenant` (`T-000123`): sequential per tenant,
/// taken in the caller's transaction (a rolled-back create gives it back).
pub async fn next_number(txn: &DatabaseTransaction, tenant: TenantId) -> Result<String> {
    let number = rows::next_in_counter(
        txn,
        "ticket_numbers",
        tenant,
        &["last_number"],
        "last_number",
    )
    .await?
    .ok_or_else(|| TicketsError::Internal("no ticket number returned".into()))?;
    Ok(ticket::ticket_number(number))
}

/// Inserts a new `ticket` (named `tickets/{id}`, numbered, its times set)
/// at revision 1. Its SLA due check is not written here: call
/// [`super::sla::sync`] too (CreateTicket does so before it takes the
/// ticket number, to hold the number row's lock across fewer statements).
pub async fn insert(txn: &DatabaseTransaction, tenant: TenantId, ticket: &Ticket) -> Result<()> {
    let id = id_of(&ticket.name)
        .ok_or_else(|| TicketsError::Internal(format!("new ticket named {}", ticket.name)))?;
    let created = ticket.create_time.as_ref().and_then(from_timestamp);
    let mut values = vec![
        ("tenant_id", tenant.0.into()),
        ("id", id.into()),
        ("create_time", Value::from(created)),
    ];
    values.extend(columns(ticket, 1));
    rows::insert_row(txn, "tickets", values).await?;
    Ok(())
}

/// The ticket `id` of `tenant`, if it exists, with its etag. With `lock`
/// the row stays locked until the transaction ends (PostgreSQL; SQLite
/// serialises writers itself).
async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    lock: bool,
) -> Result<Option<Ticket>> {
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, lock, from_row).await
}

/// The ticket `id` of `tenant`, if it exists (its etag filled from the
/// revision).
pub async fn find(txn: &DatabaseTransaction, tenant: TenantId, id: Uuid) -> Result<Option<Ticket>> {
    get(txn, tenant, id, false).await
}

/// The ticket `name` (`tickets/{id}`, sent in the request's `name_field`)
/// for a change: NOT_FOUND when missing or another tenant's (the same
/// answer), INVALID_ARGUMENT naming `name_field` when malformed, ABORTED
/// (`STALE_ETAG`) when `etag` is set and stale. Locks the row on
/// PostgreSQL.
pub async fn load_for_change(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    name_field: &str,
    etag: &str,
) -> Result<Ticket> {
    if name.is_empty() {
        return Err(TicketsError::invalid(
            name_field,
            format!("{name_field} is required"),
        ));
    }
    if resource::id_in(name, "tickets").is_none() {
        return Err(TicketsError::invalid(
            name_field,
            format!("{name_field} must be tickets/{{id}}"),
        ));
    }
    // An id that is no ticket id of ours names no ticket: NOT_FOUND, as a
    // missing one.
    let id = id_of(name).ok_or_else(|| TicketsError::not_found(name))?;
    let ticket = get(txn, tenant, id, true)
        .await?
        .ok_or_else(|| TicketsError::not_found(name))?;
    if !etag.is_empty() && etag != ticket.etag {
        return Err(TicketsError::StaleEtag(name.to_owned()));
    }
    Ok(ticket)
}

/// Stores `after` over `before` (as read by [`load_for_change`]): bumps the
/// revision and etag, sets `update_time` to `now`, recomputes `due_time`
/// and the index columns, and writes ONE audit entry with `action`, `actor`,
/// the reason `note` and every changed field (before → after). ABORTED when
/// someone changed the ticket since `before` was read.
#[allow(clippy::too_many_arguments)]
pub async fn save_change(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &Ticket,
    after: &mut Ticket,
    actor: &Actor,
    action: TicketAuditAction,
    note: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    save_change_related(txn, tenant, before, after, actor, action, note, "", now).await
}

/// [`save_change`] with the audit entry's `related_resource` (the comment,
/// incident or handover the change came from).
#[allow(clippy::too_many_arguments)]
pub async fn save_change_related(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &Ticket,
    after: &mut Ticket,
    actor: &Actor,
    action: TicketAuditAction,
    note: &str,
    related_resource: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = id_of(&before.name)
        .ok_or_else(|| TicketsError::Internal(format!("stored ticket named {}", before.name)))?;
    let expected = revision_of(&before.etag).ok_or_else(|| {
        TicketsError::Internal(format!("ticket read without etag: {}", before.name))
    })?;
    after.name = before.name.clone();
    after.update_time = Some(to_timestamp(now));
    after.due_time = ticket::due_time(after);
    let mut statement = Query::update();
    statement.table(ident("tickets"));
    for (column, value) in columns(after, expected + 1) {
        statement.value(ident(column), value);
    }
    statement
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .and_where(Expr::col(ident("revision")).eq(expected));
    if txn.execute(&statement).await?.rows_affected() != 1 {
        return Err(TicketsError::StaleEtag(before.name.clone()));
    }
    after.etag = resource::etag(expected + 1);
    let entry = TicketAuditEntry {
        name: String::new(),
        action: action as i32,
        actor: Some(actor.clone()),
        create_time: Some(to_timestamp(now)),
        changes: changes(before, after),
        reason: note.to_owned(),
        related_resource: related_resource.to_owned(),
    };
    audit::append(txn, tenant, id, entry).await?;
    super::sla::sync(txn, tenant, after).await?;
    Ok(())
}

pub use crate::domain::ticket_filter::Prefilter;

/// The tickets of `tenant` the prefilter lets through, in no particular
/// order.
pub async fn candidates<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    prefilter: &Prefilter,
) -> Result<Vec<Ticket>> {
    let mut statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .to_owned();
    if !prefilter.states.is_empty() {
        statement.and_where(Expr::col(ident("state")).is_in(prefilter.states.iter().copied()));
    }
    let columns = [
        ("assignee", &prefilter.assignee),
        ("team", &prefilter.team),
        ("customer", &prefilter.customer),
        ("incident", &prefilter.incident),
    ];
    for (column, value) in columns {
        match value.as_deref() {
            Some("") => {
                statement.and_where(Expr::col(ident(column)).is_null());
            }
            Some(value) => {
                statement.and_where(Expr::col(ident(column)).eq(value));
            }
            None => {}
        }
    }
    db.query_all(&statement)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The tickets of `tenant` in `state` resolved at or before `cutoff` (the
/// auto-close scan), at most `limit`.
pub async fn resolved_before<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    state: i32,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Ticket>> {
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("state")).eq(state))
        .and_where(Expr::col(ident("resolve_time")).lte(cutoff))
        .limit(limit)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(from_row)
        .collect()
}
