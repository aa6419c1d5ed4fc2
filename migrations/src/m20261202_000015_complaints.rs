//! The tickets service: complaints (投诉) and their remedy proposals (方案).
//!
//! Each keeps its whole `kefu.v1` resource encoded in `resource`, beside the
//! few columns the lists and the overdue scan filter on. `complaint_numbers`
//! holds the last `C-000123` number handed out per tenant.

use sea_orm_migration::prelude::*;

use crate::{rls, tables};

/// Creates the tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000015_complaints"
    }
}

const TABLES: &[(&str, &str)] = &[
    (
        "complaints",
        "CREATE TABLE complaints (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            complaint_number BIGINT NOT NULL,
            ticket_id VARCHAR(63) NOT NULL,
            customer_id VARCHAR(63) NOT NULL,
            stage INTEGER NOT NULL,
            is_open INTEGER NOT NULL,
            overdue INTEGER NOT NULL,
            deadline_time {time} NOT NULL,
            create_time {time} NOT NULL,
            update_time {time} NOT NULL,
            revision BIGINT NOT NULL,
            resource {bytes} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "complaint_proposals",
        "CREATE TABLE complaint_proposals (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            complaint_id {uuid} NOT NULL,
            round INTEGER NOT NULL,
            state INTEGER NOT NULL,
            create_time {time} NOT NULL,
            revision BIGINT NOT NULL,
            resource {bytes} NOT NULL,
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, complaint_id) REFERENCES complaints (tenant_id, id)
        )",
    ),
    (
        "complaint_numbers",
        "CREATE TABLE complaint_numbers (
            tenant_id {uuid} NOT NULL,
            last_number BIGINT NOT NULL,
            PRIMARY KEY (tenant_id)
        )",
    ),
];

const TENANT_TABLES: &[&str] = &["complaints", "complaint_proposals", "complaint_numbers"];

const INDEXES: &[&str] = &[
    "CREATE UNIQUE INDEX complaints_by_ticket ON complaints (tenant_id, ticket_id)",
    "CREATE UNIQUE INDEX complaints_by_number ON complaints (tenant_id, complaint_number)",
    "CREATE INDEX complaints_by_create_time ON complaints (tenant_id, create_time, id)",
    "CREATE INDEX complaints_by_deadline ON complaints (tenant_id, is_open, deadline_time, id)",
    "CREATE INDEX complaints_by_customer ON complaints (tenant_id, customer_id)",
    "CREATE INDEX complaint_proposals_by_complaint ON complaint_proposals (tenant_id, complaint_id, round, create_time)",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        tables::create(manager, TABLES, INDEXES, TENANT_TABLES).await?;
        // The overdue scan lists the tenants with complaints here in one
        // platform transaction (the row holds no more than the last
        // number), then works each tenant in its own.
        rls::platform_table(manager, "complaint_numbers", "tenant_id").await
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
