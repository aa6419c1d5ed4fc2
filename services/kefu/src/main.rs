//! `kefu`: see `kefu --help`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = kefu::cli::Cli::parse();
    match kefu::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kefu: {error:#}");
            ExitCode::FAILURE
        }
    }
}
