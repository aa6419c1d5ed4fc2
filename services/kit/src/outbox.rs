//! The transactional outbox: a service writes its events into its own
//! `outbox` table in the same transaction as the state change, so an event
//! exists exactly when its change was committed. The [`crate::relay`]
//! publishes them afterwards.

use std::sync::Arc;

use kefu_proto::v1::EventEnvelope;
use prost::Message;
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, DbErr, EntityTrait, Set};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::events::from_timestamp;

/// The `outbox` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One event waiting for, or past, publication.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        /// Commit order; the relay publishes in this order.
        #[sea_orm(primary_key)]
        pub seq: i64,
        /// The event id (the envelope's).
        pub id: Uuid,
        /// The tenant, for purges; `None` for platform events.
        pub tenant_id: Option<Uuid>,
        /// The payload's full message name.
        pub event_type: String,
        /// The resource the event is about.
        pub subject: String,
        /// The encoded `EventEnvelope`.
        pub payload: Vec<u8>,
        /// When the change happened.
        pub occurred_at: DateTimeUtc,
        /// When the relay handed the event to the bus; `None` while pending.
        pub published_at: Option<DateTimeUtc>,
        /// Failed publication attempts.
        pub attempts: i32,
        /// The last publication error, kept for operators.
        pub last_error: Option<String>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Writes `event` into the outbox of the transaction `txn`.
///
/// Call it with the same transaction as the state change; the event is
/// published only if that transaction commits.
pub async fn append<C: ConnectionTrait>(txn: &C, event: &EventEnvelope) -> Result<(), DbErr> {
    entity::Entity::insert(row(event)?)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Writes `events` into the outbox of `txn` in their order, with a few
/// multi-row INSERTs instead of one statement per event (bulk imports
/// publish one event per row).
pub async fn append_many<C: ConnectionTrait>(
    txn: &C,
    events: &[EventEnvelope],
) -> Result<(), DbErr> {
    // 9 values a row: far below the bind-parameter limits of both backends.
    const ROWS_PER_INSERT: usize = 500;
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let rows = chunk.iter().map(row).collect::<Result<Vec<_>, _>>()?;
        entity::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// The outbox row of `event`.
fn row(event: &EventEnvelope) -> Result<entity::ActiveModel, DbErr> {
    let id = Uuid::parse_str(&event.id)
        .map_err(|error| DbErr::Custom(format!("event id {}: {error}", event.id)))?;
    let tenant_id =
        if event.tenant_id.is_empty() {
            None
        } else {
            Some(Uuid::parse_str(&event.tenant_id).map_err(|error| {
                DbErr::Custom(format!("event tenant {}: {error}", event.tenant_id))
            })?)
        };
    let occurred_at = event
        .occurred_at
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| DbErr::Custom(format!("event {} has no valid occurred_at", event.id)))?;
    Ok(entity::ActiveModel {
        seq: NotSet,
        id: Set(id),
        tenant_id: Set(tenant_id),
        event_type: Set(event.r#type.clone()),
        subject: Set(event.subject.clone()),
        payload: Set(event.encode_to_vec()),
        occurred_at: Set(occurred_at),
        published_at: Set(None),
        attempts: Set(0),
        last_error: Set(None),
    })
}

/// Wakes the relay right after a commit, so events do not wait for its next
/// poll. Cheap to clone; a wake-up with nobody waiting is remembered.
#[derive(Debug, Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    /// Tells the relay that new events were committed.
    pub fn notify(&self) {
        self.0.notify_one();
    }

    /// Waits for the next [`OutboxSignal::notify`].
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}
