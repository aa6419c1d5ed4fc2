//! Database migrations: one migrator per service, each owning its own schema
//! (PostgreSQL) or file (SQLite). Run them with `kefu migrate`; the services
//! themselves connect as a role that owns nothing.
#![forbid(unsafe_code)]

use sea_orm_migration::prelude::*;

mod m20261123_000001_outbox;
mod m20261123_000002_row_security;
mod m20261123_000003_tenants;
mod m20261124_000004_tenant_exports;
mod m20261201_000005_customers;
mod m20261201_000006_customer_tiers_segments;
mod m20261201_000007_customer_ownership;
mod m20261201_000008_customer_merges;
mod m20261201_000009_customer_imports;
mod m20261202_000010_tickets;
mod m20261202_000011_ticket_taxonomy;
mod m20261202_000012_ticket_directory;
mod m20261202_000013_ticket_conversation;
mod m20261202_000014_ticket_sla;
mod m20261202_000015_complaints;
mod m20261202_000016_dispatch;
mod m20261203_000017_callbacks;
pub mod rls;
mod tables;

/// A fingerprint of the migrations' source text: test template databases
/// carry it in their name, so editing a migration rebuilds them.
pub const SOURCE_FINGERPRINT: &str = env!("KEFU_MIGRATIONS_SOURCE");

/// The services that own a database, in the order `kefu migrate` runs them.
pub const SERVICES: &[&str] = &["tenants", "customers", "tickets", "callbacks", "analytics"];

macro_rules! service_migrator {
    ($module:ident, $doc:literal $(, $own:path)*) => {
        #[doc = $doc]
        pub mod $module {
            use sea_orm_migration::prelude::*;

            /// The service's migrator.
            pub struct Migrator;

            #[sea_orm_migration::async_trait::async_trait]
            impl MigratorTrait for Migrator {
                fn migrations() -> Vec<Box<dyn MigrationTrait>> {
                    vec![
                        Box::new(super::m20261123_000001_outbox::Migration),
                        Box::new(super::m20261123_000002_row_security::Migration),
                        $(Box::new($own),)*
                    ]
                }
            }
        }
    };
}

service_migrator!(
    tenants,
    "The tenants service: tenants, templates, users, keys, policies.",
    super::m20261123_000003_tenants::Migration,
    super::m20261124_000004_tenant_exports::Migration
);
service_migrator!(
    customers,
    "The customers service: the customer archive.",
    super::m20261201_000005_customers::Migration,
    super::m20261201_000006_customer_tiers_segments::Migration,
    super::m20261201_000007_customer_ownership::Migration,
    super::m20261201_000008_customer_merges::Migration,
    super::m20261201_000009_customer_imports::Migration
);
service_migrator!(
    tickets,
    "The tickets service: tickets, complaints, dispatch, incidents.",
    super::m20261202_000010_tickets::Migration,
    super::m20261202_000011_ticket_taxonomy::Migration,
    super::m20261202_000012_ticket_directory::Migration,
    super::m20261202_000013_ticket_conversation::Migration,
    super::m20261202_000014_ticket_sla::Migration,
    super::m20261202_000015_complaints::Migration,
    super::m20261202_000016_dispatch::Migration
);
service_migrator!(
    callbacks,
    "The callbacks service: return visits and surveys.",
    super::m20261203_000017_callbacks::Migration
);
service_migrator!(
    analytics,
    "The analytics service: report aggregates fed by events."
);

/// Error of an unknown service name.
fn unknown(service: &str) -> DbErr {
    DbErr::Custom(format!(
        "unknown service {service:?}; expected one of {}",
        SERVICES.join(", ")
    ))
}

/// Applies every pending migration of `service` to `db`.
pub async fn up(
    service: &str,
    db: &sea_orm_migration::sea_orm::DatabaseConnection,
) -> Result<(), DbErr> {
    match service {
        "tenants" => tenants::Migrator::up(db, None).await,
        "customers" => customers::Migrator::up(db, None).await,
        "tickets" => tickets::Migrator::up(db, None).await,
        "callbacks" => callbacks::Migrator::up(db, None).await,
        "analytics" => analytics::Migrator::up(db, None).await,
        other => Err(unknown(other)),
    }
}

/// The names of `service`'s migrations, oldest first; used to name template
/// databases after the exact set of migrations they contain.
pub fn migration_names(service: &str) -> Result<Vec<String>, DbErr> {
    let migrations = match service {
        "tenants" => tenants::Migrator::migrations(),
        "customers" => customers::Migrator::migrations(),
        "tickets" => tickets::Migrator::migrations(),
        "callbacks" => callbacks::Migrator::migrations(),
        "analytics" => analytics::Migrator::migrations(),
        other => return Err(unknown(other)),
    };
    Ok(migrations
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect())
}
