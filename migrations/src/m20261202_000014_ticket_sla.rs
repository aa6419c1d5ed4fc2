//! The tickets service: the SLA clocks' due checks.
//!
//! The clocks themselves live in the ticket (`tickets.resource`); this table
//! holds, per ticket with a clock still ahead of a threshold, the next
//! instant the scan must look at it (a warning or a due time), so the scan
//! reads only the tickets due and never decodes the others. A ticket whose
//! clocks are stopped, paused or past both thresholds has no row. It is a
//! platform table too: the scan lists the tenants with checks due in one
//! platform transaction, then works each tenant in its own.

use sea_orm_migration::prelude::*;

use crate::{rls, tables};

/// Creates the tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000014_ticket_sla"
    }
}

const TABLES: &[(&str, &str)] = &[(
    "ticket_sla_checks",
    "CREATE TABLE ticket_sla_checks (
        tenant_id {uuid} NOT NULL,
        ticket_id {uuid} NOT NULL,
        check_time {time} NOT NULL,
        PRIMARY KEY (tenant_id, ticket_id)
    )",
)];

const TENANT_TABLES: &[&str] = &["ticket_sla_checks"];

const INDEXES: &[&str] = &[
    "CREATE INDEX ticket_sla_checks_by_time ON ticket_sla_checks (tenant_id, check_time, ticket_id)",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        tables::create(manager, TABLES, INDEXES, TENANT_TABLES).await?;
        rls::platform_table(manager, "ticket_sla_checks", "tenant_id").await
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
