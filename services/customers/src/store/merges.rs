//! Merge records (`customer_merges`: the `kefu.v1.CustomerMerge` beside the
//! snapshot undo needs), the rows a merge moves between customers
//! (activities, ownership changes), and the look-up queries that find
//! likely duplicates.

use chrono::{DateTime, Utc};
use kefu_proto::v1::{CustomerMerge, CustomerState};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, QueryResult, Value,
    sea_query::{Expr, ExprTrait, Func, Order, Query, SelectStatement},
};
use uuid::Uuid;

use super::ident;
use crate::domain::merge::{Condition, MergeSnapshot};

fn decode(row: &QueryResult) -> Result<CustomerMerge, DbErr> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    CustomerMerge::decode(bytes.as_slice()).map_err(|error| DbErr::Custom(error.to_string()))
}

fn select() -> SelectStatement {
    Query::select()
        .columns([ident("id"), ident("resource"), ident("create_time")])
        .from(ident("customer_merges"))
        .to_owned()
}

/// Inserts a merge record with its snapshot.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    merge: &CustomerMerge,
    snapshot: &MergeSnapshot,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let id_of = |name: &str| -> Result<String, DbErr> {
        super::customers::id_of(name)
            .map(str::to_owned)
            .ok_or_else(|| DbErr::Custom(format!("a merge names {name}")))
    };
    let (survivor_id, merged_id) = (id_of(&merge.survivor)?, id_of(&merge.merged)?);
    let statement = Query::insert()
        .into_table(ident("customer_merges"))
        .columns([
            ident("tenant_id"),
            ident("id"),
            ident("survivor_id"),
            ident("merged_id"),
            ident("state"),
            ident("resource"),
            ident("snapshot"),
            ident("create_time"),
        ])
        .values([
            tenant.into(),
            id.into(),
            survivor_id.into(),
            merged_id.into(),
            merge.state.into(),
            merge.encode_to_vec().into(),
            snapshot.encode_to_vec().into(),
            now.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// The merge record `id` and its snapshot (`None` once cleared by an
/// erasure). With `for_update` the row stays locked (PostgreSQL).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    for_update: bool,
) -> Result<Option<(CustomerMerge, Option<MergeSnapshot>)>, DbErr> {
    let mut statement = select()
        .column(ident("snapshot"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    if for_update && db.get_database_backend() == DbBackend::Postgres {
        statement.lock_exclusive();
    }
    let Some(row) = db.query_one(&statement).await? else {
        return Ok(None);
    };
    let merge = decode(&row)?;
    let snapshot: Option<Vec<u8>> = row.try_get("", "snapshot")?;
    let snapshot = snapshot
        .filter(|bytes| !bytes.is_empty())
        .map(|bytes| MergeSnapshot::decode(bytes.as_slice()))
        .transpose()
        .map_err(|error| DbErr::Custom(error.to_string()))?;
    Ok(Some((merge, snapshot)))
}

/// Stores a changed merge record (its state and resource).
pub async fn update<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    merge: &CustomerMerge,
) -> Result<(), DbErr> {
    let statement = Query::update()
        .table(ident("customer_merges"))
        .value(ident("state"), merge.state)
        .value(ident("resource"), merge.encode_to_vec())
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Clears the snapshots (personal data) of every merge record involving
/// customer `id`: an erasure leaves nothing of the customer in them.
pub async fn clear_snapshots<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
) -> Result<(), DbErr> {
    let statement = Query::update()
        .table(ident("customer_merges"))
        .value(ident("snapshot"), Option::<Vec<u8>>::None)
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(
            Expr::col(ident("survivor_id"))
                .eq(id)
                .or(Expr::col(ident("merged_id")).eq(id)),
        )
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Where a page of a record list starts: after this create time and id
/// (newest first, then by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    /// The last record's create time as stored.
    pub create_time: DateTime<Utc>,
    /// Its id.
    pub id: Uuid,
}

impl After {
    /// The page token.
    pub fn token(&self) -> String {
        format!(
            "t{}.{}",
            self.create_time.timestamp_nanos_opt().unwrap_or_default(),
            self.id.simple()
        )
    }

    /// The key in a token from [`After::token`].
    pub fn from_token(token: &str) -> Option<Self> {
        let (nanos, id) = token.strip_prefix('t')?.split_once('.')?;
        Some(Self {
            create_time: DateTime::from_timestamp_nanos(nanos.parse().ok()?),
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// Adds a record list's filter conditions to `statement`; `column` maps a
/// condition to its column and bound value (`None`: the condition can hold
/// for no row).
pub(crate) fn filter(
    statement: &mut SelectStatement,
    conditions: &[Condition],
    column: impl Fn(&Condition) -> Option<(&'static str, Value)>,
) {
    for condition in conditions {
        let Some((name, value)) = column(condition) else {
            if condition.operator == "!=" {
                continue;
            }
            statement.and_where(Expr::val(1).eq(0));
            continue;
        };
        let column = Expr::col(ident(name));
        statement.and_where(match condition.operator {
            "!=" => column.ne(value),
            "<" => column.lt(value),
            "<=" => column.lte(value),
            ">" => column.gt(value),
            ">=" => column.gte(value),
            _ => column.eq(value),
        });
    }
}

/// A page of records from `statement` (filtered, not yet ordered), newest
/// first, after `after`; the records' rows and the next page's key.
pub(crate) async fn page<C: ConnectionTrait>(
    db: &C,
    mut statement: SelectStatement,
    after: Option<&After>,
    limit: usize,
) -> Result<(Vec<QueryResult>, Option<After>), DbErr> {
    if let Some(after) = after {
        statement.and_where(
            Expr::col(ident("create_time"))
                .lt(after.create_time)
                .or(Expr::col(ident("create_time"))
                    .eq(after.create_time)
                    .and(Expr::col(ident("id")).gt(after.id))),
        );
    }
    statement
        .order_by(ident("create_time"), Order::Desc)
        .order_by(ident("id"), Order::Asc)
        .limit(limit as u64 + 1);
    let mut rows = db.query_all(&statement).await?;
    let next = if rows.len() > limit {
        rows.truncate(limit);
        match rows.last() {
            Some(row) => Some(After {
                create_time: row.try_get("", "create_time")?,
                id: row.try_get("", "id")?,
            }),
            None => None,
        }
    } else {
        None
    };
    Ok((rows, next))
}

/// How many rows `statement`'s table holds under its filter.
pub(crate) async fn count<C: ConnectionTrait>(
    db: &C,
    mut statement: SelectStatement,
) -> Result<i64, DbErr> {
    statement.clear_selects();
    statement.expr_as(Func::count(Expr::col(ident("id"))), ident("total"));
    match db.query_one(&statement).await? {
        Some(row) => row.try_get("", "total"),
        None => Ok(0),
    }
}

/// A page of merge records matching `conditions`, newest first, with the
/// next page's key and the total count.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    conditions: &[Condition],
    after: Option<&After>,
    limit: usize,
) -> Result<(Vec<CustomerMerge>, Option<After>, i64), DbErr> {
    let mut statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .to_owned();
    filter(&mut statement, conditions, |condition| {
        match condition.field.as_str() {
            "survivor" | "merged" => {
                let id = super::customers::id_of(&condition.value)?;
                let column = if condition.field == "survivor" {
                    "survivor_id"
                } else {
                    "merged_id"
                };
                Some((column, id.to_owned().into()))
            }
            "state" => {
                let state = kefu_proto::v1::CustomerMergeState::from_str_name(&condition.value)
                    .or_else(|| {
                        kefu_proto::v1::CustomerMergeState::from_str_name(&format!(
                            "CUSTOMER_MERGE_STATE_{}",
                            condition.value
                        ))
                    })?;
                Some(("state", (state as i32).into()))
            }
            _ => Some(("create_time", condition.time?.into())),
        }
    });
    let total = count(db, statement.clone()).await?;
    let (rows, next) = page(db, statement, after, limit).await?;
    let merges = rows.iter().map(decode).collect::<Result<_, _>>()?;
    Ok((merges, next, total))
}

/// Moves every row of `table` (`customer_activities`,
/// `customer_ownership_changes`) from customer `from` to customer `to`;
/// the ids moved, so an undo can move exactly those back.
pub async fn move_rows<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    table: &'static str,
    from: &str,
    to: &str,
) -> Result<Vec<String>, DbErr> {
    let statement = Query::select()
        .column(ident("id"))
        .from(ident(table))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("customer_id")).eq(from))
        .order_by(ident("id"), Order::Asc)
        .to_owned();
    let ids = db
        .query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "id"))
        .collect::<Result<Vec<_>, _>>()?;
    if !ids.is_empty() {
        let statement = Query::update()
            .table(ident(table))
            .value(ident("customer_id"), to)
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident("customer_id")).eq(from))
            .to_owned();
        db.execute(&statement).await?;
    }
    Ok(ids)
}

/// Moves the rows `ids` of `table` that customer `from` still holds back to
/// customer `to` (rows since deleted, by an erasure, stay gone).
pub async fn move_back<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    table: &'static str,
    ids: &[String],
    from: &str,
    to: &str,
) -> Result<(), DbErr> {
    for chunk in ids.chunks(500) {
        let statement = Query::update()
            .table(ident(table))
            .value(ident("customer_id"), to)
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident("customer_id")).eq(from))
            .and_where(Expr::col(ident("id")).is_in(chunk.iter().cloned()))
            .to_owned();
        db.execute(&statement).await?;
    }
    Ok(())
}

/// Deletes every row of `table` belonging to customer `id`.
pub async fn delete_rows<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    table: &'static str,
    id: &str,
) -> Result<(), DbErr> {
    let statement = Query::delete()
        .from_table(ident(table))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("customer_id")).eq(id))
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

// ---- Duplicates ----

/// A value shared by more customers than this is a switchboard, a family
/// account or test data, not one person: the tenant-wide scan leaves it
/// out (asking about one customer still reports up to [`MAX_HOLDERS`]).
pub const MAX_GROUP: i64 = 50;

/// At most this many holders of one value are reported for one customer.
pub const MAX_HOLDERS: u64 = 500;

/// Customers other than `except` holding any of `values` in look-up
/// `table` (`customer_phones` by `e164`, `customer_emails` by `email`).
pub async fn holders<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    table: &'static str,
    column: &'static str,
    values: &[String],
    except: &str,
) -> Result<Vec<String>, DbErr> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let statement = Query::select()
        .distinct()
        .column(ident("customer_id"))
        .from(ident(table))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident(column)).is_in(values.iter().cloned()))
        .and_where(Expr::col(ident("customer_id")).ne(except))
        .limit(MAX_HOLDERS)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get("", "customer_id"))
        .collect()
}

/// ACTIVE customers other than `except` whose sort key (pinyin and display
/// name) is `sort_key`: the only ones that can share its display name.
pub async fn same_sort_key<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    sort_key: &str,
    except: &str,
) -> Result<Vec<String>, DbErr> {
    let statement = Query::select()
        .column(ident("id"))
        .from(ident("customers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("state")).eq(CustomerState::Active as i32))
        .and_where(Expr::col(ident("sort_key")).eq(sort_key))
        .and_where(Expr::col(ident("id")).ne(except))
        .limit(MAX_HOLDERS)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get("", "id"))
        .collect()
}

/// Groups of customers sharing one value of look-up `table`'s `column`
/// (2 to [`MAX_GROUP`] customers each), each group's customer ids. The
/// grouping reads only the look-up index `(tenant_id, value, customer_id)`.
pub async fn shared_groups<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    table: &'static str,
    column: &'static str,
    only_active: bool,
) -> Result<Vec<Vec<String>>, DbErr> {
    let id_column = if table == "customers" {
        "id"
    } else {
        "customer_id"
    };
    let mut shared = Query::select()
        .column(ident(column))
        .from(ident(table))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .group_by_col(ident(column))
        .and_having(Expr::col(ident(id_column)).count().gt(1))
        .and_having(Expr::col(ident(id_column)).count().lte(MAX_GROUP))
        .to_owned();
    let mut statement = Query::select()
        .columns([ident(column), ident(id_column)])
        .from(ident(table))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .order_by(ident(column), Order::Asc)
        .order_by(ident(id_column), Order::Asc)
        .to_owned();
    if only_active {
        let active = Expr::col(ident("state")).eq(CustomerState::Active as i32);
        shared.and_where(active.clone());
        statement.and_where(active);
    }
    statement.and_where(Expr::col(ident(column)).in_subquery(shared));
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut current: Option<String> = None;
    for row in db.query_all(&statement).await? {
        let value: String = row.try_get("", column)?;
        let id: String = row.try_get("", id_column)?;
        if current.as_deref() != Some(value.as_str()) {
            groups.push(Vec::new());
            current = Some(value);
        }
        if let Some(group) = groups.last_mut() {
            group.push(id);
        }
    }
    Ok(groups)
}

/// Inserts an ownership change a merge or its undo made (the ownership
/// history's own row shape: `customer_ownership_changes`).
pub async fn insert_ownership_change<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: &str,
    customer_id: &str,
    change: &kefu_proto::v1::OwnershipChange,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let statement = Query::insert()
        .into_table(ident("customer_ownership_changes"))
        .columns([
            ident("tenant_id"),
            ident("id"),
            ident("customer_id"),
            ident("previous_owner"),
            ident("new_owner"),
            ident("kind"),
            ident("create_time"),
            ident("resource"),
        ])
        .values([
            tenant.into(),
            id.into(),
            customer_id.into(),
            change.previous_owner.as_str().into(),
            change.new_owner.as_str().into(),
            change.kind.into(),
            now.into(),
            change.encode_to_vec().into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// The customers merged into customer `survivor_id` by merges in effect.
pub async fn merged_into<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    survivor_id: &str,
) -> Result<Vec<String>, DbErr> {
    let statement = Query::select()
        .column(ident("merged_id"))
        .from(ident("customer_merges"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("survivor_id")).eq(survivor_id))
        .and_where(Expr::col(ident("state")).eq(kefu_proto::v1::CustomerMergeState::Merged as i32))
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get("", "merged_id"))
        .collect()
}
