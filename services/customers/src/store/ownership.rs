//! Ownership: the history of owner changes, the customers a (re)assignment
//! works on, owners' counts, overdue first contacts, the first-contact
//! alerts already published, and the remembered answers of idempotent
//! bulk calls. Also the filter clauses the history and the timeline share.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use kefu_proto::v1::{CustomerState, OwnershipChange, Tier};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, Value,
    sea_query::{Cond, Expr, ExprTrait, Func, LikeExpr, OnConflict, Order, Query, SelectStatement},
};
use uuid::Uuid;

use super::{
    customers::{self, Stored},
    ident,
};

/// How a clause compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// `=`.
    Equal,
    /// `!=`.
    NotEqual,
    /// `<`.
    Less,
    /// `<=`.
    LessOrEqual,
    /// `>`.
    Greater,
    /// `>=`.
    GreaterOrEqual,
    /// Starts with (text).
    Prefix,
    /// Does not start with (text).
    NotPrefix,
}

/// One condition of a list's filter, on a column.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// The column.
    pub column: &'static str,
    /// The comparison.
    pub compare: Compare,
    /// The value.
    pub value: Value,
}

fn escape_like(prefix: &str) -> String {
    let mut escaped = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

/// Adds `clauses` (all must hold) to `statement`.
pub fn apply(statement: &mut SelectStatement, clauses: &[Clause]) {
    for clause in clauses {
        let column = Expr::col(ident(clause.column));
        let value = clause.value.clone();
        let condition = match clause.compare {
            Compare::Equal => column.eq(value),
            Compare::NotEqual => column.ne(value),
            Compare::Less => column.lt(value),
            Compare::LessOrEqual => column.lte(value),
            Compare::Greater => column.gt(value),
            Compare::GreaterOrEqual => column.gte(value),
            Compare::Prefix | Compare::NotPrefix => {
                let prefix = match &value {
                    Value::String(Some(text)) => text.to_string(),
                    _ => String::new(),
                };
                let like = column.like(LikeExpr::new(escape_like(&prefix)).escape('\\'));
                if clause.compare == Compare::Prefix {
                    like
                } else {
                    like.not()
                }
            }
        };
        statement.and_where(condition);
    }
}

/// Where a newest-first page starts: after this time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The ordering time of the last row read.
    pub time: DateTime<Utc>,
    /// Its id.
    pub id: String,
}

impl Cursor {
    /// The cursor after the row of `time` and `id`; the time is cut to the
    /// microsecond both backends keep, so a row written with a finer time
    /// is never read twice.
    pub fn new(time: DateTime<Utc>, id: String) -> Self {
        Self {
            time: DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time),
            id,
        }
    }

    /// The page token continuing after this row.
    pub fn token(&self) -> String {
        format!(
            "t{}.{}",
            self.time.timestamp_micros(),
            self.id.replace('.', "%2E")
        )
    }

    /// The cursor in a token from [`Cursor::token`].
    pub fn from_token(token: &str) -> Option<Self> {
        let (micros, id) = token.strip_prefix('t')?.split_once('.')?;
        if id.is_empty() {
            return None;
        }
        Some(Self {
            time: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: id.replace("%2E", "."),
        })
    }

    /// Rows strictly after the cursor in `(time_column, id)` order,
    /// descending when `descending`.
    pub(crate) fn condition(&self, time_column: &'static str, descending: bool) -> Cond {
        let time = Expr::col(ident(time_column));
        let id = Expr::col(ident("id"));
        if descending {
            Cond::any().add(time.clone().lt(self.time)).add(
                Cond::all()
                    .add(time.eq(self.time))
                    .add(id.lt(self.id.as_str())),
            )
        } else {
            Cond::any().add(time.clone().gt(self.time)).add(
                Cond::all()
                    .add(time.eq(self.time))
                    .add(id.gt(self.id.as_str())),
            )
        }
    }
}

/// Stores one ownership change of customer `customer_id`, named
/// `customers/{customer}/ownershipChanges/{id}`.
pub async fn insert_change<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    customer_id: &str,
    id: &str,
    change: &OwnershipChange,
    create_time: DateTime<Utc>,
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
            create_time.into(),
            change.encode_to_vec().into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

fn changes_query(tenant: Uuid, customer_id: Option<&str>, clauses: &[Clause]) -> SelectStatement {
    let mut statement = Query::select()
        .from(ident("customer_ownership_changes"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .to_owned();
    if let Some(customer_id) = customer_id {
        statement.and_where(Expr::col(ident("customer_id")).eq(customer_id));
    }
    apply(&mut statement, clauses);
    statement
}

/// One page of ownership changes, newest first, and the cursor of the next
/// page when more follow.
pub async fn list_changes<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    customer_id: Option<&str>,
    clauses: &[Clause],
    after: Option<&Cursor>,
    limit: usize,
) -> Result<(Vec<OwnershipChange>, Option<Cursor>), DbErr> {
    let mut statement = changes_query(tenant, customer_id, clauses);
    statement.columns([ident("id"), ident("resource")]);
    if let Some(after) = after {
        statement.cond_where(after.condition("create_time", true));
    }
    statement
        .order_by(ident("create_time"), Order::Desc)
        .order_by(ident("id"), Order::Desc)
        .limit(limit as u64 + 1);
    let rows = db.query_all(&statement).await?;
    let mut page = Vec::with_capacity(limit.min(rows.len()));
    let mut last = None;
    for row in rows.iter().take(limit) {
        let bytes: Vec<u8> = row.try_get("", "resource")?;
        let change = OwnershipChange::decode(bytes.as_slice())
            .map_err(|error| DbErr::Custom(error.to_string()))?;
        let time = change
            .create_time
            .as_ref()
            .and_then(kefu_kit::events::from_timestamp)
            .ok_or_else(|| DbErr::Custom("ownership change without a time".into()))?;
        last = Some(Cursor::new(time, row.try_get("", "id")?));
        page.push(change);
    }
    let next = if rows.len() > limit { last } else { None };
    Ok((page, next))
}

/// How many ownership changes match.
pub async fn count_changes<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    customer_id: Option<&str>,
    clauses: &[Clause],
) -> Result<i64, DbErr> {
    let mut statement = changes_query(tenant, customer_id, clauses);
    statement.expr_as(Func::count(Expr::col(ident("id"))), ident("total"));
    count(db, &statement).await
}

async fn count<C: ConnectionTrait>(db: &C, statement: &SelectStatement) -> Result<i64, DbErr> {
    match db.query_one(statement).await? {
        Some(row) => row.try_get("", "total"),
        None => Ok(0),
    }
}

fn active_customers(tenant: Uuid) -> SelectStatement {
    customers::select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("state")).eq(CustomerState::Active as i32))
        .to_owned()
}

fn lock_on_postgres<C: ConnectionTrait>(db: &C, statement: &mut SelectStatement) {
    // SQLite writers are serialised by the transaction itself.
    if db.get_database_backend() == DbBackend::Postgres {
        statement.lock_exclusive();
    }
}

async fn stored_rows<C: ConnectionTrait>(
    db: &C,
    statement: &SelectStatement,
) -> Result<Vec<Stored>, DbErr> {
    db.query_all(statement)
        .await?
        .iter()
        .map(customers::from_row)
        .collect()
}

/// The customers `ids` that exist (any state), locked until the
/// transaction ends.
pub async fn get_locked<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    ids: &[String],
) -> Result<Vec<Stored>, DbErr> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut statement = customers::select()
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident("id")).is_in(chunk.iter().cloned()))
            .to_owned();
        lock_on_postgres(db, &mut statement);
        found.extend(stored_rows(db, &statement).await?);
    }
    Ok(found)
}

/// Up to `limit` unowned ACTIVE customers, oldest first, locked.
pub async fn unowned<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    limit: usize,
) -> Result<Vec<Stored>, DbErr> {
    let mut statement = active_customers(tenant)
        .and_where(Expr::col(ident("owner")).is_null())
        .order_by(ident("create_time"), Order::Asc)
        .order_by(ident("id"), Order::Asc)
        .limit(limit as u64)
        .to_owned();
    lock_on_postgres(db, &mut statement);
    stored_rows(db, &statement).await
}

/// How many ACTIVE customers have no owner.
pub async fn count_unowned<C: ConnectionTrait>(db: &C, tenant: Uuid) -> Result<i64, DbErr> {
    let statement = Query::select()
        .expr_as(Func::count(Expr::col(ident("id"))), ident("total"))
        .from(ident("customers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("state")).eq(CustomerState::Active as i32))
        .and_where(Expr::col(ident("owner")).is_null())
        .to_owned();
    count(db, &statement).await
}

/// Up to `limit` ACTIVE customers of `owner`, oldest first, locked.
pub async fn owned_by<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    owner: &str,
    limit: usize,
) -> Result<Vec<Stored>, DbErr> {
    let mut statement = active_customers(tenant)
        .and_where(Expr::col(ident("owner")).eq(owner))
        .order_by(ident("create_time"), Order::Asc)
        .order_by(ident("id"), Order::Asc)
        .limit(limit as u64)
        .to_owned();
    lock_on_postgres(db, &mut statement);
    stored_rows(db, &statement).await
}

/// How many ACTIVE customers each of `owners` owns (absent: none).
pub async fn owned_counts<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    owners: &[String],
) -> Result<HashMap<String, i64>, DbErr> {
    let mut counts = HashMap::new();
    for chunk in owners.chunks(500) {
        let statement = Query::select()
            .column(ident("owner"))
            .expr_as(Func::count(Expr::col(ident("id"))), ident("total"))
            .from(ident("customers"))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident("state")).eq(CustomerState::Active as i32))
            .and_where(Expr::col(ident("owner")).is_in(chunk.iter().cloned()))
            .group_by_col(ident("owner"))
            .to_owned();
        for row in db.query_all(&statement).await? {
            counts.insert(row.try_get("", "owner")?, row.try_get("", "total")?);
        }
    }
    Ok(counts)
}

/// Who an overdue listing is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverdueScope {
    /// Only this owner (`users/{user}`).
    pub owner: Option<String>,
    /// Only owners in this team (`teams/{team}`).
    pub team: Option<String>,
}

fn overdue_query(tenant: Uuid, now: DateTime<Utc>, scope: &OverdueScope) -> SelectStatement {
    let mut statement = Query::select()
        .from(ident("customers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("state")).eq(CustomerState::Active as i32))
        .and_where(Expr::col(ident("owner")).is_not_null())
        .and_where(Expr::col(ident("first_contact_time")).is_null())
        .and_where(Expr::col(ident("first_contact_due_time")).lte(now))
        .to_owned();
    if let Some(owner) = &scope.owner {
        statement.and_where(Expr::col(ident("owner")).eq(owner.as_str()));
    }
    if let Some(team) = &scope.team {
        statement.and_where(
            Expr::col(ident("owner")).in_subquery(
                Query::select()
                    .column(ident("user_name"))
                    .from(ident("agent_teams"))
                    .and_where(Expr::col(ident("tenant_id")).eq(tenant))
                    .and_where(Expr::col(ident("team")).eq(team.as_str()))
                    .to_owned(),
            ),
        );
    }
    statement
}

/// One page of overdue customers, most overdue first, and the cursor of
/// the next page when more follow.
pub async fn overdue<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    now: DateTime<Utc>,
    scope: &OverdueScope,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<(Vec<Stored>, Option<Cursor>), DbErr> {
    let mut statement = overdue_query(tenant, now, scope);
    statement.columns([ident("id"), ident("resource"), ident("revision")]);
    if let Some(after) = after {
        statement.cond_where(after.condition("first_contact_due_time", false));
    }
    statement
        .order_by(ident("first_contact_due_time"), Order::Asc)
        .order_by(ident("id"), Order::Asc)
        .limit(limit as u64 + 1);
    let rows = db.query_all(&statement).await?;
    let mut page = Vec::with_capacity(limit.min(rows.len()));
    let mut last = None;
    for row in rows.iter().take(limit) {
        let stored = customers::from_row(row)?;
        let due = stored
            .customer
            .first_contact_due_time
            .as_ref()
            .and_then(kefu_kit::events::from_timestamp)
            .ok_or_else(|| DbErr::Custom("overdue customer without a due time".into()))?;
        last = Some(Cursor::new(due, row.try_get("", "id")?));
        page.push(stored);
    }
    let next = if rows.len() > limit { last } else { None };
    Ok((page, next))
}

/// How many customers are overdue.
pub async fn count_overdue<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    now: DateTime<Utc>,
    scope: &OverdueScope,
) -> Result<i64, DbErr> {
    let mut statement = overdue_query(tenant, now, scope);
    statement.expr_as(Func::count(Expr::col(ident("id"))), ident("total"));
    count(db, &statement).await
}

/// The assignments (see [`assignment_key`]) whose overdue first contact
/// was already published, by customer id, for `ids`.
pub async fn alerted<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    ids: &[String],
) -> Result<HashMap<String, String>, DbErr> {
    let mut alerted = HashMap::new();
    for chunk in ids.chunks(500) {
        let statement = Query::select()
            .columns([ident("customer_id"), ident("assignment")])
            .from(ident("first_contact_alerts"))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident("customer_id")).is_in(chunk.iter().cloned()))
            .to_owned();
        for row in db.query_all(&statement).await? {
            alerted.insert(
                row.try_get("", "customer_id")?,
                row.try_get("", "assignment")?,
            );
        }
    }
    Ok(alerted)
}

/// Records that the overdue first contact of `assignment` was published.
pub async fn record_alert<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    customer_id: &str,
    assignment: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let statement = Query::insert()
        .into_table(ident("first_contact_alerts"))
        .columns([
            ident("tenant_id"),
            ident("customer_id"),
            ident("assignment"),
            ident("create_time"),
        ])
        .values([
            tenant.into(),
            customer_id.into(),
            assignment.into(),
            now.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(
            OnConflict::columns([ident("tenant_id"), ident("customer_id")])
                .update_columns([ident("assignment"), ident("create_time")])
                .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// The ids of the tenant's tiers whose customers get a dedicated agent
/// (tiers are stored whole by the tiers part of the service).
pub async fn dedicated_tiers<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
) -> Result<HashSet<String>, DbErr> {
    let statement = Query::select()
        .columns([ident("id"), ident("resource")])
        .from(ident("tiers"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .to_owned();
    let mut dedicated = HashSet::new();
    for row in db.query_all(&statement).await? {
        let bytes: Vec<u8> = row.try_get("", "resource")?;
        let tier =
            Tier::decode(bytes.as_slice()).map_err(|error| DbErr::Custom(error.to_string()))?;
        if tier.dedicated_agent {
            dedicated.insert(row.try_get("", "id")?);
        }
    }
    Ok(dedicated)
}

/// The answer remembered for `request_id`: (method, encoded response).
pub async fn recall_request<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    request_id: &str,
) -> Result<Option<(String, Vec<u8>)>, DbErr> {
    let statement = Query::select()
        .columns([ident("method"), ident("response")])
        .from(ident("ownership_requests"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("request_id")).eq(request_id))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => Ok(Some((
            row.try_get("", "method")?,
            row.try_get("", "response")?,
        ))),
        None => Ok(None),
    }
}

/// Remembers the answer of `method` to `request_id`.
pub async fn remember_request<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    request_id: &str,
    method: &str,
    response: Vec<u8>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let statement = Query::insert()
        .into_table(ident("ownership_requests"))
        .columns([
            ident("tenant_id"),
            ident("request_id"),
            ident("method"),
            ident("response"),
            ident("create_time"),
        ])
        .values([
            tenant.into(),
            request_id.into(),
            method.into(),
            response.into(),
            now.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_survive_their_tokens() {
        let cursor = Cursor {
            time: DateTime::from_timestamp_micros(1_764_000_000_123_456).expect("valid"),
            id: "019a.b".into(),
        };
        assert_eq!(Cursor::from_token(&cursor.token()), Some(cursor));
        assert_eq!(Cursor::from_token("t12"), None);
        assert_eq!(Cursor::from_token("x1.a"), None);
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(escape_like("tickets/"), "tickets/%");
        assert_eq!(escape_like("a_b%"), "a\\_b\\%%");
    }
}
