//! Row shapes the services' store modules share: a tenant's encoded resources kept
//! with a revision, read (optionally locked) and replaced over the revision
//! the caller read, so concurrent writers end in ABORTED rather than lost
//! updates.

use crate::{KitError, context::TenantId, db::begin_read_platform};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Value,
    sea_query::{
        Alias, Expr, ExprTrait, OnConflict, Order, Query, SelectStatement, UpdateStatement,
    },
};
use uuid::Uuid;

/// A table or column name.
pub fn ident(name: &'static str) -> Alias {
    Alias::new(name)
}

/// The `resource` and `revision` of every row of `tenant` in `table`.
pub fn select_resources(table: &'static str, tenant: TenantId) -> SelectStatement {
    Query::select()
        .columns([ident("resource"), ident("revision")])
        .from(ident(table))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .to_owned()
}

/// The decoded `resource` of a row with its `revision`; the caller fills
/// the etag, whose field each message names itself.
pub fn decode_revisioned<M: Message + Default>(row: &QueryResult) -> Result<(M, i64), KitError> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    let revision: i64 = row.try_get("", "revision")?;
    Ok((M::decode(bytes.as_slice())?, revision))
}

/// The one row `statement` finds, read by `from_row`; with `lock` the row
/// stays locked until the transaction ends (PostgreSQL only: SQLite locks
/// the whole database on write anyway).
pub async fn fetch_one<C: ConnectionTrait, T, E: From<DbErr>>(
    db: &C,
    mut statement: SelectStatement,
    lock: bool,
    from_row: impl Fn(&QueryResult) -> Result<T, E>,
) -> Result<Option<T>, E> {
    if lock && db.get_database_backend() == DbBackend::Postgres {
        statement.lock_exclusive();
    }
    db.query_one(&statement)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Runs `statement` (an update of row `id` of `tenant`) only if the row is
/// still at revision `expected`, moving it to the next; false when someone
/// changed it since.
pub async fn replace_at_revision<C: ConnectionTrait>(
    db: &C,
    mut statement: UpdateStatement,
    tenant: TenantId,
    id: impl Into<Expr>,
    expected: i64,
) -> Result<bool, DbErr> {
    statement
        .value(ident("revision"), expected + 1)
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .and_where(Expr::col(ident("revision")).eq(expected));
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// Inserts one row of `columns` into `table`.
pub async fn insert_row<C: ConnectionTrait>(
    db: &C,
    table: &'static str,
    columns: Vec<(&'static str, Value)>,
) -> Result<(), DbErr> {
    let (names, values): (Vec<_>, Vec<_>) = columns.into_iter().unzip();
    let statement = Query::insert()
        .into_table(ident(table))
        .columns(names.into_iter().map(ident))
        .values(values.into_iter().map(Expr::val))
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Takes the tenant's next number of counter `column` in `table` (one row
/// per tenant holding `counters`, `column` among them), creating the row
/// with `column` at 1 and the others at 0. None only if the database
/// returned no row.
pub async fn next_in_counter<C: ConnectionTrait>(
    db: &C,
    table: &'static str,
    tenant: TenantId,
    counters: &[&'static str],
    column: &'static str,
) -> Result<Option<i64>, DbErr> {
    let mut names = vec![ident("tenant_id")];
    let mut values: Vec<Expr> = vec![tenant.0.into()];
    for counter in counters {
        names.push(ident(counter));
        values.push(i64::from(*counter == column).into());
    }
    let statement = Query::insert()
        .into_table(ident(table))
        .columns(names)
        .values(values)
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::column(ident("tenant_id"))
                .value(
                    ident(column),
                    Expr::col((ident(table), ident(column))).add(1),
                )
                .to_owned(),
        )
        .returning_col(ident(column))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => Ok(Some(row.try_get("", column)?)),
        None => Ok(None),
    }
}

/// Every tenant with a row in `table` (read across tenants, for the
/// background scans), in id order.
pub async fn tenants_in(
    db: &DatabaseConnection,
    table: &'static str,
) -> Result<Vec<TenantId>, DbErr> {
    let txn = begin_read_platform(db).await?;
    let statement = Query::select()
        .column(ident("tenant_id"))
        .from(ident(table))
        .order_by(ident("tenant_id"), Order::Asc)
        .to_owned();
    let tenants = txn
        .query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "tenant_id").map(TenantId))
        .collect::<Result<Vec<_>, _>>()?;
    txn.commit().await?;
    Ok(tenants)
}

/// The decoded `resource` of a row kept without a revision (written once).
pub fn decode_resource<M: Message + Default>(row: &QueryResult) -> Result<M, KitError> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    Ok(M::decode(bytes.as_slice())?)
}
