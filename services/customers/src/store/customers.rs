//! Customer records: the encoded `kefu.v1.Customer` beside the columns that
//! are filtered, ordered and unique, and the look-up rows (phones, e-mails,
//! identifiers, tags, name keys) of ACTIVE customers.

use chrono::{DateTime, Utc};
use kefu_kit::{events::from_timestamp, resource};
use kefu_proto::v1::{Customer, CustomerState};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, QueryResult, Value,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};
use uuid::Uuid;

use super::ident;
use crate::domain::customer::{IdentifierKey, LookupKeys, sort_key};

/// A stored customer and its revision (its etag is filled in).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The customer as the API returns it.
    pub customer: Customer,
    /// Its revision.
    pub revision: i64,
}

/// The id of a customer within its tenant, from `customers/{id}`.
pub fn id_of(name: &str) -> Option<&str> {
    resource::id_in(name, "customers")
}

/// The columns every read selects.
pub(crate) fn select() -> SelectStatement {
    Query::select()
        .columns([ident("id"), ident("resource"), ident("revision")])
        .from(ident("customers"))
        .to_owned()
}

/// A row of [`select`] as a customer.
pub(crate) fn from_row(row: &QueryResult) -> Result<Stored, DbErr> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    let revision: i64 = row.try_get("", "revision")?;
    let mut customer =
        Customer::decode(bytes.as_slice()).map_err(|error| DbErr::Custom(error.to_string()))?;
    customer.etag = resource::etag(revision);
    Ok(Stored { customer, revision })
}

/// The customer `id` of `tenant`, if it exists. With `for_update` the row
/// stays locked until the transaction ends (PostgreSQL; SQLite writers are
/// serialised by the transaction itself).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
    for_update: bool,
) -> Result<Option<Stored>, DbErr> {
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

/// The customers `ids` of `tenant` that exist, in no particular order.
pub async fn get_many<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    ids: &[String],
) -> Result<Vec<Stored>, DbErr> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let statement = select()
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident("id")).is_in(chunk.iter().cloned()))
            .to_owned();
        for row in db.query_all(&statement).await? {
            found.push(from_row(&row)?);
        }
    }
    Ok(found)
}

/// The column values derived from `customer` (its output-only fields
/// included), and the encoded resource.
pub(crate) fn columns(customer: &Customer, revision: i64) -> Vec<(&'static str, Value)> {
    let mut stored = customer.clone();
    stored.etag = String::new();
    let time = |timestamp: &Option<prost_types::Timestamp>| -> Value {
        timestamp.as_ref().and_then(from_timestamp).into()
    };
    let non_empty = |text: &str| -> Value {
        if text.is_empty() {
            Option::<String>::None.into()
        } else {
            Some(text.to_owned()).into()
        }
    };
    let tier = customer
        .tier
        .strip_prefix("tiers/")
        .unwrap_or(&customer.tier);
    let merged_into = customer
        .merged_into
        .strip_prefix("customers/")
        .unwrap_or(&customer.merged_into);
    vec![
        ("state", customer.state.into()),
        ("display_name", customer.display_name.clone().into()),
        ("sort_key", sort_key(customer).into()),
        ("member", customer.member.into()),
        ("tier", non_empty(tier)),
        ("tier_locked", customer.tier_locked.into()),
        ("owner", non_empty(&customer.owner)),
        ("owner_assign_time", time(&customer.owner_assign_time)),
        (
            "first_contact_due_time",
            time(&customer.first_contact_due_time),
        ),
        ("first_contact_time", time(&customer.first_contact_time)),
        ("external_id", non_empty(&customer.external_id)),
        ("merged_into", non_empty(merged_into)),
        (
            "contribution_minor",
            customer
                .contribution
                .as_ref()
                .map_or(0, |money| money.amount_minor)
                .into(),
        ),
        (
            "asset_size_minor",
            customer
                .asset_size
                .as_ref()
                .map_or(0, |money| money.amount_minor)
                .into(),
        ),
        ("resource", stored.encode_to_vec().into()),
        ("revision", revision.into()),
        ("update_time", time(&customer.update_time)),
    ]
}

/// Inserts `customer` (named `customers/{id}`) at revision 1; a taken id or
/// external id is a unique violation.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
    customer: &Customer,
    create_time: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut names = vec![ident("tenant_id"), ident("id"), ident("create_time")];
    let mut values: Vec<Expr> = vec![tenant.into(), id.into(), create_time.into()];
    for (column, value) in columns(customer, 1) {
        names.push(ident(column));
        values.push(Expr::val(value));
    }
    let statement = Query::insert()
        .into_table(ident("customers"))
        .columns(names)
        .values(values)
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Replaces customer `id` if its revision is still `expected`, setting the
/// revision to `expected + 1`; false when stale or gone.
pub async fn replace<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
    expected: i64,
    customer: &Customer,
) -> Result<bool, DbErr> {
    let mut statement = Query::update();
    statement.table(ident("customers"));
    for (column, value) in columns(customer, expected + 1) {
        statement.value(ident(column), value);
    }
    statement
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).eq(id))
        .and_where(Expr::col(ident("revision")).eq(expected));
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// Deletes customer `id` and its look-up rows; false when it did not exist.
pub async fn delete<C: ConnectionTrait>(db: &C, tenant: Uuid, id: &str) -> Result<bool, DbErr> {
    delete_lookups(db, tenant, id).await?;
    let statement = Query::delete()
        .from_table(ident("customers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// The look-up tables and their value column.
const LOOKUPS: &[(&str, &str)] = &[
    ("customer_name_keys", "name_key"),
    ("customer_phones", "e164"),
    ("customer_emails", "email"),
    ("customer_tags", "tag"),
];

/// Removes every look-up row of customer `id`: it is found by no search
/// (identifiers included: they are released).
pub async fn delete_lookups<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
) -> Result<(), DbErr> {
    for table in LOOKUPS
        .iter()
        .map(|(table, _)| *table)
        .chain(["customer_identifiers"])
    {
        let statement = Query::delete()
            .from_table(ident(table))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident("customer_id")).eq(id))
            .to_owned();
        db.execute(&statement).await?;
    }
    Ok(())
}

/// Replaces the look-up rows of customer `id` with `keys`. Identifiers
/// another customer holds are a unique violation (check first with
/// [`identifier_holders`] to name them).
pub async fn replace_lookups<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
    keys: &LookupKeys,
) -> Result<(), DbErr> {
    delete_lookups(db, tenant, id).await?;
    let sets: [(&str, &str, &[String]); 4] = [
        ("customer_name_keys", "name_key", &keys.names),
        ("customer_phones", "e164", &keys.phones),
        ("customer_emails", "email", &keys.emails),
        ("customer_tags", "tag", &keys.tags),
    ];
    for (table, column, values) in sets {
        let mut values: Vec<&String> = values.iter().collect();
        values.sort();
        values.dedup();
        if values.is_empty() {
            continue;
        }
        let mut statement = Query::insert();
        statement.into_table(ident(table)).columns([
            ident("tenant_id"),
            ident(column),
            ident("customer_id"),
        ]);
        for value in values {
            statement
                .values([tenant.into(), value.as_str().into(), id.into()])
                .map_err(|error| DbErr::Custom(error.to_string()))?;
        }
        db.execute(&statement).await?;
    }
    if !keys.identifiers.is_empty() {
        let mut statement = Query::insert();
        statement
            .into_table(ident("customer_identifiers"))
            .columns([
                ident("tenant_id"),
                ident("kind"),
                ident("label_key"),
                ident("value_key"),
                ident("customer_id"),
            ]);
        for key in &keys.identifiers {
            statement
                .values([
                    tenant.into(),
                    key.kind.into(),
                    key.label_key.as_str().into(),
                    key.value_key.as_str().into(),
                    id.into(),
                ])
                .map_err(|error| DbErr::Custom(error.to_string()))?;
        }
        db.execute(&statement).await?;
    }
    Ok(())
}

/// Which customers other than `except` hold any of `keys`: (key, customer id).
pub async fn identifier_holders<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    keys: &[IdentifierKey],
    except: &str,
) -> Result<Vec<(IdentifierKey, String)>, DbErr> {
    let mut held = Vec::new();
    for key in keys {
        let statement = Query::select()
            .column(ident("customer_id"))
            .from(ident("customer_identifiers"))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident("kind")).eq(key.kind))
            .and_where(Expr::col(ident("label_key")).eq(key.label_key.as_str()))
            .and_where(Expr::col(ident("value_key")).eq(key.value_key.as_str()))
            .and_where(Expr::col(ident("customer_id")).ne(except))
            .to_owned();
        if let Some(row) = db.query_one(&statement).await? {
            held.push((key.clone(), row.try_get("", "customer_id")?));
        }
    }
    Ok(held)
}

/// The customer other than `except` whose external id is `external_id`.
pub async fn external_id_holder<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    external_id: &str,
    except: &str,
) -> Result<Option<String>, DbErr> {
    let statement = Query::select()
        .column(ident("id"))
        .from(ident("customers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("external_id")).eq(external_id))
        .and_where(Expr::col(ident("id")).ne(except))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => Ok(Some(row.try_get("", "id")?)),
        None => Ok(None),
    }
}

/// Whether `state` is ACTIVE.
pub fn is_active(customer: &Customer) -> bool {
    customer.state == CustomerState::Active as i32
}
