//! The tickets service: the tenant's ticket kinds, category tree and custom-field definitions.
//!
//! A tenant has tens of each, read whole: every row keeps its resource as
//! encoded protobuf beside its key (the id in its name) and revision (the
//! etag). `parent` of a category is its parent's key ('' for a root), so
//! the children of a category are found without decoding.

use sea_orm_migration::prelude::*;

use crate::tables;

/// Creates the tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000011_ticket_taxonomy"
    }
}

const TABLES: &[(&str, &str)] = &[
    (
        "ticket_kinds",
        "CREATE TABLE ticket_kinds (
            tenant_id {uuid} NOT NULL,
            id VARCHAR(63) NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "ticket_categories",
        "CREATE TABLE ticket_categories (
            tenant_id {uuid} NOT NULL,
            id VARCHAR(63) NOT NULL,
            parent VARCHAR(63) NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "ticket_field_definitions",
        "CREATE TABLE ticket_field_definitions (
            tenant_id {uuid} NOT NULL,
            id VARCHAR(63) NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
];

const TENANT_TABLES: &[&str] = &[
    "ticket_kinds",
    "ticket_categories",
    "ticket_field_definitions",
];

const INDEXES: &[&str] =
    &["CREATE INDEX ticket_categories_by_parent ON ticket_categories (tenant_id, parent, id)"];

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
