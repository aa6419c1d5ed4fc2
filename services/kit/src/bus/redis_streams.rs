//! Redis Streams: consumer groups, acknowledgement, and reclaim of entries
//! whose consumer died before acknowledging them.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use kefu_proto::v1::EventEnvelope;
use prost::Message;
use redis::{
    AsyncConnectionConfig, Value,
    aio::{ConnectionManager, MultiplexedConnection},
    streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply},
};
use tokio_util::sync::CancellationToken;

use super::{
    BusError, EventBus, EventHandler, Subscription, SubscriptionHandle, dead_letter_key, stream_key,
};
use crate::config::BusConfig;

/// The stream entry field holding the encoded envelope.
const EVENT_FIELD: &str = "event";

/// Tuning of the Redis Streams bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisStreamsSettings {
    /// An entry pending this long on a consumer is taken over by another.
    pub claim_idle: Duration,
    /// After this many deliveries an entry goes to the dead-letter stream.
    pub max_deliveries: u64,
    /// Approximate length each stream is trimmed to.
    pub stream_max_len: usize,
    /// How long one read waits for new entries; also bounds how long a
    /// stopping subscription takes to notice.
    pub block: Duration,
    /// Entries read or claimed at once.
    pub batch: usize,
    /// The first segment of every key (`kefu`), so installations or test
    /// runs sharing one Redis do not see each other's events.
    pub namespace: String,
}

impl From<&BusConfig> for RedisStreamsSettings {
    fn from(config: &BusConfig) -> Self {
        Self {
            claim_idle: Duration::from_millis(config.claim_idle_ms),
            max_deliveries: config.max_deliveries,
            stream_max_len: config.stream_max_len,
            block: Duration::from_secs(1),
            batch: 64,
            namespace: config.namespace.clone(),
        }
    }
}

/// The bus on Redis Streams.
#[derive(Clone)]
pub struct RedisStreamsBus {
    client: redis::Client,
    publisher: ConnectionManager,
    settings: RedisStreamsSettings,
}

impl RedisStreamsBus {
    /// Connects to `url`.
    pub async fn connect(url: &str, settings: RedisStreamsSettings) -> Result<Self, BusError> {
        let client = redis::Client::open(url)?;
        // The manager reconnects by itself after Redis restarts.
        let publisher = client.get_connection_manager().await?;
        Ok(Self {
            client,
            publisher,
            settings,
        })
    }

    /// The client, for tests that inspect the streams.
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &RedisStreamsSettings {
        &self.settings
    }
}

#[async_trait]
impl EventBus for RedisStreamsBus {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), BusError> {
        let mut connection = self.publisher.clone();
        redis::cmd("XADD")
            .arg(stream_key(&self.settings.namespace, &event.producer))
            .arg("MAXLEN")
            .arg("~")
            .arg(self.settings.stream_max_len)
            .arg("*")
            .arg(EVENT_FIELD)
            .arg(event.encode_to_vec())
            .query_async::<String>(&mut connection)
            .await?;
        Ok(())
    }

    async fn publish_many(&self, events: &[EventEnvelope]) -> (usize, Option<BusError>) {
        // One pipeline, one round trip: Redis runs the XADDs of one
        // connection in order, so the stream keeps commit order. The replies
        // come back together; when the pipeline fails we cannot tell which
        // entries were added, so none counts as published and the relay sends
        // them all again (at least once: consumers skip the duplicates).
        if events.is_empty() {
            return (0, None);
        }
        let mut pipeline = redis::pipe();
        for event in events {
            pipeline
                .cmd("XADD")
                .arg(stream_key(&self.settings.namespace, &event.producer))
                .arg("MAXLEN")
                .arg("~")
                .arg(self.settings.stream_max_len)
                .arg("*")
                .arg(EVENT_FIELD)
                .arg(event.encode_to_vec());
        }
        let mut connection = self.publisher.clone();
        match pipeline.query_async::<Vec<String>>(&mut connection).await {
            Ok(_) => (events.len(), None),
            Err(error) => (0, Some(error.into())),
        }
    }

    async fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn EventHandler>,
    ) -> Result<SubscriptionHandle, BusError> {
        // Blocking reads wait longer than the default response timeout.
        let config = AsyncConnectionConfig::new().set_response_timeout(None);
        let mut connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let keys: Vec<String> = subscription
            .producers
            .iter()
            .map(|producer| stream_key(&self.settings.namespace, producer))
            .collect();
        for key in &keys {
            create_group(&mut connection, key, &subscription.group).await?;
        }
        let token = CancellationToken::new();
        let consumer = Consumer {
            connection,
            keys,
            subscription,
            handler,
            settings: self.settings.clone(),
            token: token.clone(),
        };
        let task = tokio::spawn(consumer.run());
        Ok(SubscriptionHandle::new(token, Some(task)))
    }
}

/// Creates the group at the start of the stream (a new group sees every
/// retained event); an existing group is kept as it is.
async fn create_group(
    connection: &mut MultiplexedConnection,
    key: &str,
    group: &str,
) -> Result<(), BusError> {
    let created = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(key)
        .arg(group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async::<()>(connection)
        .await;
    match created {
        Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
        other => Ok(other?),
    }
}

struct Consumer {
    connection: MultiplexedConnection,
    keys: Vec<String>,
    subscription: Subscription,
    handler: Arc<dyn EventHandler>,
    settings: RedisStreamsSettings,
    token: CancellationToken,
}

impl Consumer {
    async fn run(mut self) {
        let group = self.subscription.group.clone();
        let claim_every = (self.settings.claim_idle / 2).max(Duration::from_millis(50));
        // Claim first: after a restart our own unacknowledged entries (and a
        // dead replica's) are waiting.
        let mut next_claim = Instant::now();
        while !self.token.is_cancelled() {
            let round = async {
                if Instant::now() >= next_claim {
                    for key in self.keys.clone() {
                        self.reclaim(&key).await?;
                    }
                    next_claim = Instant::now() + claim_every;
                }
                self.read_new().await
            };
            if let Err(error) = round.await {
                tracing::warn!(group = %group, error = %error, "event consumer failed; retrying");
                tokio::select! {
                    () = self.token.cancelled() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }

    async fn read_new(&mut self) -> Result<(), BusError> {
        let mut command = redis::cmd("XREADGROUP");
        command
            .arg("GROUP")
            .arg(&self.subscription.group)
            .arg(&self.subscription.consumer)
            .arg("COUNT")
            .arg(self.settings.batch)
            .arg("BLOCK")
            .arg(self.settings.block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.keys);
        for _ in &self.keys {
            command.arg(">");
        }
        let reply: Option<StreamReadReply> = command.query_async(&mut self.connection).await?;
        for stream in reply.map(|reply| reply.keys).unwrap_or_default() {
            for entry in stream.ids {
                self.deliver(&stream.key, &entry).await?;
            }
        }
        Ok(())
    }

    /// Takes over entries pending longer than `claim_idle` on any consumer of
    /// the group (one that died, or this one before a restart).
    async fn reclaim(&mut self, key: &str) -> Result<(), BusError> {
        let mut start = "0-0".to_owned();
        loop {
            let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(key)
                .arg(&self.subscription.group)
                .arg(&self.subscription.consumer)
                .arg(self.settings.claim_idle.as_millis() as u64)
                .arg(&start)
                .arg("COUNT")
                .arg(self.settings.batch)
                .query_async(&mut self.connection)
                .await?;
            for entry in &reply.claimed {
                if self.delivery_count(key, &entry.id).await? > self.settings.max_deliveries {
                    self.dead_letter(key, entry, "delivered too many times")
                        .await?;
                } else {
                    self.deliver(key, entry).await?;
                }
            }
            if reply.next_stream_id == "0-0" || reply.claimed.is_empty() {
                return Ok(());
            }
            start = reply.next_stream_id;
        }
    }

    async fn delivery_count(&mut self, key: &str, id: &str) -> Result<u64, BusError> {
        let reply: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(key)
            .arg(&self.subscription.group)
            .arg(id)
            .arg(id)
            .arg(1)
            .query_async(&mut self.connection)
            .await?;
        Ok(reply
            .ids
            .first()
            .map_or(0, |pending| pending.times_delivered as u64))
    }

    async fn deliver(&mut self, key: &str, entry: &StreamId) -> Result<(), BusError> {
        let Some(event) = decode(entry) else {
            return self.dead_letter(key, entry, "undecodable entry").await;
        };
        let span = tracing::info_span!("event", group = %self.subscription.group, event_type = %event.r#type, event_id = %event.id, tenant_id = %event.tenant_id);
        crate::telemetry::set_parent_from_event(&span, &event);
        let outcome = tracing::Instrument::instrument(self.handler.handle(&event), span).await;
        match outcome {
            Ok(()) => self.ack(key, &entry.id).await,
            Err(error) => {
                // Left pending: reclaimed and retried after `claim_idle`.
                tracing::warn!(group = %self.subscription.group, event_id = %event.id, error = %error, "event handler failed");
                Ok(())
            }
        }
    }

    async fn ack(&mut self, key: &str, id: &str) -> Result<(), BusError> {
        redis::cmd("XACK")
            .arg(key)
            .arg(&self.subscription.group)
            .arg(id)
            .query_async::<u64>(&mut self.connection)
            .await?;
        Ok(())
    }

    async fn dead_letter(
        &mut self,
        key: &str,
        entry: &StreamId,
        reason: &str,
    ) -> Result<(), BusError> {
        let producer = key.rsplit(':').next().unwrap_or(key);
        let dead_letter = dead_letter_key(&self.settings.namespace, producer);
        let payload = match entry.map.get(EVENT_FIELD) {
            Some(Value::BulkString(bytes)) => bytes.clone(),
            _ => Vec::new(),
        };
        tracing::error!(group = %self.subscription.group, stream = %key, entry_id = %entry.id, reason, "event moved to the dead-letter stream");
        redis::cmd("XADD")
            .arg(dead_letter)
            .arg("*")
            .arg(EVENT_FIELD)
            .arg(payload)
            .arg("group")
            .arg(&self.subscription.group)
            .arg("entry_id")
            .arg(&entry.id)
            .arg("reason")
            .arg(reason)
            .query_async::<String>(&mut self.connection)
            .await?;
        self.ack(key, &entry.id).await
    }
}

fn decode(entry: &StreamId) -> Option<EventEnvelope> {
    match entry.map.get(EVENT_FIELD) {
        Some(Value::BulkString(bytes)) => EventEnvelope::decode(bytes.as_slice()).ok(),
        _ => None,
    }
}
