//! The transactional outbox and the processed-event log, which every service
//! has: events leave through the first and are de-duplicated on arrival
//! through the second.

use sea_orm_migration::prelude::*;

/// Creates `outbox` and `processed_events`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000001_outbox"
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Seq,
    Id,
    TenantId,
    EventType,
    Subject,
    Payload,
    OccurredAt,
    PublishedAt,
    Attempts,
    LastError,
}

#[derive(DeriveIden)]
enum ProcessedEvents {
    Table,
    Consumer,
    EventId,
    TenantId,
    ProcessedAt,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The outbox is the service's own system table, not tenant data: its
        // primary key is the commit sequence the relay publishes in, and the
        // relay reads across tenants. `tenant_id` is kept for purging and for
        // the envelope.
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Outbox::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Outbox::Id).uuid().not_null().unique_key())
                    .col(ColumnDef::new(Outbox::TenantId).uuid().null())
                    .col(ColumnDef::new(Outbox::EventType).string_len(200).not_null())
                    .col(ColumnDef::new(Outbox::Subject).string_len(300).not_null())
                    .col(ColumnDef::new(Outbox::Payload).blob().not_null())
                    .col(
                        ColumnDef::new(Outbox::OccurredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Outbox::PublishedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Outbox::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(Outbox::LastError).text().null())
                    .to_owned(),
            )
            .await?;
        // The relay's only query: unpublished rows in commit order. A partial
        // index stays as small as the backlog (both backends support it).
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (seq) WHERE published_at IS NULL")
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProcessedEvents::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ProcessedEvents::Consumer)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ProcessedEvents::EventId).uuid().not_null())
                    .col(ColumnDef::new(ProcessedEvents::TenantId).uuid().null())
                    .col(
                        ColumnDef::new(ProcessedEvents::ProcessedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ProcessedEvents::Consumer)
                            .col(ProcessedEvents::EventId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProcessedEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Outbox::Table).to_owned())
            .await
    }
}
