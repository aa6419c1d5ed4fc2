//! The SMS scan: queued survey messages whose time has come (they were
//! requested in quiet hours or the customer's do-not-disturb, or the
//! provider could not be reached at once) are handed to the provider, and
//! SMS surveys whose reply window passed without a usable reply are settled
//! as NO_ANSWER (EXPIRED), moving their task on by the retry rules.
//!
//! Safe with several schedulers: each attempt is handled in its own
//! transaction with its task locked and re-checked, so a message is sent
//! and an attempt settled once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, schedule, service::ServiceContext};
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    api::sms::{deliver, expire},
    error::{CallbacksError, Result},
    store::attempts,
};

/// How often the scan runs.
const INTERVAL: Duration = Duration::from_secs(60);

/// Attempts of each kind handled per tenant and scan at most.
const BATCH: u64 = 200;

/// Runs the scan every minute until `shutdown`.
pub fn spawn(context: &ServiceContext, shutdown: CancellationToken) -> JoinHandle<()> {
    schedule::every(
        context,
        INTERVAL,
        shutdown,
        |db, now| async move { scan_sms(&db, now).await },
        |count| tracing::info!(count, "sms surveys sent or expired"),
        |error: &CallbacksError| tracing::warn!(%error, "sms scan failed"),
    )
}

/// Sends the queued SMS surveys due at `now` and expires those whose reply
/// window has passed, in every tenant; answers how many moved. The service
/// runs it on a timer with its clock; tests call it with the time they
/// choose.
pub async fn scan_sms(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize> {
    let tenants = attempts::tenants_with_open_tasks(db).await?;
    Ok(
        super::overdue::each_tenant(tenants, "sms scan", |tenant| scan_tenant(db, tenant, now))
            .await,
    )
}

/// The SMS scan of one tenant.
async fn scan_tenant(
    db: &DatabaseConnection,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut count = 0;
    let txn = kefu_kit::db::begin_read_for_tenant(db, tenant).await?;
    let (to_send, expired) = attempts::sms_due(&txn, tenant, now, BATCH).await?;
    txn.commit().await?;
    for attempt in &to_send {
        match deliver(db, tenant, &attempt.name, now).await {
            Ok(Some(_)) => count += 1,
            Ok(None) => {}
            // One failing attempt does not hold the others back; the
            // next scan tries it again.
            Err(error) => tracing::warn!(attempt = %attempt.name, %error, "sms not sent"),
        }
    }
    for attempt in &expired {
        match expire(db, tenant, &attempt.name, now).await {
            Ok(true) => count += 1,
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(attempt = %attempt.name, %error, "sms survey not expired");
            }
        }
    }
    Ok(count)
}
