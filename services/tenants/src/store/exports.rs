//! Tenant exports (`tenant_exports`): the resource, its state for the
//! maintenance sweep, and the archive once built. Every function but
//! [`running`] takes the tenant.

use chrono::{DateTime, Utc};
use kefu_proto::v1::{TenantExport, TenantExportState};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbErr, QueryResult,
    sea_query::{Alias, Expr, ExprTrait, Order, Query},
};
use uuid::Uuid;

fn table() -> Alias {
    Alias::new("tenant_exports")
}

fn col(name: &str) -> Expr {
    Expr::col(Alias::new(name))
}

fn decode(row: &QueryResult) -> Result<TenantExport, DbErr> {
    let resource: Vec<u8> = row.try_get("", "resource")?;
    TenantExport::decode(resource.as_slice()).map_err(|error| DbErr::Custom(error.to_string()))
}

fn select() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .columns([Alias::new("resource")])
        .from(table())
        .to_owned()
}

/// Inserts a new export; a repeated request id is a unique violation.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    request_id: Option<String>,
    export: &TenantExport,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let statement = Query::insert()
        .into_table(table())
        .columns([
            Alias::new("tenant_id"),
            Alias::new("id"),
            Alias::new("request_id"),
            Alias::new("state"),
            Alias::new("resource"),
            Alias::new("create_time"),
        ])
        .values([
            tenant.into(),
            id.into(),
            request_id.into(),
            export.state.into(),
            export.encode_to_vec().into(),
            now.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// The export `id` of `tenant`.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<TenantExport>, DbErr> {
    let statement = select()
        .and_where(col("tenant_id").eq(tenant))
        .and_where(col("id").eq(id))
        .to_owned();
    db.query_one(&statement)
        .await?
        .map(|row| decode(&row))
        .transpose()
}

/// The export of `tenant` started with `request_id`.
pub async fn by_request<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    request_id: &str,
) -> Result<Option<TenantExport>, DbErr> {
    let statement = select()
        .and_where(col("tenant_id").eq(tenant))
        .and_where(col("request_id").eq(request_id))
        .to_owned();
    db.query_one(&statement)
        .await?
        .map(|row| decode(&row))
        .transpose()
}

/// Every export of `tenant`, newest first.
pub async fn list<C: ConnectionTrait>(db: &C, tenant: Uuid) -> Result<Vec<TenantExport>, DbErr> {
    let statement = select()
        .and_where(col("tenant_id").eq(tenant))
        .order_by(Alias::new("create_time"), Order::Desc)
        .order_by(Alias::new("id"), Order::Desc)
        .to_owned();
    db.query_all(&statement).await?.iter().map(decode).collect()
}

/// `(tenant, export)` of every RUNNING export (platform transactions).
pub async fn running<C: ConnectionTrait>(db: &C) -> Result<Vec<(Uuid, Uuid)>, DbErr> {
    let statement = Query::select()
        .columns([Alias::new("tenant_id"), Alias::new("id")])
        .from(table())
        .and_where(col("state").eq(TenantExportState::Running as i32))
        .order_by(Alias::new("create_time"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "tenant_id")?, row.try_get("", "id")?)))
        .collect()
}

/// Stores the outcome of a RUNNING export; false when it is no longer
/// RUNNING (another replica finished it first).
pub async fn complete<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    export: &TenantExport,
    archive: Option<Vec<u8>>,
) -> Result<bool, DbErr> {
    let statement = Query::update()
        .table(table())
        .value(Alias::new("state"), export.state)
        .value(Alias::new("resource"), export.encode_to_vec())
        .value(Alias::new("archive"), archive)
        .and_where(col("tenant_id").eq(tenant))
        .and_where(col("id").eq(id))
        .and_where(col("state").eq(TenantExportState::Running as i32))
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// The archive of a finished export, for the download.
pub async fn archive<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<Vec<u8>>, DbErr> {
    let statement = Query::select()
        .column(Alias::new("archive"))
        .from(table())
        .and_where(col("tenant_id").eq(tenant))
        .and_where(col("id").eq(id))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => row.try_get("", "archive"),
        None => Ok(None),
    }
}

/// Deletes the archive of an export whose download has lapsed (the
/// resource stays, EXPIRED); false when there was none.
pub async fn clear_archive<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
) -> Result<bool, DbErr> {
    let statement = Query::update()
        .table(table())
        .value(Alias::new("archive"), Option::<Vec<u8>>::None)
        .and_where(col("tenant_id").eq(tenant))
        .and_where(col("id").eq(id))
        .and_where(col("archive").is_not_null())
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}
