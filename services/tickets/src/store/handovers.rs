//! Shift handovers (`handovers`): the encoded `kefu.v1.Handover` with its
//! state, revision and the users and team the lists look up.

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, resource};
use kefu_proto::v1::Handover;
use prost::Message;
use sea_orm::{
    ConnectionTrait, QueryResult,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};
use uuid::Uuid;

use super::rows::{self, ident};
use crate::error::{Result, TicketsError};

fn select(tenant: TenantId) -> SelectStatement {
    rows::select_resources("handovers", tenant)
}

fn from_row(row: &QueryResult) -> Result<(Handover, i64)> {
    let (mut handover, revision) = rows::decode_revisioned::<Handover>(row)?;
    handover.etag = resource::etag(revision);
    Ok((handover, revision))
}

fn encoded(handover: &Handover) -> Vec<u8> {
    let mut stored = handover.clone();
    stored.etag.clear();
    stored.encode_to_vec()
}

/// Stores a new handover `id` at revision 1.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    handover: &Handover,
    now: DateTime<Utc>,
) -> Result<()> {
    let columns = vec![
        ("tenant_id", tenant.0.into()),
        ("id", id.into()),
        ("state", handover.state.into()),
        ("from_user", handover.from_user.clone().into()),
        ("to_user", handover.to_user.clone().into()),
        ("to_team", handover.to_team.clone().into()),
        ("revision", 1i64.into()),
        ("resource", encoded(handover).into()),
        ("create_time", now.into()),
    ];
    Ok(rows::insert_row(db, "handovers", columns).await?)
}

/// The handover `id` with its revision, if it exists; with `lock` the row
/// stays locked until the transaction ends (PostgreSQL).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    lock: bool,
) -> Result<Option<(Handover, i64)>> {
    let statement = select(tenant)
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, lock, from_row).await
}

/// Stores `handover` over revision `expected`; ABORTED when someone changed
/// it since. Fills the new etag.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    handover: &mut Handover,
    expected: i64,
) -> Result<()> {
    let statement = Query::update()
        .table(ident("handovers"))
        .value(ident("state"), handover.state)
        .value(ident("to_user"), handover.to_user.clone())
        .value(ident("to_team"), handover.to_team.clone())
        .value(ident("resource"), encoded(handover))
        .to_owned();
    if !rows::replace_at_revision(db, statement, tenant, id, expected).await? {
        return Err(TicketsError::StaleEtag(handover.name.clone()));
    }
    handover.etag = resource::etag(expected + 1);
    Ok(())
}

/// Every handover of `tenant`, in no particular order.
pub async fn all<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<Handover>> {
    db.query_all(&select(tenant))
        .await?
        .iter()
        .map(|row| from_row(row).map(|(handover, _)| handover))
        .collect()
}
