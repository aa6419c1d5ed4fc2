//! Database connections and tenant-scoped transactions.
//!
//! Each service owns its data: on PostgreSQL a schema named after the service
//! (its connections' `search_path`), embedded a SQLite file of its own.

use std::{path::Path, time::Duration};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, Statement, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::context::TenantId;

/// The PostgreSQL setting row-level-security policies read the tenant from.
pub const TENANT_SETTING: &str = "kefu.tenant_id";

/// Where one service's database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseLocation {
    /// A `sqlite://` or `postgres://` URL.
    pub url: String,
    /// The PostgreSQL schema of the service's tables; ignored for SQLite.
    pub schema: String,
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
        }
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
    let db = connect(location, 1).await?;
    kefu_migrations::up(&location.schema, &db).await?;
    db.close().await
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
    let txn = db.begin().await?;
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
