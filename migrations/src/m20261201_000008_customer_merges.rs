//! The customers service: merge records (with what undo needs) and erasure
//! records.
//!
//! A merge record keeps the `kefu.v1.CustomerMerge` resource beside a
//! `snapshot` blob holding both customers as they were and what moved
//! (identifiers, activity and ownership-change ids), so the merge can be
//! undone; the snapshot holds personal data and is cleared when either
//! customer is erased. An erasure record holds no personal data and is never
//! deleted; `erased_customers` names the record of every customer an erasure
//! removed (the one asked for and those merged into it), so erasing an
//! erased customer answers its record.

use sea_orm_migration::prelude::*;

use crate::tables;

/// Creates the tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000008_customer_merges"
    }
}

const TABLES: &[(&str, &str)] = &[
    (
        "customer_merges",
        "CREATE TABLE customer_merges (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            survivor_id VARCHAR(63) NOT NULL,
            merged_id VARCHAR(63) NOT NULL,
            state INTEGER NOT NULL,
            resource {bytes} NOT NULL,
            snapshot {bytes},
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "erasure_records",
        "CREATE TABLE erasure_records (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            customer_id VARCHAR(63) NOT NULL,
            requested_by INTEGER NOT NULL,
            resource {bytes} NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "erased_customers",
        "CREATE TABLE erased_customers (
            tenant_id {uuid} NOT NULL,
            customer_id VARCHAR(63) NOT NULL,
            erasure_record_id {uuid} NOT NULL,
            PRIMARY KEY (tenant_id, customer_id),
            FOREIGN KEY (tenant_id, erasure_record_id) REFERENCES erasure_records (tenant_id, id)
        )",
    ),
];

const TENANT_TABLES: &[&str] = &["customer_merges", "erasure_records", "erased_customers"];

const INDEXES: &[&str] = &[
    "CREATE INDEX customer_merges_by_create_time ON customer_merges (tenant_id, create_time, id)",
    "CREATE INDEX customer_merges_by_survivor ON customer_merges (tenant_id, survivor_id, state)",
    "CREATE INDEX customer_merges_by_merged ON customer_merges (tenant_id, merged_id, state)",
    "CREATE INDEX erasure_records_by_create_time ON erasure_records (tenant_id, create_time, id)",
    "CREATE INDEX erasure_records_by_customer ON erasure_records (tenant_id, customer_id)",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        tables::create(manager, TABLES, INDEXES, TENANT_TABLES).await
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
