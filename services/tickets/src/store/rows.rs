//! Row shapes of the tickets service's store modules: the generic ones
//! (encoded resources kept with a revision) are kit's, re-exported here;
//! the rows that hang off one ticket (comments, audit entries) are below.

use kefu_kit::context::TenantId;
pub use kefu_kit::rows::*;
use prost::Message;
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use crate::error::Result;

/// The `resource` of every row of ticket `ticket` in `table` (its comments,
/// its audit trail).
pub fn select_of_ticket(table: &'static str, tenant: TenantId, ticket: Uuid) -> SelectStatement {
    Query::select()
        .columns([ident("resource")])
        .from(ident(table))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("ticket_id")).eq(ticket))
        .to_owned()
}

/// The rows `statement` finds, oldest first (ties by id, which is a v7 uuid,
/// so in the order they were written).
pub async fn oldest_first<C: ConnectionTrait, M: Message + Default>(
    db: &C,
    mut statement: SelectStatement,
) -> Result<Vec<M>> {
    statement
        .order_by(ident("create_time"), Order::Asc)
        .order_by(ident("id"), Order::Asc);
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| Ok(decode_resource(row)?))
        .collect()
}

/// Replaces the `resource` of row `id` of ticket `ticket` in `table`; only
/// the customer's erasure rewrites these write-once rows.
pub async fn overwrite_of_ticket<C: ConnectionTrait>(
    db: &C,
    table: &'static str,
    tenant: TenantId,
    (ticket, id): (Uuid, Uuid),
    resource: Vec<u8>,
) -> Result<()> {
    let statement = Query::update()
        .table(ident(table))
        .value(ident("resource"), resource)
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("ticket_id")).eq(ticket))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}
