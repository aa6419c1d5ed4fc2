//! `kefu bench`: measurements of the platform's own costs, run against a
//! throw-away database so they never touch real data.
//!
//! The pure part (percentiles, overhead, the printed table) lives here; each
//! benchmark has a module of its own ([`rls`]).

use std::{fmt::Write as _, future::Future, time::Duration};

use anyhow::{Context, anyhow};
use clap::Subcommand;
use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

pub mod customers;
pub mod drive;
pub mod rls;
pub mod stack;
pub mod tickets;

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The cost of row-level security (and of our tenant transaction) on a
    /// point read and an insert, on PostgreSQL or SQLite.
    Rls(rls::RlsOptions),
    /// Customers at scale: import rows/s through the gateway and search
    /// latency by phone and name prefix, with 1,000,000 customers in one
    /// tenant beside 50 others.
    Customers(customers::CustomersOptions),
    /// Ticket creation and the agents' reads through the gateway with N
    /// concurrent clients, beside pgbench's ceiling for the same insert.
    Tickets(tickets::TicketsOptions),
}

/// Runs `command` and prints its report.
pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Rls(options) => {
            let report = rls::run(&options).await?;
            print!("{}", report.render());
            Ok(())
        }
        BenchCommand::Customers(options) => {
            let report = customers::run(&options).await?;
            print!("{}", report.render());
            Ok(())
        }
        BenchCommand::Tickets(options) => {
            let report = tickets::run(&options).await?;
            print!("{}", report.render());
            Ok(())
        }
    }
}

/// Runs `body` on a throw-away PostgreSQL database (`kefu_bench_<uuid>`,
/// created as the role of `url` and dropped at the end, even on error or
/// Ctrl-C), given its URL and name.
pub async fn on_throwaway_database<T, F, Fut>(url: &str, body: F) -> anyhow::Result<T>
where
    F: FnOnce(String, String) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let admin = Database::connect(url)
        .await
        .context("connecting to --database-url")?;
    let name = format!("kefu_bench_{}", Uuid::now_v7().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .with_context(|| format!("creating the throw-away database {name}"))?;
    let bench_url = with_database(url, &name);
    let outcome = tokio::select! {
        outcome = body(bench_url, name.clone()) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    // Dropped whatever happened; FORCE ends connections a failure left open.
    let dropped = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;
    let _ = admin.close().await;
    match (outcome, dropped) {
        (Ok(report), Ok(_)) => Ok(report),
        (Ok(_), Err(error)) => {
            Err(anyhow!(error).context(format!("dropping the throw-away database {name}")))
        }
        (Err(error), dropped) => {
            if let Err(drop_error) = dropped {
                eprintln!("kefu: could not drop the throw-away database {name}: {drop_error}");
            }
            Err(error)
        }
    }
}

/// `url` naming `database` instead of its own.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |index| index + scheme_end);
    match query {
        Some(query) => format!("{}/{database}?{query}", &base[..host_end]),
        None => format!("{}/{database}", &base[..host_end]),
    }
}

/// The 1-minute load average, where the OS tells it.
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next().map(str::to_owned)
}

/// The latency distribution and throughput of one measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Operations completed.
    pub ops: u64,
    /// Operations per second of wall-clock time (all clients together).
    pub ops_per_sec: f64,
    /// Mean latency of one operation, µs.
    pub mean_us: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th-percentile latency, µs.
    pub p99_us: f64,
}

/// The `q`-quantile (0 ≤ q ≤ 1) of `sorted` by the nearest-rank method, or
/// zero for no samples.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises `samples` (one latency per operation) taken over `elapsed` of
/// wall-clock time.
pub fn summarise(mut samples: Vec<Duration>, elapsed: Duration) -> Summary {
    samples.sort_unstable();
    let ops = samples.len() as u64;
    let total: Duration = samples.iter().sum();
    let micros = |duration: Duration| duration.as_secs_f64() * 1e6;
    Summary {
        ops,
        ops_per_sec: if elapsed.is_zero() {
            0.0
        } else {
            ops as f64 / elapsed.as_secs_f64()
        },
        mean_us: if ops == 0 {
            0.0
        } else {
            micros(total) / ops as f64
        },
        p50_us: micros(percentile(&samples, 0.50)),
        p99_us: micros(percentile(&samples, 0.99)),
    }
}

/// What the first of two measurements costs more than the second, per
/// operation, from their mean latencies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overhead {
    /// Extra time per operation, µs (negative: faster).
    pub micros: f64,
    /// The same relative to the second measurement, %.
    pub percent: f64,
}

/// The overhead of `on` over `off`.
pub fn overhead(on: &Summary, off: &Summary) -> Overhead {
    let micros = on.mean_us - off.mean_us;
    let percent = if off.mean_us > 0.0 {
        micros / off.mean_us * 100.0
    } else {
        0.0
    };
    Overhead { micros, percent }
}

/// One line of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// `postgres` or `sqlite`.
    pub backend: &'static str,
    /// What was measured (`point read`, `insert`).
    pub operation: &'static str,
    /// `on`, `off`, or `n/a` where there is no row-level security.
    pub rls: &'static str,
    /// How the transaction was opened (`tenant txn`, `owner txn`, …).
    pub path: &'static str,
    /// Concurrent clients.
    pub clients: usize,
    /// The measurement.
    pub summary: Summary,
    /// On the first line of a pair: its overhead over the second.
    pub overhead: Option<Overhead>,
}

/// Renders `lines` as a plain, aligned table.
pub fn table(lines: &[Line]) -> String {
    let header = [
        "backend",
        "operation",
        "rls",
        "path",
        "clients",
        "ops",
        "ops/s",
        "mean µs",
        "p50 µs",
        "p99 µs",
        "overhead",
    ];
    let rows: Vec<[String; 11]> = lines
        .iter()
        .map(|line| {
            [
                line.backend.to_owned(),
                line.operation.to_owned(),
                line.rls.to_owned(),
                line.path.to_owned(),
                line.clients.to_string(),
                line.summary.ops.to_string(),
                format!("{:.0}", line.summary.ops_per_sec),
                format!("{:.1}", line.summary.mean_us),
                format!("{:.1}", line.summary.p50_us),
                format!("{:.1}", line.summary.p99_us),
                line.overhead.map_or_else(String::new, |overhead| {
                    format!("{:+.1}% ({:+.1} µs/op)", overhead.percent, overhead.micros)
                }),
            ]
        })
        .collect();
    let mut widths = header.map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: &[&str]| {
        let mut line = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = width.saturating_sub(cell.chars().count());
            // Text left-aligned, numbers right-aligned.
            if index < 4 || index == 10 {
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            } else {
                let _ = write!(line, "{}{cell}  ", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push_row(&header);
    for row in &rows {
        push_row(&row.each_ref().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&us| Duration::from_micros(us)).collect()
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted = micros(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&sorted, 0.50), Duration::from_micros(50));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_micros(99));
        assert_eq!(percentile(&sorted, 1.0), Duration::from_micros(100));
        assert_eq!(percentile(&sorted, 0.0), Duration::from_micros(1));
        assert_eq!(percentile(&micros(&[7]), 0.99), Duration::from_micros(7));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn summaries_sort_and_count() {
        let summary = summarise(micros(&[300, 100, 200, 400]), Duration::from_secs(2));
        assert_eq!(summary.ops, 4);
        assert!((summary.ops_per_sec - 2.0).abs() < 1e-9);
        assert!((summary.mean_us - 250.0).abs() < 1e-9);
        assert!((summary.p50_us - 200.0).abs() < 1e-9);
        assert!((summary.p99_us - 400.0).abs() < 1e-9);
        let empty = summarise(Vec::new(), Duration::ZERO);
        assert_eq!(empty.ops, 0);
        assert_eq!(empty.ops_per_sec, 0.0);
        assert_eq!(empty.mean_us, 0.0);
    }

    #[test]
    fn overhead_is_the_difference_of_the_means() {
        let off = summarise(micros(&[100, 100]), Duration::from_secs(1));
        let on = summarise(micros(&[110, 120]), Duration::from_secs(1));
        let cost = overhead(&on, &off);
        assert!((cost.micros - 15.0).abs() < 1e-9);
        assert!((cost.percent - 15.0).abs() < 1e-9);
        let faster = overhead(&off, &on);
        assert!(faster.micros < 0.0 && faster.percent < 0.0);
        let nothing = summarise(Vec::new(), Duration::ZERO);
        assert_eq!(overhead(&on, &nothing).percent, 0.0);
    }

    #[test]
    fn tables_align_their_columns() {
        let summary = summarise(micros(&[100, 200]), Duration::from_secs(1));
        let lines = [
            Line {
                backend: "postgres",
                operation: "point read",
                rls: "on",
                path: "tenant txn",
                clients: 8,
                summary,
                overhead: Some(Overhead {
                    micros: 12.34,
                    percent: 5.0,
                }),
            },
            Line {
                backend: "postgres",
                operation: "point read",
                rls: "off",
                path: "owner txn",
                clients: 8,
                summary,
                overhead: None,
            },
        ];
        let rendered = table(&lines);
        let rows: Vec<&str> = rendered.lines().collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[0].starts_with("backend"));
        assert!(rows[1].ends_with("+5.0% (+12.3 µs/op)"), "{}", rows[1]);
        let column = |row: &str| row.find("point read");
        assert_eq!(column(rows[1]), column(rows[2]));
    }
}
