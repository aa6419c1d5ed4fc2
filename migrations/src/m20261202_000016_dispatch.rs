//! The tickets service: service requests (服务登记) and their dispatches (派工).
//!
//! Each request and each dispatch is kept whole as encoded protobuf
//! (`resource`) beside the columns the lists and the carry-over scan filter
//! on. `queue_date` (`YYYY-MM-DD`, tenant-local) is set only while a
//! dispatch is QUEUED, so the scan finds yesterday's queue with one index
//! range; voucher numbers are unique per tenant (several NULLs allowed).
//! `dispatch_counters` holds each tenant's last request and voucher number
//! (`S-000123`, `SV-000123`); it is also a platform table: the carry-over
//! scan lists the tenants that ever queued work from it.

use sea_orm_migration::prelude::*;

use crate::{rls, tables};

/// Creates the tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000016_dispatch"
    }
}

const TABLES: &[(&str, &str)] = &[
    (
        "service_requests",
        "CREATE TABLE service_requests (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            request_number VARCHAR(32) NOT NULL,
            state INTEGER NOT NULL,
            customer VARCHAR(100) NOT NULL,
            ticket VARCHAR(100),
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, request_number)
        )",
    ),
    (
        "dispatches",
        "CREATE TABLE dispatches (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            service_request_id {uuid} NOT NULL,
            state INTEGER NOT NULL,
            technician VARCHAR(100),
            voucher_number VARCHAR(64),
            queue_date VARCHAR(10),
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, voucher_number)
        )",
    ),
    (
        "dispatch_counters",
        "CREATE TABLE dispatch_counters (
            tenant_id {uuid} NOT NULL,
            last_request_number BIGINT NOT NULL,
            last_voucher_number BIGINT NOT NULL,
            PRIMARY KEY (tenant_id)
        )",
    ),
];

const TENANT_TABLES: &[&str] = &["service_requests", "dispatches", "dispatch_counters"];

const INDEXES: &[&str] = &[
    "CREATE INDEX service_requests_by_create_time ON service_requests (tenant_id, create_time, id)",
    "CREATE INDEX service_requests_by_customer ON service_requests (tenant_id, customer)",
    "CREATE INDEX dispatches_by_request ON dispatches (tenant_id, service_request_id, create_time)",
    "CREATE INDEX dispatches_by_queue ON dispatches (tenant_id, queue_date, create_time)",
    "CREATE INDEX dispatches_by_technician ON dispatches (tenant_id, technician, state)",
    "CREATE INDEX dispatches_by_state ON dispatches (tenant_id, state, create_time)",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        tables::create(manager, TABLES, INDEXES, TENANT_TABLES).await?;
        // The carry-over scan runs for every tenant that queued work: a
        // platform transaction lists them here (each tenant still sees only
        // its own row).
        rls::platform_table(manager, "dispatch_counters", "tenant_id").await
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
