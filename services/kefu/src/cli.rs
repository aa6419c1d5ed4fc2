//! The command line.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use kefu_kit::config::KefuConfig;

use crate::targets::Target;

/// Kefu (客服): a multi-tenant customer-service platform.
#[derive(Debug, Parser)]
#[command(name = "kefu", version, about)]
pub struct Cli {
    /// A TOML configuration file; `KEFU_*` environment variables override it.
    #[arg(long, global = true, env = "KEFU_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway and every service in this process, on SQLite files
    /// under the data directory unless configured otherwise.
    Up {
        /// Where the gateway listens (gRPC and REST); port 0 picks a free one.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Where the embedded databases live (default `./kefu-data`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Run one target, as a Kubernetes Deployment does.
    Serve {
        /// The target to run.
        #[arg(long, value_enum)]
        target: Target,
        /// Where it listens (default: `listen.service`, or `listen.gateway`
        /// for the gateway).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Apply database migrations, as the database owner.
    Migrate {
        /// One service (`tickets`) or `all`.
        #[arg(long, default_value = "all")]
        target: String,
        /// The database: a `postgres://` URL (each service migrates its own
        /// schema) or, when omitted, the configured storage.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// The Kubernetes operator's artefacts.
    Operator {
        /// What to print.
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Measure the platform's own costs on a throw-away database
    /// (`kefu bench rls`: what row-level security costs).
    Bench {
        /// The benchmark.
        #[command(subcommand)]
        bench: crate::bench::BenchCommand,
    },
}

/// `kefu operator …`.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Print the `tenants.kefu.io` CustomResourceDefinition (YAML), as the
    /// chart installs it: `kefu operator crd > charts/kefu/crds/tenants.kefu.io.yaml`.
    Crd,
}

/// Runs `cli`.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Printing the CRD needs no configuration (and must print nothing else).
    if let Command::Operator {
        command: OperatorCommand::Crd,
    } = &cli.command
    {
        let crd = kefu_operator::crd_yaml()?;
        std::io::Write::write_all(&mut std::io::stdout().lock(), crd.as_bytes())?;
        return Ok(());
    }
    let mut config = KefuConfig::load(cli.config.as_deref()).context("loading configuration")?;
    let _telemetry = kefu_kit::telemetry::init(&config.telemetry).context("starting telemetry")?;
    match cli.command {
        Command::Up { listen, data_dir } => {
            if let Some(listen) = listen {
                config.listen.gateway = listen;
            }
            if let Some(data_dir) = data_dir {
                config.storage.data_dir = data_dir;
            }
            crate::processes::up(config).await
        }
        Command::Serve { target, listen } => crate::processes::serve(config, target, listen).await,
        Command::Migrate {
            target,
            database_url,
        } => {
            if database_url.is_some() {
                config.storage.database_url = database_url;
            }
            crate::migrate::run(&config, &target).await
        }
        Command::Bench { bench } => crate::bench::run(bench).await,
        // Printed above, before any configuration is read.
        Command::Operator { .. } => Ok(()),
    }
}
