//! Database connections and tenant-scoped transactions.
//!
//! Each service owns its data: on PostgreSQL a schema named after the service
//! (its connections' `search_path`), embedded a SQLite file of its own.

use std::{path::Path, time::Duration};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::context::TenantId;

/// The PostgreSQL setting row-level-security policies read the tenant from.
pub const TENANT_SETTING: &str = "kefu.tenant_id";

/// The PostgreSQL setting that opens the few platform tables (the tenant
/// list, credential look-ups, the outbox the relay reads) across tenants.
/// Tenant tables ignore it: no setting reveals one tenant's rows to another.
pub const PLATFORM_SETTING: &str = "kefu.platform";

/// The PostgreSQL role the services act as: it owns nothing, has no
/// BYPASSRLS, and is granted only row access to its service's schema. The
/// migrations (run as the owner) create it.
pub const SERVICE_ROLE: &str = "kefu_service";

/// Where one service's database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseLocation {
    /// A `sqlite://` or `postgres://` URL.
    pub url: String,
    /// The PostgreSQL schema of the service's tables; ignored for SQLite.
    pub schema: String,
    /// The PostgreSQL role the connections act as (`SET ROLE` at connect),
    /// so row-level security applies even when the login role could bypass
    /// it; `None` acts as the login role (migrations, which need the owner).
    pub role: Option<String>,
}

impl DatabaseLocation {
    /// The location of `service`'s data: its schema of `database_url` when
    /// given, else `<data_dir>/<service>.db`.
    pub fn for_service(service: &str, database_url: Option<&str>, data_dir: &Path) -> Self {
        let url = match database_url {
            Some(url) => url.to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                data_dir.join(format!("{service}.db")).display()
            ),
        };
        Self {
            url,
            schema: service.to_owned(),
            role: None,
        }
    }

    /// The same location, connecting as `role` (see [`SERVICE_ROLE`]).
    pub fn acting_as(mut self, role: Option<String>) -> Self {
        self.role = role.filter(|role| !role.is_empty());
        self
    }

    /// Whether this is an embedded SQLite database.
    pub fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }
}

/// Opens a pool of at most `max_connections` to `location`.
///
/// SQLite files are created when absent, with write-ahead logging so readers
/// do not wait for the writer, and a busy timeout instead of immediate
/// "database is locked" errors. PostgreSQL connections search only the
/// service's schema.
pub async fn connect(
    location: &DatabaseLocation,
    max_connections: u32,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(location.url.clone());
    options
        .max_connections(max_connections)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if location.is_sqlite() {
        if let Some(parent) =
            sqlite_path(&location.url).and_then(|path| path.parent().map(Path::to_path_buf))
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(&parent).map_err(|error| {
                DbErr::Custom(format!("cannot create {}: {error}", parent.display()))
            })?;
        }
        options.map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    } else {
        options.set_schema_search_path(location.schema.clone());
        if let Some(role) = location.role.clone() {
            options.map_sqlx_postgres_opts(move |opts| opts.options([("role", role.as_str())]));
        }
    }
    Database::connect(options).await
}

fn sqlite_path(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| Path::new(path))
}

/// Applies `location`'s service migrations (the schema is named after the
/// service). On PostgreSQL the schema is created first; run this as the
/// database owner, never as the services' role.
pub async fn migrate(location: &DatabaseLocation) -> Result<(), DbErr> {
    if !location.is_sqlite() {
        let plain = Database::connect(location.url.as_str()).await?;
        plain
            .execute_unprepared(&format!(
                "CREATE SCHEMA IF NOT EXISTS \"{}\"",
                location.schema
            ))
            .await?;
        plain.close().await?;
    }
    let owner = DatabaseLocation {
        role: None,
        ..location.clone()
    };
    let db = connect(&owner, 1).await?;
    kefu_migrations::up(&location.schema, &db).await?;
    db.close().await
}

/// Begins a transaction. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`): a deferred transaction that read first and writes later
/// fails with "database is locked" whenever another connection wrote in
/// between, whatever the busy timeout, while an immediate one waits its turn.
async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        return db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await;
    }
    db.begin().await
}

/// Begins a transaction acting for `tenant_id`.
///
/// On PostgreSQL the tenant is set with `set_config(…, is_local => true)`, the
/// parameterised form of `SET LOCAL`: it ends with the transaction, so a
/// pooled connection never carries one request's tenant into the next, and
/// row-level-security policies see exactly this tenant.
pub async fn begin_for_tenant(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> Result<DatabaseTransaction, DbErr> {
    let txn = begin(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config($1, $2, true)",
            [TENANT_SETTING.into(), tenant_id.to_string().into()],
        ))
        .await?;
    }
    Ok(txn)
}

/// Begins a transaction acting for `tenant_id` that only reads. On SQLite
/// it is deferred: in WAL mode readers never wait for the writer, where an
/// immediate transaction would queue behind every write. A write inside it
/// may fail with "database is locked"; use [`begin_for_tenant`] to write.
/// On PostgreSQL it is the same as [`begin_for_tenant`].
pub async fn begin_read_for_tenant(
    db: &DatabaseConnection,
    tenant_id: TenantId,
) -> Result<DatabaseTransaction, DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        return db.begin().await;
    }
    begin_for_tenant(db, tenant_id).await
}

/// Begins a transaction on the platform tables across tenants (the tenant
/// list, credential look-ups, the relay's outbox reads). On PostgreSQL it
/// sets [`PLATFORM_SETTING`] for this transaction only; tenant tables stay
/// closed in it (no tenant is set).
pub async fn begin_platform(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = begin(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config($1, 'on', true)",
            [PLATFORM_SETTING.into()],
        ))
        .await?;
    }
    Ok(txn)
}

/// Begins a platform transaction that only reads (deferred on SQLite, see
/// [`begin_read_for_tenant`]).
pub async fn begin_read_platform(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        return db.begin().await;
    }
    begin_platform(db).await
}

/// Begins the transaction a consumer handles `event` in: acting for the
/// event's tenant, or on the platform tables for a platform event (no
/// tenant).
pub async fn begin_for_event(
    db: &DatabaseConnection,
    event: &kefu_proto::v1::EventEnvelope,
) -> Result<DatabaseTransaction, DbErr> {
    if event.tenant_id.is_empty() {
        return begin_platform(db).await;
    }
    let tenant = event
        .tenant_id
        .parse::<TenantId>()
        .map_err(|error| DbErr::Custom(format!("event {} tenant: {error}", event.id)))?;
    begin_for_tenant(db, tenant).await
}

/// Whether an error is a unique-key conflict (an insert that lost a race).
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_gets_its_own_file_or_schema() {
        let embedded = DatabaseLocation::for_service("tickets", None, Path::new("kefu-data"));
        assert_eq!(embedded.url, "sqlite://kefu-data/tickets.db?mode=rwc");
        assert!(embedded.is_sqlite());
        let shared = DatabaseLocation::for_service(
            "tickets",
            Some("postgres://db/kefu"),
            Path::new("kefu-data"),
        );
        assert_eq!(shared.url, "postgres://db/kefu");
        assert_eq!(shared.schema, "tickets");
        assert!(!shared.is_sqlite());
    }

    #[test]
    fn sqlite_paths_are_read_from_urls() {
        assert_eq!(
            sqlite_path("sqlite://a/b.db?mode=rwc"),
            Some(Path::new("a/b.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
