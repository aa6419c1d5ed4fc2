//! The transactional outbox, relay and bus, on SQLite with the in-process bus
//! and on PostgreSQL with Redis Streams: every committed event reaches an
//! idempotent consumer exactly once, through relay restarts and consumers
//! that fail before acknowledging; a rolled-back event never does.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::Utc;
use kefu_kit::{
    bus::{
        EventBus, EventHandler, HandlerError, InProcessBus, RedisStreamsBus, RedisStreamsSettings,
        Subscription,
    },
    clock::{SharedClock, SystemClock},
    context::TenantId,
    events::new_event,
    inbox, outbox,
    outbox::OutboxSignal,
    relay::{Relay, RelaySettings},
    testing::{Backend, TestDatabase, redis_url},
};
use kefu_proto::v1::{EventEnvelope, Money};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};
use tokio_util::sync::CancellationToken;

use crate::eventually::eventually;

const CONSUMER_GROUP: &str = "suite.recorder";
const PRODUCER: &str = "tickets";

/// An idempotent consumer: records the event id in its own database in the
/// same transaction as its effect, and counts effects per event.
struct Recorder {
    db: DatabaseConnection,
    effects: Mutex<HashMap<String, u32>>,
    deliveries: Mutex<u32>,
    /// Events whose first delivery fails, as if the consumer died before
    /// acknowledging them.
    fail_first: Mutex<HashSet<String>>,
    /// Events whose delivery never finishes (a consumer hanging, then killed).
    hang_on: Mutex<HashSet<String>>,
}

impl Recorder {
    fn new(db: DatabaseConnection) -> Arc<Self> {
        Arc::new(Self {
            db,
            effects: Mutex::default(),
            deliveries: Mutex::default(),
            fail_first: Mutex::default(),
            hang_on: Mutex::default(),
        })
    }

    fn effect_counts(&self) -> HashMap<String, u32> {
        self.effects.lock().expect("lock").clone()
    }

    fn distinct_effects(&self) -> usize {
        self.effects.lock().expect("lock").len()
    }
}

#[async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        *self.deliveries.lock().expect("lock") += 1;
        if self.hang_on.lock().expect("lock").contains(&event.id) {
            std::future::pending::<()>().await;
        }
        if self.fail_first.lock().expect("lock").remove(&event.id) {
            return Err(HandlerError("simulated crash before acknowledging".into()));
        }
        let txn = kefu_kit::db::begin_for_event(&self.db, event)
            .await
            .map_err(HandlerError::from_error)?;
        let first_time = inbox::claim(&txn, CONSUMER_GROUP, event, Utc::now())
            .await
            .map_err(HandlerError::from_error)?;
        txn.commit().await.map_err(HandlerError::from_error)?;
        if first_time {
            *self
                .effects
                .lock()
                .expect("lock")
                .entry(event.id.clone())
                .or_default() += 1;
        }
        Ok(())
    }
}

/// One backend's world: producer and consumer databases and a bus.
struct World {
    producer: TestDatabase,
    consumer: TestDatabase,
    bus: Arc<dyn EventBus>,
    redis: Option<RedisStreamsBus>,
}

async fn world(backend: Backend) -> Option<World> {
    let producer = TestDatabase::new(backend, "tickets").await?;
    let consumer = TestDatabase::new(backend, "callbacks").await?;
    // The state change that events accompany: a row in a table of the producer.
    producer
        .owner_connection()
        .await
        .execute_unprepared("CREATE TABLE suite_widgets (id VARCHAR(64) PRIMARY KEY)")
        .await
        .expect("create widgets");
    let (bus, redis): (Arc<dyn EventBus>, Option<RedisStreamsBus>) = match backend {
        Backend::Sqlite => (Arc::new(InProcessBus::new()), None),
        Backend::Postgres => {
            let url = redis_url()?;
            let settings = RedisStreamsSettings {
                claim_idle: Duration::from_millis(300),
                max_deliveries: 16,
                stream_max_len: 10_000,
                block: Duration::from_millis(100),
                batch: 16,
                namespace: format!("kefu-suite-{}", uuid::Uuid::now_v7().simple()),
            };
            let bus = RedisStreamsBus::connect(&url, settings)
                .await
                .unwrap_or_else(|error| {
                    panic!("KEFU_TEST_REDIS_URL={url} is not reachable: {error}")
                });
            (Arc::new(bus.clone()), Some(bus))
        }
    };
    Some(World {
        producer,
        consumer,
        bus,
        redis,
    })
}

fn relay(world: &World, signal: &OutboxSignal) -> Relay {
    let clock: SharedClock = Arc::new(SystemClock);
    let settings = RelaySettings {
        poll_interval: Duration::from_millis(20),
        batch_size: 7,
        max_attempts: 50,
    };
    Relay::new(
        PRODUCER,
        world.producer.db.clone(),
        world.bus.clone(),
        signal.clone(),
        clock,
        settings,
    )
}

/// Commits a widget and its event in one transaction; returns the event id.
async fn commit_widget(db: &DatabaseConnection, tenant: TenantId, index: usize) -> String {
    let widget = format!("widget-{index}");
    let event = new_event(
        PRODUCER,
        Some(tenant),
        format!("widgets/{widget}"),
        &Money {
            currency_code: "CNY".into(),
            amount_minor: index as i64,
        },
        Utc::now(),
    );
    let txn = kefu_kit::db::begin_for_tenant(db, tenant)
        .await
        .expect("begin");
    txn.execute_unprepared(&format!(
        "INSERT INTO suite_widgets (id) VALUES ('{widget}')"
    ))
    .await
    .expect("insert widget");
    outbox::append(&txn, &event).await.expect("append event");
    txn.commit().await.expect("commit");
    event.id
}

/// Unpublished events, read as the relay reads them (a platform
/// transaction: the outbox holds every tenant's events).
async fn unpublished(db: &DatabaseConnection) -> u64 {
    let txn = kefu_kit::db::begin_platform(db).await.expect("begin");
    outbox::entity::Entity::find()
        .filter(outbox::entity::Column::PublishedAt.is_null())
        .count(&txn)
        .await
        .expect("count outbox")
}

async fn exactly_once_through_restarts_failures_and_rollbacks(backend: Backend) {
    let Some(world) = world(backend).await else {
        return;
    };
    let tenant = TenantId::new();
    let recorder = Recorder::new(world.consumer.db.clone());
    let subscription = world
        .bus
        .subscribe(
            Subscription {
                group: CONSUMER_GROUP.into(),
                consumer: "suite-1".into(),
                producers: vec![PRODUCER.into()],
            },
            recorder.clone(),
        )
        .await
        .expect("subscribe");

    // An event whose transaction rolls back.
    let rolled_back = new_event(
        PRODUCER,
        Some(tenant),
        "widgets/ghost",
        &Money::default(),
        Utc::now(),
    );
    let txn = kefu_kit::db::begin_for_tenant(&world.producer.db, tenant)
        .await
        .expect("begin");
    txn.execute_unprepared("INSERT INTO suite_widgets (id) VALUES ('ghost')")
        .await
        .expect("insert ghost");
    outbox::append(&txn, &rolled_back)
        .await
        .expect("append ghost");
    txn.rollback().await.expect("rollback");

    let mut expected = Vec::new();
    for index in 0..30 {
        expected.push(commit_widget(&world.producer.db, tenant, index).await);
    }
    // Two events the consumer fails on first, as if it died before acking.
    recorder
        .fail_first
        .lock()
        .expect("lock")
        .extend([expected[3].clone(), expected[21].clone()]);

    let signal = OutboxSignal::default();
    let first_stop = CancellationToken::new();
    let first_relay = relay(&world, &signal).spawn(first_stop.clone());
    eventually(
        "some events delivered before the relay stops",
        Duration::from_secs(20),
        || async { recorder.distinct_effects() >= 5 },
    )
    .await;
    first_stop.cancel();
    first_relay.await.expect("relay stops");

    // Committed while no relay runs: kept in the outbox, not lost.
    for index in 30..50 {
        expected.push(commit_widget(&world.producer.db, tenant, index).await);
    }
    assert!(
        unpublished(&world.producer.db).await >= 20,
        "events wait in the outbox while the relay is down"
    );

    let second_stop = CancellationToken::new();
    let second_relay = relay(&world, &signal).spawn(second_stop.clone());
    eventually(
        "every committed event processed",
        Duration::from_secs(30),
        || async { recorder.distinct_effects() == expected.len() },
    )
    .await;
    eventually("the outbox drained", Duration::from_secs(10), || async {
        unpublished(&world.producer.db).await == 0
    })
    .await;
    second_stop.cancel();
    second_relay.await.expect("relay stops");

    // A relay that died after publishing but before marking publishes the
    // same events again: delivered twice, they still take effect once.
    let deliveries_before = *recorder.deliveries.lock().expect("lock");
    world
        .producer
        .owner_connection()
        .await
        .execute_unprepared("UPDATE outbox SET published_at = NULL WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT 5)")
        .await
        .expect("forget publication");
    relay(&world, &signal).run_once().await.expect("republish");
    eventually(
        "the republished events delivered again",
        Duration::from_secs(20),
        || async { *recorder.deliveries.lock().expect("lock") >= deliveries_before + 5 },
    )
    .await;
    subscription.stop().await;

    let effects = recorder.effect_counts();
    for id in &expected {
        assert_eq!(
            effects.get(id),
            Some(&1),
            "event {id} takes effect exactly once"
        );
    }
    assert!(
        !effects.contains_key(&rolled_back.id),
        "a rolled-back event is never delivered"
    );
    assert_eq!(effects.len(), 50);
    assert!(
        *recorder.deliveries.lock().expect("lock") >= 57,
        "failed deliveries were retried and republished ones redelivered"
    );
    let widgets = world
        .producer
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            world.producer.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM suite_widgets",
        ))
        .await
        .expect("count")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n");
    assert_eq!(
        widgets, 50,
        "the rolled-back state change is gone with its event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_process_delivers_each_committed_event_exactly_once() {
    exactly_once_through_restarts_failures_and_rollbacks(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_redis_delivers_each_committed_event_exactly_once() {
    exactly_once_through_restarts_failures_and_rollbacks(Backend::Postgres).await;
}

/// A consumer takes events and dies (killed mid-handler, nothing acked);
/// another consumer of the group reclaims them once they are idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_redis_entries_of_a_dead_consumer_are_reclaimed() {
    let Some(world) = world(Backend::Postgres).await else {
        return;
    };
    let redis = world.redis.as_ref().expect("redis bus");
    let tenant = TenantId::new();
    let mut expected = Vec::new();
    for index in 0..5 {
        expected.push(commit_widget(&world.producer.db, tenant, index).await);
    }
    let doomed = Recorder::new(world.consumer.db.clone());
    doomed
        .hang_on
        .lock()
        .expect("lock")
        .extend(expected.iter().cloned());
    let doomed_subscription = world
        .bus
        .subscribe(
            Subscription {
                group: CONSUMER_GROUP.into(),
                consumer: "doomed".into(),
                producers: vec![PRODUCER.into()],
            },
            doomed.clone(),
        )
        .await
        .expect("subscribe");
    let signal = OutboxSignal::default();
    relay(&world, &signal).run_once().await.expect("publish");
    eventually(
        "the doomed consumer took an event",
        Duration::from_secs(10),
        || async { *doomed.deliveries.lock().expect("lock") >= 1 },
    )
    .await;
    doomed_subscription.kill();

    // Nothing was acknowledged: the entries sit in the group's pending list.
    let mut connection = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let pending: redis::Value = redis::cmd("XPENDING")
        .arg(format!("{}:events:{PRODUCER}", namespace_of(redis)))
        .arg(CONSUMER_GROUP)
        .query_async(&mut connection)
        .await
        .expect("xpending");
    assert!(
        matches!(&pending, redis::Value::Array(items) if matches!(items.first(), Some(redis::Value::Int(n)) if *n >= 1)),
        "pending: {pending:?}"
    );

    let survivor = Recorder::new(world.consumer.db.clone());
    let survivor_subscription = world
        .bus
        .subscribe(
            Subscription {
                group: CONSUMER_GROUP.into(),
                consumer: "survivor".into(),
                producers: vec![PRODUCER.into()],
            },
            survivor.clone(),
        )
        .await
        .expect("subscribe");
    eventually(
        "the survivor processed every event",
        Duration::from_secs(20),
        || async { survivor.distinct_effects() == expected.len() },
    )
    .await;
    survivor_subscription.stop().await;
    let effects = survivor.effect_counts();
    for id in &expected {
        assert_eq!(
            effects.get(id),
            Some(&1),
            "event {id} takes effect exactly once"
        );
    }
    assert!(
        doomed.effect_counts().is_empty(),
        "the dead consumer finished nothing"
    );
}

fn namespace_of(bus: &RedisStreamsBus) -> String {
    bus.settings().namespace.clone()
}
