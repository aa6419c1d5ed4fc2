//! The outbox relay: publishes committed events to the bus in commit order
//! and marks them published.
//!
//! At least once: a crash between publishing and marking publishes the event
//! again at the next round, which idempotent consumers absorb. Several
//! replicas may relay one PostgreSQL outbox: each round locks its rows with
//! `FOR UPDATE SKIP LOCKED`, so replicas do not publish the same rows at once.

use std::{sync::Arc, time::Duration};

use kefu_proto::v1::EventEnvelope;
use prost::Message;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, LockBehavior, LockType},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    KitError,
    bus::EventBus,
    clock::SharedClock,
    config::OutboxConfig,
    outbox::{OutboxSignal, entity},
};

/// Tuning of a relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaySettings {
    /// How often to look for events when no signal came.
    pub poll_interval: Duration,
    /// Events per round.
    pub batch_size: u64,
    /// Failed attempts after which an event is given up (kept in the outbox
    /// with its error, marked published so it no longer blocks the stream).
    pub max_attempts: i32,
}

impl From<&OutboxConfig> for RelaySettings {
    fn from(config: &OutboxConfig) -> Self {
        Self {
            poll_interval: Duration::from_millis(config.poll_interval_ms),
            batch_size: config.batch_size,
            max_attempts: 50,
        }
    }
}

/// The relay of one service's outbox.
#[derive(Clone)]
pub struct Relay {
    service: String,
    db: DatabaseConnection,
    bus: Arc<dyn EventBus>,
    signal: OutboxSignal,
    clock: SharedClock,
    settings: RelaySettings,
}

impl Relay {
    /// A relay of `service`'s outbox in `db`, woken by `signal`.
    pub fn new(
        service: impl Into<String>,
        db: DatabaseConnection,
        bus: Arc<dyn EventBus>,
        signal: OutboxSignal,
        clock: SharedClock,
        settings: RelaySettings,
    ) -> Self {
        Self {
            service: service.into(),
            db,
            bus,
            signal,
            clock,
            settings,
        }
    }

    /// Runs until `shutdown` is cancelled, finishing the round in hand.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                self.drain().await;
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = self.signal.notified() => {}
                    () = tokio::time::sleep(self.settings.poll_interval) => {}
                }
            }
            tracing::debug!(service = %self.service, "outbox relay stopped");
        })
    }

    /// Publishes rounds until the backlog is empty or a round fails.
    async fn drain(&self) {
        loop {
            match self.run_once().await {
                Ok(published) if published as u64 >= self.settings.batch_size => continue,
                Ok(_) => return,
                Err(error) => {
                    tracing::warn!(service = %self.service, error = %error, "outbox relay round failed");
                    return;
                }
            }
        }
    }

    /// Publishes one round of at most `batch_size` events; returns how many
    /// were published. Stops at the first failure so events of one subject
    /// keep their order.
    pub async fn run_once(&self) -> Result<usize, KitError> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            // The relay reads every tenant's events: a platform transaction.
            let txn = crate::db::begin_platform(&self.db).await?;
            let published = self.publish_pending(&txn, true).await?;
            txn.commit().await?;
            Ok(published)
        } else {
            // SQLite has one relay per file and no row locks; working outside
            // a transaction keeps the write lock free for handlers.
            self.publish_pending(&self.db, false).await
        }
    }

    async fn publish_pending<C: ConnectionTrait>(
        &self,
        connection: &C,
        lock: bool,
    ) -> Result<usize, KitError> {
        let mut query = entity::Entity::find()
            .filter(entity::Column::PublishedAt.is_null())
            .order_by_asc(entity::Column::Seq)
            .limit(self.settings.batch_size);
        if lock {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = query.all(connection).await?;
        let mut published = 0;
        let mut rest = rows.as_slice();
        while !rest.is_empty() {
            // The leading run of decodable events goes to the bus at once
            // (one Redis round trip) and is marked with one UPDATE: a bulk
            // import puts thousands of events in the outbox, and a statement
            // per event was most of the relay's cost.
            let mut events = Vec::with_capacity(rest.len());
            let mut failure = None;
            for row in rest {
                match EventEnvelope::decode(row.payload.as_slice()) {
                    Ok(event) => events.push(event),
                    Err(error) => {
                        failure = Some(KitError::from(error));
                        break;
                    }
                }
            }
            let (sent, error) = if events.is_empty() {
                (0, None)
            } else {
                self.bus.publish_many(&events).await
            };
            // Marked before the failure is handled: a crash in between
            // publishes them again, which at least once allows.
            mark_published(connection, &rest[..sent], self.clock.now()).await?;
            published += sent;
            let Some(error) = error.map(KitError::from).or(failure) else {
                // Every event of the run was sent and none failed to decode:
                // the round is done.
                break;
            };
            // The event at `sent` failed (on the bus or to decode): it keeps
            // its place, and the events after it wait, so the events of one
            // subject keep their order, unless it has failed too often.
            let row = &rest[sent];
            let attempts = row.attempts + 1;
            let give_up = attempts >= self.settings.max_attempts;
            if give_up {
                tracing::error!(service = %self.service, event_id = %row.id, attempts, error = %error, "event given up after too many attempts");
            }
            let published_at = give_up.then(|| self.clock.now());
            mark(
                connection,
                row.seq,
                published_at,
                attempts,
                Some(error.to_string()),
            )
            .await?;
            if !give_up {
                return Err(error);
            }
            rest = &rest[sent + 1..];
        }
        Ok(published)
    }
}

/// Marks `rows` published at `now` with one UPDATE (their errors of earlier
/// attempts cleared, their attempts kept for operators).
async fn mark_published<C: ConnectionTrait>(
    connection: &C,
    rows: &[entity::Model],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), KitError> {
    if rows.is_empty() {
        return Ok(());
    }
    entity::Entity::update_many()
        .col_expr(entity::Column::PublishedAt, Expr::value(Some(now)))
        .col_expr(entity::Column::LastError, Expr::value(None::<String>))
        .filter(entity::Column::Seq.is_in(rows.iter().map(|row| row.seq)))
        .exec(connection)
        .await?;
    Ok(())
}

async fn mark<C: ConnectionTrait>(
    connection: &C,
    seq: i64,
    published_at: Option<chrono::DateTime<chrono::Utc>>,
    attempts: i32,
    last_error: Option<String>,
) -> Result<(), KitError> {
    entity::Entity::update_many()
        .col_expr(entity::Column::PublishedAt, Expr::value(published_at))
        .col_expr(entity::Column::Attempts, Expr::value(attempts))
        .col_expr(entity::Column::LastError, Expr::value(last_error))
        .filter(entity::Column::Seq.eq(seq))
        .exec(connection)
        .await?;
    Ok(())
}
