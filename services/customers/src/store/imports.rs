//! Imports: the `kefu.v1.CustomerImport` kept whole (`resource`) beside
//! its state and resume point, the file in ordered chunks, and the row
//! errors.

use chrono::{DateTime, Utc};
use kefu_proto::v1::CustomerImport;
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, QueryResult,
    sea_query::{Cond, Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use super::ident;
use crate::domain::{csv_row::RowError, import_filter::ImportFilter};

/// The internal state of an import whose file is still being received: it
/// is listed nowhere and becomes PENDING with its last chunk.
pub const UPLOADING: i32 = 0;

/// A stored import.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredImport {
    /// Its tenant.
    pub tenant: Uuid,
    /// Its id.
    pub id: Uuid,
    /// `CustomerImportState` as a number, or [`UPLOADING`].
    pub state: i32,
    /// The import as the API shows it (counts included).
    pub import: CustomerImport,
    /// Data rows in the file.
    pub rows_total: i64,
    /// Data rows whose outcome is committed: where a worker resumes.
    pub rows_committed: i64,
    /// Row errors stored (at most 100,000).
    pub errors_kept: i64,
    /// Times a worker started on it.
    pub attempts: i32,
    /// When it was last written (a working worker writes every batch).
    pub update_time: DateTime<Utc>,
}

fn select() -> SelectStatement {
    Query::select()
        .columns([
            ident("tenant_id"),
            ident("id"),
            ident("state"),
            ident("resource"),
            ident("rows_total"),
            ident("rows_committed"),
            ident("errors_kept"),
            ident("attempts"),
            ident("update_time"),
        ])
        .from(ident("customer_imports"))
        .to_owned()
}

fn from_row(row: &QueryResult) -> Result<StoredImport, DbErr> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    Ok(StoredImport {
        tenant: row.try_get("", "tenant_id")?,
        id: row.try_get("", "id")?,
        state: row.try_get("", "state")?,
        import: CustomerImport::decode(bytes.as_slice())
            .map_err(|error| DbErr::Custom(error.to_string()))?,
        rows_total: row.try_get("", "rows_total")?,
        rows_committed: row.try_get("", "rows_committed")?,
        errors_kept: row.try_get("", "errors_kept")?,
        attempts: row.try_get("", "attempts")?,
        update_time: row.try_get("", "update_time")?,
    })
}

/// Inserts a new import (state [`UPLOADING`]); a repeated request id is a
/// unique violation.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    request_id: Option<&str>,
    import: &CustomerImport,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let statement = Query::insert()
        .into_table(ident("customer_imports"))
        .columns([
            ident("tenant_id"),
            ident("id"),
            ident("request_id"),
            ident("state"),
            ident("resource"),
            ident("rows_total"),
            ident("rows_committed"),
            ident("errors_kept"),
            ident("attempts"),
            ident("create_time"),
            ident("update_time"),
        ])
        .values([
            tenant.into(),
            id.into(),
            request_id.map(str::to_owned).into(),
            UPLOADING.into(),
            import.encode_to_vec().into(),
            0_i64.into(),
            0_i64.into(),
            0_i64.into(),
            0_i32.into(),
            now.into(),
            now.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// The import `id` of `tenant`; with `for_update` its row stays locked
/// until the transaction ends (PostgreSQL; SQLite serialises writers).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    for_update: bool,
) -> Result<Option<StoredImport>, DbErr> {
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

/// The import of `tenant` created with `request_id`.
pub async fn by_request<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    request_id: &str,
) -> Result<Option<StoredImport>, DbErr> {
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("request_id")).eq(request_id))
        .to_owned();
    db.query_one(&statement)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// How many imports of `tenant` are in `states`.
pub async fn count_in_states<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    states: &[i32],
) -> Result<i64, DbErr> {
    let statement = Query::select()
        .expr_as(Expr::col(ident("id")).count(), ident("count"))
        .from(ident("customer_imports"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("state")).is_in(states.iter().copied()))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => row.try_get("", "count"),
        None => Ok(0),
    }
}

/// Writes the state, document, resume point and counters of `stored`.
pub async fn save<C: ConnectionTrait>(
    db: &C,
    stored: &StoredImport,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let statement = Query::update()
        .table(ident("customer_imports"))
        .value(ident("state"), stored.state)
        .value(ident("resource"), stored.import.encode_to_vec())
        .value(ident("rows_total"), stored.rows_total)
        .value(ident("rows_committed"), stored.rows_committed)
        .value(ident("errors_kept"), stored.errors_kept)
        .value(ident("attempts"), stored.attempts)
        .value(ident("update_time"), now)
        .and_where(Expr::col(ident("tenant_id")).eq(stored.tenant))
        .and_where(Expr::col(ident("id")).eq(stored.id))
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Stores chunk `seq` of the file of import `id`.
pub async fn insert_chunk<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    seq: i32,
    data: Vec<u8>,
) -> Result<(), DbErr> {
    let statement = Query::insert()
        .into_table(ident("customer_import_chunks"))
        .columns([
            ident("tenant_id"),
            ident("import_id"),
            ident("seq"),
            ident("data"),
        ])
        .values([tenant.into(), id.into(), seq.into(), data.into()])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Chunks of import `id` from `from_seq` on, at most `limit`, in order.
pub async fn chunks<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    from_seq: i32,
    limit: u64,
) -> Result<Vec<(i32, Vec<u8>)>, DbErr> {
    let statement = Query::select()
        .columns([ident("seq"), ident("data")])
        .from(ident("customer_import_chunks"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("import_id")).eq(id))
        .and_where(Expr::col(ident("seq")).gte(from_seq))
        .order_by(ident("seq"), Order::Asc)
        .limit(limit)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "seq")?, row.try_get("", "data")?)))
        .collect()
}

/// Deletes the file of import `id` (once it ended).
pub async fn delete_chunks<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
) -> Result<(), DbErr> {
    let statement = Query::delete()
        .from_table(ident("customer_import_chunks"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("import_id")).eq(id))
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Deletes import `id` with its file and errors (an upload that failed).
pub async fn delete<C: ConnectionTrait>(db: &C, tenant: Uuid, id: Uuid) -> Result<(), DbErr> {
    delete_chunks(db, tenant, id).await?;
    for (table, column) in [
        ("customer_import_errors", "import_id"),
        ("customer_imports", "id"),
    ] {
        let statement = Query::delete()
            .from_table(ident(table))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant))
            .and_where(Expr::col(ident(column)).eq(id))
            .to_owned();
        db.execute(&statement).await?;
    }
    Ok(())
}

/// Imports of every tenant in `states` (a platform transaction on
/// PostgreSQL): what a starting worker resumes.
pub async fn in_states<C: ConnectionTrait>(
    db: &C,
    states: &[i32],
) -> Result<Vec<StoredImport>, DbErr> {
    let statement = select()
        .and_where(Expr::col(ident("state")).is_in(states.iter().copied()))
        .order_by(ident("create_time"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Where a page of imports starts: after this creation time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportCursor {
    /// Creation time of the last import read, in nanoseconds.
    pub create_nanos: i64,
    /// Its id.
    pub id: Uuid,
}

impl ImportCursor {
    /// The page token.
    pub fn token(&self) -> String {
        format!("i{}.{}", self.create_nanos, self.id.simple())
    }

    /// The cursor in a token from [`ImportCursor::token`].
    pub fn from_token(token: &str) -> Option<Self> {
        let (nanos, id) = token.strip_prefix('i')?.split_once('.')?;
        Some(Self {
            create_nanos: nanos.parse().ok()?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

fn filtered(tenant: Uuid, filter: &ImportFilter) -> SelectStatement {
    let mut statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("state")).ne(UPLOADING))
        .to_owned();
    if !filter.states.is_empty() {
        statement.and_where(Expr::col(ident("state")).is_in(filter.states.iter().copied()));
    }
    if !filter.not_states.is_empty() {
        statement.and_where(Expr::col(ident("state")).is_not_in(filter.not_states.iter().copied()));
    }
    for (operator, time) in &filter.create_time {
        let column = Expr::col(ident("create_time"));
        statement.and_where(match *operator {
            "<" => column.lt(*time),
            "<=" => column.lte(*time),
            ">" => column.gt(*time),
            ">=" => column.gte(*time),
            "!=" => column.ne(*time),
            _ => column.eq(*time),
        });
    }
    statement
}

/// A page of `tenant`'s imports matching `filter`, newest first (then by
/// id), after `after`, at most `limit`; and the cursor of the next page.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    filter: &ImportFilter,
    after: Option<&ImportCursor>,
    limit: usize,
) -> Result<(Vec<StoredImport>, Option<ImportCursor>), DbErr> {
    let mut statement = filtered(tenant, filter);
    statement.column(ident("create_time"));
    if let Some(after) = after {
        let time = DateTime::from_timestamp_nanos(after.create_nanos);
        statement.cond_where(
            Cond::any()
                .add(Expr::col(ident("create_time")).lt(time))
                .add(
                    Cond::all()
                        .add(Expr::col(ident("create_time")).eq(time))
                        .add(Expr::col(ident("id")).gt(after.id)),
                ),
        );
    }
    statement
        .order_by(ident("create_time"), Order::Desc)
        .order_by(ident("id"), Order::Asc)
        .limit(limit as u64 + 1);
    let rows = db.query_all(&statement).await?;
    let mut page = Vec::with_capacity(limit);
    let mut last = None;
    for row in rows.iter().take(limit) {
        let stored = from_row(row)?;
        let created: DateTime<Utc> = row.try_get("", "create_time")?;
        last = Some(ImportCursor {
            create_nanos: created.timestamp_nanos_opt().unwrap_or_default(),
            id: stored.id,
        });
        page.push(stored);
    }
    Ok((page, if rows.len() > limit { last } else { None }))
}

/// How many of `tenant`'s imports match `filter`.
pub async fn count<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    filter: &ImportFilter,
) -> Result<i64, DbErr> {
    let mut statement = filtered(tenant, filter);
    statement
        .clear_selects()
        .expr_as(Expr::col(ident("id")).count(), ident("count"));
    match db.query_one(&statement).await? {
        Some(row) => row.try_get("", "count"),
        None => Ok(0),
    }
}

/// Stores row errors of import `id`.
pub async fn insert_errors<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    errors: &[RowError],
) -> Result<(), DbErr> {
    // 6 values a row.
    for chunk in errors.chunks(500) {
        let mut statement = Query::insert();
        statement
            .into_table(ident("customer_import_errors"))
            .columns([
                ident("tenant_id"),
                ident("import_id"),
                ident("line"),
                ident("field"),
                ident("reason"),
                ident("message"),
            ]);
        for error in chunk {
            let message: String = error.message.chars().take(1000).collect();
            statement
                .values([
                    tenant.into(),
                    id.into(),
                    error.line.into(),
                    error.field.chars().take(200).collect::<String>().into(),
                    error.reason.as_str().into(),
                    message.into(),
                ])
                .map_err(|error| DbErr::Custom(error.to_string()))?;
        }
        db.execute(&statement).await?;
    }
    Ok(())
}

/// Where a page of row errors starts: after this line and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCursor {
    /// Line of the last error read.
    pub line: i64,
    /// Its field.
    pub field: String,
}

impl ErrorCursor {
    /// The page token.
    pub fn token(&self) -> String {
        let hex: String = self.field.bytes().map(|b| format!("{b:02x}")).collect();
        format!("e{}.{hex}", self.line)
    }

    /// The cursor in a token from [`ErrorCursor::token`].
    pub fn from_token(token: &str) -> Option<Self> {
        let (line, hex) = token.strip_prefix('e')?.split_once('.')?;
        if hex.len() % 2 != 0 {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(Self {
            line: line.parse().ok()?,
            field: String::from_utf8(bytes).ok()?,
        })
    }
}

/// A page of import `id`'s row errors by line and field.
pub async fn list_errors<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    after: Option<&ErrorCursor>,
    limit: usize,
) -> Result<(Vec<RowError>, Option<ErrorCursor>), DbErr> {
    let mut statement = Query::select()
        .columns([
            ident("line"),
            ident("field"),
            ident("reason"),
            ident("message"),
        ])
        .from(ident("customer_import_errors"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant))
        .and_where(Expr::col(ident("import_id")).eq(id))
        .to_owned();
    if let Some(after) = after {
        statement.cond_where(
            Cond::any()
                .add(Expr::col(ident("line")).gt(after.line))
                .add(
                    Cond::all()
                        .add(Expr::col(ident("line")).eq(after.line))
                        .add(Expr::col(ident("field")).gt(after.field.as_str())),
                ),
        );
    }
    statement
        .order_by(ident("line"), Order::Asc)
        .order_by(ident("field"), Order::Asc)
        .limit(limit as u64 + 1);
    let rows = db.query_all(&statement).await?;
    let mut page = Vec::with_capacity(limit);
    for row in rows.iter().take(limit) {
        page.push(RowError {
            line: row.try_get("", "line")?,
            field: row.try_get("", "field")?,
            reason: row.try_get("", "reason")?,
            message: row.try_get("", "message")?,
        });
    }
    let next = (rows.len() > limit)
        .then(|| page.last())
        .flatten()
        .map(|last| ErrorCursor {
            line: last.line,
            field: last.field.clone(),
        });
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_the_last_key() {
        let cursor = ImportCursor {
            create_nanos: 1_780_000_000_123_456_789,
            id: Uuid::now_v7(),
        };
        assert_eq!(ImportCursor::from_token(&cursor.token()), Some(cursor));
        let errors = ErrorCursor {
            line: 7,
            field: "attr.楼层".into(),
        };
        assert_eq!(ErrorCursor::from_token(&errors.token()), Some(errors));
        assert_eq!(ErrorCursor::from_token("e7.f"), None);
        assert_eq!(ImportCursor::from_token("x"), None);
    }
}
