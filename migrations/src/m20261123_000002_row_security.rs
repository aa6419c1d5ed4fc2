//! Every service: the non-owner service role and row-level security on the
//! outbox and the processed-event log (platform tables: the relay reads every
//! tenant's events).

use sea_orm_migration::prelude::*;

use crate::rls;

/// Grants the service role and protects `outbox` and `processed_events`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000002_row_security"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rls::platform_table(manager, "outbox", "tenant_id").await?;
        rls::platform_table(manager, "processed_events", "tenant_id").await?;
        rls::grant_service_role(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
