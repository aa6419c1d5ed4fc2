//! The batched path of imports: the look-ups that match a batch of rows to
//! stored customers in a few `IN (…)` queries, and multi-row INSERTs of new
//! customers and their look-up rows. The same tables and columns as
//! [`super::customers`]; one statement per table and chunk instead of
//! several per customer, which is what makes 1,000 rows a transaction
//! affordable.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use kefu_proto::v1::Customer;
use sea_orm::{
    ConnectionTrait, DbErr,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::{customers, ident};
use crate::domain::customer::{IdentifierKey, LookupKeys};

/// Values per `IN (…)` list.
const IN_CHUNK: usize = 500;
/// Customers per multi-row INSERT (about 20 values each: far below the
/// bind-parameter limits of PostgreSQL, 65,535, and SQLite, 32,766).
const CUSTOMERS_PER_INSERT: usize = 500;
/// Look-up rows per multi-row INSERT (3 values each, 15,000 in all;
/// identifiers, 5 values each, go half as many at a time).
const LOOKUPS_PER_INSERT: usize = 5000;

/// Who holds the keys of a batch of rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holders {
    /// External id → customer id.
    pub external_ids: HashMap<String, String>,
    /// Identifier → customer id (ACTIVE or MERGED: identifiers stay
    /// reserved while merged).
    pub identifiers: HashMap<IdentifierKey, String>,
    /// E.164 phone → ACTIVE customer ids holding it, in id order.
    pub phones: HashMap<String, Vec<String>>,
    /// Lowercase e-mail → ACTIVE customer ids holding it, in id order.
    pub emails: HashMap<String, Vec<String>>,
}

/// The holders of `external_ids`, `identifiers`, `phones` and `emails`.
pub async fn holders<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    external_ids: &BTreeSet<String>,
    identifiers: &BTreeSet<IdentifierKey>,
    phones: &BTreeSet<String>,
    emails: &BTreeSet<String>,
) -> Result<Holders, DbErr> {
    let mut found = Holders::default();
    let external_ids: Vec<&String> = external_ids.iter().collect();
    for chunk in external_ids.chunks(IN_CHUNK) {
        let statement = Query::select()
            .columns([ident("id"), ident("external_id")])
            .from(ident("customers"))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident("external_id")).is_in(chunk.iter().map(|v| v.as_str())))
            .to_owned();
        for row in db.query_all(&statement).await? {
            found
                .external_ids
                .insert(row.try_get("", "external_id")?, row.try_get("", "id")?);
        }
    }
    let keys: Vec<&IdentifierKey> = identifiers.iter().collect();
    for chunk in keys.chunks(IN_CHUNK) {
        let kinds: BTreeSet<i32> = chunk.iter().map(|key| key.kind).collect();
        let labels: BTreeSet<&str> = chunk.iter().map(|key| key.label_key.as_str()).collect();
        let statement = Query::select()
            .columns([
                ident("kind"),
                ident("label_key"),
                ident("value_key"),
                ident("customer_id"),
            ])
            .from(ident("customer_identifiers"))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident("kind")).is_in(kinds))
            .and_where(Expr::col(ident("label_key")).is_in(labels))
            .and_where(
                Expr::col(ident("value_key")).is_in(chunk.iter().map(|key| key.value_key.as_str())),
            )
            .to_owned();
        for row in db.query_all(&statement).await? {
            let key = IdentifierKey {
                kind: row.try_get("", "kind")?,
                label_key: row.try_get("", "label_key")?,
                value_key: row.try_get("", "value_key")?,
            };
            // The IN lists cross kinds and values: keep only asked keys.
            if identifiers.contains(&key) {
                found
                    .identifiers
                    .insert(key, row.try_get("", "customer_id")?);
            }
        }
    }
    for (table, column, values, into) in [
        ("customer_phones", "e164", phones, &mut found.phones),
        ("customer_emails", "email", emails, &mut found.emails),
    ] {
        let values: Vec<&String> = values.iter().collect();
        for chunk in values.chunks(IN_CHUNK) {
            let statement = Query::select()
                .columns([ident(column), ident("customer_id")])
                .from(ident(table))
                .and_where(Expr::col(ident("tenant_id")).eq(tenant))
                .and_where(Expr::col(ident(column)).is_in(chunk.iter().map(|v| v.as_str())))
                .to_owned();
            for row in db.query_all(&statement).await? {
                into.entry(row.try_get("", column)?)
                    .or_default()
                    .push(row.try_get("", "customer_id")?);
            }
        }
        for ids in into.values_mut() {
            ids.sort();
        }
    }
    Ok(found)
}

/// Inserts new customers, each `(id, customer)` at revision 1 created at
/// `now`; a taken id or external id is a unique violation.
pub async fn insert_customers<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    rows: &[(String, Customer)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in rows.chunks(CUSTOMERS_PER_INSERT) {
        let mut statement = Query::insert();
        statement.into_table(ident("customers"));
        let mut named = false;
        for (id, customer) in chunk {
            let columns = customers::columns(customer, 1);
            if !named {
                let mut names = vec![ident("tenant_id"), ident("id"), ident("create_time")];
                names.extend(columns.iter().map(|(column, _)| ident(column)));
                statement.columns(names);
                named = true;
            }
            let mut values: Vec<Expr> = vec![tenant.into(), id.as_str().into(), now.into()];
            values.extend(columns.into_iter().map(|(_, value)| Expr::val(value)));
            statement
                .values(values)
                .map_err(|error| DbErr::Custom(error.to_string()))?;
        }
        db.execute(&statement).await?;
    }
    Ok(())
}

/// Picks one kind of look-up value out of a customer's keys.
type KeysOf = fn(&LookupKeys) -> &Vec<String>;

/// Inserts the look-up rows of new customers (`(id, keys)`), which have
/// none yet. Identifiers another customer holds are a unique violation
/// (checked before with [`holders`]).
pub async fn insert_lookups<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    rows: &[(String, LookupKeys)],
) -> Result<(), DbErr> {
    let sets: [(&str, &str, KeysOf); 4] = [
        ("customer_name_keys", "name_key", |keys| &keys.names),
        ("customer_phones", "e164", |keys| &keys.phones),
        ("customer_emails", "email", |keys| &keys.emails),
        ("customer_tags", "tag", |keys| &keys.tags),
    ];
    for (table, column, values_of) in sets {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for (id, keys) in rows {
            let mut values: Vec<&String> = values_of(keys).iter().collect();
            values.sort();
            values.dedup();
            pairs.extend(
                values
                    .into_iter()
                    .map(|value| (id.as_str(), value.as_str())),
            );
        }
        for chunk in pairs.chunks(LOOKUPS_PER_INSERT) {
            let mut statement = Query::insert();
            statement.into_table(ident(table)).columns([
                ident("tenant_id"),
                ident(column),
                ident("customer_id"),
            ]);
            for (id, value) in chunk {
                statement
                    .values([tenant.into(), (*value).into(), (*id).into()])
                    .map_err(|error| DbErr::Custom(error.to_string()))?;
            }
            db.execute(&statement).await?;
        }
    }
    let identifiers: Vec<(&str, &IdentifierKey)> = rows
        .iter()
        .flat_map(|(id, keys)| keys.identifiers.iter().map(move |key| (id.as_str(), key)))
        .collect();
    for chunk in identifiers.chunks(LOOKUPS_PER_INSERT / 2) {
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
        for (id, key) in chunk {
            statement
                .values([
                    tenant.into(),
                    key.kind.into(),
                    key.label_key.as_str().into(),
                    key.value_key.as_str().into(),
                    (*id).into(),
                ])
                .map_err(|error| DbErr::Custom(error.to_string()))?;
        }
        db.execute(&statement).await?;
    }
    Ok(())
}

/// Inserts segment memberships `(segment id, customer id)` of new customers.
pub async fn insert_memberships<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    rows: &[(String, String)],
) -> Result<(), DbErr> {
    for chunk in rows.chunks(LOOKUPS_PER_INSERT) {
        let mut statement = Query::insert();
        statement.into_table(ident("segment_members")).columns([
            ident("tenant_id"),
            ident("segment_id"),
            ident("customer_id"),
        ]);
        for (segment, customer) in chunk {
            statement
                .values([
                    tenant.into(),
                    segment.as_str().into(),
                    customer.as_str().into(),
                ])
                .map_err(|error| DbErr::Custom(error.to_string()))?;
        }
        db.execute(&statement).await?;
    }
    Ok(())
}
