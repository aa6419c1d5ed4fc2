//! The tenants service's tables: the tenant list and credential look-ups
//! (platform tables), and every tenant's identity and policies (tenant
//! tables, `tenant_id` first in every key).
//!
//! Resources whose shape is the contract's are kept whole as encoded
//! protobuf (`resource`) beside the columns that are looked up, unique or
//! joined on; the service never has to migrate for a new optional field.

use sea_orm_migration::prelude::*;

use crate::{rls, tables};

/// Creates the tenants service's tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000003_tenants"
    }
}

/// The tables (SQL as in [`tables`]).
const TABLES: &[(&str, &str)] = &[
    (
        "tenants",
        "CREATE TABLE tenants (
            id {uuid} NOT NULL PRIMARY KEY,
            slug VARCHAR(40) NOT NULL UNIQUE,
            state INTEGER NOT NULL,
            request_id VARCHAR(100) UNIQUE,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            purge_time {time}
        )",
    ),
    (
        "credential_lookups",
        "CREATE TABLE credential_lookups (
            digest VARCHAR(64) NOT NULL PRIMARY KEY,
            tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            kind VARCHAR(20) NOT NULL,
            subject {uuid} NOT NULL
        )",
    ),
    (
        "departments",
        "CREATE TABLE departments (
            tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id VARCHAR(63) NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "users",
        "CREATE TABLE users (
            tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id {uuid} NOT NULL,
            email VARCHAR(254) NOT NULL,
            state INTEGER NOT NULL,
            department_id VARCHAR(63),
            password_hash TEXT,
            invitation_digest VARCHAR(64),
            invitation_expire_time {time},
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, email),
            FOREIGN KEY (tenant_id, department_id) REFERENCES departments (tenant_id, id)
        )",
    ),
    (
        "login_failures",
        "CREATE TABLE login_failures (
            tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            email VARCHAR(254) NOT NULL,
            failed_at {time} NOT NULL
        )",
    ),
    (
        "sessions",
        "CREATE TABLE sessions (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            user_id {uuid} NOT NULL,
            digest VARCHAR(64) NOT NULL UNIQUE,
            create_time {time} NOT NULL,
            last_used_time {time} NOT NULL,
            expire_time {time} NOT NULL,
            revoke_time {time},
            user_agent VARCHAR(500) NOT NULL,
            client_address VARCHAR(100) NOT NULL,
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
        )",
    ),
    (
        "api_keys",
        "CREATE TABLE api_keys (
            tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id {uuid} NOT NULL,
            digest VARCHAR(64) NOT NULL UNIQUE,
            state INTEGER NOT NULL,
            request_id VARCHAR(100),
            resource {bytes} NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, request_id)
        )",
    ),
    (
        "teams",
        "CREATE TABLE teams (
            tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id VARCHAR(63) NOT NULL,
            department_id VARCHAR(63),
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, department_id) REFERENCES departments (tenant_id, id)
        )",
    ),
    (
        "team_members",
        "CREATE TABLE team_members (
            tenant_id {uuid} NOT NULL,
            team_id VARCHAR(63) NOT NULL,
            user_id {uuid} NOT NULL,
            PRIMARY KEY (tenant_id, team_id, user_id),
            FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE,
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
        )",
    ),
    (
        "skills",
        "CREATE TABLE skills (
            tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id VARCHAR(63) NOT NULL,
            resource {bytes} NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "sla_policies",
        "CREATE TABLE sla_policies (
            tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id VARCHAR(63) NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "approval_matrices",
        "CREATE TABLE approval_matrices (
            tenant_id {uuid} NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL
        )",
    ),
    (
        "idempotency_keys",
        "CREATE TABLE idempotency_keys (
            tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            request_id VARCHAR(100) NOT NULL,
            method VARCHAR(100) NOT NULL,
            resource_name VARCHAR(300) NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, request_id)
        )",
    ),
];

/// Tenant tables (only the transaction's tenant sees them).
const TENANT_TABLES: &[&str] = &[
    "departments",
    "users",
    "login_failures",
    "sessions",
    "api_keys",
    "teams",
    "team_members",
    "skills",
    "sla_policies",
    "approval_matrices",
    "idempotency_keys",
];

const INDEXES: &[&str] = &[
    "CREATE INDEX login_failures_by_email ON login_failures (tenant_id, email, failed_at)",
    "CREATE INDEX sessions_by_user ON sessions (tenant_id, user_id, create_time)",
    "CREATE INDEX team_members_by_user ON team_members (tenant_id, user_id)",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        tables::create(manager, TABLES, INDEXES, TENANT_TABLES).await?;
        rls::platform_table(manager, "tenants", "id").await?;
        rls::platform_table(manager, "credential_lookups", "tenant_id").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        tables::drop(manager, TABLES).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_with_a_tenant_is_protected() {
        for (table, sql) in TABLES {
            let platform = matches!(*table, "tenants" | "credential_lookups");
            assert!(
                platform || TENANT_TABLES.contains(table),
                "{table} is neither a tenant nor a platform table"
            );
            if !platform {
                assert!(
                    sql.contains("tenant_id {uuid} NOT NULL"),
                    "{table} lacks tenant_id"
                );
            }
        }
    }
}
