//! Delivery inside one process, for `kefu up`.
//!
//! There is no broker to keep events between publish and consume, so the
//! outbox keeps them: `publish` runs every matching handler before it returns
//! and fails if any handler failed, and the relay marks the outbox row
//! published only then. A crash at any point leaves the row unpublished and
//! it is delivered again at the next start.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use kefu_proto::v1::EventEnvelope;
use tokio_util::sync::CancellationToken;

use super::{BusError, EventBus, EventHandler, Subscription, SubscriptionHandle};

struct Subscriber {
    subscription: Subscription,
    handler: Arc<dyn EventHandler>,
    token: CancellationToken,
    // One event at a time per group, as a Redis consumer group with one
    // consumer would deliver them.
    in_flight: tokio::sync::Mutex<()>,
}

/// The in-process bus.
#[derive(Default, Clone)]
pub struct InProcessBus {
    subscribers: Arc<RwLock<Vec<Arc<Subscriber>>>>,
}

impl InProcessBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    fn matching(&self, producer: &str) -> Vec<Arc<Subscriber>> {
        let mut subscribers = self
            .subscribers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        subscribers.retain(|subscriber| !subscriber.token.is_cancelled());
        subscribers
            .iter()
            .filter(|subscriber| {
                subscriber
                    .subscription
                    .producers
                    .iter()
                    .any(|name| name == producer)
            })
            .cloned()
            .collect()
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), BusError> {
        for subscriber in self.matching(&event.producer) {
            let _turn = subscriber.in_flight.lock().await;
            if subscriber.token.is_cancelled() {
                continue;
            }
            subscriber
                .handler
                .handle(event)
                .await
                .map_err(|error| BusError::Handler {
                    group: subscriber.subscription.group.clone(),
                    message: error.0,
                })?;
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn EventHandler>,
    ) -> Result<SubscriptionHandle, BusError> {
        let token = CancellationToken::new();
        let subscriber = Arc::new(Subscriber {
            subscription,
            handler,
            token: token.clone(),
            in_flight: tokio::sync::Mutex::new(()),
        });
        self.subscribers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(subscriber);
        Ok(SubscriptionHandle::new(token, None))
    }
}
