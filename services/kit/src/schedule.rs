//! The timer the services' scheduled scans share: one scan per tick until
//! shutdown, the relay woken when the scan wrote something.

use std::{future::Future, time::Duration};

use crate::service::ServiceContext;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Runs `scan` every `interval` until `shutdown`, with the service's
/// database and the clock's time. A scan that wrote something (a count
/// above zero) wakes the relay and is reported by `done`; a failed one is
/// reported by `failed` and the next tick tries again. A tick missed while
/// a scan ran is delayed, not made up in a burst.
pub fn every<Scan, Fut, E>(
    context: &ServiceContext,
    interval: Duration,
    shutdown: CancellationToken,
    scan: Scan,
    done: fn(usize),
    failed: fn(&E),
) -> JoinHandle<()>
where
    Scan: Fn(DatabaseConnection, DateTime<Utc>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<usize, E>> + Send,
    E: 'static,
{
    let context = context.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            match scan(context.db.clone(), context.clock.now()).await {
                Ok(0) => {}
                Ok(count) => {
                    context.outbox.notify();
                    done(count);
                }
                Err(error) => failed(&error),
            }
        }
    })
}
