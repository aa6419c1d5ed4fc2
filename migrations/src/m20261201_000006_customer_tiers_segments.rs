//! The customers service: tiers, segments, segment membership and the
//! custom attribute schema.
//!
//! Tiers, segments and the schema are kept whole as encoded protobuf
//! (`resource`) beside the columns that are unique or ordered. A tier's
//! customer count is not stored: it is counted from `customers.tier` when
//! read. `segment_members` holds who is in each segment now, keyed so that
//! SearchCustomers(segment) and ListSegmentMembers are one index range, and
//! indexed by customer so a customer's memberships are found when it
//! changes.

use sea_orm_migration::prelude::*;

use crate::tables;

/// Creates the tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000006_customer_tiers_segments"
    }
}

const TABLES: &[(&str, &str)] = &[
    (
        "customer_attribute_schemas",
        "CREATE TABLE customer_attribute_schemas (
            tenant_id {uuid} NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id)
        )",
    ),
    (
        "tiers",
        "CREATE TABLE tiers (
            tenant_id {uuid} NOT NULL,
            id VARCHAR(50) NOT NULL,
            rank INTEGER NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, rank)
        )",
    ),
    (
        "segments",
        "CREATE TABLE segments (
            tenant_id {uuid} NOT NULL,
            id VARCHAR(63) NOT NULL,
            display_name VARCHAR(100) NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "segment_members",
        "CREATE TABLE segment_members (
            tenant_id {uuid} NOT NULL,
            segment_id VARCHAR(63) NOT NULL,
            customer_id VARCHAR(63) NOT NULL,
            PRIMARY KEY (tenant_id, segment_id, customer_id),
            FOREIGN KEY (tenant_id, segment_id) REFERENCES segments (tenant_id, id),
            FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
        )",
    ),
];

const TENANT_TABLES: &[&str] = &[
    "customer_attribute_schemas",
    "tiers",
    "segments",
    "segment_members",
];

const INDEXES: &[&str] =
    &["CREATE INDEX segment_members_by_customer ON segment_members (tenant_id, customer_id)"];

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
