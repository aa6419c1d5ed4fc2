//! Row-level security on PostgreSQL (DESIGN.md "Tenant isolation").
//!
//! Every tenant table is `FORCE ROW LEVEL SECURITY` with one policy whose
//! USING and WITH CHECK both compare `tenant_id` with the transaction's
//! `kefu.tenant_id` (set by `kit::db::begin_for_tenant` with `SET LOCAL`
//! semantics). With no tenant set the comparison is NULL: nothing is visible
//! and nothing can be written. A few platform tables also open to a
//! transaction that sets `kefu.platform` (`kit::db::begin_platform`).
//!
//! The services connect as [`SERVICE_ROLE`], which owns nothing and lacks
//! BYPASSRLS; these migrations run as the owner. On SQLite every helper does
//! nothing: the embedded mode is one process and its stores filter by tenant.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

/// The role the services act as (kept equal to `kit::db::SERVICE_ROLE`).
pub const SERVICE_ROLE: &str = "kefu_service";

/// The tenant of the current transaction, or NULL when none is set (an unset
/// custom setting reads as '' once any transaction on the connection set it).
pub const CURRENT_TENANT: &str = "NULLIF(current_setting('kefu.tenant_id', true), '')::uuid";

/// Whether the current transaction acts on the platform tables.
const PLATFORM: &str = "coalesce(current_setting('kefu.platform', true), '') = 'on'";

fn is_postgres(manager: &SchemaManager) -> bool {
    manager.get_database_backend() == DbBackend::Postgres
}

async fn run(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(sql)
        .await
        .map(|_| ())
}

/// Creates the service role when missing and lets it use the current
/// schema: row privileges on every table, now and later, but no ownership,
/// no DDL, and no access to the migration bookkeeping.
pub async fn grant_service_role(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    if !is_postgres(manager) {
        return Ok(());
    }
    // Roles are cluster-wide and several databases may migrate at once: a
    // concurrent creation surfaces as duplicate_object or unique_violation.
    run(
        manager,
        &format!(
            "DO $$ BEGIN CREATE ROLE {SERVICE_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ),
    )
    .await?;
    run(
        manager,
        &format!(
            "DO $$ DECLARE s text := current_schema(); BEGIN \
             EXECUTE format('GRANT USAGE ON SCHEMA %I TO {SERVICE_ROLE}', s); \
             EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO {SERVICE_ROLE}', s); \
             EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO {SERVICE_ROLE}', s); \
             EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {SERVICE_ROLE}', s); \
             EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO {SERVICE_ROLE}', s); \
             EXECUTE format('REVOKE ALL ON %I.seaql_migrations FROM {SERVICE_ROLE}', s); \
             END $$"
        ),
    )
    .await
}

/// Protects `table` (with a `tenant_id` column) so only the transaction's
/// tenant sees or writes its rows.
pub async fn tenant_table(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    protect(manager, table, "tenant_id", false).await
}

/// Protects a platform table: the transaction's tenant sees its own rows,
/// and a platform transaction sees every row. `column` holds the tenant.
pub async fn platform_table(
    manager: &SchemaManager<'_>,
    table: &str,
    column: &str,
) -> Result<(), DbErr> {
    protect(manager, table, column, true).await
}

async fn protect(
    manager: &SchemaManager<'_>,
    table: &str,
    column: &str,
    platform: bool,
) -> Result<(), DbErr> {
    if !is_postgres(manager) {
        return Ok(());
    }
    let condition = if platform {
        format!("({column} = {CURRENT_TENANT} OR {PLATFORM})")
    } else {
        format!("({column} = {CURRENT_TENANT})")
    };
    run(
        manager,
        &format!(
            "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; \
             ALTER TABLE {table} FORCE ROW LEVEL SECURITY; \
             DROP POLICY IF EXISTS tenant_isolation ON {table}; \
             CREATE POLICY tenant_isolation ON {table} AS PERMISSIVE FOR ALL \
             USING {condition} WITH CHECK {condition}"
        ),
    )
    .await
}
