//! `wellhead`: arguments → config → telemetry → run.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use wellhead::cli::{Cli, Command};
use wellhead::config::Config;
use wellhead::telemetry::LogFormat;

/// Rows are decoded on the runtime's threads and freed on the sink's: glibc's allocator
/// serialises such cross-thread frees on its arena locks (a sixth of a snapshot's CPU time
/// went to those locks and their futex calls); jemalloc does not. Measured on a 3M-row
/// snapshot: 0.95M rows/s with glibc, 1.2M with jemalloc. Its options are built in
/// (`.cargo/config.toml`: JEMALLOC_SYS_WITH_MALLOC_CONF).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = cli.log_format;
    wellhead::telemetry::init_logging(log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            // The one-line reason, in the log's own format so that a collector keeps it.
            match log_format {
                LogFormat::Human => eprintln!("error: {}", describe(&error)),
                LogFormat::Json => tracing::error!(reason = %describe(&error), "Wellhead stopped."),
            }
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by `: `, leaving out a cause whose text the
/// message before already includes (Wellhead's errors show their source themselves).
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check { config } => {
            let config = Config::load(&config, std::env::vars()).context("configuration")?;
            Ok(if wellhead::check::check_config(&config).await { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Snapshot { config, table, pipeline } => {
            let config = Config::load(&config, std::env::vars()).context("configuration")?;
            let answer = tokio::task::spawn_blocking(move || {
                wellhead::control::snapshot_requests::send_request(&config, pipeline.as_deref(), &table)
            })
            .await
            .context("snapshot request")??;
            println!("{answer}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { config: path, accept_gap } => {
            let mut config = Config::load(&path, std::env::vars()).context("configuration")?;
            config.accept_gaps(&accept_gap).context("--accept-gap")?;
            wellhead::run::run_pipelines(config, Some(path)).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
