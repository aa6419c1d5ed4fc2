//! `kefu bench rls`: what row-level security costs a point read and an
//! insert.
//!
//! It builds a throw-away database (PostgreSQL: `kefu_bench_<uuid>` created
//! as the URL's role and dropped at the end, even on error or Ctrl-C;
//! SQLite: a temporary directory), migrates the tenants service's schema,
//! loads `--tenants` × `--rows` skills, and measures the real store
//! functions (`kefu_tenants::store::documents`, so both sides run the same
//! SQL, `… WHERE tenant_id = $1 AND id = $2`):
//!
//! - PostgreSQL, RLS on: a transaction from `begin_for_tenant` on a pool
//!   acting as `kefu_service` (no BYPASSRLS, owns nothing), as services run;
//! - PostgreSQL, RLS off: a plain transaction on a pool acting as the
//!   owner, which bypasses RLS (a superuser or BYPASSRLS role does; for any
//!   other owner the bench table is set `NO FORCE ROW LEVEL SECURITY` in the
//!   throw-away database, and the report says so);
//! - SQLite (no RLS): `begin_for_tenant` against a plain `begin`, on one
//!   pool, to show what the tenant-transaction wrapper costs there.
//!
//! The "on" overhead therefore includes everything a service pays for
//! isolation: the extra `set_config` round trip and the policy check.
//! Each side gets `--seconds` in two halves run on, off, off, on (ABBA), so
//! a drifting machine (other builds on the same cores) biases neither side,
//! after a short warm-up that is not counted.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail, ensure};
use chrono::Utc;
use kefu_kit::{
    context::TenantId,
    db::{self, DatabaseLocation, SERVICE_ROLE},
};
use kefu_tenants::store::documents::{self, Collection};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait,
    sea_query::{Alias, Expr, Query},
};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{Line, Summary, load_average, on_throwaway_database, overhead, summarise, table};

/// The service whose schema and table the bench uses (`skills`: a tenant
/// table keyed by `(tenant_id, id)`).
const SERVICE: &str = "tenants";
/// The table, as the store names it.
const COLLECTION: Collection = Collection::Skills;
/// A bound on any client's loop, whatever the clock does.
const MAX_OPS_PER_CLIENT: u64 = 10_000_000;
/// Rows per multi-row INSERT while loading.
const LOAD_CHUNK: u32 = 250;
/// The size of each row's encoded resource (a small protobuf's worth).
const RESOURCE_BYTES: usize = 64;

/// Options of `kefu bench rls`.
#[derive(Debug, Clone, clap::Args)]
pub struct RlsOptions {
    /// A PostgreSQL URL of a role that may create databases (a superuser
    /// measures RLS off most directly); omitted, SQLite in a temporary
    /// directory.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Seconds each side (RLS on, RLS off) of each measurement runs.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,
    /// Concurrent clients, one measurement per value (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1_u32, 8], value_parser = clap::value_parser!(u32).range(1..=256))]
    pub clients: Vec<u32>,
    /// Tenants the rows are spread over.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub tenants: u32,
    /// Rows loaded per tenant before measuring.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rows: u32,
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct Report {
    /// `postgres` or `sqlite`.
    pub backend: &'static str,
    /// The options it ran with.
    pub options: RlsOptions,
    /// Facts worth reading beside the figures (server, roles, load).
    pub notes: Vec<String>,
    /// The measurements, each "on" line followed by its "off" line.
    pub lines: Vec<Line>,
}

impl Report {
    /// The report as printed by the command.
    pub fn render(&self) -> String {
        let clients: Vec<String> = self.options.clients.iter().map(u32::to_string).collect();
        let mut out = format!(
            "kefu bench rls: {}, {} tenants × {} rows, {} s per side per measurement \
             (halves in on/off/off/on order), clients {}\n",
            self.backend,
            self.options.tenants,
            self.options.rows,
            self.options.seconds,
            clients.join(", "),
        );
        for note in &self.notes {
            out.push_str(&format!("  {note}\n"));
        }
        out.push('\n');
        out.push_str(&table(&self.lines));
        out
    }
}

/// Runs the benchmark on the backend `options` name.
pub async fn run(options: &RlsOptions) -> anyhow::Result<Report> {
    ensure!(
        !options.clients.is_empty(),
        "--clients needs at least one value"
    );
    match options.database_url.as_deref() {
        None => sqlite(options).await,
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            postgres(url, options).await
        }
        Some(_) => bail!("--database-url must be a postgres:// URL (omit it for SQLite)"),
    }
}

/// How a measured transaction is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// `begin_for_tenant` on the service's pool (RLS on, on PostgreSQL).
    Tenant,
    /// A plain `begin` on the owner's pool (RLS off).
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    PointRead,
    Insert,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::PointRead => "point read",
            Self::Insert => "insert",
        }
    }
}

/// A loaded database and the two ways into it.
struct Fixture {
    backend: &'static str,
    /// The pool the RLS-on side uses.
    tenant_db: DatabaseConnection,
    /// The pool the RLS-off side uses.
    plain_db: DatabaseConnection,
    tenants: Arc<[Uuid]>,
    rows: u32,
}

impl Fixture {
    fn labels(&self, side: Side) -> (&'static str, &'static str) {
        match (self.backend, side) {
            ("postgres", Side::Tenant) => ("on", "begin_for_tenant as kefu_service"),
            ("postgres", Side::Plain) => ("off", "plain txn as owner"),
            (_, Side::Tenant) => ("n/a", "begin_for_tenant"),
            (_, Side::Plain) => ("n/a", "plain txn"),
        }
    }

    fn pool(&self, side: Side) -> &DatabaseConnection {
        match side {
            Side::Tenant => &self.tenant_db,
            Side::Plain => &self.plain_db,
        }
    }
}

fn max_clients(options: &RlsOptions) -> u32 {
    options.clients.iter().copied().max().unwrap_or(1)
}

async fn sqlite(options: &RlsOptions) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let location = DatabaseLocation::for_service(SERVICE, None, dir.path());
    db::migrate(&location)
        .await
        .context("migrating the SQLite database")?;
    let pool = db::connect(&location, max_clients(options))
        .await
        .context("opening the SQLite database")?;
    let mut notes = vec![format!(
        "SQLite {} (WAL, synchronous=NORMAL) in {}; one pool of {} connections for both sides",
        sqlite_version(&pool).await?,
        dir.path().display(),
        max_clients(options),
    )];
    let outcome = measure_all(
        "sqlite",
        pool.clone(),
        pool.clone(),
        &pool,
        options,
        &mut notes,
    )
    .await;
    let _ = pool.close().await;
    let lines = outcome?;
    Ok(Report {
        backend: "sqlite",
        options: options.clone(),
        notes,
        lines,
    })
}

async fn sqlite_version(db: &DatabaseConnection) -> anyhow::Result<String> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT sqlite_version() AS version",
        ))
        .await?
        .ok_or_else(|| anyhow!("sqlite_version() returned nothing"))?;
    Ok(row.try_get::<String>("", "version")?)
}

async fn postgres(url: &str, options: &RlsOptions) -> anyhow::Result<Report> {
    on_throwaway_database(url, |bench_url, name| async move {
        postgres_in(&bench_url, &name, options).await
    })
    .await
}

async fn postgres_in(url: &str, name: &str, options: &RlsOptions) -> anyhow::Result<Report> {
    let owner_location = DatabaseLocation {
        url: url.to_owned(),
        schema: SERVICE.to_owned(),
        role: None,
    };
    db::migrate(&owner_location)
        .await
        .context("migrating the throw-away database")?;
    let clients = max_clients(options);
    let owner = db::connect(&owner_location, clients)
        .await
        .context("connecting as the owner")?;
    let service = db::connect(
        &owner_location
            .clone()
            .acting_as(Some(SERVICE_ROLE.to_owned())),
        clients,
    )
    .await
    .context("connecting as the service role")?;
    let outcome = postgres_measure(name, &owner, &service, options).await;
    let _ = service.close().await;
    let _ = owner.close().await;
    outcome
}

/// A role's name and whether row-level security can apply to it.
async fn role_of(db: &DatabaseConnection) -> anyhow::Result<(String, bool)> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text AS name, (rolsuper OR rolbypassrls) AS bypasses \
             FROM pg_roles WHERE rolname = current_user",
        ))
        .await?
        .ok_or_else(|| anyhow!("the current role is not in pg_roles"))?;
    Ok((row.try_get("", "name")?, row.try_get("", "bypasses")?))
}

async fn postgres_measure(
    name: &str,
    owner: &DatabaseConnection,
    service: &DatabaseConnection,
    options: &RlsOptions,
) -> anyhow::Result<Report> {
    let version = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('server_version') AS version",
        ))
        .await?
        .ok_or_else(|| anyhow!("no server_version"))?
        .try_get::<String>("", "version")?;
    let (owner_role, owner_bypasses) = role_of(owner).await?;
    let (service_role, service_bypasses) = role_of(service).await?;
    ensure!(
        service_role == SERVICE_ROLE && !service_bypasses,
        "the service pool acts as {service_role} (bypasses RLS: {service_bypasses}), \
         not as {SERVICE_ROLE} under row-level security"
    );
    let mut notes = vec![
        format!("PostgreSQL {version}, throw-away database {name} (dropped at the end)"),
        format!(
            "RLS on: {SERVICE_ROLE} (no BYPASSRLS); RLS off: {owner_role}, {}",
            if owner_bypasses {
                "superuser or BYPASSRLS"
            } else {
                "the owner; skills set NO FORCE ROW LEVEL SECURITY for it in the throw-away database"
            }
        ),
    ];
    if !owner_bypasses {
        owner
            .execute_unprepared("ALTER TABLE skills NO FORCE ROW LEVEL SECURITY")
            .await
            .context("letting the owner past row-level security")?;
    }
    let lines = measure_all(
        "postgres",
        service.clone(),
        owner.clone(),
        owner,
        options,
        &mut notes,
    )
    .await?;
    Ok(Report {
        backend: "postgres",
        options: options.clone(),
        notes,
        lines,
    })
}

/// Loads the rows, checks both sides see what they should, and measures
/// every operation at every concurrency.
async fn measure_all(
    backend: &'static str,
    tenant_db: DatabaseConnection,
    plain_db: DatabaseConnection,
    owner: &DatabaseConnection,
    options: &RlsOptions,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<Line>> {
    let loading = Instant::now();
    let tenants = load(owner, options.tenants, options.rows)
        .await
        .context("loading rows")?;
    notes.push(format!(
        "loaded {} rows in {:.1} s",
        u64::from(options.tenants) * u64::from(options.rows),
        loading.elapsed().as_secs_f64()
    ));
    let fixture = Fixture {
        backend,
        tenant_db,
        plain_db,
        tenants: tenants.into(),
        rows: options.rows,
    };
    check_isolation(&fixture).await?;
    let load_before = load_average();
    let seconds = Duration::from_secs(options.seconds);
    let mut phase = 0_u64;
    let mut lines = Vec::new();
    for operation in [Operation::PointRead, Operation::Insert] {
        for &clients in &options.clients {
            let (on, off) = measure(&fixture, operation, clients, seconds, &mut phase).await?;
            for (side, summary) in [(Side::Tenant, on), (Side::Plain, off)] {
                let (rls, path) = fixture.labels(side);
                lines.push(Line {
                    backend,
                    operation: operation.name(),
                    rls,
                    path,
                    clients: clients as usize,
                    summary,
                    overhead: (side == Side::Tenant).then(|| overhead(&on, &off)),
                });
            }
        }
    }
    if let (Some(before), Some(after)) = (load_before, load_average()) {
        notes.push(format!(
            "load average (1 min) {before} before, {after} after measuring, on {} CPUs",
            std::thread::available_parallelism().map_or(0, usize::from)
        ));
    }
    Ok(lines)
}

fn skill_id(row: u32) -> String {
    format!("skill-{row:07}")
}

fn resource() -> Vec<u8> {
    (0..RESOURCE_BYTES).map(|byte| byte as u8).collect()
}

/// Creates `tenants` tenants with `rows` skills each, as the owner.
async fn load(owner: &DatabaseConnection, tenants: u32, rows: u32) -> anyhow::Result<Vec<Uuid>> {
    let now = Utc::now();
    let ids: Vec<Uuid> = (0..tenants).map(|_| Uuid::now_v7()).collect();
    let txn = db::begin_platform(owner).await?;
    for (chunk_index, chunk) in ids.chunks(LOAD_CHUNK as usize).enumerate() {
        let mut insert = Query::insert();
        insert.into_table(Alias::new("tenants")).columns(
            ["id", "slug", "state", "resource", "revision", "create_time"].map(Alias::new),
        );
        for (index, id) in chunk.iter().enumerate() {
            let number = chunk_index * LOAD_CHUNK as usize + index;
            let values: [Expr; 6] = [
                (*id).into(),
                format!("bench-{number}").into(),
                1_i32.into(),
                resource().into(),
                1_i64.into(),
                now.into(),
            ];
            insert.values(values).map_err(|error| anyhow!("{error}"))?;
        }
        txn.execute(&insert).await?;
    }
    txn.commit().await?;
    for tenant in &ids {
        let txn = db::begin_for_tenant(owner, TenantId(*tenant)).await?;
        for start in (0..rows).step_by(LOAD_CHUNK as usize) {
            let mut insert = Query::insert();
            insert
                .into_table(Alias::new("skills"))
                .columns(["tenant_id", "id", "resource", "create_time"].map(Alias::new));
            for row in start..(start + LOAD_CHUNK).min(rows) {
                let values: [Expr; 4] = [
                    (*tenant).into(),
                    skill_id(row).into(),
                    resource().into(),
                    now.into(),
                ];
                insert.values(values).map_err(|error| anyhow!("{error}"))?;
            }
            txn.execute(&insert).await?;
        }
        txn.commit().await?;
    }
    Ok(ids)
}

/// The transaction a handler opens: for reads `begin_read_for_tenant`
/// (deferred on SQLite), for writes `begin_for_tenant` (immediate on
/// SQLite); the plain side a plain `begin`.
async fn begin(
    db: &DatabaseConnection,
    side: Side,
    tenant: Uuid,
    writes: bool,
) -> Result<DatabaseTransaction, DbErr> {
    match (side, writes) {
        (Side::Tenant, true) => db::begin_for_tenant(db, TenantId(tenant)).await,
        (Side::Tenant, false) => db::begin_read_for_tenant(db, TenantId(tenant)).await,
        (Side::Plain, _) => db.begin().await,
    }
}

async fn read(
    db: &DatabaseConnection,
    side: Side,
    tenant: Uuid,
    id: &str,
) -> Result<Option<documents::Document>, DbErr> {
    let txn = begin(db, side, tenant, false).await?;
    let document = documents::get(&txn, COLLECTION, tenant, id).await?;
    txn.commit().await?;
    Ok(document)
}

async fn insert(db: &DatabaseConnection, side: Side, tenant: Uuid, id: &str) -> Result<(), DbErr> {
    let txn = begin(db, side, tenant, true).await?;
    documents::insert(&txn, COLLECTION, tenant, id, resource(), Utc::now(), &[]).await?;
    txn.commit().await
}

/// Before measuring: both sides find a tenant's row, and on PostgreSQL the
/// service role finds nothing without its tenant (so RLS really is on).
async fn check_isolation(fixture: &Fixture) -> anyhow::Result<()> {
    let tenant = fixture.tenants[0];
    let id = skill_id(0);
    for side in [Side::Tenant, Side::Plain] {
        ensure!(
            read(fixture.pool(side), side, tenant, &id).await?.is_some(),
            "the {side:?} side does not find a loaded row"
        );
    }
    if fixture.backend == "postgres" {
        let txn = fixture.tenant_db.begin().await?;
        let unscoped = documents::get(&txn, COLLECTION, tenant, &id).await?;
        txn.rollback().await?;
        ensure!(
            unscoped.is_none(),
            "{SERVICE_ROLE} reads a row with no tenant set: row-level security is not in force"
        );
        if let Some(&other) = fixture.tenants.get(1) {
            let txn = db::begin_for_tenant(&fixture.tenant_db, TenantId(other)).await?;
            let foreign = documents::get(&txn, COLLECTION, tenant, &id).await?;
            txn.rollback().await?;
            ensure!(
                foreign.is_none(),
                "{SERVICE_ROLE} reads another tenant's row: row-level security is not in force"
            );
        }
    }
    Ok(())
}

/// One measurement: the RLS-on and RLS-off sides of `operation` with
/// `clients` clients, each for `seconds` in total.
async fn measure(
    fixture: &Fixture,
    operation: Operation,
    clients: u32,
    seconds: Duration,
    phase: &mut u64,
) -> anyhow::Result<(Summary, Summary)> {
    let warm_up = (seconds / 10).min(Duration::from_millis(500));
    for side in [Side::Tenant, Side::Plain] {
        *phase += 1;
        run_phase(fixture, operation, side, clients, warm_up, *phase).await?;
    }
    let half = seconds / 2;
    let mut on = (Vec::new(), Duration::ZERO);
    let mut off = (Vec::new(), Duration::ZERO);
    for side in [Side::Tenant, Side::Plain, Side::Plain, Side::Tenant] {
        *phase += 1;
        let (samples, elapsed) = run_phase(fixture, operation, side, clients, half, *phase).await?;
        let into = if side == Side::Tenant {
            &mut on
        } else {
            &mut off
        };
        into.0.extend(samples);
        into.1 += elapsed;
    }
    Ok((summarise(on.0, on.1), summarise(off.0, off.1)))
}

/// `clients` clients doing `operation` on `side` back to back for
/// `duration`: every operation's latency, and the wall-clock time taken.
async fn run_phase(
    fixture: &Fixture,
    operation: Operation,
    side: Side,
    clients: u32,
    duration: Duration,
    phase: u64,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = JoinSet::new();
    for client in 0..clients {
        let db = fixture.pool(side).clone();
        let tenants = Arc::clone(&fixture.tenants);
        let rows = fixture.rows;
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64((phase << 16) | u64::from(client));
            let mut samples = Vec::with_capacity(4096);
            let mut seq = 0_u64;
            while seq < MAX_OPS_PER_CLIENT && Instant::now() < deadline {
                let tenant = tenants[rng.random_range(0..tenants.len())];
                let id = match operation {
                    Operation::PointRead => skill_id(rng.random_range(0..rows)),
                    Operation::Insert => format!("bench-{phase}-{client}-{seq}"),
                };
                let op_started = Instant::now();
                match operation {
                    Operation::PointRead => {
                        let found = read(&db, side, tenant, &id).await?;
                        ensure!(found.is_some(), "{side:?} point read missed {id}");
                    }
                    Operation::Insert => insert(&db, side, tenant, &id).await?,
                }
                samples.push(op_started.elapsed());
                seq += 1;
            }
            Ok::<_, anyhow::Error>(samples)
        });
    }
    let mut samples = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        samples.extend(joined.context("a bench client panicked")??);
    }
    Ok((samples, started.elapsed()))
}

/// `url` with its database name replaced by `database` (the query kept).
#[cfg(test)]
mod tests {
    use clap::Parser;
    use kefu_kit::testing::{DATABASE_URL_VAR, REQUIRE_SERVERS_VAR};
    use sea_orm::Database;

    use super::*;
    use crate::{
        bench::{BenchCommand, with_database},
        cli::{Cli, Command},
    };

    fn options(extra: &[&str]) -> RlsOptions {
        let args = ["kefu", "bench", "rls", "--seconds", "1", "--rows", "10"]
            .iter()
            .chain(["--tenants", "2", "--clients", "1"].iter())
            .chain(extra);
        match Cli::try_parse_from(args).expect("arguments parse").command {
            Command::Bench {
                bench: BenchCommand::Rls(options),
            } => options,
            other => panic!("parsed as {other:?}"),
        }
    }

    fn check(report: &Report, backend: &str) {
        assert_eq!(report.lines.len(), 4, "{}", report.render());
        for line in &report.lines {
            assert_eq!(line.backend, backend);
            assert!(line.summary.ops > 0, "{}", report.render());
            assert!(line.summary.p50_us <= line.summary.p99_us);
        }
        assert!(report.lines[0].overhead.is_some() && report.lines[1].overhead.is_none());
        assert!(report.render().contains("point read"));
    }

    #[test]
    fn defaults_are_those_documented() {
        let Command::Bench {
            bench: BenchCommand::Rls(defaults),
        } = Cli::try_parse_from(["kefu", "bench", "rls"])
            .expect("parses")
            .command
        else {
            panic!("not the bench command");
        };
        assert_eq!(defaults.seconds, 5);
        assert_eq!(defaults.clients, [1, 8]);
        assert_eq!((defaults.tenants, defaults.rows), (50, 1000));
        assert!(defaults.database_url.is_none());
        assert!(Cli::try_parse_from(["kefu", "bench", "rls", "--clients", "0"]).is_err());
    }

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_on_sqlite() {
        let report = run(&options(&[])).await.expect("bench runs");
        check(&report, "sqlite");
        assert_eq!(report.lines[0].rls, "n/a");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_on_postgres_and_drops_its_database() {
        let url = match std::env::var(DATABASE_URL_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                let required = std::env::var(REQUIRE_SERVERS_VAR)
                    .is_ok_and(|value| value == "1" || value == "true");
                assert!(
                    !required,
                    "{DATABASE_URL_VAR} is not set but {REQUIRE_SERVERS_VAR}=1"
                );
                eprintln!("{DATABASE_URL_VAR} not set: skipping the PostgreSQL bench");
                return;
            }
        };
        let report = run(&options(&["--database-url", &url]))
            .await
            .expect("bench runs");
        check(&report, "postgres");
        assert_eq!((report.lines[0].rls, report.lines[1].rls), ("on", "off"));
        let name = report.notes[0]
            .split_whitespace()
            .find(|word| word.starts_with("kefu_bench_"))
            .expect("the report names its database")
            .trim_end_matches(',')
            .to_owned();
        let admin = Database::connect(&url).await.expect("server reachable");
        let left = admin
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_database WHERE datname = $1",
                [name.into()],
            ))
            .await
            .expect("query")
            .expect("a row")
            .try_get::<i64>("", "n")
            .expect("a count");
        assert_eq!(left, 0, "the throw-away database is left behind");
    }
}
