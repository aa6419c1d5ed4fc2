//! Incidents (`incidents`): the encoded `kefu.v1.Incident` with its state
//! and revision. Which tickets it groups is the tickets' `incident` column
//! (`store::tickets::candidates`).

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, resource};
use kefu_proto::v1::Incident;
use prost::Message;
use sea_orm::{
    ConnectionTrait, QueryResult,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};
use uuid::Uuid;

use super::rows::{self, ident};
use crate::error::{Result, TicketsError};

fn select(tenant: TenantId) -> SelectStatement {
    rows::select_resources("incidents", tenant)
}

/// The incident of a row, with its etag and revision.
fn from_row(row: &QueryResult) -> Result<(Incident, i64)> {
    let (mut incident, revision) = rows::decode_revisioned::<Incident>(row)?;
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
    let columns = vec![
        ("tenant_id", tenant.0.into()),
        ("id", id.into()),
        ("state", incident.state.into()),
        ("revision", 1i64.into()),
        ("resource", encoded(incident).into()),
        ("create_time", now.into()),
    ];
    Ok(rows::insert_row(db, "incidents", columns).await?)
}

/// The incident `id` with its revision, if it exists; with `lock` the row
/// stays locked until the transaction ends (PostgreSQL).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    lock: bool,
) -> Result<Option<(Incident, i64)>> {
    let statement = select(tenant)
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, lock, from_row).await
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
        .value(ident("resource"), encoded(incident))
        .to_owned();
    if !rows::replace_at_revision(db, statement, tenant, id, expected).await? {
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
