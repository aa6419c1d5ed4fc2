//! The customers service: ownership history, the copy of the tenant's agents
//! and settings fed by the tenants service's events, and the activity
//! timeline.
//!
//! `agents`, `agent_teams` and `tenant_profiles` are a projection of the
//! tenants service's users, team memberships and settings (a service never
//! reads another's tables). `tenant_profiles` is also a platform table: the
//! first-contact scan lists the tenants it knows from it, across tenants.
//! `customer_ownership_changes` and `customer_activities` keep `customer_id`
//! a plain column so merges can move rows between customers by UPDATE.

use sea_orm_migration::prelude::*;

use crate::{rls, tables};

/// Creates the tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000007_customer_ownership"
    }
}

const TABLES: &[(&str, &str)] = &[
    (
        "agents",
        "CREATE TABLE agents (
            tenant_id {uuid} NOT NULL,
            user_name VARCHAR(80) NOT NULL,
            email VARCHAR(254) NOT NULL,
            display_name VARCHAR(100) NOT NULL,
            active BOOLEAN NOT NULL,
            is_agent BOOLEAN NOT NULL,
            resource {bytes} NOT NULL,
            update_time {time},
            PRIMARY KEY (tenant_id, user_name)
        )",
    ),
    (
        "agent_teams",
        "CREATE TABLE agent_teams (
            tenant_id {uuid} NOT NULL,
            team VARCHAR(80) NOT NULL,
            user_name VARCHAR(80) NOT NULL,
            PRIMARY KEY (tenant_id, team, user_name)
        )",
    ),
    (
        "tenant_profiles",
        "CREATE TABLE tenant_profiles (
            tenant_id {uuid} NOT NULL,
            locale VARCHAR(35) NOT NULL,
            first_contact_days INTEGER NOT NULL,
            update_time {time},
            PRIMARY KEY (tenant_id)
        )",
    ),
    (
        "customer_ownership_changes",
        "CREATE TABLE customer_ownership_changes (
            tenant_id {uuid} NOT NULL,
            id VARCHAR(36) NOT NULL,
            customer_id VARCHAR(63) NOT NULL,
            previous_owner VARCHAR(80) NOT NULL,
            new_owner VARCHAR(80) NOT NULL,
            kind INTEGER NOT NULL,
            create_time {time} NOT NULL,
            resource {bytes} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "ownership_requests",
        "CREATE TABLE ownership_requests (
            tenant_id {uuid} NOT NULL,
            request_id VARCHAR(100) NOT NULL,
            method VARCHAR(60) NOT NULL,
            response {bytes} NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, request_id)
        )",
    ),
    (
        "first_contact_alerts",
        "CREATE TABLE first_contact_alerts (
            tenant_id {uuid} NOT NULL,
            customer_id VARCHAR(63) NOT NULL,
            assignment VARCHAR(120) NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, customer_id)
        )",
    ),
    (
        "customer_activities",
        "CREATE TABLE customer_activities (
            tenant_id {uuid} NOT NULL,
            id VARCHAR(36) NOT NULL,
            customer_id VARCHAR(63) NOT NULL,
            kind INTEGER NOT NULL,
            occur_time {time} NOT NULL,
            source VARCHAR(200) NOT NULL,
            producer VARCHAR(40) NOT NULL,
            resource {bytes} NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
];

const TENANT_TABLES: &[&str] = &[
    "agents",
    "agent_teams",
    "tenant_profiles",
    "customer_ownership_changes",
    "ownership_requests",
    "first_contact_alerts",
    "customer_activities",
];

const INDEXES: &[&str] = &[
    "CREATE INDEX agents_by_email ON agents (tenant_id, email)",
    "CREATE INDEX agent_teams_by_user ON agent_teams (tenant_id, user_name)",
    "CREATE INDEX ownership_changes_by_customer ON customer_ownership_changes (tenant_id, customer_id, create_time)",
    "CREATE INDEX ownership_changes_by_time ON customer_ownership_changes (tenant_id, create_time, id)",
    "CREATE INDEX customer_activities_by_customer ON customer_activities (tenant_id, customer_id, occur_time)",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        tables::create(manager, TABLES, INDEXES, TENANT_TABLES).await?;
        // The first-contact scan runs for every tenant the service knows:
        // a platform transaction lists them here (each tenant still sees
        // only its own row).
        rls::platform_table(manager, "tenant_profiles", "tenant_id").await
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
