//! Comments on tickets (`ticket_comments`): written once, never updated or
//! deleted (the customer's erasure, which anonymises bodies, aside).

use chrono::{DateTime, Utc};
use kefu_kit::context::TenantId;
use kefu_proto::v1::TicketComment;
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbErr, QueryResult,
    sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use crate::error::Result;

fn ident(name: &'static str) -> Alias {
    Alias::new(name)
}

fn select(tenant: TenantId, ticket: Uuid) -> SelectStatement {
    Query::select()
        .columns([ident("resource")])
        .from(ident("ticket_comments"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("ticket_id")).eq(ticket))
        .to_owned()
}

fn from_row(row: &QueryResult) -> Result<TicketComment> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    Ok(TicketComment::decode(bytes.as_slice())?)
}

/// Stores the new `comment` (named, stamped) of ticket `ticket` as `id`.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    ticket: Uuid,
    id: Uuid,
    comment: &TicketComment,
    now: DateTime<Utc>,
) -> Result<()> {
    let statement = Query::insert()
        .into_table(ident("ticket_comments"))
        .columns([
            ident("tenant_id"),
            ident("ticket_id"),
            ident("id"),
            ident("visibility"),
            ident("resource"),
            ident("create_time"),
        ])
        .values([
            tenant.0.into(),
            ticket.into(),
            id.into(),
            comment.visibility.into(),
            comment.encode_to_vec().into(),
            now.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}

/// The comment `id` of ticket `ticket`, if it exists.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    ticket: Uuid,
    id: Uuid,
) -> Result<Option<TicketComment>> {
    let statement = select(tenant, ticket)
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    db.query_one(&statement)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Every comment of ticket `ticket`, oldest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    ticket: Uuid,
) -> Result<Vec<TicketComment>> {
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

/// The one exception to immutability: the customer's erasure
/// (CustomerErased). Every comment of ticket `ticket` then reads
/// `[erased]` in its body and its attachments' names and locations;
/// who wrote it, when, by which channel and for which incident stay for
/// the statistics. Returns how many comments were rewritten.
pub async fn anonymise<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    ticket: Uuid,
) -> Result<usize> {
    let mut rewritten = 0;
    for mut comment in list(db, tenant, ticket).await? {
        let Some((_, id)) = crate::domain::comment::ids_of(&comment.name) else {
            continue;
        };
        if !crate::domain::comment::anonymise(&mut comment) {
            continue;
        }
        let statement = Query::update()
            .table(ident("ticket_comments"))
            .value(ident("resource"), comment.encode_to_vec())
            .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
            .and_where(Expr::col(ident("ticket_id")).eq(ticket))
            .and_where(Expr::col(ident("id")).eq(id))
            .to_owned();
        db.execute(&statement).await?;
        rewritten += 1;
    }
    Ok(rewritten)
}
