//! Campaigns over time: customers entering a segment while a campaign over
//! it is ACTIVE with `include_new_members` get their task (called by
//! `consumers::customers` in the event's transaction), and a scan
//! completes the ACTIVE campaigns whose period has ended.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, db::begin_for_tenant, service::ServiceContext};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{api::campaigns, error::Result, store};

/// How often the completion scan runs.
const INTERVAL: Duration = Duration::from_secs(60);

/// Schedules, in `txn`, the task each ACTIVE campaign including new
/// members owes `customer`, who just entered `segments`; the number
/// scheduled.
pub(crate) async fn members_entered(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    customer: &str,
    segments: &[String],
    now: DateTime<Utc>,
) -> Result<usize> {
    if segments.is_empty() {
        return Ok(0);
    }
    campaigns::members_entered(txn, tenant, customer, segments, now).await
}

/// Completes every tenant's ACTIVE campaigns whose period ended by `now`
/// (one transaction per tenant; two scanners skip each other's rows); the
/// number completed.
pub async fn complete_ended(db: DatabaseConnection, now: DateTime<Utc>) -> Result<usize> {
    let tenants = store::campaigns::tenants_due(&db, now).await?;
    let db = &db;
    Ok(
        super::overdue::each_tenant(tenants, "campaign completion scan", |tenant| async move {
            let txn = begin_for_tenant(db, tenant).await?;
            let completed = campaigns::complete_due(&txn, tenant, now).await?;
            txn.commit().await?;
            Ok::<_, crate::error::CallbacksError>(completed)
        })
        .await,
    )
}

/// The completion scan, every minute until `shutdown`.
pub fn spawn(context: &ServiceContext, shutdown: CancellationToken) -> JoinHandle<()> {
    kefu_kit::schedule::every(
        context,
        INTERVAL,
        shutdown,
        complete_ended,
        |count| tracing::info!(count, "campaigns completed"),
        |error: &crate::error::CallbacksError| {
            tracing::warn!(%error, "campaign completion scan failed");
        },
    )
}
