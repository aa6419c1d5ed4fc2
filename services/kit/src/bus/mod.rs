//! The event bus between services.
//!
//! Each producing service has one stream (`kefu:events:<service>`); each
//! consuming service reads the streams it cares about as a consumer group, so
//! every group sees every event and the replicas of one service share the
//! work. Two implementations: [`RedisStreamsBus`] in production and
//! [`InProcessBus`] when every service runs in one process (`kefu up`).
//!
//! Delivery is at least once: a handler may see an event again after a
//! failure or a crash, and must be idempotent (see [`crate::inbox`]).

use std::sync::Arc;

use async_trait::async_trait;
use kefu_proto::v1::EventEnvelope;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

mod in_process;
mod redis_streams;

pub use in_process::InProcessBus;
pub use redis_streams::{RedisStreamsBus, RedisStreamsSettings};

/// The Redis key of a producer's stream under `namespace` (`kefu` unless
/// several installations share one Redis).
pub fn stream_key(namespace: &str, producer: &str) -> String {
    format!("{namespace}:events:{producer}")
}

/// The Redis key where a producer's events go that failed too often.
pub fn dead_letter_key(namespace: &str, producer: &str) -> String {
    format!("{namespace}:dead-letter:{producer}")
}

/// Why the bus failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Redis refused or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A subscriber's handler failed (in-process delivery only: the relay
    /// keeps the event and retries).
    #[error("handler of {group} failed: {message}")]
    Handler {
        /// The failing consumer group.
        group: String,
        /// The handler's error.
        message: String,
    },
}

/// What a handler answers when it could not process an event; the event is
/// delivered again later.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

impl HandlerError {
    /// A handler error from any error.
    pub fn from_error(error: impl std::fmt::Display) -> Self {
        Self(error.to_string())
    }
}

/// Processes events of a subscription.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Handles one event. `Ok` acknowledges it; `Err` leaves it to be
    /// delivered again.
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError>;
}

/// A consumer group's interest in some producers' events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The consumer group, usually the consuming service and purpose
    /// (`callbacks.scheduler`).
    pub group: String,
    /// This replica's name within the group (host name, pod name).
    pub consumer: String,
    /// The producers whose streams to read (`tickets`, `customers`).
    pub producers: Vec<String>,
}

/// A running subscription.
#[derive(Debug)]
pub struct SubscriptionHandle {
    token: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl SubscriptionHandle {
    pub(crate) fn new(token: CancellationToken, task: Option<JoinHandle<()>>) -> Self {
        Self { token, task }
    }

    /// Stops consuming after the event in hand, and waits until it has.
    pub async fn stop(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Stops at once, as a crash would: an event in hand is neither finished
    /// nor acknowledged. For tests of recovery.
    pub fn kill(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Publishes events and runs subscriptions.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes `event` on its producer's stream. When this returns `Ok` the
    /// event is durable on the bus (Redis) or already handled by every
    /// subscriber (in-process), so the relay may mark it published.
    async fn publish(&self, event: &EventEnvelope) -> Result<(), BusError>;

    /// Publishes `events` in their order, stopping at the first failure:
    /// how many leading events are durable (as [`EventBus::publish`] says),
    /// and the error of the next one, if any. A bus that can send many
    /// events in one round trip (Redis pipelines) overrides it; the relay
    /// hands it a whole round of the outbox.
    async fn publish_many(&self, events: &[EventEnvelope]) -> (usize, Option<BusError>) {
        for (index, event) in events.iter().enumerate() {
            if let Err(error) = self.publish(event).await {
                return (index, Some(error));
            }
        }
        (events.len(), None)
    }

    /// Starts delivering the subscription's events to `handler`.
    async fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn EventHandler>,
    ) -> Result<SubscriptionHandle, BusError>;
}
