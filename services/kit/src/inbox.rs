//! The processed-event log that makes consumers idempotent: delivery is at
//! least once, so a consumer records each event id in the same transaction as
//! the event's effect and skips ids it has seen.

use chrono::{DateTime, Utc};
use kefu_proto::v1::EventEnvelope;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set, sea_query::OnConflict};
use uuid::Uuid;

/// The `processed_events` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One event a consumer has processed.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "processed_events")]
    pub struct Model {
        /// The consumer (subscription group) that processed it.
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        /// The event id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: Uuid,
        /// The event's tenant, for purges.
        pub tenant_id: Option<Uuid>,
        /// When it was processed.
        pub processed_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Records that `consumer` processes `event` now, inside `txn`.
///
/// Returns `false` when it was processed before: the caller then skips the
/// effect and commits nothing new. Two deliveries racing each other both
/// insert; the database lets one win and the other's transaction waits for,
/// then sees, the winner's row.
pub async fn claim<C: ConnectionTrait>(
    txn: &C,
    consumer: &str,
    event: &EventEnvelope,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let event_id = Uuid::parse_str(&event.id)
        .map_err(|error| DbErr::Custom(format!("event id {}: {error}", event.id)))?;
    let tenant_id = Uuid::parse_str(&event.tenant_id).ok();
    let row = entity::ActiveModel {
        consumer: Set(consumer.to_owned()),
        event_id: Set(event_id),
        tenant_id: Set(tenant_id),
        processed_at: Set(now),
    };
    let inserted = entity::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([entity::Column::Consumer, entity::Column::EventId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(inserted == 1)
}
