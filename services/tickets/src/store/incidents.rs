//! Incidents (`incidents`): the encoded `kefu.v1.Incident` with its state
//! and revision. Which tickets it groups is the tickets' `incident` column
//! (`store::tickets::candidates`).

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, resource};
use kefu_proto::v1::Incident;
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, QueryResult,
    sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement},
};
use uuid::Uuid;

use crate::error::{Result, TicketsError};

fn ident(name: &'static str) -> Alias {
    Alias::new(name)
}

fn select(tenant: TenantId) -> SelectStatement {
    Query::select()
        .columns([ident("resource"), ident("revision")])
        .from(ident("incidents"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .to_owned()
}

/// The incident of a row, with its etag and revision.
fn from_row(row: &QueryResult) -> Result<(Incident, i64)> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    let revision: i64 = row.try_get("", "revision")?;
    let mut incident = Incident::decode(bytes.as_slice())?;
    incident.etag = resource::etag(revision);
    Ok((incident, revision))
}

fn encoded(incident: &Incident) -> Vec<u8> {
    let mut stored = incident.clone();
    stored.etag.clear();
    stored.linked_ticket_count = 0;
    stored.open_ticket_count = 0;
    stored.encode_to_vec()
}

/// Stores a new incident `id` at revision 1.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    incident: &Incident,
    now: DateTime<Utc>,
) -> Result<()> {
    let statement = Query::insert()
        .into_table(ident("incidents"))
        .columns([
            ident("tenant_id"),
            ident("id"),
            ident("state"),
            ident("revision"),
            ident("resource"),
            ident("create_time"),
        ])
        .values([
            tenant.0.into(),
            id.into(),
            incident.state.into(),
            1i64.into(),
            encoded(incident).into(),
            now.into(),
        ])
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}

/// The incident `id` with its revision, if it exists; with `lock` the row
/// stays locked until the transaction ends (PostgreSQL).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    lock: bool,
) -> Result<Option<(Incident, i64)>> {
    let mut statement = select(tenant)
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    if lock && db.get_database_backend() == DbBackend::Postgres {
        statement.lock_exclusive();
    }
    db.query_one(&statement)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Stores `incident` over revision `expected`; ABORTED when someone changed
/// it since. Fills the new etag.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    incident: &mut Incident,
    expected: i64,
) -> Result<()> {
    let statement = Query::update()
        .table(ident("incidents"))
        .value(ident("state"), incident.state)
        .value(ident("revision"), expected + 1)
        .value(ident("resource"), encoded(incident))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .and_where(Expr::col(ident("revision")).eq(expected))
        .to_owned();
    if db.execute(&statement).await?.rows_affected() != 1 {
        return Err(TicketsError::StaleEtag(incident.name.clone()));
    }
    incident.etag = resource::etag(expected + 1);
    Ok(())
}

/// Every incident of `tenant`, in no particular order.
pub async fn all<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<Incident>> {
    db.query_all(&select(tenant))
        .await?
        .iter()
        .map(|row| from_row(row).map(|(incident, _)| incident))
        .collect()
}
