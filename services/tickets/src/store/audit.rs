//! The audit trail of tickets: entries written once, in the transaction of
//! the change they record, and never edited (the customer's erasure, which
//! anonymises their values, aside).

use kefu_kit::{context::TenantId, events::from_timestamp};
use kefu_proto::v1::TicketAuditEntry;
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbErr, QueryResult, Value,
    sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use crate::{
    domain::ticket::name_of,
    error::{Result, TicketsError},
};

/// A table or column name.
fn ident(name: &'static str) -> Alias {
    Alias::new(name)
}

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
    Query::select()
        .columns([ident("resource")])
        .from(ident("ticket_audit_entries"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("ticket_id")).eq(ticket))
        .to_owned()
}

fn from_row(row: &QueryResult) -> Result<TicketAuditEntry> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    Ok(TicketAuditEntry::decode(bytes.as_slice())?)
}

/// The trail of ticket `ticket`, oldest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    ticket: Uuid,
) -> Result<Vec<TicketAuditEntry>> {
    let statement = select(tenant, ticket)
        .order_by(ident("create_time"), Order::Asc)
        .order_by(ident("id"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(from_row)
        .collect()
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
    db.query_one(&statement)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
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
    let statement = Query::update()
        .table(ident("ticket_audit_entries"))
        .value(ident("resource"), entry.encode_to_vec())
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("ticket_id")).eq(ticket))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}
