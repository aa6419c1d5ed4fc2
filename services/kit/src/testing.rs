//! Test helpers shared by every crate's tests: migrated databases on SQLite
//! and PostgreSQL, and the Redis URL.
//!
//! PostgreSQL and Redis suites run when `KEFU_TEST_DATABASE_URL` and
//! `KEFU_TEST_REDIS_URL` are set. When `KEFU_TEST_REQUIRE_SERVERS=1` (as in
//! `.ci/run`) a missing or unreachable server fails the test instead of
//! skipping it. PostgreSQL test databases are cloned from a template that is
//! migrated once per set of migrations, so no test pays for migrations.

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::db::{DatabaseLocation, connect};

/// The variable naming the PostgreSQL server for tests (an admin URL).
pub const DATABASE_URL_VAR: &str = "KEFU_TEST_DATABASE_URL";
/// The variable naming the Redis server for tests.
pub const REDIS_URL_VAR: &str = "KEFU_TEST_REDIS_URL";
/// The switch that turns "server not configured" into a failure.
pub const REQUIRE_SERVERS_VAR: &str = "KEFU_TEST_REQUIRE_SERVERS";

/// The services that own a database, for suites that check each.
pub const SERVICE_NAMES: &[&str] = kefu_migrations::SERVICES;

fn servers_required() -> bool {
    std::env::var(REQUIRE_SERVERS_VAR).is_ok_and(|value| value == "1" || value == "true")
}

fn configured(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !servers_required(),
                "{var} is not set but {REQUIRE_SERVERS_VAR}=1: the suite must run against the real server"
            );
            eprintln!("{var} not set: skipping the suite on this server");
            None
        }
    }
}

/// The Redis URL for tests, or `None` (skip) when not configured.
pub fn redis_url() -> Option<String> {
    configured(REDIS_URL_VAR)
}

/// The storage backends a suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL database cloned from the migrated template.
    Postgres,
}

/// A migrated database for one test, removed afterwards.
pub struct TestDatabase {
    /// Where it is, as a service would be configured.
    pub location: DatabaseLocation,
    /// A connection to the service's schema.
    pub db: DatabaseConnection,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(#[allow(dead_code)] tempfile::TempDir),
    PostgresDatabase { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::PostgresDatabase { admin_url, name } = &self.cleanup {
            let admin_url = admin_url.clone();
            let name = name.clone();
            // Drop runs outside async; a short-lived runtime on its own thread
            // removes the database so test runs do not pile them up.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let admin = Database::connect(&admin_url).await.ok()?;
                    admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

impl TestDatabase {
    /// A connection as the login role (the schema's owner on PostgreSQL),
    /// for what the services' role may not do: creating tables in tests,
    /// inspecting rows past row-level security.
    pub async fn owner_connection(&self) -> DatabaseConnection {
        let owner = DatabaseLocation {
            role: None,
            ..self.location.clone()
        };
        connect(&owner, 1).await.expect("owner connection")
    }

    /// A migrated database for `service` on `backend`, or `None` when the
    /// backend's server is not configured (and not required).
    pub async fn new(backend: Backend, service: &str) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite(service).await),
            Backend::Postgres => Self::postgres(service).await,
        }
    }

    /// A fresh SQLite file for `service`, migrated.
    pub async fn sqlite(service: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let location = DatabaseLocation::for_service(service, None, dir.path());
        crate::db::migrate(&location)
            .await
            .expect("migrations apply");
        let db = connect(&location, 4).await.expect("sqlite opens");
        Self {
            location,
            db,
            cleanup: Cleanup::Directory(dir),
        }
    }

    /// A PostgreSQL database cloned from the template, connected to `service`'s
    /// schema; `None` when `KEFU_TEST_DATABASE_URL` is not set.
    pub async fn postgres(service: &str) -> Option<Self> {
        let admin_url = configured(DATABASE_URL_VAR)?;
        let admin = Database::connect(&admin_url).await.unwrap_or_else(|error| {
            panic!("{DATABASE_URL_VAR}={admin_url} is not reachable: {error}")
        });
        let template = ensure_template(&admin, &admin_url).await;
        let name = format!("kefu_test_{}", uuid::Uuid::now_v7().simple());
        // Clones from one template are serialised: PostgreSQL refuses a clone
        // while another session is connected to the template.
        admin
            .execute_unprepared("SELECT pg_advisory_lock(7201)")
            .await
            .expect("lock");
        let created = admin
            .execute_unprepared(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
            ))
            .await;
        admin
            .execute_unprepared("SELECT pg_advisory_unlock(7201)")
            .await
            .expect("unlock");
        created.expect("clone the template database");
        // Connected as the services are in production: the non-owner role
        // row-level security applies to.
        let location = DatabaseLocation {
            url: with_database(&admin_url, &name),
            schema: service.to_owned(),
            role: Some(crate::db::SERVICE_ROLE.to_owned()),
        };
        let db = connect(&location, 4).await.expect("test database opens");
        Some(Self {
            location,
            db,
            cleanup: Cleanup::PostgresDatabase { admin_url, name },
        })
    }
}

/// Creates, once per set of migrations, a database with every service's
/// schema migrated, and returns its name.
async fn ensure_template(admin: &DatabaseConnection, admin_url: &str) -> String {
    let mut fingerprint = kefu_migrations::SOURCE_FINGERPRINT.to_owned();
    for service in kefu_migrations::SERVICES {
        fingerprint.push_str(service);
        for name in kefu_migrations::migration_names(service).expect("known service") {
            fingerprint.push_str(&name);
        }
    }
    let digest = <sha2::Sha256 as sha2::Digest>::digest(fingerprint.as_bytes());
    let template = format!("kefu_template_{}", &hex(&digest)[..16]);
    admin
        .execute_unprepared("SELECT pg_advisory_lock(7200)")
        .await
        .expect("lock");
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS found FROM pg_database WHERE datname = $1",
            [template.clone().into()],
        ))
        .await
        .expect("query pg_database")
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
            ))
            .await
            .expect("drop");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{building}\""))
            .await
            .expect("create template");
        let url = with_database(admin_url, &building);
        for service in kefu_migrations::SERVICES {
            let location = DatabaseLocation {
                url: url.clone(),
                schema: (*service).to_owned(),
                role: None,
            };
            crate::db::migrate(&location)
                .await
                .expect("migrate template");
        }
        // Renamed only when complete, so a crash never leaves a half template.
        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
            ))
            .await
            .expect("publish template");
    }
    admin
        .execute_unprepared("SELECT pg_advisory_unlock(7200)")
        .await
        .expect("unlock");
    template
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let path_start = base[scheme_end..].find('/').map(|index| index + scheme_end);
    let host_part = path_start.map_or(base, |index| &base[..index]);
    match query {
        Some(query) => format!("{host_part}/{database}?{query}"),
        None => format!("{host_part}/{database}"),
    }
}

/// A temporary directory path for tests that need files (kept until drop).
pub fn temp_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().to_path_buf();
    (dir, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5432/ci", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h:5432/ci?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
    }
}
