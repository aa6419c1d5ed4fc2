//! The tenant's custom attribute schema: one encoded
//! `kefu.v1.CustomerAttributeSchema` per tenant.

use chrono::{DateTime, Utc};
use kefu_proto::v1::CustomerAttributeSchema;
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::ident;

/// The stored schema of `tenant` and its revision, if one was ever written.
/// With `for_update` the row stays locked until the transaction ends
/// (PostgreSQL).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    for_update: bool,
) -> Result<Option<(CustomerAttributeSchema, i64)>, DbErr> {
    let mut statement = Query::select()
        .columns([ident("resource"), ident("revision")])
        .from(ident("customer_attribute_schemas"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .to_owned();
    if for_update && db.get_database_backend() == DbBackend::Postgres {
        statement.lock_exclusive();
    }
    let Some(row) = db.query_one(&statement).await? else {
        return Ok(None);
    };
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    let revision: i64 = row.try_get("", "revision")?;
    let schema = CustomerAttributeSchema::decode(bytes.as_slice())
        .map_err(|error| DbErr::Custom(error.to_string()))?;
    Ok(Some((schema, revision)))
}

/// Stores `schema` as revision `revision` (1: the first, inserted; else it
/// replaces revision `revision - 1`); false when the stored revision moved.
pub async fn put<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    schema: &CustomerAttributeSchema,
    revision: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut stored = schema.clone();
    stored.etag.clear();
    let resource = stored.encode_to_vec();
    if revision == 1 {
        let statement = Query::insert()
            .into_table(ident("customer_attribute_schemas"))
            .columns([
                ident("tenant_id"),
                ident("resource"),
                ident("revision"),
                ident("update_time"),
            ])
            .values([tenant.into(), resource.into(), revision.into(), now.into()])
            .map_err(|error| DbErr::Custom(error.to_string()))?
            .to_owned();
        return match db.execute(&statement).await {
            Ok(_) => Ok(true),
            Err(error) if kefu_kit::db::is_unique_violation(&error) => Ok(false),
            Err(error) => Err(error),
        };
    }
    let statement = Query::update()
        .table(ident("customer_attribute_schemas"))
        .value(ident("resource"), resource)
        .value(ident("revision"), revision)
        .value(ident("update_time"), now)
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("revision")).eq(revision - 1))
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}
