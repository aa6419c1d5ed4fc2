//! The copy of the customers' segment memberships
//! (`callback_segment_members`), kept from CustomerCreated and
//! CustomerSegmentMembershipChanged: who a campaign over a saved segment
//! targets, and which customers a policy's `customer_segment` admits.
//! Segments are named `segments/{segment}` as the customers service names
//! them.
//!
//! A row with an empty `customer` records that the segment exists (from
//! SegmentChanged), so a campaign may target a segment nobody is in yet;
//! the member look-ups never read it (no customer has an empty name).
//!
//! The events arrive out of order, and a membership change tells only the
//! segments entered and left: each (segment, customer) row keeps whether
//! the customer is in (`present`) as of the latest event that named that
//! segment (`change_time`), and leaving keeps the row (not present), so an
//! older event naming the segment changes nothing.

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, rows::ident};
use kefu_proto::v1::CustomerState;
use sea_orm::{
    ConnectionTrait, DbErr,
    sea_query::{Expr, ExprTrait, Func, OnConflict, Order, Query},
};

use crate::error::Result;

const TABLE: &str = "callback_segment_members";

/// Records, as of `time`, whether `customer` is in `segment`, unless a
/// later event already told it; true when the customer was not in it
/// before and is now.
async fn set<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    segment: &str,
    customer: &str,
    present: bool,
    time: DateTime<Utc>,
) -> Result<bool> {
    let statement = Query::select()
        .columns([ident("present"), ident("change_time")])
        .from(ident(TABLE))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("segment")).eq(segment))
        .and_where(Expr::col(ident("customer")).eq(customer))
        .to_owned();
    let was_present = match db.query_one(&statement).await? {
        Some(row) => {
            let changed: Option<DateTime<Utc>> = row.try_get("", "change_time")?;
            if changed.is_some_and(|changed| changed > time) {
                return Ok(false);
            }
            row.try_get::<bool>("", "present")?
        }
        None => false,
    };
    let statement = Query::insert()
        .into_table(ident(TABLE))
        .columns([
            ident("tenant_id"),
            ident("segment"),
            ident("customer"),
            ident("present"),
            ident("change_time"),
        ])
        .values([
            tenant.0.into(),
            segment.into(),
            customer.into(),
            present.into(),
            time.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::columns([ident("tenant_id"), ident("segment"), ident("customer")])
                .update_columns([ident("present"), ident("change_time")])
                .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await?;
    Ok(present && !was_present)
}

/// Records that `customer` belongs to each of `segments` as of `time`
/// (the event's); a segment a later event named is left as that event
/// said. Answers the segments the customer newly entered.
pub async fn enter<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    customer: &str,
    segments: &[String],
    time: DateTime<Utc>,
) -> Result<Vec<String>> {
    let mut entered = Vec::new();
    for segment in segments {
        if set(db, tenant, segment, customer, true, time).await? {
            entered.push(segment.clone());
        }
    }
    Ok(entered)
}

/// Records that `customer` left each of `segments` as of `time`; a
/// segment a later event named is left as that event said.
pub async fn leave<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    customer: &str,
    segments: &[String],
    time: DateTime<Utc>,
) -> Result<()> {
    for segment in segments {
        set(db, tenant, segment, customer, false, time).await?;
    }
    Ok(())
}

/// Drops every membership of `customer` (erased, or merged into another).
pub async fn remove_customer<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    customer: &str,
) -> Result<()> {
    let statement = Query::delete()
        .from_table(ident(TABLE))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("customer")).eq(customer))
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}

/// The segments `customer` belongs to, by name.
pub async fn of_customer<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    customer: &str,
) -> Result<Vec<String>> {
    let statement = Query::select()
        .column(ident("segment"))
        .from(ident(TABLE))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("customer")).eq(customer))
        .and_where(Expr::col(ident("present")).eq(true))
        .order_by(ident("segment"), Order::Asc)
        .to_owned();
    let rows = db.query_all(&statement).await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get::<String>("", "segment"))
        .collect::<Result<Vec<_>, _>>()?)
}

/// Whether `customer` belongs to `segment`.
pub async fn contains<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    segment: &str,
    customer: &str,
) -> Result<bool> {
    let statement = Query::select()
        .expr_as(Func::count(Expr::col(ident("customer"))), ident("count"))
        .from(ident(TABLE))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("segment")).eq(segment))
        .and_where(Expr::col(ident("customer")).eq(customer))
        .and_where(Expr::col(ident("present")).eq(true))
        .to_owned();
    let count: i64 = match db.query_one(&statement).await? {
        Some(row) => row.try_get("", "count")?,
        None => 0,
    };
    Ok(count > 0)
}

/// The customer of the row recording that a segment exists.
const EXISTS: &str = "";

/// Records that `segment` exists (created in the customers service at
/// `time`).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    segment: &str,
    time: DateTime<Utc>,
) -> Result<()> {
    set(db, tenant, segment, EXISTS, true, time).await?;
    Ok(())
}

/// Records that `segment` was deleted at `time`; its members leave it with
/// their own events.
pub async fn forget<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    segment: &str,
    time: DateTime<Utc>,
) -> Result<()> {
    set(db, tenant, segment, EXISTS, false, time).await?;
    Ok(())
}

/// Whether `segment` is known here: its creation was seen, or a customer
/// is in it (a segment never seen in an event is unknown).
pub async fn is_known<C: ConnectionTrait>(db: &C, tenant: TenantId, segment: &str) -> Result<bool> {
    let statement = Query::select()
        .column(ident("customer"))
        .from(ident(TABLE))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("segment")).eq(segment))
        .and_where(Expr::col(ident("present")).eq(true))
        .limit(1)
        .to_owned();
    Ok(db.query_one(&statement).await?.is_some())
}

/// The live (ACTIVE) customers of `segment`, by name.
pub async fn members<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    segment: &str,
) -> Result<Vec<String>> {
    let statement = Query::select()
        .column((ident(TABLE), ident("customer")))
        .from(ident(TABLE))
        .inner_join(
            ident("callback_customers"),
            Expr::col((ident("callback_customers"), ident("tenant_id")))
                .equals((ident(TABLE), ident("tenant_id")))
                .and(
                    Expr::col((ident("callback_customers"), ident("name")))
                        .equals((ident(TABLE), ident("customer"))),
                ),
        )
        .and_where(Expr::col((ident(TABLE), ident("tenant_id"))).eq(tenant.0))
        .and_where(Expr::col((ident(TABLE), ident("segment"))).eq(segment))
        .and_where(Expr::col((ident(TABLE), ident("present"))).eq(true))
        .and_where(
            Expr::col((ident("callback_customers"), ident("state")))
                .eq(CustomerState::Active as i32),
        )
        .order_by((ident(TABLE), ident("customer")), Order::Asc)
        .to_owned();
    let rows = db.query_all(&statement).await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get::<String>("", "customer"))
        .collect::<Result<Vec<_>, _>>()?)
}
