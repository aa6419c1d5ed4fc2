//! `kefu bench tickets`: ticket creation and the agents' reads through the
//! gateway, against what PostgreSQL itself can do.
//!
//! On a throw-away database (PostgreSQL with `--database-url`, dropped at
//! the end; SQLite in a temporary directory otherwise) it runs the whole of
//! Kefu in this process (rate limits off), onboards one tenant, creates
//! `--customers` customers and waits until the tickets service knows them.
//! Then, for each `--clients` count, `--clients` partners call CreateTicket
//! back to back for `--seconds` (the real path: gateway, credential,
//! taxonomy and customer checks, ticket number, audit entry, idempotency
//! key, outbox), then GetTicket and ListTickets (the team queue's first
//! page). On PostgreSQL the same concurrency runs `pgbench` with the bare
//! minimum of a ticket creation — one transaction inserting the ticket row
//! and its outbox row, with a stored ticket and event of the size Kefu
//! writes — as the ceiling; the report gives the ratio.

use std::{
    collections::BTreeMap,
    path::Path,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};
use kefu_proto::v1::{
    Channel as TicketChannel, CreateCustomerRequest, CreateTicketKindRequest, CreateTicketRequest,
    Customer, GetTicketFieldDefinitionRequest, GetTicketRequest, ListTicketKindsRequest,
    ListTicketsRequest, LocalizedText, Ticket, TicketBaseKind, TicketFieldRequirement,
    TicketFieldType, TicketKind, customer_service_client::CustomerServiceClient,
    ticket_service_client::TicketServiceClient,
};
use prost::Message;
use prost_types::{ListValue, value::Kind};
use tokio::sync::Mutex;
use tonic::{service::interceptor::InterceptedService, transport::Channel};
use uuid::Uuid;

use super::{
    Summary,
    drive::drive,
    load_average, on_throwaway_database,
    stack::{Bearer, BenchStack, bearer},
};

/// Options of `kefu bench tickets`.
#[derive(Debug, Clone, clap::Args)]
pub struct TicketsOptions {
    /// A PostgreSQL URL of a role that may create databases and roles;
    /// omitted, SQLite in a temporary directory (no pgbench ceiling).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Concurrent clients, one measurement per value (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1_u32, 16], value_parser = clap::value_parser!(u32).range(1..=256))]
    pub clients: Vec<u32>,
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,
    /// Customers the tickets are spread over.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub customers: u32,
    /// The pgbench program.
    #[arg(long, default_value = "pgbench")]
    pub pgbench: String,
    /// Each service's connection pool size (Kefu's default,
    /// `storage.max_connections`, when omitted).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub max_connections: Option<u32>,
}

/// One measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// What was measured.
    pub operation: &'static str,
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
    /// Facts worth reading beside the figures.
    pub notes: Vec<String>,
    /// The measurements, Kefu's and pgbench's.
    pub lines: Vec<Line>,
}

/// The operation name of the pgbench ceiling.
const CEILING: &str = "pgbench insert";
/// The operation name of ticket creation.
const CREATE: &str = "CreateTicket";

impl Report {
    /// The report as printed by the command.
    pub fn render(&self) -> String {
        let mut out = format!(
            "kefu bench tickets: {}, through the gateway\n",
            self.backend
        );
        for note in &self.notes {
            out.push_str(&format!("  {note}\n"));
        }
        out.push_str("\noperation         clients      ops    ops/s   p50 ms   p99 ms\n");
        for line in &self.lines {
            out.push_str(&format!(
                "{:<17} {:>7} {:>8} {:>8.0} {:>8.2} {:>8.2}\n",
                line.operation,
                line.clients,
                line.summary.ops,
                line.summary.ops_per_sec,
                line.summary.p50_us / 1000.0,
                line.summary.p99_us / 1000.0,
            ));
        }
        let ratios = self.ratios();
        if !ratios.is_empty() {
            out.push_str("\nclients   CreateTicket / pgbench ceiling\n");
            for (clients, ratio) in ratios {
                out.push_str(&format!("{clients:>7}   {:>6.1} %\n", ratio * 100.0));
            }
        }
        out
    }

    /// Ticket creation's throughput over the ceiling's, per client count.
    pub fn ratios(&self) -> Vec<(u32, f64)> {
        self.lines
            .iter()
            .filter(|line| line.operation == CREATE)
            .filter_map(|create| {
                self.lines
                    .iter()
                    .find(|line| line.operation == CEILING && line.clients == create.clients)
                    .filter(|ceiling| ceiling.summary.ops_per_sec > 0.0)
                    .map(|ceiling| {
                        (
                            create.clients,
                            create.summary.ops_per_sec / ceiling.summary.ops_per_sec,
                        )
                    })
            })
            .collect()
    }
}

/// Runs the benchmark on the backend `options` name.
pub async fn run(options: &TicketsOptions) -> anyhow::Result<Report> {
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

type Tickets = TicketServiceClient<InterceptedService<Channel, Bearer>>;

/// What every client of one tenant shares.
#[derive(Clone)]
struct Workload {
    tickets: Tickets,
    kind: String,
    /// Values of the fields the kind requires on create.
    custom_fields: Arc<BTreeMap<String, prost_types::Value>>,
    customers: Arc<Vec<String>>,
    /// Tickets created so far, read back by the read measurements.
    created: Arc<Mutex<Vec<String>>>,
}

impl Workload {
    fn new_ticket(&self, client: u32, sequence: u64) -> CreateTicketRequest {
        let customer =
            &self.customers[(sequence as usize + client as usize) % self.customers.len()];
        CreateTicketRequest {
            ticket: Some(Ticket {
                kind: self.kind.clone(),
                channel: TicketChannel::Phone as i32,
                customer: customer.clone(),
                subject: format!("3号楼{}单元 厨房漏水", client + 1),
                description: "业主来电：厨房水槽下方管道漏水，已关闭总阀，请尽快安排维修。".into(),
                tags: vec!["报修".into()],
                custom_fields: self
                    .custom_fields
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect(),
                ..Ticket::default()
            }),
            request_id: Uuid::now_v7().to_string(),
        }
    }
}

async fn measure(
    backend: &'static str,
    database_url: Option<String>,
    data_dir: &Path,
    options: &TicketsOptions,
) -> anyhow::Result<Report> {
    let stack =
        BenchStack::start_with_pool(database_url.clone(), data_dir, options.max_connections)
            .await?;
    let mut notes = vec![
        format!(
            "{} CPUs, load average (1 min) {} at the start; Kefu, PostgreSQL and the bench share them",
            std::thread::available_parallelism().map_or(0, usize::from),
            load_average().unwrap_or_else(|| "unknown".into())
        ),
        format!(
            "each service's pool holds at most {} connections",
            stack.config.storage.max_connections
        ),
    ];
    let session = stack.onboard("bench-tickets").await?;
    let workload = prepare(&stack, &session, options.customers).await?;
    notes.push(format!(
        "one tenant, kind {}, {} customers",
        workload.kind, options.customers
    ));
    let seconds = Duration::from_secs(options.seconds);
    let mut lines = Vec::new();
    let mut sample: Option<Ticket> = None;
    for &clients in &options.clients {
        let summary = drive(
            clients,
            seconds,
            workload.clone(),
            |load, client, sequence| async move {
                let ticket = load
                    .tickets
                    .clone()
                    .create_ticket(load.new_ticket(client, sequence))
                    .await?
                    .into_inner();
                load.created.lock().await.push(ticket.name);
                Ok(())
            },
        )
        .await?;
        lines.push(Line {
            operation: CREATE,
            clients,
            summary,
        });
        if sample.is_none() {
            sample = sample_ticket(&workload).await?;
        }
        if let (Some(url), Some(sample)) = (database_url.as_deref(), sample.as_ref()) {
            let summary = ceiling(&options.pgbench, url, clients, seconds, sample, data_dir)?;
            lines.push(Line {
                operation: CEILING,
                clients,
                summary,
            });
        }
        let created = Arc::new(workload.created.lock().await.clone());
        ensure!(!created.is_empty(), "no ticket was created");
        let summary = drive(
            clients,
            seconds,
            (workload.clone(), created),
            |(load, created), client, sequence| async move {
                let name =
                    created[(sequence as usize * 7919 + client as usize) % created.len()].clone();
                load.tickets
                    .clone()
                    .get_ticket(GetTicketRequest { name })
                    .await?;
                Ok(())
            },
        )
        .await?;
        lines.push(Line {
            operation: "GetTicket",
            clients,
            summary,
        });
        let summary = drive(
            clients,
            seconds,
            workload.clone(),
            |load, _, _| async move {
                let page = load
                    .tickets
                    .clone()
                    .list_tickets(ListTicketsRequest {
                        page_size: 50,
                        filter: "state = NEW OR state = OPEN".into(),
                        ..ListTicketsRequest::default()
                    })
                    .await?
                    .into_inner();
                ensure!(!page.tickets.is_empty(), "the queue is empty");
                Ok(())
            },
        )
        .await?;
        lines.push(Line {
            operation: "ListTickets queue",
            clients,
            summary,
        });
    }
    if database_url.is_none() {
        notes.push("SQLite: no pgbench ceiling (it needs PostgreSQL)".into());
    }
    if let Some(sample) = &sample {
        notes.push(format!(
            "a stored ticket is {} bytes encoded; {} tickets created in all",
            sample.encoded_len(),
            workload.created.lock().await.len()
        ));
    }
    notes.push(format!(
        "load average (1 min) {} at the end",
        load_average().unwrap_or_else(|| "unknown".into())
    ));
    Ok(Report {
        backend,
        notes,
        lines,
    })
}

/// Creates the customers and finds (or makes) a ticket kind, then waits
/// until the tickets service has heard of every customer.
async fn prepare(stack: &BenchStack, session: &str, count: u32) -> anyhow::Result<Workload> {
    let mut customers =
        CustomerServiceClient::with_interceptor(stack.channel.clone(), bearer(session)?);
    let mut names = Vec::new();
    for index in 0..count {
        let customer = customers
            .create_customer(CreateCustomerRequest {
                customer: Some(Customer {
                    display_name: format!("业主{index:04}"),
                    ..Customer::default()
                }),
                ..CreateCustomerRequest::default()
            })
            .await
            .with_context(|| format!("creating customer {index}"))?
            .into_inner();
        names.push(customer.name);
    }
    let mut tickets =
        TicketServiceClient::with_interceptor(stack.channel.clone(), bearer(session)?);
    let kinds = tickets
        .list_ticket_kinds(ListTicketKindsRequest::default())
        .await
        .context("listing ticket kinds")?
        .into_inner()
        .ticket_kinds;
    let kind = match kinds.into_iter().find(|kind| kind.active) {
        Some(kind) => kind,
        None => tickets
            .create_ticket_kind(CreateTicketKindRequest {
                ticket_kind: Some(TicketKind {
                    key: "repair".into(),
                    labels: Some(LocalizedText {
                        values: [("zh-CN".to_owned(), "报修".to_owned())].into(),
                    }),
                    base_kind: TicketBaseKind::Repair as i32,
                    active: true,
                    ..TicketKind::default()
                }),
                request_id: Uuid::now_v7().to_string(),
            })
            .await
            .context("creating a ticket kind")?
            .into_inner(),
    };
    let custom_fields = required_fields(&mut tickets, &kind).await?;
    let workload = Workload {
        tickets,
        kind: kind.name,
        custom_fields: Arc::new(custom_fields),
        customers: Arc::new(names),
        created: Arc::new(Mutex::new(Vec::new())),
    };
    // The last customer known means every one is: events arrive in order.
    let waited = Instant::now();
    let last = workload.customers.len() as u64 - 1;
    loop {
        let mut probe = workload.new_ticket(0, last);
        if let Some(ticket) = probe.ticket.as_mut() {
            ticket.subject = "bench: customers known".into();
        }
        match workload.tickets.clone().create_ticket(probe).await {
            Ok(_) => break,
            Err(status)
                if status.message().contains("customers/")
                    && waited.elapsed() < Duration::from_secs(60) =>
            {
                tracing::debug!(%status, "customers not known to the tickets service yet");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => return Err(status).context("creating the first ticket"),
        }
    }
    Ok(workload)
}

/// A value for each custom field `kind` requires on create, as an agent
/// would type it.
async fn required_fields(
    tickets: &mut Tickets,
    kind: &TicketKind,
) -> anyhow::Result<BTreeMap<String, prost_types::Value>> {
    let mut values = BTreeMap::new();
    for field in &kind.fields {
        if field.requirement != TicketFieldRequirement::RequiredOnCreate as i32 {
            continue;
        }
        let definition = tickets
            .get_ticket_field_definition(GetTicketFieldDefinitionRequest {
                name: field.field_definition.clone(),
            })
            .await
            .with_context(|| format!("reading {}", field.field_definition))?
            .into_inner();
        let option = definition
            .options
            .iter()
            .find(|option| option.active)
            .map(|option| option.value.clone());
        let kind = match (TicketFieldType::try_from(definition.r#type), option) {
            (Ok(TicketFieldType::SingleSelect), Some(option)) => Kind::StringValue(option),
            (Ok(TicketFieldType::MultiSelect), Some(option)) => Kind::ListValue(ListValue {
                values: vec![prost_types::Value {
                    kind: Some(Kind::StringValue(option)),
                }],
            }),
            (Ok(TicketFieldType::Integer | TicketFieldType::Decimal), _) => {
                Kind::NumberValue(definition.min_value.unwrap_or(1.0))
            }
            (Ok(TicketFieldType::Boolean), _) => Kind::BoolValue(true),
            (Ok(TicketFieldType::Date), _) => Kind::StringValue("2026-11-30".into()),
            (Ok(TicketFieldType::DateTime), _) => {
                Kind::StringValue("2026-11-30T09:00:00+08:00".into())
            }
            (Ok(TicketFieldType::Phone), _) => Kind::StringValue("+8613800138000".into()),
            (Ok(TicketFieldType::Email), _) => Kind::StringValue("owner@example.com".into()),
            (Ok(TicketFieldType::Url), _) => Kind::StringValue("https://example.com/1".into()),
            (Ok(TicketFieldType::Text | TicketFieldType::LongText), _) => {
                Kind::StringValue("3-2-1502".into())
            }
            (other, _) => bail!(
                "the bench cannot fill {} ({other:?}) that {} requires",
                definition.key,
                kind.name
            ),
        };
        values.insert(definition.key, prost_types::Value { kind: Some(kind) });
    }
    Ok(values)
}

/// A ticket as Kefu stored it, for the ceiling's row size.
async fn sample_ticket(workload: &Workload) -> anyhow::Result<Option<Ticket>> {
    let Some(name) = workload.created.lock().await.first().cloned() else {
        return Ok(None);
    };
    Ok(Some(
        workload
            .tickets
            .clone()
            .get_ticket(GetTicketRequest { name })
            .await?
            .into_inner(),
    ))
}

/// The pgbench script: one transaction inserting a ticket row and its
/// outbox row, as CreateTicket's minimum (`tickets` schema, as the owner,
/// so no row-level security: the ceiling). The outbox row is written as
/// already published: its payload is not an event, and the running relay
/// must not try to deliver it.
fn ceiling_script() -> &'static str {
    "\\set number random(1, 1000000000000)
BEGIN;
INSERT INTO tickets.tickets (tenant_id, id, ticket_number, state, priority, kind, customer, \
resource, revision, create_time, update_time, due_time) VALUES (:tenant::uuid, gen_random_uuid(), \
'P-' || :client_id::text || '-' || :number::text, 1, 2, :kind::text, :customer::text, \
decode(:resource::text, 'hex'), 1, now(), now(), now() + interval '4 hours');
INSERT INTO tickets.outbox (id, tenant_id, event_type, subject, payload, occurred_at, attempts, \
published_at) VALUES (gen_random_uuid(), :tenant::uuid, 'kefu.v1.TicketCreated', 'tickets/bench', \
decode(:resource::text, 'hex'), now(), 0, now());
COMMIT;
"
}

/// Runs pgbench with `clients` for `seconds` and summarises its
/// per-transaction latencies.
fn ceiling(
    program: &str,
    url: &str,
    clients: u32,
    seconds: Duration,
    sample: &Ticket,
    data_dir: &Path,
) -> anyhow::Result<Summary> {
    let dir = data_dir.join(format!("pgbench-{clients}"));
    std::fs::create_dir_all(&dir).context("creating the pgbench log directory")?;
    let script = dir.join("create_ticket.sql");
    std::fs::write(&script, ceiling_script()).context("writing the pgbench script")?;
    let resource: String = sample
        .encode_to_vec()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let threads = clients.min(4);
    let output = Command::new(program)
        .current_dir(&dir)
        // Prepared statements with bound variables, as Kefu's driver sends.
        .args([
            "--no-vacuum",
            "--protocol=prepared",
            "--log",
            "--log-prefix=tx",
        ])
        .arg(format!("--client={clients}"))
        .arg(format!("--jobs={threads}"))
        .arg(format!("--time={}", seconds.as_secs().max(1)))
        .arg(format!("--define=tenant={}", Uuid::now_v7()))
        .arg(format!("--define=kind={}", sample.kind))
        .arg(format!("--define=customer={}", sample.customer))
        .arg(format!("--define=resource={resource}"))
        .arg(format!("--file={}", script.display()))
        .arg(url)
        .output()
        .with_context(|| format!("running {program} (install postgresql-client)"))?;
    ensure!(
        output.status.success(),
        "pgbench failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut samples = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("tx."))
        {
            samples.extend(latencies(&std::fs::read_to_string(&path)?)?);
        }
    }
    ensure!(!samples.is_empty(), "pgbench logged no transaction");
    let mut summary = super::summarise(samples, seconds);
    // pgbench's own figure excludes connection set-up; keep its latencies.
    if let Some(tps) = tps(&String::from_utf8_lossy(&output.stdout)) {
        summary.ops_per_sec = tps;
    }
    Ok(summary)
}

/// The latencies of a pgbench transaction log: `client transaction
/// latency_us script epoch_s epoch_us` per line.
fn latencies(log: &str) -> anyhow::Result<Vec<Duration>> {
    log.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let micros = line
                .split_whitespace()
                .nth(2)
                .context("a pgbench log line without latency")?
                .parse::<u64>()
                .with_context(|| format!("pgbench log line {line:?}"))?;
            Ok(Duration::from_micros(micros))
        })
        .collect()
}

/// pgbench's `tps = 1234.5 (without initial connection time)`.
fn tps(stdout: &str) -> Option<f64> {
    stdout
        .lines()
        .find(|line| line.starts_with("tps = ") && line.contains("without initial connection"))
        .and_then(|line| line["tps = ".len()..].split_whitespace().next())
        .and_then(|value| value.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::percentile;

    #[test]
    fn reads_pgbench_logs_and_its_tps() {
        let log = "0 1 1520 0 1733050000 123456\n1 1 980 0 1733050000 223456\n\n";
        assert_eq!(
            latencies(log).unwrap(),
            vec![Duration::from_micros(1520), Duration::from_micros(980)]
        );
        assert!(latencies("0 1 x 0 1 2\n").is_err());
        let stdout = "latency average = 1.234 ms\ninitial connection time = 3.2 ms\n\
                      tps = 812.437216 (without initial connection time)\n";
        assert_eq!(tps(stdout), Some(812.437216));
        assert_eq!(tps("nothing"), None);
        assert_eq!(
            percentile(&[Duration::from_micros(5)], 0.99),
            Duration::from_micros(5)
        );
    }

    #[test]
    fn the_ratio_pairs_creation_with_the_ceiling_of_the_same_concurrency() {
        let summary = |ops_per_sec| Summary {
            ops: 1,
            ops_per_sec,
            mean_us: 0.0,
            p50_us: 0.0,
            p99_us: 0.0,
        };
        let report = Report {
            backend: "postgres",
            notes: Vec::new(),
            lines: vec![
                Line {
                    operation: CREATE,
                    clients: 16,
                    summary: summary(600.0),
                },
                Line {
                    operation: CEILING,
                    clients: 1,
                    summary: summary(400.0),
                },
                Line {
                    operation: CEILING,
                    clients: 16,
                    summary: summary(1000.0),
                },
            ],
        };
        assert_eq!(report.ratios(), vec![(16, 0.6)]);
        assert!(report.render().contains("60.0 %"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_on_sqlite() {
        let report = run(&TicketsOptions {
            database_url: None,
            clients: vec![2],
            seconds: 1,
            customers: 3,
            pgbench: "pgbench".into(),
            max_connections: None,
        })
        .await
        .unwrap();
        let create = report
            .lines
            .iter()
            .find(|line| line.operation == CREATE)
            .unwrap();
        assert!(create.summary.ops > 0, "{}", report.render());
        assert!(
            report
                .lines
                .iter()
                .any(|line| line.operation == "ListTickets queue")
        );
    }
}
