//! The customers service's customer records and the look-up tables search
//! and uniqueness run on. Tiers, segments, ownership, merges and imports
//! have their own migrations.
//!
//! A customer is kept whole as encoded protobuf (`resource`) beside the
//! columns that are filtered, ordered or unique; phones, e-mails,
//! identifiers, tags and name keys live in narrow tables keyed
//! `(tenant_id, value, customer_id)` so each search is one index range. Only
//! ACTIVE customers have look-up rows (a MERGED or ERASED one is found by no
//! search), except identifiers, which stay reserved while merged.

use sea_orm_migration::prelude::*;

use crate::tables;

/// Creates the customer tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000005_customers"
    }
}

const TABLES: &[(&str, &str)] = &[
    (
        "customers",
        "CREATE TABLE customers (
            tenant_id {uuid} NOT NULL,
            id VARCHAR(63) NOT NULL,
            state INTEGER NOT NULL,
            display_name VARCHAR(200) NOT NULL,
            sort_key VARCHAR(700) {binary} NOT NULL,
            member BOOLEAN NOT NULL,
            tier VARCHAR(63),
            tier_locked BOOLEAN NOT NULL,
            owner VARCHAR(80),
            owner_assign_time {time},
            first_contact_due_time {time},
            first_contact_time {time},
            external_id VARCHAR(100),
            merged_into VARCHAR(63),
            contribution_minor BIGINT NOT NULL,
            asset_size_minor BIGINT NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, external_id)
        )",
    ),
    (
        "customer_name_keys",
        "CREATE TABLE customer_name_keys (
            tenant_id {uuid} NOT NULL,
            name_key VARCHAR(200) {binary} NOT NULL,
            customer_id VARCHAR(63) NOT NULL,
            PRIMARY KEY (tenant_id, name_key, customer_id),
            FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
        )",
    ),
    (
        "customer_phones",
        "CREATE TABLE customer_phones (
            tenant_id {uuid} NOT NULL,
            e164 VARCHAR(20) NOT NULL,
            customer_id VARCHAR(63) NOT NULL,
            PRIMARY KEY (tenant_id, e164, customer_id),
            FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
        )",
    ),
    (
        "customer_emails",
        "CREATE TABLE customer_emails (
            tenant_id {uuid} NOT NULL,
            email VARCHAR(254) NOT NULL,
            customer_id VARCHAR(63) NOT NULL,
            PRIMARY KEY (tenant_id, email, customer_id),
            FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
        )",
    ),
    (
        "customer_identifiers",
        "CREATE TABLE customer_identifiers (
            tenant_id {uuid} NOT NULL,
            kind INTEGER NOT NULL,
            label_key VARCHAR(50) NOT NULL,
            value_key VARCHAR(100) NOT NULL,
            customer_id VARCHAR(63) NOT NULL,
            PRIMARY KEY (tenant_id, kind, label_key, value_key),
            FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
        )",
    ),
    (
        "customer_tags",
        "CREATE TABLE customer_tags (
            tenant_id {uuid} NOT NULL,
            tag VARCHAR(50) NOT NULL,
            customer_id VARCHAR(63) NOT NULL,
            PRIMARY KEY (tenant_id, tag, customer_id),
            FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
        )",
    ),
    (
        "idempotency_keys",
        "CREATE TABLE idempotency_keys (
            tenant_id {uuid} NOT NULL,
            request_id VARCHAR(100) NOT NULL,
            method VARCHAR(60) NOT NULL,
            resource_name VARCHAR(200) NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, request_id)
        )",
    ),
];

const TENANT_TABLES: &[&str] = &[
    "customers",
    "customer_name_keys",
    "customer_phones",
    "customer_emails",
    "customer_identifiers",
    "customer_tags",
    "idempotency_keys",
];

const INDEXES: &[&str] = &[
    "CREATE INDEX customers_by_sort_key ON customers (tenant_id, state, sort_key, id)",
    "CREATE INDEX customers_by_create_time ON customers (tenant_id, state, create_time, id)",
    "CREATE INDEX customers_by_owner ON customers (tenant_id, owner, first_contact_due_time)",
    "CREATE INDEX customers_by_tier ON customers (tenant_id, tier)",
    "CREATE INDEX customer_name_keys_by_customer ON customer_name_keys (tenant_id, customer_id)",
    "CREATE INDEX customer_phones_by_customer ON customer_phones (tenant_id, customer_id)",
    "CREATE INDEX customer_emails_by_customer ON customer_emails (tenant_id, customer_id)",
    "CREATE INDEX customer_identifiers_by_customer ON customer_identifiers (tenant_id, customer_id)",
    "CREATE INDEX customer_tags_by_customer ON customer_tags (tenant_id, customer_id)",
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
