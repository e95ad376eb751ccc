//! Logging setup and every metric Wellhead exports, each named and described once.
//!
//! Logs go to standard error (standard output may carry data), filtered by
//! `WELLHEAD_LOG` (tracing's env-filter syntax; default `info`). Metrics are
//! served as Prometheus text on the control address's `/metrics`.

use std::io::IsTerminal;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tracing_subscriber::EnvFilter;

use crate::health::Health;

/// Environment variable that sets the log filter.
pub const LOG_FILTER_VARIABLE: &str = "WELLHEAD_LOG";

/// `wellhead_changes_total{pipeline, op}`: changes written by the sink.
pub const CHANGES_TOTAL: &str = "wellhead_changes";
/// `wellhead_checkpoints_total{pipeline}`: checkpoints saved.
pub const CHECKPOINTS_TOTAL: &str = "wellhead_checkpoints";
/// `wellhead_checkpoint_lsn{pipeline}`: flush LSN of the last checkpoint (PostgreSQL).
pub const CHECKPOINT_LSN: &str = "wellhead_checkpoint_lsn";
/// `wellhead_reconnects_total{pipeline}`: source reconnects after transient errors.
pub const RECONNECTS_TOTAL: &str = "wellhead_reconnects";
/// `wellhead_schema_changes_total{pipeline, table}`: new table shapes registered.
pub const SCHEMA_CHANGES_TOTAL: &str = "wellhead_schema_changes";

/// `wellhead_dead_letters_total{pipeline, table}`: rows written to the dead-letter output.
pub const DEAD_LETTERS_TOTAL: &str = "wellhead_dead_letters";

/// `wellhead_source_lag_bytes{pipeline}`: WAL the server has shown beyond the position
/// confirmed to it (PostgreSQL: server WAL end minus confirmed flush LSN).
pub const SOURCE_LAG_BYTES: &str = "wellhead_source_lag_bytes";
/// `wellhead_errors_total{pipeline, class}`: failures by class (`transient`, `definite`).
pub const ERRORS_TOTAL: &str = "wellhead_errors";
/// `wellhead_restarts_total{pipeline}`: pipeline restarts from the last checkpoint.
pub const RESTARTS_TOTAL: &str = "wellhead_restarts";
/// `wellhead_snapshot_rows_total{pipeline, table}`: rows a snapshot handed to the pipeline.
pub const SNAPSHOT_ROWS_TOTAL: &str = "wellhead_snapshot_rows";
/// `wellhead_snapshot_rows_estimated{pipeline, table}`: the server's row estimate
/// (`pg_class.reltuples`) of a table when its snapshot started.
pub const SNAPSHOT_ROWS_ESTIMATED: &str = "wellhead_snapshot_rows_estimated";
/// `wellhead_snapshot_remaining_seconds{pipeline, table}`: time until a table's snapshot is
/// expected to finish at its current rate (0 once it has).
pub const SNAPSHOT_REMAINING_SECONDS: &str = "wellhead_snapshot_remaining_seconds";

/// Labels of failure counts.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub pipeline: String,
    /// `transient` or `definite`.
    pub class: String,
}

/// Label of metrics about a whole pipeline.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PipelineLabel {
    pub pipeline: String,
}

/// Labels of change counts.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChangeLabels {
    pub pipeline: String,
    pub op: String,
}

/// Labels of per-table metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabels {
    pub pipeline: String,
    pub table: String,
}

/// The process's metrics; cheap to clone and share.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub changes: Family<ChangeLabels, Counter>,
    pub checkpoints: Family<PipelineLabel, Counter>,
    pub checkpoint_lsn: Family<PipelineLabel, Gauge>,
    pub reconnects: Family<PipelineLabel, Counter>,
    pub schema_changes: Family<TableLabels, Counter>,
    pub dead_letters: Family<TableLabels, Counter>,
    pub source_lag_bytes: Family<PipelineLabel, Gauge>,
    pub errors: Family<ErrorLabels, Counter>,
    pub restarts: Family<PipelineLabel, Counter>,
    pub snapshot_rows: Family<TableLabels, Counter>,
    pub snapshot_rows_estimated: Family<TableLabels, Gauge>,
    pub snapshot_remaining_seconds: Family<TableLabels, Gauge>,
    /// What each pipeline is doing (`/health/ready`).
    pub health: Health,
    /// Tables the operator asked to copy again (the control plane's, shared like `health`).
    pub snapshot_requests: crate::control::snapshot_requests::SnapshotRequests,
    registry: Arc<Registry>,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let metrics = Metrics {
            changes: Family::default(),
            checkpoints: Family::default(),
            checkpoint_lsn: Family::default(),
            reconnects: Family::default(),
            schema_changes: Family::default(),
            dead_letters: Family::default(),
            source_lag_bytes: Family::default(),
            errors: Family::default(),
            restarts: Family::default(),
            snapshot_rows: Family::default(),
            snapshot_rows_estimated: Family::default(),
            snapshot_remaining_seconds: Family::default(),
            health: Health::default(),
            snapshot_requests: Default::default(),
            registry: Arc::new(Registry::default()),
        };
        registry.register(CHANGES_TOTAL, "Changes written durably by the sink", metrics.changes.clone());
        registry.register(CHECKPOINTS_TOTAL, "Checkpoints saved", metrics.checkpoints.clone());
        registry.register(CHECKPOINT_LSN, "Flush LSN of the last saved checkpoint", metrics.checkpoint_lsn.clone());
        registry.register(RECONNECTS_TOTAL, "Source reconnects after transient errors", metrics.reconnects.clone());
        registry.register(
            SCHEMA_CHANGES_TOTAL,
            "Table shapes registered as new schemas",
            metrics.schema_changes.clone(),
        );
        registry.register(
            DEAD_LETTERS_TOTAL,
            "Rows the sink could not encode, written to its dead-letter output",
            metrics.dead_letters.clone(),
        );
        registry.register(
            SOURCE_LAG_BYTES,
            "WAL the server has shown beyond the position confirmed to it",
            metrics.source_lag_bytes.clone(),
        );
        registry.register(ERRORS_TOTAL, "Failures, by class (transient, definite)", metrics.errors.clone());
        registry.register(RESTARTS_TOTAL, "Pipeline restarts from the last checkpoint", metrics.restarts.clone());
        registry.register(SNAPSHOT_ROWS_TOTAL, "Rows a snapshot handed to the pipeline", metrics.snapshot_rows.clone());
        registry.register(
            SNAPSHOT_ROWS_ESTIMATED,
            "The server's row estimate of a table being snapshotted",
            metrics.snapshot_rows_estimated.clone(),
        );
        registry.register(
            SNAPSHOT_REMAINING_SECONDS,
            "Estimated seconds until a table's snapshot finishes",
            metrics.snapshot_remaining_seconds.clone(),
        );
        Metrics { registry: Arc::new(registry), ..metrics }
    }

    /// Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

impl Metrics {
    /// Counts one failure of `pipeline`.
    pub fn count_error(&self, pipeline: &str, class: crate::failure::ErrorClass) {
        let class = match class {
            crate::failure::ErrorClass::Transient => "transient",
            crate::failure::ErrorClass::Definite => "definite",
        };
        self.errors.get_or_create(&ErrorLabels { pipeline: pipeline.to_owned(), class: class.to_owned() }).inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Installs the global log subscriber.
pub fn init_logging() {
    let filter = EnvFilter::try_from_env(LOG_FILTER_VARIABLE).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
