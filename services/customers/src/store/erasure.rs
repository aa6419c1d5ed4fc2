//! Erasure records (`erasure_records`, never deleted, no personal data) and
//! which record erased each customer (`erased_customers`).

use chrono::{DateTime, Utc};
use kefu_proto::v1::{ErasureRecord, ErasureRequester};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbErr, QueryResult,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};
use uuid::Uuid;

use super::{
    ident,
    merges::{After, count, filter, page},
};
use crate::domain::merge::Condition;

fn decode(row: &QueryResult) -> Result<ErasureRecord, DbErr> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    ErasureRecord::decode(bytes.as_slice()).map_err(|error| DbErr::Custom(error.to_string()))
}

fn select() -> SelectStatement {
    Query::select()
        .columns([ident("id"), ident("resource"), ident("create_time")])
        .from(ident("erasure_records"))
        .to_owned()
}

/// Inserts the erasure record `id` of customer `customer_id`, and marks
/// every customer in `erased` as erased by it.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    customer_id: &str,
    record: &ErasureRecord,
    erased: &[String],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let statement = Query::insert()
        .into_table(ident("erasure_records"))
        .columns([
            ident("tenant_id"),
            ident("id"),
            ident("customer_id"),
            ident("requested_by"),
            ident("resource"),
            ident("create_time"),
        ])
        .values([
            tenant.into(),
            id.into(),
            customer_id.into(),
            record.requested_by.into(),
            record.encode_to_vec().into(),
            now.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await?;
    for chunk in erased.chunks(500) {
        let mut statement = Query::insert();
        statement.into_table(ident("erased_customers")).columns([
            ident("tenant_id"),
            ident("customer_id"),
            ident("erasure_record_id"),
        ]);
        for customer in chunk {
            statement
                .values([tenant.into(), customer.as_str().into(), id.into()])
                .map_err(|error| DbErr::Custom(error.to_string()))?;
        }
        db.execute(&statement).await?;
    }
    Ok(())
}

/// The erasure record `id`.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<ErasureRecord>, DbErr> {
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    db.query_one(&statement)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// The record that erased customer `customer_id`, if one did.
pub async fn of_customer<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    customer_id: &str,
) -> Result<Option<ErasureRecord>, DbErr> {
    let erased = Query::select()
        .column(ident("erasure_record_id"))
        .from(ident("erased_customers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("customer_id")).eq(customer_id))
        .to_owned();
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).in_subquery(erased))
        .to_owned();
    db.query_one(&statement)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// A page of erasure records matching `conditions`, newest first, with the
/// next page's key and the total count.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    conditions: &[Condition],
    after: Option<&After>,
    limit: usize,
) -> Result<(Vec<ErasureRecord>, Option<After>, i64), DbErr> {
    let mut statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .to_owned();
    filter(&mut statement, conditions, |condition| {
        match condition.field.as_str() {
            "customer" => {
                let id = super::customers::id_of(&condition.value)?;
                Some(("customer_id", id.to_owned().into()))
            }
            "requested_by" => {
                let requester =
                    ErasureRequester::from_str_name(&condition.value).or_else(|| {
                        ErasureRequester::from_str_name(&format!(
                            "ERASURE_REQUESTER_{}",
                            condition.value
                        ))
                    })?;
                Some(("requested_by", (requester as i32).into()))
            }
            _ => Some(("create_time", condition.time?.into())),
        }
    });
    let total = count(db, statement.clone()).await?;
    let (rows, next) = page(db, statement, after, limit).await?;
    let records = rows.iter().map(decode).collect::<Result<_, _>>()?;
    Ok((records, next, total))
}
