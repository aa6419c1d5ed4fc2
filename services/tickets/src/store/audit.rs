//! The audit trail of tickets: entries written once, in the transaction of
//! the change they record, and never edited (the customer's erasure, which
//! anonymises their values, aside).

use kefu_kit::{context::TenantId, events::from_timestamp};
use kefu_proto::v1::TicketAuditEntry;
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbErr, Value,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};
use uuid::Uuid;

use super::rows::{self, ident};
use crate::{
    domain::ticket::name_of,
    error::{Result, TicketsError},
};

/// `tickets/{ticket}/auditEntries/{entry}`.
pub fn entry_name(ticket: Uuid, entry: Uuid) -> String {
    format!("{}/auditEntries/{entry}", name_of(ticket))
}

/// The ticket and entry ids in `tickets/{ticket}/auditEntries/{entry}`.
pub fn ids_of(name: &str) -> Option<(Uuid, Uuid)> {
    let rest = name.strip_prefix("tickets/")?;
    let (ticket, entry) = rest.split_once("/auditEntries/")?;
    Some((Uuid::parse_str(ticket).ok()?, Uuid::parse_str(entry).ok()?))
}

/// Appends `entry` to the trail of ticket `ticket` (its name and id are
/// given here); returns it as stored.
pub async fn append<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    ticket: Uuid,
    mut entry: TicketAuditEntry,
) -> Result<TicketAuditEntry> {
    let id = Uuid::now_v7();
    entry.name = entry_name(ticket, id);
    let created = entry.create_time.as_ref().and_then(from_timestamp);
    let statement = Query::insert()
        .into_table(ident("ticket_audit_entries"))
        .columns([
            ident("tenant_id"),
            ident("ticket_id"),
            ident("id"),
            ident("action"),
            ident("resource"),
            ident("create_time"),
        ])
        .values([
            tenant.0.into(),
            ticket.into(),
            id.into(),
            entry.action.into(),
            entry.encode_to_vec().into(),
            Expr::val(Value::from(created)),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await?;
    Ok(entry)
}

fn select(tenant: TenantId, ticket: Uuid) -> SelectStatement {
    rows::select_of_ticket("ticket_audit_entries", tenant, ticket)
}

/// The trail of ticket `ticket`, oldest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    ticket: Uuid,
) -> Result<Vec<TicketAuditEntry>> {
    rows::oldest_first(db, select(tenant, ticket)).await
}

/// One entry of ticket `ticket`, if it exists.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    ticket: Uuid,
    entry: Uuid,
) -> Result<Option<TicketAuditEntry>> {
    let statement = select(tenant, ticket)
        .and_where(Expr::col(ident("id")).eq(entry))
        .to_owned();
    Ok(rows::fetch_one(db, statement, false, rows::decode_resource).await?)
}

/// Replaces the stored entry `entry.name` (only the customer's erasure
/// does this: it anonymises the values).
pub async fn overwrite<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    entry: &TicketAuditEntry,
) -> Result<()> {
    let (ticket, id) = ids_of(&entry.name)
        .ok_or_else(|| TicketsError::Internal(format!("audit entry named {}", entry.name)))?;
    rows::overwrite_of_ticket(
        db,
        "ticket_audit_entries",
        tenant,
        (ticket, id),
        entry.encode_to_vec(),
    )
    .await
}
