//! `kefu bench customers`: the customer archive at scale, through the
//! gateway as partners call it.
//!
//! On a throw-away database (PostgreSQL with `--database-url`, dropped at
//! the end even on error or Ctrl-C; SQLite in a temporary directory
//! otherwise) it runs the whole of Kefu in this process (`kefu up`'s code:
//! every service, the in-process event bus, the gateway; rate limits off),
//! onboards `--tenants` tenants with `--per-tenant` customers each and one
//! big tenant, then imports `--customers` customers into the big tenant as
//! one CSV streamed through CreateCustomerImport: the real import path
//! (upload, background worker, batches of 1,000, events through the
//! outbox). It reports the import's rows/s (processing: from its start to
//! end time; end to end: from the first byte sent to SUCCEEDED), waits for
//! the events the import published to be delivered (every service that
//! keeps a copy of customers, such as the tickets service, handles each
//! CustomerCreated), and measures SearchCustomers by phone
//! and by a two-character name prefix with each `--clients` count of
//! concurrent clients for `--seconds`: p50, p99 and searches per second.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail, ensure};
use futures::StreamExt;
use kefu_proto::v1::{
    CreateCustomerImportRequest, CustomerImport, CustomerImportState, GetCustomerImportRequest,
    SearchCustomersRequest, create_customer_import_request::Part,
    customer_service_client::CustomerServiceClient,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio::task::JoinSet;
use tonic::{service::interceptor::InterceptedService, transport::Channel};

use super::{
    Summary, load_average, on_throwaway_database,
    stack::{Bearer, BenchStack, bearer},
    summarise,
};

/// Common surnames (each one character).
const FAMILY: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤";
/// Characters of given names.
const GIVEN: &str = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰玉华建国志红文辉鹏斌宇浩凯雪梅琳晨欣怡子涵嘉豪俊轩佳琪思雨";
/// Bytes per CSV message of the upload (the contract's maximum).
const CHUNK_BYTES: usize = 1024 * 1024;

/// Options of `kefu bench customers`.
#[derive(Debug, Clone, clap::Args)]
pub struct CustomersOptions {
    /// A PostgreSQL URL of a role that may create databases and roles;
    /// omitted, SQLite in a temporary directory.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Customers imported into the big tenant.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(1..=5_000_000))]
    pub customers: u32,
    /// Other tenants beside the big one.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub tenants: u32,
    /// Customers imported into each other tenant.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub per_tenant: u32,
    /// Concurrent search clients, one measurement per value
    /// (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1_u32, 8], value_parser = clap::value_parser!(u32).range(1..=256))]
    pub clients: Vec<u32>,
    /// Seconds each search measurement runs.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,
    /// Longest wait for the import's events to be delivered before
    /// searching (searches then run beside the remaining delivery).
    #[arg(long, default_value_t = 1800, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub drain_seconds: u64,
}

/// One import measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportLine {
    /// What was imported.
    pub what: String,
    /// Data rows.
    pub rows: i64,
    /// From the worker's start to the import's end, s.
    pub processing_secs: f64,
    /// From the first byte sent to SUCCEEDED seen, s.
    pub end_to_end_secs: f64,
}

/// One search measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchLine {
    /// `phone` or `name prefix`.
    pub search: &'static str,
    /// Concurrent clients.
    pub clients: u32,
    /// The measurement.
    pub summary: Summary,
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct Report {
    /// `postgres` or `sqlite`.
    pub backend: &'static str,
    /// The options it ran with.
    pub options: CustomersOptions,
    /// Facts worth reading beside the figures.
    pub notes: Vec<String>,
    /// The imports.
    pub imports: Vec<ImportLine>,
    /// The searches.
    pub searches: Vec<SearchLine>,
}

impl Report {
    /// The report as printed by the command.
    pub fn render(&self) -> String {
        let mut out = format!(
            "kefu bench customers: {}, {} customers in one tenant, {} other tenants × {}, \
             through the gateway\n",
            self.backend, self.options.customers, self.options.tenants, self.options.per_tenant,
        );
        for note in &self.notes {
            out.push_str(&format!("  {note}\n"));
        }
        out.push_str(
            "\nimport                     rows   processing s   rows/s   end to end s   rows/s\n",
        );
        for line in &self.imports {
            let rate = |secs: f64| {
                if secs > 0.0 {
                    line.rows as f64 / secs
                } else {
                    0.0
                }
            };
            out.push_str(&format!(
                "{:<22} {:>9} {:>14.1} {:>8.0} {:>14.1} {:>8.0}\n",
                line.what,
                line.rows,
                line.processing_secs,
                rate(line.processing_secs),
                line.end_to_end_secs,
                rate(line.end_to_end_secs),
            ));
        }
        out.push_str("\nsearch        clients      ops   ops/s   p50 ms   p99 ms\n");
        for line in &self.searches {
            out.push_str(&format!(
                "{:<13} {:>7} {:>8} {:>7.0} {:>8.2} {:>8.2}\n",
                line.search,
                line.clients,
                line.summary.ops,
                line.summary.ops_per_sec,
                line.summary.p50_us / 1000.0,
                line.summary.p99_us / 1000.0,
            ));
        }
        out
    }
}

/// Runs the benchmark on the backend `options` name.
pub async fn run(options: &CustomersOptions) -> anyhow::Result<Report> {
    ensure!(
        !options.clients.is_empty(),
        "--clients needs at least one value"
    );
    let data_dir = tempfile::tempdir().context("creating a temporary directory")?;
    match options.database_url.as_deref() {
        None => measure("sqlite", None, data_dir.path(), options).await,
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            on_throwaway_database(url, |bench_url, name| async move {
                let mut report =
                    measure("postgres", Some(bench_url), data_dir.path(), options).await?;
                report.notes.insert(
                    0,
                    format!("throw-away database {name} (dropped at the end)"),
                );
                Ok(report)
            })
            .await
        }
        Some(_) => bail!("--database-url must be a postgres:// URL (omit it for SQLite)"),
    }
}

type Customers = CustomerServiceClient<InterceptedService<Channel, Bearer>>;

fn customers(stack: &BenchStack, session: &str) -> anyhow::Result<Customers> {
    Ok(CustomerServiceClient::with_interceptor(
        stack.channel.clone(),
        bearer(session)?,
    ))
}

async fn measure(
    backend: &'static str,
    database_url: Option<String>,
    data_dir: &Path,
    options: &CustomersOptions,
) -> anyhow::Result<Report> {
    let stack = BenchStack::start(database_url, data_dir).await?;
    let mut notes = vec![format!(
        "{} CPUs, load average (1 min) {} at the start; Kefu and the bench share them",
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average().unwrap_or_else(|| "unknown".into())
    )];
    let mut imports = Vec::new();
    let _analyzer = match analyzer(&stack).await? {
        Some(task) => {
            notes.push(
                "autovacuum is off on this server: the bench runs ANALYZE every 10 s in its place \
                 (without statistics the planner scans a whole tenant for each key looked up)"
                    .into(),
            );
            Some(AbortOnDrop(task))
        }
        None => None,
    };

    let started = Instant::now();
    for index in 0..options.tenants {
        let session = stack.onboard(&format!("bench-{index}")).await?;
        let mut client = customers(&stack, &session)?;
        let (import, _) =
            import_file(&mut client, options.per_tenant, 137, u64::from(index)).await?;
        ensure!(
            import.created == i64::from(options.per_tenant),
            "tenant {index}: {import:?}"
        );
    }
    if options.tenants > 0 {
        notes.push(format!(
            "{} tenants × {} customers onboarded and imported in {:.1} s",
            options.tenants,
            options.per_tenant,
            started.elapsed().as_secs_f64()
        ));
    }

    let session = stack.onboard("bench-big").await?;
    let mut client = customers(&stack, &session)?;
    let (import, end_to_end) = import_file(&mut client, options.customers, 139, u64::MAX).await?;
    ensure!(
        import.created == i64::from(options.customers) && import.failed == 0,
        "the big import: {import:?}"
    );
    let processing = match (&import.start_time, &import.end_time) {
        (Some(start), Some(end)) => {
            (end.seconds - start.seconds) as f64 + f64::from(end.nanos - start.nanos) / 1e9
        }
        _ => 0.0,
    };
    imports.push(ImportLine {
        what: "one tenant, new rows".into(),
        rows: import.rows_processed,
        processing_secs: processing,
        end_to_end_secs: end_to_end.as_secs_f64(),
    });

    let waited = Instant::now();
    let backlog = drain(&stack, Duration::from_secs(options.drain_seconds)).await?;
    notes.push(format!(
        "the import's events delivered {:.0} s after it ended (each service's copy of customers handles each one){}",
        waited.elapsed().as_secs_f64(),
        if backlog > 0 {
            format!("; {backlog} still undelivered while searching")
        } else {
            String::new()
        }
    ));

    let seconds = Duration::from_secs(options.seconds);
    let mut searches = Vec::new();
    for &clients in &options.clients {
        for search in [Search::Phone, Search::NamePrefix] {
            let summary = searching(&client, search, clients, seconds, options.customers).await?;
            searches.push(SearchLine {
                search: search.name(),
                clients,
                summary,
            });
        }
    }
    // The same file again: every row matched and unchanged.
    let (again, end_to_end) = import_file(&mut client, options.customers, 139, u64::MAX).await?;
    let processing = match (&again.start_time, &again.end_time) {
        (Some(start), Some(end)) => {
            (end.seconds - start.seconds) as f64 + f64::from(end.nanos - start.nanos) / 1e9
        }
        _ => 0.0,
    };
    ensure!(
        again.unchanged == i64::from(options.customers),
        "the re-run: {again:?}"
    );
    imports.push(ImportLine {
        what: "same file, unchanged".into(),
        rows: again.rows_processed,
        processing_secs: processing,
        end_to_end_secs: end_to_end.as_secs_f64(),
    });
    notes.push(format!(
        "load average (1 min) {} at the end",
        load_average().unwrap_or_else(|| "unknown".into())
    ));
    Ok(Report {
        backend,
        options: options.clone(),
        notes,
        imports,
        searches,
    })
}

/// The name of customer `row`: a common surname and one or two given
/// characters.
fn name_of(rng: &mut StdRng) -> String {
    let family: Vec<char> = FAMILY.chars().collect();
    let given: Vec<char> = GIVEN.chars().collect();
    let mut name = String::new();
    name.push(family[rng.random_range(0..family.len())]);
    name.push(given[rng.random_range(0..given.len())]);
    if rng.random_bool(0.6) {
        name.push(given[rng.random_range(0..given.len())]);
    }
    name
}

/// CSV row `row` of a file whose phones start with `prefix` (3 digits, then
/// the row's 8): a unique mobile number per row.
fn csv_row(row: u32, prefix: u32, rng: &mut StdRng) -> String {
    let email = if row.is_multiple_of(3) {
        format!("c{row}@example.com")
    } else {
        String::new()
    };
    let tags = match row % 10 {
        0 => "VIP",
        1 | 2 => "业主",
        _ => "",
    };
    let member = if row.is_multiple_of(5) { "是" } else { "否" };
    format!(
        "crm-{row},{},{prefix}{row:08},{email},{tags},{member}\n",
        name_of(rng),
    )
}

/// Streams a CSV of `rows` customers into a new import and waits for its
/// end: the import, and the time from the first byte to SUCCEEDED.
async fn import_file(
    client: &mut Customers,
    rows: u32,
    prefix: u32,
    seed: u64,
) -> anyhow::Result<(CustomerImport, Duration)> {
    let header = "external_id,display_name,phones,emails,tags,member\n";
    let first = CreateCustomerImportRequest {
        part: Some(Part::CustomerImport(CustomerImport {
            display_name: format!("bench-{seed}.csv"),
            ..CustomerImport::default()
        })),
        request_id: String::new(),
    };
    // Seeded: the same call makes the same file.
    let state = (0_u32, StdRng::seed_from_u64(seed), false);
    let chunks = futures::stream::unfold(state, move |(next, mut rng, headed)| async move {
        if next >= rows && headed {
            return None;
        }
        let mut data = String::with_capacity(CHUNK_BYTES);
        if !headed {
            data.push_str(header);
        }
        let mut row = next;
        while row < rows {
            let line = csv_row(row, prefix, &mut rng);
            if data.len() + line.len() > CHUNK_BYTES {
                break;
            }
            data.push_str(&line);
            row += 1;
        }
        let message = CreateCustomerImportRequest {
            part: Some(Part::CsvChunk(data.into_bytes())),
            request_id: String::new(),
        };
        Some((message, (row, rng, true)))
    });
    let started = Instant::now();
    let messages = futures::stream::iter([first]).chain(chunks);
    let created = client
        .create_customer_import(messages)
        .await
        .context("uploading an import")?
        .into_inner();
    loop {
        let import = client
            .get_customer_import(GetCustomerImportRequest {
                name: created.name.clone(),
            })
            .await
            .context("reading the import")?
            .into_inner();
        match import.state() {
            CustomerImportState::Pending | CustomerImportState::Running => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            CustomerImportState::Succeeded => return Ok((import, started.elapsed())),
            _ => bail!("the import ended {:?}: {}", import.state(), import.error),
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// On a PostgreSQL server with autovacuum off, a task that analyzes the
/// database every 10 s as autovacuum would (tables grow from empty to a
/// million rows during the bench).
async fn analyzer(stack: &BenchStack) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let location = crate::migrate::location(&stack.config, "customers");
    if location.is_sqlite() {
        return Ok(None);
    }
    let db = kefu_kit::db::connect(&location, 1)
        .await
        .context("opening the customers database as its owner")?;
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('autovacuum') AS autovacuum",
        ))
        .await?
        .ok_or_else(|| anyhow!("no autovacuum setting"))?;
    if row.try_get::<String>("", "autovacuum")? == "on" {
        return Ok(None);
    }
    Ok(Some(tokio::spawn(async move {
        loop {
            if let Err(error) = db.execute_unprepared("ANALYZE").await {
                eprintln!("kefu bench: ANALYZE failed: {error}");
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    })))
}

/// Waits until the customers service's outbox is delivered, at most
/// `limit`: the events still waiting then.
async fn drain(stack: &BenchStack, limit: Duration) -> anyhow::Result<i64> {
    let location = crate::migrate::location(&stack.config, "customers");
    let db = kefu_kit::db::connect(&location, 1)
        .await
        .context("opening the customers database")?;
    let backend = db.get_database_backend();
    let table = match backend {
        DbBackend::Postgres => "customers.outbox",
        _ => "outbox",
    };
    let deadline = Instant::now() + limit;
    loop {
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) AS waiting FROM {table} WHERE published_at IS NULL"),
            ))
            .await?
            .ok_or_else(|| anyhow!("counting the outbox returned nothing"))?;
        let waiting: i64 = row.try_get("", "waiting")?;
        if waiting == 0 || Instant::now() >= deadline {
            let _ = db.close().await;
            return Ok(waiting);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Search {
    Phone,
    NamePrefix,
}

impl Search {
    fn name(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::NamePrefix => "name prefix",
        }
    }

    fn request(self, rng: &mut StdRng, customers: u32) -> SearchCustomersRequest {
        match self {
            Self::Phone => SearchCustomersRequest {
                phone: format!("139{:08}", rng.random_range(0..customers)),
                ..SearchCustomersRequest::default()
            },
            // Two characters, as an agent types a surname and the first
            // given character: a page of the few hundred matches.
            Self::NamePrefix => SearchCustomersRequest {
                name_prefix: name_of(rng).chars().take(2).collect(),
                ..SearchCustomersRequest::default()
            },
        }
    }
}

/// `clients` concurrent clients searching for `seconds` after a short
/// warm-up.
async fn searching(
    client: &Customers,
    search: Search,
    clients: u32,
    seconds: Duration,
    customers: u32,
) -> anyhow::Result<Summary> {
    let warm_up = Duration::from_secs(1);
    let start = Instant::now() + warm_up;
    let end = start + seconds;
    let mut tasks = JoinSet::new();
    let found = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for index in 0..clients {
        let mut client = client.clone();
        let found = found.clone();
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(u64::from(index) + 1);
            let mut samples = Vec::new();
            loop {
                let request = search.request(&mut rng, customers);
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let answer = client.search_customers(request).await?.into_inner();
                if sent >= start {
                    samples.push(sent.elapsed());
                    if !answer.customers.is_empty() {
                        found.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
            Ok::<_, tonic::Status>(samples)
        });
    }
    let mut samples = Vec::new();
    while let Some(outcome) = tasks.join_next().await {
        samples.extend(outcome.context("a search client")??);
    }
    let summary = summarise(samples, seconds);
    if search == Search::Phone {
        ensure!(
            found.load(std::sync::atomic::Ordering::Relaxed) == summary.ops,
            "a phone search found nobody"
        );
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{
        bench::BenchCommand,
        cli::{Cli, Command},
    };

    #[test]
    fn defaults_are_those_documented() {
        let cli = Cli::try_parse_from(["kefu", "bench", "customers"]).expect("parses");
        let Command::Bench {
            bench: BenchCommand::Customers(options),
        } = cli.command
        else {
            panic!("not the customers bench");
        };
        assert_eq!(options.customers, 1_000_000);
        assert_eq!(options.tenants, 50);
        assert_eq!(options.clients, vec![1, 8]);
        assert!(options.database_url.is_none());
    }

    #[test]
    fn rows_have_unique_valid_phones() {
        let mut rng = StdRng::seed_from_u64(1);
        let row = csv_row(42, 139, &mut rng);
        assert!(row.starts_with("crm-42,"), "{row}");
        assert!(row.contains(",13900000042,c42@example.com,"), "{row}");
        assert!(row.ends_with(",否\n"), "{row}");
    }

    #[tokio::test]
    async fn runs_on_sqlite() {
        let options = CustomersOptions {
            database_url: None,
            customers: 1500,
            tenants: 1,
            per_tenant: 10,
            clients: vec![2],
            seconds: 1,
            drain_seconds: 60,
        };
        let report = run(&options).await.expect("the bench runs");
        assert_eq!(report.imports.len(), 2);
        assert_eq!(report.imports[0].rows, 1500);
        assert_eq!(report.searches.len(), 2);
        assert!(report.searches.iter().all(|line| line.summary.ops > 0));
        assert!(report.render().contains("name prefix"));
    }
}
