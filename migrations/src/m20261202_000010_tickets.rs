//! The tickets service: tickets, the per-tenant ticket numbers and the immutable audit trail.
//!
//! A ticket is kept whole as encoded protobuf (`resource`) beside the
//! columns the agents' views and the scans filter and order on (state,
//! assignee, team, customer, due time, resolve time); the rest of a filter
//! is evaluated over the decoded tickets after an indexed prefilter.
//! `ticket_numbers` holds each tenant's last number (`T-000123`), so numbers
//! stay sequential per tenant; it is a platform table too, the list of
//! tenants with tickets the scans walk. Audit entries are written once and never
//! changed (the customer's erasure aside).

use sea_orm_migration::prelude::*;

use crate::{rls, tables};

/// Creates the tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000010_tickets"
    }
}

const TABLES: &[(&str, &str)] = &[
    (
        "tickets",
        "CREATE TABLE tickets (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            ticket_number VARCHAR(32) NOT NULL,
            state INTEGER NOT NULL,
            priority INTEGER NOT NULL,
            kind VARCHAR(100) NOT NULL,
            category VARCHAR(100),
            customer VARCHAR(100),
            assignee VARCHAR(100),
            team VARCHAR(100),
            incident VARCHAR(100),
            due_time {time},
            resolve_time {time},
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, ticket_number)
        )",
    ),
    (
        "ticket_numbers",
        "CREATE TABLE ticket_numbers (
            tenant_id {uuid} NOT NULL,
            last_number BIGINT NOT NULL,
            PRIMARY KEY (tenant_id)
        )",
    ),
    (
        "ticket_audit_entries",
        "CREATE TABLE ticket_audit_entries (
            tenant_id {uuid} NOT NULL,
            ticket_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            action INTEGER NOT NULL,
            resource {bytes} NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, ticket_id, id)
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
    "tickets",
    "ticket_numbers",
    "ticket_audit_entries",
    "idempotency_keys",
];

const INDEXES: &[&str] = &[
    "CREATE INDEX tickets_by_state ON tickets (tenant_id, state, due_time, id)",
    "CREATE INDEX tickets_by_assignee ON tickets (tenant_id, assignee, state)",
    "CREATE INDEX tickets_by_team ON tickets (tenant_id, team, state)",
    "CREATE INDEX tickets_by_customer ON tickets (tenant_id, customer, create_time)",
    "CREATE INDEX tickets_by_create_time ON tickets (tenant_id, create_time, id)",
    "CREATE INDEX tickets_by_resolve_time ON tickets (tenant_id, state, resolve_time)",
    "CREATE INDEX tickets_by_incident ON tickets (tenant_id, incident)",
    "CREATE INDEX ticket_audit_entries_by_time ON ticket_audit_entries (tenant_id, ticket_id, create_time, id)",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        tables::create(manager, TABLES, INDEXES, TENANT_TABLES).await?;
        // The scans list the tenants with tickets here in one platform
        // transaction (the row holds no more than the last number), then
        // work each tenant in its own.
        rls::platform_table(manager, "ticket_numbers", "tenant_id").await
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
