//! Idempotency keys of creates (AIP-155): which resource a `request_id`
//! created, per tenant, in the service's `idempotency_keys` table
//! `(tenant_id, request_id, method, resource_name, create_time)`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DbErr,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use uuid::Uuid;

/// What a request id was used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The method (`CreateTeam`).
    pub method: String,
    /// The resource it created (`teams/front-line`).
    pub resource_name: String,
}

/// What `request_id` created in `tenant`, if it was used.
pub async fn recall<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    request_id: &str,
) -> Result<Option<Remembered>, DbErr> {
    let statement = Query::select()
        .columns([Alias::new("method"), Alias::new("resource_name")])
        .from(Alias::new("idempotency_keys"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .and_where(Expr::col(Alias::new("request_id")).eq(request_id))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => Ok(Some(Remembered {
            method: row.try_get("", "method")?,
            resource_name: row.try_get("", "resource_name")?,
        })),
        None => Ok(None),
    }
}

/// Remembers that `request_id` created `resource_name` with `method`; a
/// request id already used is a unique violation.
pub async fn remember<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    request_id: &str,
    method: &str,
    resource_name: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let statement = Query::insert()
        .into_table(Alias::new("idempotency_keys"))
        .columns([
            Alias::new("tenant_id"),
            Alias::new("request_id"),
            Alias::new("method"),
            Alias::new("resource_name"),
            Alias::new("create_time"),
        ])
        .values([
            tenant.into(),
            request_id.into(),
            method.into(),
            resource_name.into(),
            now.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}
