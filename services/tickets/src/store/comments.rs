//! Comments on tickets (`ticket_comments`): written once, never updated or
//! deleted (the customer's erasure, which anonymises bodies, aside).

use chrono::{DateTime, Utc};
use kefu_kit::context::TenantId;
use kefu_proto::v1::TicketComment;
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbErr,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};
use uuid::Uuid;

use super::rows::{self, ident};
use crate::error::Result;

fn select(tenant: TenantId, ticket: Uuid) -> SelectStatement {
    rows::select_of_ticket("ticket_comments", tenant, ticket)
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
    Ok(rows::fetch_one(db, statement, false, rows::decode_resource).await?)
}

/// Every comment of ticket `ticket`, oldest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    ticket: Uuid,
) -> Result<Vec<TicketComment>> {
    rows::oldest_first(db, select(tenant, ticket)).await
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
        rows::overwrite_of_ticket(
            db,
            "ticket_comments",
            tenant,
            (ticket, id),
            comment.encode_to_vec(),
        )
        .await?;
        rewritten += 1;
    }
    Ok(rewritten)
}
