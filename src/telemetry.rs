//! Logging setup and every metric Wellhead exports, each named and described once.
//!
//! Logs go to standard error (standard output may carry data), filtered by
//! `WELLHEAD_LOG` (tracing's env-filter syntax; default `info`). Metrics are
//! served as Prometheus text on the control address's `/metrics`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

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
/// `wellhead_checkpoint_binlog_file{pipeline}`: the binlog file of the last checkpoint's
/// restart point, by its numeric suffix (MySQL/MariaDB).
pub const CHECKPOINT_BINLOG_FILE: &str = "wellhead_checkpoint_binlog_file";
/// `wellhead_checkpoint_binlog_offset{pipeline}`: the offset in that file (MySQL/MariaDB).
pub const CHECKPOINT_BINLOG_OFFSET: &str = "wellhead_checkpoint_binlog_offset";
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
/// `wellhead_sink_latency_seconds{pipeline}`: at the last checkpoint, how long before it the
/// newest change it holds was committed in the source (a snapshot row: when the snapshot was
/// taken) — the pipeline's lag behind the source while it is busy.
pub const SINK_LATENCY_SECONDS: &str = "wellhead_sink_latency_seconds";
/// `wellhead_checkpoint_timestamp_seconds{pipeline}`: when the last checkpoint was saved (Unix
/// time; its age is `time() - wellhead_checkpoint_timestamp_seconds`).
pub const CHECKPOINT_TIMESTAMP_SECONDS: &str = "wellhead_checkpoint_timestamp_seconds";
/// `wellhead_queue_bytes{pipeline}`: estimated bytes of changes between source and sink (the
/// queue is bounded by `buffer.max_bytes`).
pub const QUEUE_BYTES: &str = "wellhead_queue_bytes";
/// `wellhead_queue_batches{pipeline}`: batches waiting for the sink.
pub const QUEUE_BATCHES: &str = "wellhead_queue_batches";
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
    pub checkpoint_binlog_file: Family<PipelineLabel, Gauge>,
    pub checkpoint_binlog_offset: Family<PipelineLabel, Gauge>,
    pub reconnects: Family<PipelineLabel, Counter>,
    pub schema_changes: Family<TableLabels, Counter>,
    pub dead_letters: Family<TableLabels, Counter>,
    pub source_lag_bytes: Family<PipelineLabel, Gauge>,
    pub errors: Family<ErrorLabels, Counter>,
    pub restarts: Family<PipelineLabel, Counter>,
    pub sink_latency_seconds: Family<PipelineLabel, Gauge<f64, AtomicU64>>,
    pub checkpoint_timestamp_seconds: Family<PipelineLabel, Gauge<f64, AtomicU64>>,
    pub queue_bytes: Family<PipelineLabel, Gauge>,
    pub queue_batches: Family<PipelineLabel, Gauge>,
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
            checkpoint_binlog_file: Family::default(),
            checkpoint_binlog_offset: Family::default(),
            reconnects: Family::default(),
            schema_changes: Family::default(),
            dead_letters: Family::default(),
            source_lag_bytes: Family::default(),
            errors: Family::default(),
            restarts: Family::default(),
            sink_latency_seconds: Family::default(),
            checkpoint_timestamp_seconds: Family::default(),
            queue_bytes: Family::default(),
            queue_batches: Family::default(),
            snapshot_rows: Family::default(),
            snapshot_rows_estimated: Family::default(),
            snapshot_remaining_seconds: Family::default(),
            health: Health::default(),
            snapshot_requests: Default::default(),
            registry: Arc::new(Registry::default()),
        };
        // (name, description, metric): every metric registered once, here.
        macro_rules! register_each {
            ($($name:expr, $help:expr, $metric:expr;)*) => { $(registry.register($name, $help, $metric.clone());)* };
        }
        register_each! {
            CHANGES_TOTAL, "Changes written durably by the sink", metrics.changes;
            CHECKPOINTS_TOTAL, "Checkpoints saved", metrics.checkpoints;
            CHECKPOINT_LSN, "Flush LSN of the last saved checkpoint", metrics.checkpoint_lsn;
            CHECKPOINT_BINLOG_FILE, "Binlog file (its numeric suffix) of the last saved checkpoint", metrics.checkpoint_binlog_file;
            CHECKPOINT_BINLOG_OFFSET, "Offset in that binlog file of the last saved checkpoint", metrics.checkpoint_binlog_offset;
            RECONNECTS_TOTAL, "Source reconnects after transient errors", metrics.reconnects;
            SCHEMA_CHANGES_TOTAL, "Table shapes registered as new schemas", metrics.schema_changes;
            DEAD_LETTERS_TOTAL, "Rows the sink could not encode, written to its dead-letter output", metrics.dead_letters;
            SOURCE_LAG_BYTES, "WAL the server has shown beyond the position confirmed to it", metrics.source_lag_bytes;
            ERRORS_TOTAL, "Failures, by class (transient, definite)", metrics.errors;
            RESTARTS_TOTAL, "Pipeline restarts from the last checkpoint", metrics.restarts;
            SNAPSHOT_ROWS_TOTAL, "Rows a snapshot handed to the pipeline", metrics.snapshot_rows;
            SNAPSHOT_ROWS_ESTIMATED, "The server's row estimate of a table being snapshotted", metrics.snapshot_rows_estimated;
            SNAPSHOT_REMAINING_SECONDS, "Estimated seconds until a table's snapshot finishes", metrics.snapshot_remaining_seconds;
            SINK_LATENCY_SECONDS, "At the last checkpoint, seconds since its newest change was committed in the source", metrics.sink_latency_seconds;
            CHECKPOINT_TIMESTAMP_SECONDS, "Unix time of the last checkpoint saved", metrics.checkpoint_timestamp_seconds;
            QUEUE_BYTES, "Estimated bytes of changes between source and sink", metrics.queue_bytes;
            QUEUE_BATCHES, "Batches waiting for the sink", metrics.queue_batches;
        }
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

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Text for people (colours on a terminal).
    #[default]
    Human,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `span`, `spans`), for log
    /// collectors.
    Json,
}

/// Installs the global log subscriber.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env(LOG_FILTER_VARIABLE).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match format {
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).init(),
    }
}
