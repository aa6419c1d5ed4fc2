//! The overdue-complaint scan (逾期反映): every open complaint past its
//! deadline is marked overdue and escalated once (ComplaintOverdue,
//! ComplaintEscalated with trigger OVERDUE), tenant by tenant.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    db::begin_for_tenant,
    events::{new_event, to_timestamp},
    outbox,
    service::ServiceContext,
};
use kefu_proto::v1::{Actor, ActorKind, ComplaintEscalationTrigger};
use prost::{Message, Name};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    NAME,
    domain::complaint::{self as rules, Result, events},
    store::complaints,
};
use kefu_kit::schedule::every;

/// How often the scan runs.
const SCAN_INTERVAL: Duration = Duration::from_secs(60);

/// Marks and escalates the complaints overdue at `now` in every tenant;
/// returns how many (the caller wakes the relay). The service runs it on a
/// timer with its clock; tests call it with the time they choose.
pub async fn scan_overdue(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize> {
    let mut marked = 0;
    for tenant in complaints::tenants_with_complaints(db).await? {
        let txn = begin_for_tenant(db, tenant).await?;
        marked += mark_overdue(&txn, tenant, now).await?;
        txn.commit().await?;
    }
    Ok(marked)
}

async fn publish<M: Message + Name>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    subject: &str,
    payload: &M,
    now: DateTime<Utc>,
) -> Result<()> {
    let event = new_event(NAME, Some(tenant), subject, payload, now);
    outbox::append(txn, &event).await?;
    Ok(())
}

/// Marks the open complaints of `tenant` past their deadline at `now` as
/// overdue and escalates each once; returns how many.
async fn mark_overdue(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<usize> {
    let system = Actor {
        kind: ActorKind::System as i32,
        ..Actor::default()
    };
    let mut marked = 0;
    for mut complaint in complaints::newly_overdue(txn, tenant, now).await? {
        if !rules::mark_overdue(&mut complaint, now) {
            continue;
        }
        publish(
            txn,
            tenant,
            &complaint.name,
            &events::overdue(&complaint),
            now,
        )
        .await?;
        let level = rules::overdue_level(&complaint);
        let notified = complaints::holders_of(txn, tenant, level).await?;
        let escalation = rules::escalate(
            &mut complaint,
            ComplaintEscalationTrigger::Overdue,
            level,
            notified,
            "",
            &system,
            now,
        )?;
        let payload = events::escalated(&complaint, &escalation);
        publish(txn, tenant, &complaint.name, &payload, now).await?;
        complaint.update_time = Some(to_timestamp(now));
        complaints::save(txn, tenant, &mut complaint).await?;
        marked += 1;
    }
    Ok(marked)
}

/// The scan, every [`SCAN_INTERVAL`] until `shutdown`.
pub fn spawn(context: &ServiceContext, shutdown: CancellationToken) -> JoinHandle<()> {
    every(
        context,
        SCAN_INTERVAL,
        shutdown,
        |db, now| async move { scan_overdue(&db, now).await },
        |marked| tracing::info!(marked, "overdue complaints escalated"),
        |error| tracing::warn!(error = %error, "overdue complaint scan failed"),
    )
}
