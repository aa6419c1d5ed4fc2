//! Campaigns: the encoded `kefu.v1.Campaign` with its revision beside the
//! columns the completion scan and the segment look-up use (`state`,
//! `policy_id`, `target_segment`, `period_end`: the end of the last day in
//! the tenant's time zone, exclusive).

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, events::to_timestamp, resource, rows::ident};
use kefu_proto::v1::{CallbackPolicy, Campaign, CampaignState};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, Value,
    sea_query::{Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use super::resources::{self, Kept, Table};
use crate::error::{CallbacksError, Result};

/// The collection of campaign names.
pub const COLLECTION: &str = "campaigns";

impl Kept for Campaign {
    const TABLE: Table = Table {
        table: "campaigns",
        collection: COLLECTION,
    };
    fn name(&self) -> &str {
        &self.name
    }
    fn set_etag(&mut self, etag: String) {
        self.etag = etag;
    }
}

/// `campaigns/{id}`.
pub fn name_of(id: Uuid) -> String {
    resources::name_of::<Campaign>(id)
}

/// The index columns of `campaign`, its period ending at `period_end`.
fn columns(campaign: &Campaign, period_end: DateTime<Utc>) -> Result<Vec<(&'static str, Value)>> {
    let policy_id = resources::id_of::<CallbackPolicy>(&campaign.policy).ok_or_else(|| {
        CallbacksError::Internal(format!(
            "{} names policy {:?}, not a stored one",
            campaign.name, campaign.policy
        ))
    })?;
    Ok(vec![
        ("state", campaign.state.into()),
        ("policy_id", policy_id.into()),
        ("target_segment", campaign.target_segment.clone().into()),
        ("period_end", period_end.into()),
    ])
}

/// Inserts the new `campaign` (named, its period ending at `period_end`)
/// at revision 1 and fills its etag.
pub async fn insert(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    campaign: &mut Campaign,
    period_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    resources::insert(txn, tenant, campaign, columns(campaign, period_end)?, now).await?;
    campaign.etag = resource::etag(1);
    Ok(())
}

/// The campaign `name` of `tenant`, if it exists, with its etag. A
/// malformed name finds nothing.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<Campaign>> {
    resources::find(db, tenant, name).await
}

/// The campaign `name` for a change: INVALID_ARGUMENT naming `field` when
/// empty or malformed, NOT_FOUND when missing or another tenant's, ABORTED
/// when `etag` is set and stale. Locks the row (PostgreSQL).
pub async fn find_for_change(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    field: &str,
    etag: &str,
) -> Result<Campaign> {
    if name.is_empty() {
        return Err(CallbacksError::invalid(
            field,
            format!("{field} is required"),
        ));
    }
    if resource::id_in(name, COLLECTION).is_none() {
        return Err(CallbacksError::invalid(
            field,
            format!("{field} must be {COLLECTION}/{{campaign}}"),
        ));
    }
    let campaign = resources::get::<Campaign, _>(txn, tenant, name, true)
        .await?
        .ok_or_else(|| CallbacksError::not_found(name))?
        .resource;
    if !etag.is_empty() && etag != campaign.etag {
        return Err(CallbacksError::StaleEtag(name.to_owned()));
    }
    Ok(campaign)
}

/// Stores `after` over `before` (as read by [`find_for_change`]) with its
/// period ending at `period_end`: the next revision and etag,
/// `update_time` = `now`. ABORTED when someone changed it since.
pub async fn save(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &Campaign,
    after: &mut Campaign,
    period_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let expected = before
        .etag
        .strip_prefix('r')
        .and_then(|revision| revision.parse::<i64>().ok())
        .ok_or_else(|| {
            CallbacksError::Internal(format!("campaign read without etag: {}", before.name))
        })?;
    after.name = before.name.clone();
    after.update_time = Some(to_timestamp(now));
    let columns = columns(after, period_end)?;
    resources::save(txn, tenant, after, expected, columns, now).await?;
    after.etag = resource::etag(expected + 1);
    Ok(())
}

/// Every campaign of `tenant`, oldest first (the list orders them itself).
pub async fn list<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<Campaign>> {
    resources::list(db, tenant).await
}

/// The ACTIVE campaigns of `tenant` over `segment`.
pub async fn active_over<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    segment: &str,
) -> Result<Vec<Campaign>> {
    let statement = active(tenant)
        .and_where(Expr::col(ident("target_segment")).eq(segment))
        .order_by(ident("create_time"), Order::Asc)
        .to_owned();
    resources::fetch_all(db, &statement).await
}

/// The ACTIVE campaigns of `tenant`, for a query to narrow.
fn active(tenant: TenantId) -> SelectStatement {
    resources::select::<Campaign>(tenant)
        .and_where(Expr::col(ident("state")).eq(CampaignState::Active as i32))
        .to_owned()
}

/// The ACTIVE campaigns of `tenant` whose period ended by `now`, locked
/// and skipping those another scanner holds (PostgreSQL), so two
/// schedulers complete each once.
pub async fn due_to_complete(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<Vec<Campaign>> {
    let mut statement = active(tenant)
        .and_where(Expr::col(ident("period_end")).lte(now))
        .order_by(ident("period_end"), Order::Asc)
        .limit(100)
        .to_owned();
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        statement.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    resources::fetch_all(txn, &statement).await
}

/// The tenants with an ACTIVE campaign whose period ended by `now` (read
/// across tenants, for the completion scan).
pub async fn tenants_due(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Vec<TenantId>> {
    let txn = kefu_kit::db::begin_read_platform(db).await?;
    let statement = Query::select()
        .distinct()
        .column(ident("tenant_id"))
        .from(ident(Campaign::TABLE.table))
        .and_where(Expr::col(ident("state")).eq(CampaignState::Active as i32))
        .and_where(Expr::col(ident("period_end")).lte(now))
        .order_by(ident("tenant_id"), Order::Asc)
        .to_owned();
    let tenants = txn
        .query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "tenant_id").map(TenantId))
        .collect::<Result<Vec<_>, _>>()?;
    txn.commit().await?;
    Ok(tenants)
}

#[cfg(test)]
mod tests {
    use kefu_kit::{
        db::begin_for_tenant,
        testing::{Backend, TestDatabase},
    };
    use kefu_proto::v1::{CampaignKind, Date};

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("time")
    }

    fn campaign() -> Campaign {
        Campaign {
            name: name_of(Uuid::now_v7()),
            display_name: "国庆会员回访".into(),
            kind: CampaignKind::MemberCoverage as i32,
            target_segment: "segments/vip".into(),
            start_date: Some(Date {
                year: 2027,
                month: 1,
                day: 1,
            }),
            end_date: Some(Date {
                year: 2027,
                month: 1,
                day: 7,
            }),
            policy: format!("callbackPolicies/{}", Uuid::now_v7()),
            state: CampaignState::Draft as i32,
            ..Campaign::default()
        }
    }

    async fn scenario(backend: Backend) {
        let Some(database) = TestDatabase::new(backend, "callbacks").await else {
            return;
        };
        let tenant = TenantId::new();
        let other = TenantId::new();
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let mut stored = campaign();
        insert(&txn, tenant, &mut stored, at(100), at(0))
            .await
            .expect("insert");
        assert_eq!(stored.etag, "r1");
        txn.commit().await.expect("commit");

        let txn = begin_for_tenant(&database.db, other).await.expect("begin");
        assert!(
            find(&txn, other, &stored.name)
                .await
                .expect("find")
                .is_none()
        );
        txn.commit().await.expect("commit");

        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let before = find_for_change(&txn, tenant, &stored.name, "name", "r1")
            .await
            .expect("for change");
        let mut after = before.clone();
        after.state = CampaignState::Active as i32;
        save(&txn, tenant, &before, &mut after, at(100), at(10))
            .await
            .expect("save");
        assert_eq!(after.etag, "r2");
        assert!(matches!(
            save(&txn, tenant, &before, &mut after.clone(), at(100), at(11)).await,
            Err(CallbacksError::StaleEtag(_))
        ));
        assert_eq!(
            active_over(&txn, tenant, "segments/vip")
                .await
                .expect("active")
                .len(),
            1
        );
        assert!(
            due_to_complete(&txn, tenant, at(99))
                .await
                .expect("due")
                .is_empty()
        );
        assert_eq!(
            due_to_complete(&txn, tenant, at(100))
                .await
                .expect("due")
                .len(),
            1
        );
        txn.commit().await.expect("commit");
        assert!(
            tenants_due(&database.db, at(100))
                .await
                .expect("tenants")
                .contains(&tenant)
        );
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        assert_eq!(list(&txn, tenant).await.expect("list").len(), 1);
        txn.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn campaigns_round_trip_on_sqlite() {
        scenario(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn campaigns_round_trip_on_postgres() {
        scenario(Backend::Postgres).await;
    }
}
