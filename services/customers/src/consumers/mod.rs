//! What the customers service does on events and on a schedule: the copy
//! of the tenant's users, teams and settings (tenants service events), the
//! activity timeline (this and other services' events), and the scan that
//! raises overdue first contacts.

mod directory;
mod overdue;
mod timeline;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    events::from_timestamp,
    service::{ServiceContext, ServiceSubscription},
};
use kefu_proto::v1::EventEnvelope;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use self::overdue::scan_overdue;
use crate::error::{CustomersError, Result};

/// How often the first-contact scan runs.
const SCAN_INTERVAL: Duration = Duration::from_secs(60);

/// The subscriptions of the customers service.
pub fn subscriptions(context: &ServiceContext) -> Vec<ServiceSubscription> {
    let directory = "customers.directory".to_owned();
    let timeline = "customers.timeline".to_owned();
    vec![
        ServiceSubscription {
            group: directory.clone(),
            producers: vec!["tenants".to_owned()],
            handler: Arc::new(directory::Directory::new(directory, context)),
        },
        ServiceSubscription {
            group: timeline.clone(),
            producers: vec![
                crate::NAME.to_owned(),
                "tickets".to_owned(),
                "callbacks".to_owned(),
            ],
            handler: Arc::new(timeline::Timeline::new(timeline, context)),
        },
    ]
}

/// The first-contact scan, every [`SCAN_INTERVAL`] until `shutdown`.
pub fn background(context: &ServiceContext, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
    let context = context.clone();
    vec![tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SCAN_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            match scan_overdue(&context.db, context.clock.now()).await {
                Ok(0) => {}
                Ok(published) => {
                    context.outbox.notify();
                    tracing::info!(published, "overdue first contacts raised");
                }
                Err(error) => tracing::warn!(error = %error, "first-contact scan failed"),
            }
        }
    })]
}

/// The tenant of an event, when it has one.
fn tenant_of(event: &EventEnvelope) -> Result<Option<TenantId>> {
    if event.tenant_id.is_empty() {
        return Ok(None);
    }
    event
        .tenant_id
        .parse::<TenantId>()
        .map(Some)
        .map_err(|error| CustomersError::Internal(format!("event {} tenant: {error}", event.id)))
}

/// When an event happened (its envelope time), else `fallback`.
fn occurred(event: &EventEnvelope, fallback: DateTime<Utc>) -> DateTime<Utc> {
    event
        .occurred_at
        .as_ref()
        .and_then(from_timestamp)
        .unwrap_or(fallback)
}
