//! The tickets service: its copy of the tenant (users, teams, calendar, settings, SLA policies, approval matrix) and of the customers, fed by events; assignment state.
//!
//! `directory_entries` keeps each copied resource whole (`resource`, the
//! encoded message of the last event) by kind (`tenant`, `user`, `team`,
//! `members`, `department`, `sla_policy`, `approval_matrix`) and name, with
//! the snapshot's `update_time` so that an older snapshot delivered late
//! changes nothing; a deletion stays as a tombstone (`deleted`) for the same
//! reason. `directory_customers` keeps the routing facts of a customer
//! (never personal data: the customers events carry none). `assignment_turns`
//! remembers, per team, whom round robin served last.
//! `ticket_customer_repoints` names the tickets a customer merge repointed
//! to the survivor, so that undoing the merge moves back exactly those.

use sea_orm_migration::prelude::*;

use crate::tables;

/// Creates the tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000012_ticket_directory"
    }
}

const TABLES: &[(&str, &str)] = &[
    (
        "directory_entries",
        "CREATE TABLE directory_entries (
            tenant_id {uuid} NOT NULL,
            kind VARCHAR(20) NOT NULL,
            name VARCHAR(200) NOT NULL,
            deleted BOOLEAN NOT NULL,
            resource {bytes},
            update_time {time},
            PRIMARY KEY (tenant_id, kind, name)
        )",
    ),
    (
        "directory_customers",
        "CREATE TABLE directory_customers (
            tenant_id {uuid} NOT NULL,
            name VARCHAR(100) NOT NULL,
            state INTEGER NOT NULL,
            merged_into VARCHAR(100) NOT NULL,
            owner VARCHAR(100) NOT NULL,
            member BOOLEAN NOT NULL,
            tier VARCHAR(100) NOT NULL,
            update_time {time},
            PRIMARY KEY (tenant_id, name)
        )",
    ),
    (
        "assignment_turns",
        "CREATE TABLE assignment_turns (
            tenant_id {uuid} NOT NULL,
            team VARCHAR(100) NOT NULL,
            last_user VARCHAR(100) NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, team)
        )",
    ),
    (
        "ticket_customer_repoints",
        "CREATE TABLE ticket_customer_repoints (
            tenant_id {uuid} NOT NULL,
            customer_merge VARCHAR(100) NOT NULL,
            ticket_id {uuid} NOT NULL,
            merged VARCHAR(100) NOT NULL,
            PRIMARY KEY (tenant_id, customer_merge, ticket_id)
        )",
    ),
];

const TENANT_TABLES: &[&str] = &[
    "directory_entries",
    "directory_customers",
    "assignment_turns",
    "ticket_customer_repoints",
];

const INDEXES: &[&str] = &[
    "CREATE INDEX directory_customers_by_merged_into ON directory_customers (tenant_id, merged_into)",
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
