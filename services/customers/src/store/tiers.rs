//! Tiers: the encoded `kefu.v1.Tier` beside its unique rank, and the
//! customer counts read from `customers.tier`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kefu_kit::resource;
use kefu_proto::v1::{CustomerState, Tier};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, QueryResult,
    sea_query::{Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use super::ident;

/// A stored tier (etag filled in, count not) and its revision.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTier {
    /// The tier.
    pub tier: Tier,
    /// Its revision.
    pub revision: i64,
}

fn select() -> SelectStatement {
    Query::select()
        .columns([ident("resource"), ident("revision")])
        .from(ident("tiers"))
        .to_owned()
}

fn from_row(row: &QueryResult) -> Result<StoredTier, DbErr> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    let revision: i64 = row.try_get("", "revision")?;
    let mut tier =
        Tier::decode(bytes.as_slice()).map_err(|error| DbErr::Custom(error.to_string()))?;
    tier.etag = resource::etag(revision);
    Ok(StoredTier { tier, revision })
}

fn encode(tier: &Tier) -> Vec<u8> {
    let mut stored = tier.clone();
    stored.etag.clear();
    stored.customer_count = 0;
    stored.encode_to_vec()
}

/// The tier `id` of `tenant`, if it exists (locked with `for_update` on
/// PostgreSQL).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
    for_update: bool,
) -> Result<Option<StoredTier>, DbErr> {
    let mut statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    if for_update && db.get_database_backend() == DbBackend::Postgres {
        statement.lock_exclusive();
    }
    db.query_one(&statement)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Every tier of `tenant`, by rank (1 first).
pub async fn list<C: ConnectionTrait>(db: &C, tenant: Uuid) -> Result<Vec<StoredTier>, DbErr> {
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .order_by(ident("rank"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The id of the tier other than `except` that holds `rank`.
pub async fn rank_holder<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    rank: i32,
    except: &str,
) -> Result<Option<String>, DbErr> {
    let statement = Query::select()
        .column(ident("id"))
        .from(ident("tiers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("rank")).eq(rank))
        .and_where(Expr::col(ident("id")).ne(except))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => Ok(Some(row.try_get("", "id")?)),
        None => Ok(None),
    }
}

/// Inserts `tier` as `id` at revision 1; a taken id or rank is a unique
/// violation.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
    tier: &Tier,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let statement = Query::insert()
        .into_table(ident("tiers"))
        .columns([
            ident("tenant_id"),
            ident("id"),
            ident("rank"),
            ident("resource"),
            ident("revision"),
            ident("create_time"),
        ])
        .values([
            tenant.into(),
            id.into(),
            tier.rank.into(),
            encode(tier).into(),
            1_i64.into(),
            now.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Replaces tier `id` if its revision is still `expected`; false otherwise.
pub async fn replace<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
    expected: i64,
    tier: &Tier,
) -> Result<bool, DbErr> {
    let statement = Query::update()
        .table(ident("tiers"))
        .value(ident("rank"), tier.rank)
        .value(ident("resource"), encode(tier))
        .value(ident("revision"), expected + 1)
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).eq(id))
        .and_where(Expr::col(ident("revision")).eq(expected))
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// Deletes tier `id`; false when it did not exist.
pub async fn delete<C: ConnectionTrait>(db: &C, tenant: Uuid, id: &str) -> Result<bool, DbErr> {
    let statement = Query::delete()
        .from_table(ident("tiers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// ACTIVE customers per tier id (`locked_only`: only those locked by hand).
pub async fn customer_counts<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    locked_only: bool,
) -> Result<HashMap<String, i64>, DbErr> {
    let mut statement = Query::select()
        .column(ident("tier"))
        .expr_as(Expr::col(ident("id")).count(), ident("members"))
        .from(ident("customers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("state")).eq(CustomerState::Active as i32))
        .and_where(Expr::col(ident("tier")).is_not_null())
        .group_by_col(ident("tier"))
        .to_owned();
    if locked_only {
        statement.and_where(Expr::col(ident("tier_locked")).eq(true));
    }
    let mut counts = HashMap::new();
    for row in db.query_all(&statement).await? {
        let tier: String = row.try_get("", "tier")?;
        let members: i64 = row.try_get("", "members")?;
        counts.insert(tier, members);
    }
    Ok(counts)
}
