//! Resources kept whole as encoded protobuf in a table of
//! `(tenant_id, id, resource, revision, create_time)`: departments, teams,
//! skills, SLA policies. Every function takes the tenant; on PostgreSQL
//! row-level security checks it again.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DbErr, Value,
    sea_query::{Alias, Expr, ExprTrait, Order, Query},
};
use uuid::Uuid;

/// A table of documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// `departments`.
    Departments,
    /// `teams`.
    Teams,
    /// `skills` (no revision column: skills have no etag).
    Skills,
    /// `sla_policies`.
    SlaPolicies,
}

impl Collection {
    fn table(self) -> Alias {
        Alias::new(match self {
            Self::Departments => "departments",
            Self::Teams => "teams",
            Self::Skills => "skills",
            Self::SlaPolicies => "sla_policies",
        })
    }

    /// The collection segment of its resources' names (AIP-122):
    /// `departments/{id}`, `slaPolicies/{id}`.
    pub fn name_segment(self) -> &'static str {
        match self {
            Self::Departments => "departments",
            Self::Teams => "teams",
            Self::Skills => "skills",
            Self::SlaPolicies => "slaPolicies",
        }
    }

    fn has_revision(self) -> bool {
        !matches!(self, Self::Skills)
    }
}

/// One stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its id within the tenant.
    pub id: String,
    /// The encoded resource.
    pub resource: Vec<u8>,
    /// Its revision (the etag); 1 for collections without one.
    pub revision: i64,
}

/// Inserts a document; a taken id is a unique violation.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    collection: Collection,
    tenant: Uuid,
    id: &str,
    resource: Vec<u8>,
    now: DateTime<Utc>,
    extra: &[(&str, Value)],
) -> Result<(), DbErr> {
    let mut columns = vec![
        Alias::new("tenant_id"),
        Alias::new("id"),
        Alias::new("resource"),
        Alias::new("create_time"),
    ];
    let mut values: Vec<Expr> = vec![tenant.into(), id.into(), resource.into(), now.into()];
    if collection.has_revision() {
        columns.push(Alias::new("revision"));
        values.push(1_i64.into());
    }
    for (column, value) in extra {
        columns.push(Alias::new(*column));
        values.push(Expr::val(value.clone()));
    }
    let statement = Query::insert()
        .into_table(collection.table())
        .columns(columns)
        .values(values)
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// The document `id` of `tenant`, if it exists.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    collection: Collection,
    tenant: Uuid,
    id: &str,
) -> Result<Option<Document>, DbErr> {
    let statement = select(collection)
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .to_owned();
    let row = db.query_one(&statement).await?;
    row.map(|row| document(collection, &row)).transpose()
}

/// Every document of `tenant`, by id.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    collection: Collection,
    tenant: Uuid,
) -> Result<Vec<Document>, DbErr> {
    let statement = select(collection)
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .order_by(Alias::new("id"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| document(collection, row))
        .collect()
}

/// Replaces a document if its revision is still `expected`; false when it
/// is not (stale etag) or gone.
pub async fn replace<C: ConnectionTrait>(
    db: &C,
    collection: Collection,
    tenant: Uuid,
    id: &str,
    expected: i64,
    resource: Vec<u8>,
    extra: &[(&str, Value)],
) -> Result<bool, DbErr> {
    let mut statement = Query::update();
    statement
        .table(collection.table())
        .value(Alias::new("resource"), resource)
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .and_where(Expr::col(Alias::new("id")).eq(id));
    if collection.has_revision() {
        statement
            .value(Alias::new("revision"), expected + 1)
            .and_where(Expr::col(Alias::new("revision")).eq(expected));
    }
    for (column, value) in extra {
        statement.value(Alias::new(*column), value.clone());
    }
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// Deletes a document; false when it did not exist.
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    collection: Collection,
    tenant: Uuid,
    id: &str,
) -> Result<bool, DbErr> {
    let statement = Query::delete()
        .from_table(collection.table())
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

fn select(collection: Collection) -> sea_orm::sea_query::SelectStatement {
    let mut statement = Query::select();
    statement
        .columns([Alias::new("id"), Alias::new("resource")])
        .from(collection.table());
    if collection.has_revision() {
        statement.column(Alias::new("revision"));
    }
    statement
}

fn document(collection: Collection, row: &sea_orm::QueryResult) -> Result<Document, DbErr> {
    Ok(Document {
        id: row.try_get("", "id")?,
        resource: row.try_get("", "resource")?,
        revision: if collection.has_revision() {
            row.try_get("", "revision")?
        } else {
            1
        },
    })
}

/// Stores the tenant's approval matrix (encoded `kefu.v1.ApprovalMatrix`)
/// at revision 1.
pub async fn insert_approval_matrix<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    resource: Vec<u8>,
) -> Result<(), DbErr> {
    let statement = Query::insert()
        .into_table(Alias::new("approval_matrices"))
        .columns([
            Alias::new("tenant_id"),
            Alias::new("resource"),
            Alias::new("revision"),
        ])
        .values([tenant.into(), resource.into(), 1_i64.into()])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// The tenant's approval matrix and its revision.
pub async fn approval_matrix<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
) -> Result<Option<(Vec<u8>, i64)>, DbErr> {
    let statement = Query::select()
        .columns([Alias::new("resource"), Alias::new("revision")])
        .from(Alias::new("approval_matrices"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .to_owned();
    match db.query_one(&statement).await? {
        Some(row) => Ok(Some((
            row.try_get("", "resource")?,
            row.try_get("", "revision")?,
        ))),
        None => Ok(None),
    }
}

/// Replaces the tenant's approval matrix if its revision is still
/// `expected`; false when stale.
pub async fn replace_approval_matrix<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    expected: i64,
    resource: Vec<u8>,
) -> Result<bool, DbErr> {
    let statement = Query::update()
        .table(Alias::new("approval_matrices"))
        .value(Alias::new("resource"), resource)
        .value(Alias::new("revision"), expected + 1)
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .and_where(Expr::col(Alias::new("revision")).eq(expected))
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}
