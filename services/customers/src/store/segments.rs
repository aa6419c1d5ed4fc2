//! Segments (the encoded `kefu.v1.Segment` beside its display name), who is
//! in them now (`segment_members`), and the in-place writes of the fields
//! classification derives on customers.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kefu_kit::resource;
use kefu_proto::v1::{Customer, CustomerState, Segment};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, QueryResult, Value,
    sea_query::{Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use super::{
    customers::{self, Stored},
    ident,
};

/// A stored segment (etag filled in, count not) and its revision.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSegment {
    /// The segment.
    pub segment: Segment,
    /// Its revision.
    pub revision: i64,
}

fn select() -> SelectStatement {
    Query::select()
        .columns([ident("resource"), ident("revision")])
        .from(ident("segments"))
        .to_owned()
}

fn from_row(row: &QueryResult) -> Result<StoredSegment, DbErr> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    let revision: i64 = row.try_get("", "revision")?;
    let mut segment =
        Segment::decode(bytes.as_slice()).map_err(|error| DbErr::Custom(error.to_string()))?;
    segment.etag = resource::etag(revision);
    Ok(StoredSegment { segment, revision })
}

fn encode(segment: &Segment) -> Vec<u8> {
    let mut stored = segment.clone();
    stored.etag.clear();
    stored.member_count = 0;
    stored.member_count_time = None;
    stored.encode_to_vec()
}

/// The segment `id` of `tenant`, if it exists (locked with `for_update` on
/// PostgreSQL).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
    for_update: bool,
) -> Result<Option<StoredSegment>, DbErr> {
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

/// Every segment of `tenant`, by id.
pub async fn list<C: ConnectionTrait>(db: &C, tenant: Uuid) -> Result<Vec<StoredSegment>, DbErr> {
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .order_by(ident("id"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Inserts `segment` as `id` at revision 1; a taken id is a unique
/// violation.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
    segment: &Segment,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let statement = Query::insert()
        .into_table(ident("segments"))
        .columns([
            ident("tenant_id"),
            ident("id"),
            ident("display_name"),
            ident("resource"),
            ident("revision"),
            ident("create_time"),
        ])
        .values([
            tenant.into(),
            id.into(),
            segment.display_name.as_str().into(),
            encode(segment).into(),
            1_i64.into(),
            now.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Replaces segment `id` if its revision is still `expected`; false
/// otherwise.
pub async fn replace<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
    expected: i64,
    segment: &Segment,
) -> Result<bool, DbErr> {
    let statement = Query::update()
        .table(ident("segments"))
        .value(ident("display_name"), segment.display_name.as_str())
        .value(ident("resource"), encode(segment))
        .value(ident("revision"), expected + 1)
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).eq(id))
        .and_where(Expr::col(ident("revision")).eq(expected))
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// Deletes segment `id` and its membership rows; false when it did not
/// exist.
pub async fn delete<C: ConnectionTrait>(db: &C, tenant: Uuid, id: &str) -> Result<bool, DbErr> {
    let members = Query::delete()
        .from_table(ident("segment_members"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("segment_id")).eq(id))
        .to_owned();
    db.execute(&members).await?;
    let statement = Query::delete()
        .from_table(ident("segments"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// Whether segment `id` exists.
pub async fn exists<C: ConnectionTrait>(db: &C, tenant: Uuid, id: &str) -> Result<bool, DbErr> {
    let statement = Query::select()
        .column(ident("id"))
        .from(ident("segments"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    Ok(db.query_one(&statement).await?.is_some())
}

/// The segment ids customer `customer` is recorded in.
pub async fn memberships<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    customer: &str,
) -> Result<Vec<String>, DbErr> {
    let statement = Query::select()
        .column(ident("segment_id"))
        .from(ident("segment_members"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("customer_id")).eq(customer))
        .order_by(ident("segment_id"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get("", "segment_id"))
        .collect()
}

/// Records `customer` in the segments `entered` and out of `left`.
pub async fn move_member<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    customer: &str,
    entered: &[String],
    left: &[String],
) -> Result<(), DbErr> {
    if !left.is_empty() {
        let statement = Query::delete()
            .from_table(ident("segment_members"))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident("customer_id")).eq(customer))
            .and_where(Expr::col(ident("segment_id")).is_in(left.iter().cloned()))
            .to_owned();
        db.execute(&statement).await?;
    }
    if !entered.is_empty() {
        let mut statement = Query::insert();
        statement.into_table(ident("segment_members")).columns([
            ident("tenant_id"),
            ident("segment_id"),
            ident("customer_id"),
        ]);
        for segment in entered {
            statement
                .values([tenant.into(), segment.as_str().into(), customer.into()])
                .map_err(|error| DbErr::Custom(error.to_string()))?;
        }
        db.execute(&statement).await?;
    }
    Ok(())
}

/// Forgets every membership of `customer`.
pub async fn remove_customer<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    customer: &str,
) -> Result<(), DbErr> {
    let statement = Query::delete()
        .from_table(ident("segment_members"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("customer_id")).eq(customer))
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

fn active_members(tenant: Uuid, segment: &str) -> SelectStatement {
    Query::select()
        .column(ident("customer_id"))
        .from(ident("segment_members"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("segment_id")).eq(segment))
        .to_owned()
}

/// ACTIVE members per segment id.
pub async fn member_counts<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
) -> Result<HashMap<String, i64>, DbErr> {
    let active = Query::select()
        .column(ident("id"))
        .from(ident("customers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("state")).eq(CustomerState::Active as i32))
        .to_owned();
    let statement = Query::select()
        .column(ident("segment_id"))
        .expr_as(Expr::col(ident("customer_id")).count(), ident("members"))
        .from(ident("segment_members"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("customer_id")).in_subquery(active))
        .group_by_col(ident("segment_id"))
        .to_owned();
    let mut counts = HashMap::new();
    for row in db.query_all(&statement).await? {
        let segment: String = row.try_get("", "segment_id")?;
        let members: i64 = row.try_get("", "members")?;
        counts.insert(segment, members);
    }
    Ok(counts)
}

/// One page of the ACTIVE customers in `segment` with ids after `after`,
/// by id, at most `limit`.
pub async fn members_page<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    segment: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Stored>, DbErr> {
    let mut statement = customers::select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("state")).eq(CustomerState::Active as i32))
        .and_where(Expr::col(ident("id")).in_subquery(active_members(tenant, segment)))
        .order_by(ident("id"), Order::Asc)
        .limit(limit as u64)
        .to_owned();
    if let Some(after) = after {
        statement.and_where(Expr::col(ident("id")).gt(after));
    }
    db.query_all(&statement)
        .await?
        .iter()
        .map(customers::from_row)
        .collect()
}

/// One batch of the ACTIVE customers of `tenant` with ids after `after`,
/// by id, at most `limit`, narrowed by `conditions` (column, value) that
/// must be equal.
pub async fn active_batch<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    after: Option<&str>,
    limit: usize,
    conditions: &[(&'static str, Value)],
) -> Result<Vec<Stored>, DbErr> {
    let mut statement = customers::select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("state")).eq(CustomerState::Active as i32))
        .order_by(ident("id"), Order::Asc)
        .limit(limit as u64)
        .to_owned();
    for (column, value) in conditions {
        statement.and_where(Expr::col(ident(column)).eq(Expr::val(value.clone())));
    }
    if let Some(after) = after {
        statement.and_where(Expr::col(ident("id")).gt(after));
    }
    db.query_all(&statement)
        .await?
        .iter()
        .map(customers::from_row)
        .collect()
}

/// Rewrites the derived fields of customer `id` (its tier, segments and
/// attribute validity, already set in `customer`) in place, if its revision
/// is still `revision` (when given): derived fields are not the caller's
/// edits, so they leave the etag alone. False when the customer changed
/// meanwhile (that write derived the fields itself).
pub async fn write_derived<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
    revision: Option<i64>,
    customer: &Customer,
) -> Result<bool, DbErr> {
    let mut stored = customer.clone();
    stored.etag.clear();
    let tier = customer
        .tier
        .strip_prefix("tiers/")
        .unwrap_or(&customer.tier);
    let tier: Value = if tier.is_empty() {
        Option::<String>::None.into()
    } else {
        Some(tier.to_owned()).into()
    };
    let mut statement = Query::update()
        .table(ident("customers"))
        .value(ident("tier"), tier)
        .value(ident("resource"), stored.encode_to_vec())
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    if let Some(revision) = revision {
        statement.and_where(Expr::col(ident("revision")).eq(revision));
    }
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}
