//! The row shape the policies', scripts', surveys' and campaigns' tables
//! share: a tenant's resource kept whole (the encoded message, its etag
//! left out) with its `revision`, `create_time` and `update_time` beside
//! the index columns each table adds. Read optionally locked, replaced only
//! over the revision read (so concurrent writers end in ABORTED), listed
//! oldest first, deleted at a revision. Built on [`kefu_kit::rows`].

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    resource,
    rows::{self, ident},
};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, QueryResult, Value,
    sea_query::{Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use crate::error::{CallbacksError, Result};

/// Where a kind of resource is kept: its table and the collection of its
/// names (`{collection}/{uuid}`).
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// The table.
    pub table: &'static str,
    /// The collection of its names (`callbackPolicies`).
    pub collection: &'static str,
}

/// A resource kept whole in its [`Table`]; its etag is filled on read.
pub trait Kept: Message + Default + Clone {
    /// Its table.
    const TABLE: Table;
    /// Its name.
    fn name(&self) -> &str;
    /// Sets its etag.
    fn set_etag(&mut self, etag: String);
}

/// A resource as stored, with the revision its etag stands for.
#[derive(Debug, Clone)]
pub struct Stored<M> {
    /// The resource, its etag filled.
    pub resource: M,
    /// Its revision.
    pub revision: i64,
}

/// `{collection}/{id}`.
pub fn name_of<M: Kept>(id: Uuid) -> String {
    format!("{}/{id}", M::TABLE.collection)
}

/// The UUID of `name` when it is one of `M`'s.
pub fn id_of<M: Kept>(name: &str) -> Option<Uuid> {
    resource::id_in(name, M::TABLE.collection).and_then(|id| Uuid::parse_str(id).ok())
}

/// The resource of a row with its revision, its etag filled.
fn decode<M: Kept>(row: &QueryResult) -> Result<Stored<M>> {
    let (mut resource, revision) = rows::decode_revisioned::<M>(row)?;
    resource.set_etag(resource::etag(revision));
    Ok(Stored { resource, revision })
}

/// `resource` as stored: encoded without its etag.
fn encoded<M: Kept>(resource: &M) -> Vec<u8> {
    let mut stored = resource.clone();
    stored.set_etag(String::new());
    stored.encode_to_vec()
}

/// Inserts `resource` at revision 1 with its index `columns`.
pub async fn insert<M: Kept>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    resource: &M,
    columns: Vec<(&'static str, Value)>,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = id_of::<M>(resource.name())
        .ok_or_else(|| CallbacksError::Internal(format!("new resource {}", resource.name())))?;
    let mut values: Vec<(&'static str, Value)> = vec![
        ("tenant_id", tenant.0.into()),
        ("id", id.into()),
        ("resource", encoded(resource).into()),
        ("revision", 1_i64.into()),
        ("create_time", now.into()),
        ("update_time", now.into()),
    ];
    values.extend(columns);
    rows::insert_row(txn, M::TABLE.table, values).await?;
    Ok(())
}

/// The `resource` and `revision` of every row of `tenant` in `M`'s table,
/// for a query to narrow.
pub fn select<M: Kept>(tenant: TenantId) -> SelectStatement {
    rows::select_resources(M::TABLE.table, tenant)
}

/// The resources `statement` (from [`select`]) finds, etags filled.
pub async fn fetch_all<M: Kept, C: ConnectionTrait>(
    db: &C,
    statement: &SelectStatement,
) -> Result<Vec<M>> {
    db.query_all(statement)
        .await?
        .iter()
        .map(|row| decode(row).map(|stored: Stored<M>| stored.resource))
        .collect()
}

/// The resource `name` of `tenant` with its revision, locked for a change
/// with `lock`. A malformed name finds nothing.
pub async fn get<M: Kept, C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    lock: bool,
) -> Result<Option<Stored<M>>> {
    let Some(id) = id_of::<M>(name) else {
        return Ok(None);
    };
    let statement = select::<M>(tenant)
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, lock, decode).await
}

/// The resource `name` of `tenant`, if it exists, with its etag.
pub async fn find<M: Kept, C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<M>> {
    Ok(get(db, tenant, name, false)
        .await?
        .map(|stored: Stored<M>| stored.resource))
}

/// Every resource of `tenant`, oldest first.
pub async fn list<M: Kept, C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<M>> {
    let statement = select::<M>(tenant)
        .order_by(ident("create_time"), Order::Asc)
        .order_by(ident("id"), Order::Asc)
        .to_owned();
    fetch_all(db, &statement).await
}

/// Stores `resource` over revision `expected` with its index `columns`;
/// false when someone changed it since.
pub async fn replace<M: Kept>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    resource: &M,
    expected: i64,
    columns: Vec<(&'static str, Value)>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(id) = id_of::<M>(resource.name()) else {
        return Ok(false);
    };
    let mut statement = Query::update();
    statement
        .table(ident(M::TABLE.table))
        .value(ident("resource"), encoded(resource))
        .value(ident("update_time"), now);
    for (column, value) in columns {
        statement.value(ident(column), value);
    }
    Ok(rows::replace_at_revision(txn, statement, tenant, id, expected).await?)
}

/// [`replace`], ABORTED naming the resource when someone changed it since.
pub async fn save<M: Kept>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    resource: &M,
    expected: i64,
    columns: Vec<(&'static str, Value)>,
    now: DateTime<Utc>,
) -> Result<()> {
    if replace(txn, tenant, resource, expected, columns, now).await? {
        Ok(())
    } else {
        Err(CallbacksError::StaleEtag(resource.name().to_owned()))
    }
}

/// Deletes `name` if still at revision `expected`; false otherwise.
pub async fn delete<M: Kept>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    expected: i64,
) -> Result<bool> {
    let Some(id) = id_of::<M>(name) else {
        return Ok(false);
    };
    let statement = Query::delete()
        .from_table(ident(M::TABLE.table))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .and_where(Expr::col(ident("revision")).eq(expected))
        .to_owned();
    Ok(txn.execute(&statement).await?.rows_affected() == 1)
}
