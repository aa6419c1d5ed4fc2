//! Tenant exports (ExportTenantData): one row per export with its state,
//! the encoded `kefu.v1.TenantExport`, and the archive itself once built.
//!
//! The archive lives in the tenants service's own database rather than the
//! data directory: in the distributed mode replicas share no disk, and the
//! row goes with the tenant when it is purged (ON DELETE CASCADE), so a
//! deleted tenant leaves no export behind.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use crate::rls;

/// Creates `tenant_exports`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000004_tenant_exports"
    }
}

const TABLE: &str = "CREATE TABLE tenant_exports (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id {uuid} NOT NULL,
    request_id VARCHAR(100),
    state INTEGER NOT NULL,
    resource {bytes} NOT NULL,
    archive {bytes},
    create_time {time} NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, request_id)
)";

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (uuid, time, bytes) = match manager.get_database_backend() {
            DbBackend::Postgres => ("uuid", "timestamptz", "bytea"),
            _ => ("blob", "text", "blob"),
        };
        let connection = manager.get_connection();
        connection
            .execute_unprepared(
                &TABLE
                    .replace("{uuid}", uuid)
                    .replace("{time}", time)
                    .replace("{bytes}", bytes),
            )
            .await?;
        connection
            .execute_unprepared(
                "CREATE INDEX tenant_exports_by_state ON tenant_exports (state, create_time)",
            )
            .await?;
        // A platform table: the operator's maintenance finds RUNNING exports
        // across tenants; a tenant transaction sees only its own.
        rls::platform_table(manager, "tenant_exports", "tenant_id").await?;
        rls::grant_service_role(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS tenant_exports")
            .await
            .map(|_| ())
    }
}
