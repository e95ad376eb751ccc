//! Command-line interface (SPEC's interface contract).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

/// Change data capture from PostgreSQL into files and Kafka.
#[derive(Debug, Parser)]
#[command(name = "wellhead", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How log lines on stderr are written: `human`, or `json` (one object per line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the configured pipelines in the foreground (SIGINT/SIGTERM: flush, checkpoint, exit 0).
    Run {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Continue pipeline NAME over a gap Wellhead refused at its last start (its slot was
        /// dropped, or confirmed beyond the checkpoint): the changes in the gap stay missing.
        /// Applies to this run only; repeat for several pipelines.
        #[arg(long, value_name = "NAME")]
        accept_gap: Vec<String>,
    },
    /// Ask the running instance of CONFIG (at its control.http) to copy a table again: its
    /// rows are written as op r once the pipeline has caught up, then its changes go on.
    Snapshot {
        /// Configuration file (TOML) of the running instance.
        #[arg(long, short)]
        config: PathBuf,
        /// The table, as SQL names it: schema.table (quote parts with dots or capitals).
        #[arg(long)]
        table: String,
        /// The pipeline (needed when the config has more than one).
        #[arg(long)]
        pipeline: Option<String>,
    },
    /// Verify configuration, connectivity and database prerequisites; exit 1 when anything is wrong.
    Check {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
}
