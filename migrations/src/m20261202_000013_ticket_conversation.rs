//! The tickets service: comments, incidents and shift handovers.
//!
//! Each resource is kept whole as its encoded protobuf in `resource`, beside
//! the few columns the lists and look-ups filter on. Comments are written
//! once and never updated (the service has no statement that changes one).
//! Which tickets an incident groups is the tickets' own indexed `incident`
//! column (migration 000010), so a ticket belongs to at most one incident.

use sea_orm_migration::prelude::*;

use crate::tables;

/// Creates the tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000013_ticket_conversation"
    }
}

const TABLES: &[(&str, &str)] = &[
    (
        "ticket_comments",
        "CREATE TABLE ticket_comments (
            tenant_id {uuid} NOT NULL,
            ticket_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            visibility INTEGER NOT NULL,
            resource {bytes} NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, ticket_id, id)
        )",
    ),
    (
        "incidents",
        "CREATE TABLE incidents (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            state INTEGER NOT NULL,
            revision BIGINT NOT NULL,
            resource {bytes} NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "handovers",
        "CREATE TABLE handovers (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            state INTEGER NOT NULL,
            from_user VARCHAR(80) NOT NULL,
            to_user VARCHAR(80) NOT NULL,
            to_team VARCHAR(80) NOT NULL,
            revision BIGINT NOT NULL,
            resource {bytes} NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
];

const TENANT_TABLES: &[&str] = &["ticket_comments", "incidents", "handovers"];

const INDEXES: &[&str] = &[
    "CREATE INDEX ticket_comments_by_time ON ticket_comments (tenant_id, ticket_id, create_time, id)",
    "CREATE INDEX incidents_by_create_time ON incidents (tenant_id, create_time, id)",
    "CREATE INDEX handovers_by_create_time ON handovers (tenant_id, create_time, id)",
    "CREATE INDEX handovers_by_to_user ON handovers (tenant_id, to_user, state)",
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
