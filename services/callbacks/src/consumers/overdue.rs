//! The overdue scan (逾期): every open task (PENDING or IN_PROGRESS) whose
//! due window has passed — and whose appointment, if any, has passed too —
//! turns OVERDUE, is escalated to the policy's escalation contact or the
//! team's supervisor, and publishes CallbackTaskOverdue, once.
//!
//! Safe with several schedulers on one database: candidates are read with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL (a task another scan holds is
//! left to it), and each task is re-read under its lock and changed only
//! if it is still overdue-to-be, at the revision read; a scan that comes
//! second finds it OVERDUE and does nothing. On SQLite writers take turns.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, db::begin_for_tenant, schedule, service::ServiceContext};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    api::{append_event, tasks::policy_of},
    domain::task,
    error::{CallbacksError, Result},
    store::tasks,
};

/// How often the scan runs.
const INTERVAL: Duration = Duration::from_secs(60);

/// Tasks handled per batch (one transaction) of a tenant.
const BATCH: u64 = 100;

/// Batches per tenant and scan at most.
const MAX_BATCHES: usize = 50;

/// Runs the scan every minute until `shutdown`.
pub fn spawn(context: &ServiceContext, shutdown: CancellationToken) -> JoinHandle<()> {
    schedule::every(
        context,
        INTERVAL,
        shutdown,
        |db, now| async move { scan_overdue(&db, now).await },
        |count| tracing::info!(count, "callback tasks turned overdue"),
        |error: &CallbacksError| tracing::warn!(%error, "overdue scan failed"),
    )
}

/// Turns every task overdue at `now` OVERDUE in every tenant; returns how
/// many. The service runs it on a timer with its clock; tests call it with
/// the time they choose.
pub async fn scan_overdue(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize> {
    let tenants = tasks::tenants_with_overdue(db, now).await?;
    Ok(each_tenant(tenants, "overdue scan", |tenant| {
        scan_tenant(db, tenant, now)
    })
    .await)
}

/// Runs a scan's `per_tenant` over `tenants`, adding up what each moved. A
/// tenant whose part fails is logged (with the tenant and `scan`) and left
/// for the next run; the later tenants are still scanned.
pub(crate) async fn each_tenant<F, Fut>(tenants: Vec<TenantId>, scan: &str, per_tenant: F) -> usize
where
    F: Fn(TenantId) -> Fut,
    Fut: Future<Output = Result<usize>>,
{
    let mut count = 0;
    for tenant in tenants {
        match per_tenant(tenant).await {
            Ok(moved) => count += moved,
            Err(error) => tracing::warn!(%tenant, %error, "{scan} failed for the tenant"),
        }
    }
    count
}

async fn scan_tenant(
    db: &DatabaseConnection,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut count = 0;
    for _ in 0..MAX_BATCHES {
        let txn = begin_for_tenant(db, tenant).await?;
        let names = tasks::overdue_candidates(&txn, tenant, now, BATCH).await?;
        let mut changed = 0;
        for name in &names {
            changed += usize::from(mark(&txn, tenant, name, now).await?);
        }
        txn.commit().await?;
        count += changed;
        // Another scan holds the rest, or nothing moved: done for now.
        if (names.len() as u64) < BATCH || changed == 0 {
            break;
        }
    }
    Ok(count)
}

/// Who is alerted about `task`: the policy's escalation contact, else the
/// supervisor of the task's team.
async fn escalation_targets(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &kefu_proto::v1::CallbackTask,
) -> Result<Vec<String>> {
    if let Some(policy) = policy_of(txn, tenant, &task.policy).await?
        && !policy.escalation_contact.is_empty()
    {
        return Ok(vec![policy.escalation_contact]);
    }
    if task.team.is_empty() {
        return Ok(Vec::new());
    }
    Ok(kefu_tenants::replica::team(txn, tenant, &task.team)
        .await?
        .map(|team| team.supervisor)
        .filter(|supervisor| !supervisor.is_empty())
        .into_iter()
        .collect())
}

/// Turns task `name` OVERDUE if it still is due to; true when it did.
async fn mark(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let before = match tasks::find_for_change(txn, tenant, name, "name", "").await {
        Ok(task) => task,
        Err(CallbacksError::NotFound(..)) => return Ok(false),
        Err(error) => return Err(error),
    };
    if !task::is_overdue_at(&before, now) {
        return Ok(false);
    }
    let targets = escalation_targets(txn, tenant, &before).await?;
    let Some(mut after) = task::mark_overdue(&before, targets, now) else {
        return Ok(false);
    };
    tasks::save(txn, tenant, &before, &mut after, now).await?;
    append_event(
        txn,
        tenant,
        after.name.clone(),
        &task::overdue_event(&after),
        now,
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_tenant_does_not_stop_the_scan_of_the_others() {
        let tenants = vec![TenantId::new(), TenantId::new(), TenantId::new()];
        let failing = tenants[1];
        let count = each_tenant(tenants, "test scan", |tenant| async move {
            if tenant == failing {
                Err(CallbacksError::Internal("broken row".into()))
            } else {
                Ok(2)
            }
        })
        .await;
        assert_eq!(count, 4, "the tenants before and after the failing one");
    }
}
