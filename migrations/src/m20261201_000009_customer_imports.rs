//! The customers service: CSV imports, their stored files and row errors.
//!
//! An import's file is kept in the database as ordered chunks (as received,
//! at most 1 MiB each) rather than on a disk: in the distributed mode
//! replicas share no disk, and any replica may resume an import another one
//! left. The chunks go once the import ends. `rows_committed` is the resume
//! point: the data rows whose outcome (written, unchanged or refused) is
//! committed, moved forward in the transaction of each batch.

use sea_orm_migration::prelude::*;

use crate::{rls, tables};

/// Creates the tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000009_customer_imports"
    }
}

const TABLES: &[(&str, &str)] = &[
    (
        "customer_imports",
        "CREATE TABLE customer_imports (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            request_id VARCHAR(100),
            state INTEGER NOT NULL,
            resource {bytes} NOT NULL,
            rows_total BIGINT NOT NULL,
            rows_committed BIGINT NOT NULL,
            errors_kept BIGINT NOT NULL,
            attempts INTEGER NOT NULL,
            create_time {time} NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, request_id)
        )",
    ),
    (
        "customer_import_chunks",
        "CREATE TABLE customer_import_chunks (
            tenant_id {uuid} NOT NULL,
            import_id {uuid} NOT NULL,
            seq INTEGER NOT NULL,
            data {bytes} NOT NULL,
            PRIMARY KEY (tenant_id, import_id, seq),
            FOREIGN KEY (tenant_id, import_id) REFERENCES customer_imports (tenant_id, id)
        )",
    ),
    (
        "customer_import_errors",
        "CREATE TABLE customer_import_errors (
            tenant_id {uuid} NOT NULL,
            import_id {uuid} NOT NULL,
            line BIGINT NOT NULL,
            field VARCHAR(200) NOT NULL,
            reason VARCHAR(50) NOT NULL,
            message VARCHAR(1000) NOT NULL,
            PRIMARY KEY (tenant_id, import_id, line, field),
            FOREIGN KEY (tenant_id, import_id) REFERENCES customer_imports (tenant_id, id)
        )",
    ),
];

const TENANT_TABLES: &[&str] = &[
    "customer_imports",
    "customer_import_chunks",
    "customer_import_errors",
];

const INDEXES: &[&str] = &[
    "CREATE INDEX customer_imports_by_create_time ON customer_imports (tenant_id, create_time, id)",
    "CREATE INDEX customer_imports_by_state ON customer_imports (tenant_id, state)",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        tables::create(manager, TABLES, INDEXES, TENANT_TABLES).await?;
        // The import worker of a (re)starting process looks for unfinished
        // imports of every tenant in a platform transaction; a tenant
        // transaction still sees only its own. This replaces the tenant-only
        // policy `tables::create` just set.
        rls::platform_table(manager, "customer_imports", "tenant_id").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        tables::drop(manager, TABLES).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_table_has_a_tenant_and_row_security() {
        super::tables::assert_protected(super::TABLES, super::TENANT_TABLES);
    }
}
