//! The activity timeline: one row per entry, the encoded
//! `kefu.v1.CustomerActivity` beside the columns lists filter and order on,
//! and the producer of the event it came from (DeleteCustomer refuses a
//! customer another service has referenced).

use chrono::{DateTime, Utc};
use kefu_proto::v1::CustomerActivity;
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbErr,
    sea_query::{Expr, ExprTrait, Order, Query},
};
use uuid::Uuid;

use super::{
    ident,
    ownership::{Clause, Cursor, apply},
};

/// Where an entry came from: this service's own events or calls.
pub const OWN: &str = "customers";

/// Stores entry `id` of customer `customer_id`, from `producer`'s event;
/// its times are the activity's `occur_time` and `create_time`.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    customer_id: &str,
    id: &str,
    activity: &CustomerActivity,
    producer: &str,
) -> Result<(), DbErr> {
    let (occur_time, create_time) = times(activity)?;
    let statement = Query::insert()
        .into_table(ident("customer_activities"))
        .columns([
            ident("tenant_id"),
            ident("id"),
            ident("customer_id"),
            ident("kind"),
            ident("occur_time"),
            ident("source"),
            ident("producer"),
            ident("resource"),
            ident("create_time"),
        ])
        .values([
            tenant.into(),
            id.into(),
            customer_id.into(),
            activity.kind.into(),
            occur_time.into(),
            activity.source.as_str().into(),
            producer.into(),
            activity.encode_to_vec().into(),
            create_time.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Stores many entries `(customer id, entry id, activity)` from
/// `producer`'s events with multi-row INSERTs (a bulk import records one
/// entry per new customer in its batch transaction).
pub async fn insert_many<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    rows: &[(String, String, CustomerActivity)],
    producer: &str,
) -> Result<(), DbErr> {
    // 9 values a row: far below the bind-parameter limits of PostgreSQL
    // (65,535) and SQLite (32,766).
    const ROWS_PER_INSERT: usize = 1000;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut statement = Query::insert();
        statement.into_table(ident("customer_activities")).columns([
            ident("tenant_id"),
            ident("id"),
            ident("customer_id"),
            ident("kind"),
            ident("occur_time"),
            ident("source"),
            ident("producer"),
            ident("resource"),
            ident("create_time"),
        ]);
        for (customer_id, id, activity) in chunk {
            let (occur_time, create_time) = times(activity)?;
            statement
                .values([
                    tenant.into(),
                    id.as_str().into(),
                    customer_id.as_str().into(),
                    activity.kind.into(),
                    occur_time.into(),
                    activity.source.as_str().into(),
                    producer.into(),
                    activity.encode_to_vec().into(),
                    create_time.into(),
                ])
                .map_err(|error| DbErr::Custom(error.to_string()))?;
        }
        db.execute(&statement).await?;
    }
    Ok(())
}

/// An activity's `occur_time` and `create_time`, which every stored entry
/// has.
fn times(activity: &CustomerActivity) -> Result<(DateTime<Utc>, DateTime<Utc>), DbErr> {
    let time = |timestamp: &Option<prost_types::Timestamp>| -> Result<DateTime<Utc>, DbErr> {
        timestamp
            .as_ref()
            .and_then(kefu_kit::events::from_timestamp)
            .ok_or_else(|| DbErr::Custom("an activity needs its times".into()))
    };
    Ok((time(&activity.occur_time)?, time(&activity.create_time)?))
}

/// One page of customer `customer_id`'s entries (every customer's with
/// `None`), newest first, and the cursor of the next page when more follow.
/// Names are rebuilt from the row, so entries moved by a merge carry their
/// current customer.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    customer_id: Option<&str>,
    clauses: &[Clause],
    after: Option<&Cursor>,
    limit: usize,
) -> Result<(Vec<CustomerActivity>, Option<Cursor>), DbErr> {
    let mut statement = Query::select()
        .columns([
            ident("id"),
            ident("customer_id"),
            ident("resource"),
            ident("occur_time"),
        ])
        .from(ident("customer_activities"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .to_owned();
    if let Some(customer_id) = customer_id {
        statement.and_where(Expr::col(ident("customer_id")).eq(customer_id));
    }
    apply(&mut statement, clauses);
    if let Some(after) = after {
        statement.cond_where(after.condition("occur_time", true));
    }
    statement
        .order_by(ident("occur_time"), Order::Desc)
        .order_by(ident("id"), Order::Desc)
        .limit(limit as u64 + 1);
    let rows = db.query_all(&statement).await?;
    let mut page = Vec::with_capacity(limit.min(rows.len()));
    let mut last = None;
    for row in rows.iter().take(limit) {
        let bytes: Vec<u8> = row.try_get("", "resource")?;
        let mut activity = CustomerActivity::decode(bytes.as_slice())
            .map_err(|error| DbErr::Custom(error.to_string()))?;
        let id: String = row.try_get("", "id")?;
        let owner: String = row.try_get("", "customer_id")?;
        activity.name = format!("customers/{owner}/activities/{id}");
        let time = activity
            .occur_time
            .as_ref()
            .and_then(kefu_kit::events::from_timestamp)
            .ok_or_else(|| DbErr::Custom("activity without a time".into()))?;
        last = Some(Cursor::new(time, id));
        page.push(activity);
    }
    let next = if rows.len() > limit { last } else { None };
    Ok((page, next))
}

/// Whether customer `customer_id`'s timeline holds an entry that came from
/// another service's event.
pub async fn referenced<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    customer_id: &str,
) -> Result<bool, DbErr> {
    let statement = Query::select()
        .column(ident("id"))
        .from(ident("customer_activities"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("customer_id")).eq(customer_id))
        .and_where(Expr::col(ident("producer")).ne(OWN))
        .limit(1)
        .to_owned();
    Ok(db.query_one(&statement).await?.is_some())
}
