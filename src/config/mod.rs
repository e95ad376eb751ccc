//! Configuration: the TOML file of SPEC's "Configuration shape", environment
//! overrides, and validation.
//!
//! ```text
//!   file.toml ──parse──► toml::Table ──WELLHEAD_A__B__C overrides──► Config ──validate()──► ok
//! ```
//!
//! Invariants: config types hold no connections (a source or sink `build`s its
//! runtime object from them); every secret is a [`Secret`] whose `Debug` and
//! `Display` are redacted, so a config can be logged whole.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use wellhead_schema::compatibility::CompatibilityLevel;

use crate::kafka::topics::{TOPIC_NAME_RULE, is_valid_topic};
use crate::registry::OnIncompatible;
use crate::registry::embedded::RegistryStorage;
use crate::secret::{Secret, SecretUrl};

pub mod kafka;
mod overrides;

pub use self::kafka::{KafkaDelivery, KafkaSinkConfig};

/// Default bound on the bytes of change events queued between source and sink.
pub const DEFAULT_QUEUE_BYTES: u64 = 16 * 1024 * 1024;
/// Default largest number of events in one batch handed to a sink.
pub const DEFAULT_BATCH_EVENTS: usize = 4096;
/// Default longest time a partial batch waits for more changes: 0 cuts it as soon as the
/// source has nothing more ready, at most once per 5 ms (so an idle-ish stream is written
/// at once, and a busy one in batches of a few milliseconds; see `batch::builder`).
pub const DEFAULT_BATCH_MILLIS: u64 = 0;
/// Snapshot parallelism when `snapshot.workers` is not set: one reader per core.
fn default_snapshot_workers() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}
/// Prefix of environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "WELLHEAD_";

/// Everything `wellhead run` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Control-plane listen addresses.
    #[serde(default)]
    pub control: ControlConfig,
    /// The pipelines to run, each independent of the others.
    pub pipelines: Vec<PipelineConfig>,
}

/// Control-plane listen addresses (`host:port`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// HTTP: /health, /metrics, the embedded registry's REST API.
    pub http: Option<String>,
    /// SQL over the PostgreSQL wire protocol.
    pub sql: Option<String>,
    /// Where the embedded schema registry keeps its event log when no pipeline
    /// that uses it streams to Kafka.
    #[serde(default = "default_registry_dir")]
    pub registry_dir: PathBuf,
    /// The compacted topic that keeps the embedded registry's log instead when its
    /// pipelines stream to Kafka (on their cluster), so a moved instance serves the same ids.
    #[serde(default = "default_registry_topic")]
    pub registry_topic: String,
    /// The user that may change the embedded registry over HTTP (register, delete,
    /// set compatibility) with basic auth, once a password is set.
    #[serde(default = "default_registry_user")]
    pub registry_user: String,
    /// Its password; without one (and without `registry_password_file`) changes over
    /// HTTP are refused (403) and only Wellhead's own pipelines register schemas.
    pub registry_password: Option<Secret>,
    /// A file whose first line is that password.
    pub registry_password_file: Option<PathBuf>,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            http: None,
            sql: None,
            registry_dir: default_registry_dir(),
            registry_topic: default_registry_topic(),
            registry_user: default_registry_user(),
            registry_password: None,
            registry_password_file: None,
        }
    }
}

fn default_registry_user() -> String {
    "wellhead".to_owned()
}

impl ControlConfig {
    /// The password that opens the embedded registry to changes over HTTP, if any.
    pub fn resolve_registry_password(&self) -> Result<Option<Secret>, ConfigError> {
        match (&self.registry_password, &self.registry_password_file) {
            (Some(_), Some(_)) => Err(ConfigError::Invalid {
                field: "control.registry_password_file".into(),
                rule: "set either registry_password or registry_password_file, not both".into(),
            }),
            (Some(password), None) => Ok(Some(password.clone())),
            (None, Some(path)) => read_password_file(path, "control.registry_password_file").map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// The first line of a password file.
fn read_password_file(path: &Path, field: &str) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Invalid {
        field: field.into(),
        rule: format!("cannot read {}: {error}", path.display()),
    })?;
    Ok(Secret::new(text.lines().next().unwrap_or_default().to_owned()))
}

fn default_registry_topic() -> String {
    crate::registry::kafka_log::DEFAULT_REGISTRY_TOPIC.to_owned()
}

fn default_registry_dir() -> PathBuf {
    PathBuf::from("./state/registry")
}

/// One source-to-sink pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Unique name: the checkpoint key (and later the Kafka transactional.id).
    pub name: String,
    /// Where changes come from.
    pub source: SourceConfig,
    /// Initial snapshot policy.
    #[serde(default)]
    pub snapshot: SnapshotConfig,
    /// Where changes go.
    pub sink: SinkConfig,
    /// Schema registry (used by the Avro sinks).
    #[serde(default)]
    pub registry: RegistryConfig,
    /// Where the checkpoint lives.
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    /// Memory bounds between source and sink.
    #[serde(default)]
    pub buffer: BufferConfig,
    /// Set by `wellhead run --accept-gap <name>`, never by the file: continue over a gap
    /// (a missing slot, a slot confirmed beyond the checkpoint) once, with a warning.
    #[serde(skip)]
    pub accept_gap: bool,
}

/// What an Avro sink does with a row it cannot encode (a value its column's Avro type
/// cannot hold, such as a timestamp after 294247 AD).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnencodablePolicy {
    /// Stop the pipeline, naming the table, the column and the position (never the value);
    /// the checkpoint stays before the row.
    #[default]
    Stop,
    /// Write the row, as its JSON envelope with the reason, to the sink's dead-letter place
    /// (files: `<dir>/dead-letter/<topic>/`; kafka: the dead-letter topic) and go on.
    DeadLetter,
}

/// What a `topic_prefix` may be, as told to a user whose prefix breaks it.
const TOPIC_PREFIX_RULE: &str =
    "must be 1-200 letters, digits, '_' or '-', in parts joined by single dots (like \"shop\" or \"eu.shop\")";

/// Whether `prefix` makes legal topics (and, sanitised, an Avro namespace) of every table.
fn is_valid_topic_prefix(prefix: &str) -> bool {
    prefix.len() <= 200
        && prefix
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

impl PipelineConfig {
    /// The prefix of the topics (and file directories) of the Avro sinks: the configured
    /// one or the pipeline name; `None` for sinks without topics.
    pub fn topic_prefix(&self) -> Option<&str> {
        match &self.sink {
            SinkConfig::Files { .. } | SinkConfig::Kafka(_) => Some(self.explicit_topic_prefix().unwrap_or(&self.name)),
            SinkConfig::Stdout {} | SinkConfig::Null {} | SinkConfig::Jsonl { .. } => None,
        }
    }

    fn explicit_topic_prefix(&self) -> Option<&str> {
        match &self.sink {
            SinkConfig::Files { topic_prefix, .. } => topic_prefix.as_deref(),
            SinkConfig::Kafka(kafka) => kafka.topic_prefix.as_deref(),
            SinkConfig::Stdout {} | SinkConfig::Null {} | SinkConfig::Jsonl { .. } => None,
        }
    }
}

/// The database a pipeline reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// PostgreSQL logical replication (pgoutput).
    Postgres(PostgresSourceConfig),
    /// MySQL/MariaDB binlog.
    Mysql(MysqlSourceConfig),
}

/// PostgreSQL source settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSourceConfig {
    /// `postgres://user[:password]@host:port/database[?sslmode=...]`.
    pub url: SecretUrl,
    /// Password, when not in the URL (usually from `WELLHEAD_..._PASSWORD`).
    pub password: Option<Secret>,
    /// File whose first line is the password.
    pub password_file: Option<PathBuf>,
    /// Tables to capture, `schema.table`; `*` and `?` globs allowed.
    pub tables: Vec<String>,
    /// Logical replication slot (created when missing).
    pub slot: String,
    /// Publication (created when missing, for exactly the configured tables).
    pub publication: String,
    /// The server's `logical_decoding_work_mem` for this slot's decoding, e.g. `"64MB"`:
    /// a transaction larger than this is streamed to Wellhead before it commits (and
    /// spilled to Wellhead's disk) instead of spilled on the server. Default: the server's.
    pub logical_decoding_work_mem: Option<String>,
    /// Seconds without a byte from the server after which the replication connection
    /// counts as dead and is opened again (as PostgreSQL's `wal_receiver_timeout`); a
    /// status update asking for a reply goes out at half of it. 0: never.
    #[serde(default = "default_receive_timeout_seconds")]
    pub receive_timeout_seconds: u64,
}

fn default_receive_timeout_seconds() -> u64 {
    60
}

/// MySQL/MariaDB source settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MysqlSourceConfig {
    /// `mysql://user[:password]@host:port[/database]`.
    pub url: SecretUrl,
    /// Password, when not in the URL (usually from `WELLHEAD_..._PASSWORD`).
    pub password: Option<Secret>,
    /// File whose first line is the password.
    pub password_file: Option<PathBuf>,
    /// Tables to capture, `database.table`; `*` and `?` globs allowed.
    pub tables: Vec<String>,
    /// The replica server id Wellhead announces: unique among the server's replicas, not 0.
    pub server_id: u32,
    /// Seconds without a byte from the server after which the binlog connection counts as
    /// dead and is opened again; the server is asked for a heartbeat every quarter of it.
    /// 0: never.
    #[serde(default = "default_receive_timeout_seconds")]
    pub receive_timeout_seconds: u64,
    /// Where a pipeline without a checkpoint starts reading, `"<binlog file>:<offset>"`
    /// (e.g. the position a backup was taken at); it then takes no snapshot. Default: the
    /// binlog's end at the first start (with `snapshot.mode = "never"`).
    pub start_at: Option<String>,
}

/// When to take a snapshot of the existing rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotMode {
    /// Snapshot when the slot is created, then stream.
    #[default]
    Initial,
    /// Never snapshot: stream from the slot's position.
    Never,
    /// Snapshot, then stop (and drop the slot once everything is durable).
    InitialOnly,
    /// As `Initial`, and snapshot every table again when the slot cannot continue the
    /// checkpoint (gone, or confirmed beyond it).
    WhenNeeded,
}

/// Snapshot settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    /// Snapshot policy.
    #[serde(default)]
    pub mode: SnapshotMode,
    /// Parallel readers (connections that copy tables at once); default: the number of cores.
    #[serde(default = "default_snapshot_workers")]
    pub workers: usize,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig { mode: SnapshotMode::default(), workers: default_snapshot_workers() }
    }
}

/// Where changes are written.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// One JSON envelope per line on standard output.
    Stdout {},
    /// Encodes every change as its Avro envelope, then discards it: for benchmarks and dry runs.
    Null {},
    /// One JSON envelope per line in `<dir>/<pipeline>.jsonl`, truncated back to
    /// the checkpoint on restart so that nothing is repeated.
    Jsonl {
        /// Output directory.
        dir: PathBuf,
    },
    /// Avro object container files in `<dir>/<topic>/`, finalised atomically.
    Files {
        /// Output directory.
        dir: PathBuf,
        /// Topic prefix (default: the pipeline name).
        topic_prefix: Option<String>,
        /// A file is finalised once it holds this many bytes.
        #[serde(default = "default_roll_bytes")]
        roll_bytes: u64,
        /// ... or once it has been open this long. Changes are acknowledged to the
        /// source only when their file is final, so this bounds the acknowledgement lag.
        #[serde(default = "default_roll_seconds")]
        roll_seconds: u64,
        /// Block compression: `deflate` (default) or `null`.
        #[serde(default)]
        codec: FileCodec,
        /// A row whose value the Avro schema cannot hold: `stop` (default) or
        /// `dead_letter` (into `<dir>/dead-letter/<topic>/`).
        #[serde(default)]
        on_unencodable: UnencodablePolicy,
    },
    /// Kafka topics, data and checkpoint in one transaction per batch.
    Kafka(KafkaSinkConfig),
}

/// Block compression of Avro files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileCodec {
    #[default]
    Deflate,
    Null,
}

/// Default size at which an Avro file is finalised.
pub const DEFAULT_ROLL_BYTES: u64 = 64 * 1024 * 1024;
/// Default age at which an Avro file is finalised.
pub const DEFAULT_ROLL_SECONDS: u64 = 60;

fn default_roll_bytes() -> u64 {
    DEFAULT_ROLL_BYTES
}
fn default_roll_seconds() -> u64 {
    DEFAULT_ROLL_SECONDS
}

/// Schema registry settings of a pipeline (its Avro sinks register every table shape).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// `embedded` (this process's registry, served on control.http) or the URL of a
    /// Confluent-compatible registry (basic-auth credentials may be in it:
    /// `https://user:password@registry:8081`).
    #[serde(default = "default_registry_url")]
    pub url: String,
    /// Compatibility level given to the pipeline's subjects that have none yet.
    #[serde(default)]
    pub compatibility: CompatibilityLevel,
    /// What an incompatible table change does: `stop` (default) or `allow`.
    #[serde(default)]
    pub on_incompatible: OnIncompatible,
    /// Timeout of one call to an external registry, in milliseconds.
    #[serde(default = "default_registry_timeout_millis")]
    pub timeout_ms: u64,
}

/// Default timeout of one call to an external registry.
pub const DEFAULT_REGISTRY_TIMEOUT_MILLIS: u64 = 10_000;

fn default_registry_timeout_millis() -> u64 {
    DEFAULT_REGISTRY_TIMEOUT_MILLIS
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            url: default_registry_url(),
            compatibility: CompatibilityLevel::default(),
            on_incompatible: OnIncompatible::default(),
            timeout_ms: DEFAULT_REGISTRY_TIMEOUT_MILLIS,
        }
    }
}

/// The embedded registry's `registry.url`.
pub const EMBEDDED_REGISTRY: &str = "embedded";

fn default_registry_url() -> String {
    EMBEDDED_REGISTRY.to_owned()
}

/// Checkpoint settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Directory of the checkpoint files.
    #[serde(default = "default_checkpoint_dir")]
    pub dir: PathBuf,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig { dir: default_checkpoint_dir() }
    }
}

fn default_checkpoint_dir() -> PathBuf {
    PathBuf::from("./state")
}

/// Memory bounds between source and sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferConfig {
    /// Most bytes of decoded events queued between source and sink.
    #[serde(default = "default_queue_bytes")]
    pub max_bytes: u64,
    /// Most events in one batch.
    #[serde(default = "default_batch_events")]
    pub max_batch_events: usize,
    /// Longest a partial batch waits for more changes, in milliseconds; 0 (the default)
    /// cuts it as soon as the source has nothing more ready, at most once per 5 ms.
    #[serde(default = "default_batch_millis")]
    pub max_batch_millis: u64,
}

impl Default for BufferConfig {
    fn default() -> Self {
        BufferConfig {
            max_bytes: DEFAULT_QUEUE_BYTES,
            max_batch_events: DEFAULT_BATCH_EVENTS,
            max_batch_millis: DEFAULT_BATCH_MILLIS,
        }
    }
}

fn default_queue_bytes() -> u64 {
    DEFAULT_QUEUE_BYTES
}
fn default_batch_events() -> usize {
    DEFAULT_BATCH_EVENTS
}
fn default_batch_millis() -> u64 {
    DEFAULT_BATCH_MILLIS
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// The line and column, never the line's text (it may hold a password).
    #[error("config file {path} is not valid TOML, at line {line}, column {column}: {message}")]
    Syntax { path: PathBuf, line: usize, column: usize, message: String },
    #[error("environment variable {variable}: {reason}")]
    Override { variable: String, reason: String },
    #[error("config {path}: {source}")]
    Shape { path: PathBuf, source: toml::de::Error },
    #[error("config: {field}: {rule}")]
    Invalid { field: String, rule: String },
}

/// A TOML syntax error by position and message only: toml's own rendering quotes the
/// offending line, which may be the one holding a password.
fn syntax_error(path: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let offset = error.span().map_or(0, |span| span.start).min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    // The message names what was expected; with a line's text it would show the value.
    let message = error.message().lines().next().unwrap_or_default().to_owned();
    ConfigError::Syntax { path: path.to_owned(), line, column, message }
}

impl Config {
    /// Reads `path`, applies `WELLHEAD_*` overrides from `environment`, and validates.
    pub fn load(path: &Path, environment: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::from_text(&text, path, environment)
    }

    /// Parses `text` (read from `path`, which errors name), applies the overrides, validates.
    pub fn from_text(
        text: &str,
        path: &Path,
        environment: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|error: toml::de::Error| syntax_error(path, text, &error))?;
        overrides::apply_overrides(&mut table, environment)?;
        let config: Config =
            toml::Table::try_into(table).map_err(|source| ConfigError::Shape { path: path.to_owned(), source })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every rule a parsed config must meet; names the field that breaks one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.control.resolve_registry_password()?;
        let invalid = |field: String, rule: &str| ConfigError::Invalid { field, rule: rule.to_owned() };
        if self.pipelines.is_empty() {
            return Err(invalid("pipelines".into(), "at least one [[pipelines]] entry is required"));
        }
        self.embedded_registry_storage()?;
        if let Some(address) = &self.control.http
            && address.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(invalid("control.http".into(), "must be an IP address and port, like \"127.0.0.1:8080\""));
        }
        // Two pipelines on one slot would confirm each other's positions and lose changes.
        let mut slots = std::collections::BTreeMap::new();
        for pipeline in &self.pipelines {
            if let SourceConfig::Postgres(source) = &pipeline.source {
                let url = source.url.url();
                let server =
                    (url.host_str().unwrap_or_default().to_owned(), url.port().unwrap_or(5432), source.slot.clone());
                if let Some(other) = slots.insert(server, pipeline.name.as_str()) {
                    return Err(ConfigError::Invalid {
                        field: format!("pipelines ({other}, {}).source.slot", pipeline.name),
                        rule: format!(
                            "both use replication slot {} on one server; each pipeline needs a slot of its own",
                            source.slot
                        ),
                    });
                }
            }
        }
        // Two files sinks writing one prefix's topics into one directory would take each
        // other's files for their own (the second is refused at start by the directory's lock).
        let mut outputs = std::collections::BTreeMap::new();
        for pipeline in &self.pipelines {
            if let (SinkConfig::Files { dir, .. }, Some(prefix)) = (&pipeline.sink, pipeline.topic_prefix())
                && let Some(other) = outputs.insert((dir.clone(), prefix.to_owned()), pipeline.name.as_str())
            {
                return Err(ConfigError::Invalid {
                    field: format!("pipelines ({other}, {}).sink", pipeline.name),
                    rule: format!(
                        "both write the topics of prefix {prefix} into {}; give one another dir or topic_prefix",
                        dir.display()
                    ),
                });
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (index, pipeline) in self.pipelines.iter().enumerate() {
            let at = |key: &str| format!("pipelines[{index}] ({}).{key}", pipeline.name);
            if pipeline.name.is_empty()
                || !pipeline.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(invalid(at("name"), "must be non-empty and use only letters, digits, '_' and '-'"));
            }
            if !names.insert(pipeline.name.as_str()) {
                return Err(invalid(at("name"), "must be unique among pipelines"));
            }
            match &pipeline.source {
                SourceConfig::Postgres(source) => {
                    if source.url.url().scheme() != "postgres" && source.url.url().scheme() != "postgresql" {
                        return Err(invalid(at("source.url"), "must start with postgres:// or postgresql://"));
                    }
                    if source.tables.is_empty() {
                        return Err(invalid(at("source.tables"), "list at least one table, e.g. [\"public.*\"]"));
                    }
                    if let Some(table) = source.tables.iter().find(|t| t.split('.').count() != 2) {
                        return Err(invalid(at("source.tables"), &format!("{table:?} must be schema.table")));
                    }
                    for (key, name) in [("source.slot", &source.slot), ("source.publication", &source.publication)] {
                        if name.is_empty()
                            || name.len() > 63
                            || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                        {
                            return Err(invalid(
                                at(key),
                                "must be 1-63 characters of lower-case letters, digits and '_'",
                            ));
                        }
                    }
                    if let Some(memory) = &source.logical_decoding_work_mem {
                        let digits = memory.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                        let unit = &memory[digits.len()..];
                        if digits.is_empty()
                            || !digits.chars().all(|c| c.is_ascii_digit())
                            || !matches!(unit, "kB" | "MB" | "GB")
                        {
                            return Err(invalid(
                                at("source.logical_decoding_work_mem"),
                                "must be a whole number with kB, MB or GB, like \"64MB\"",
                            ));
                        }
                    }
                    if source.password.is_some() && source.password_file.is_some() {
                        return Err(invalid(
                            at("source.password_file"),
                            "set either password or password_file, not both",
                        ));
                    }
                }
                SourceConfig::Mysql(source) => {
                    if let Some(start_at) = &source.start_at
                        && parse_binlog_coordinates(start_at).is_none()
                    {
                        return Err(invalid(
                            at("source.start_at"),
                            "must be a binlog file and an offset, like \"mariadb-bin.000003:4\" (SHOW MASTER STATUS shows the current ones)",
                        ));
                    }
                    if source.server_id == 0 {
                        return Err(invalid(
                            at("source.server_id"),
                            "must not be 0 (the server refuses replicas without an id); pick one no other replica of the server uses",
                        ));
                    }
                    if source.password.is_some() && source.password_file.is_some() {
                        return Err(invalid(
                            at("source.password_file"),
                            "set either password or password_file, not both",
                        ));
                    }
                }
            }
            match &pipeline.sink {
                SinkConfig::Stdout {} | SinkConfig::Null {} | SinkConfig::Jsonl { .. } => {}
                SinkConfig::Files { roll_bytes, roll_seconds, .. } => {
                    if *roll_bytes < 1024 || *roll_seconds == 0 {
                        return Err(invalid(
                            at("sink"),
                            "roll_bytes must be at least 1024 and roll_seconds at least 1",
                        ));
                    }
                }
                SinkConfig::Kafka(kafka) => {
                    if let Some((key, rule)) = kafka.problem() {
                        return Err(invalid(at(&key), &rule));
                    }
                }
            }
            if let Some(prefix) = pipeline.explicit_topic_prefix()
                && !is_valid_topic_prefix(prefix)
            {
                return Err(invalid(at("sink.topic_prefix"), TOPIC_PREFIX_RULE));
            }
            if pipeline.registry.url != EMBEDDED_REGISTRY
                && !matches!(
                    url::Url::parse(&pipeline.registry.url).map(|u| u.scheme().to_owned()).as_deref(),
                    Ok("http" | "https")
                )
            {
                return Err(invalid(
                    at("registry.url"),
                    "must be \"embedded\" or the http(s) URL of a Confluent-compatible registry",
                ));
            }
            if pipeline.snapshot.workers == 0 {
                return Err(invalid(at("snapshot.workers"), "must be at least 1"));
            }
            if pipeline.buffer.max_batch_events == 0 || pipeline.buffer.max_bytes < 1024 * 1024 {
                return Err(invalid(at("buffer"), "max_batch_events must be at least 1 and max_bytes at least 1 MiB"));
            }
        }
        Ok(())
    }
}

impl Config {
    /// Where the embedded registry keeps its log: the Kafka cluster its pipelines
    /// stream to exactly once (the log is written in transactions, which
    /// `at_least_once` brokers may lack), or, when none does, `control.registry_dir`.
    /// Its ids are global, so they live in one place: pipelines that share it and
    /// stream to different clusters are refused.
    pub fn embedded_registry_storage(&self) -> Result<RegistryStorage, ConfigError> {
        let dir = self.control.registry_dir.clone();
        let mut streaming_to_kafka = self.pipelines.iter().filter_map(|pipeline| match &pipeline.sink {
            SinkConfig::Kafka(kafka)
                if pipeline.registry.url == EMBEDDED_REGISTRY && kafka.delivery == KafkaDelivery::ExactlyOnce =>
            {
                Some((&pipeline.name, kafka))
            }
            _ => None,
        });
        let Some((first_name, first)) = streaming_to_kafka.next() else {
            return Ok(RegistryStorage::File { dir });
        };
        if let Some((other_name, other)) = streaming_to_kafka.find(|(_, kafka)| kafka.brokers != first.brokers) {
            return Err(ConfigError::Invalid {
                field: "control.registry_topic".into(),
                rule: format!(
                    "pipelines {first_name} (brokers {}) and {other_name} (brokers {}) share the embedded schema registry but stream to different Kafka clusters; its ids must live on one: give them the same brokers, or point one at an external registry with registry.url",
                    first.brokers, other.brokers
                ),
            });
        }
        let topic = &self.control.registry_topic;
        if !is_valid_topic(topic) {
            return Err(ConfigError::Invalid { field: "control.registry_topic".into(), rule: TOPIC_NAME_RULE.into() });
        }
        Ok(RegistryStorage::Kafka { dir, cluster: first.cluster(), layout: first.topic_layout(), topic: topic.clone() })
    }
}

impl Config {
    /// Marks the pipelines named (by `wellhead run --accept-gap`) to continue over a gap once.
    pub fn accept_gaps(&mut self, names: &[String]) -> Result<(), ConfigError> {
        for name in names {
            let pipeline = self.pipelines.iter_mut().find(|pipeline| pipeline.name == *name).ok_or_else(|| {
                ConfigError::Invalid { field: "--accept-gap".into(), rule: format!("no pipeline is named {name:?}") }
            })?;
            pipeline.accept_gap = true;
        }
        Ok(())
    }
}

impl PostgresSourceConfig {
    /// The password from, in order: `password`, `password_file`, the URL.
    pub fn resolve_password(&self) -> Result<Option<Secret>, ConfigError> {
        resolve_source_password(self.password.as_ref(), self.password_file.as_deref(), &self.url)
    }
}

impl MysqlSourceConfig {
    /// The password from, in order: `password`, `password_file`, the URL.
    pub fn resolve_password(&self) -> Result<Option<Secret>, ConfigError> {
        resolve_source_password(self.password.as_ref(), self.password_file.as_deref(), &self.url)
    }
}

/// `"<binlog file>:<offset>"` (`source.start_at`) as the file and the offset.
pub fn parse_binlog_coordinates(text: &str) -> Option<(String, u64)> {
    let (file, offset) = text.rsplit_once(':')?;
    let offset = offset.parse().ok()?;
    (!file.is_empty() && offset >= 4).then(|| (file.to_owned(), offset))
}

fn resolve_source_password(
    password: Option<&Secret>,
    password_file: Option<&std::path::Path>,
    url: &SecretUrl,
) -> Result<Option<Secret>, ConfigError> {
    if let Some(password) = password {
        return Ok(Some(password.clone()));
    }
    if let Some(path) = password_file {
        return read_password_file(path, "source.password_file").map(Some);
    }
    Ok(url.password())
}

impl fmt::Display for SnapshotMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SnapshotMode::Initial => "initial",
            SnapshotMode::Never => "never",
            SnapshotMode::InitialOnly => "initial_only",
            SnapshotMode::WhenNeeded => "when_needed",
        })
    }
}

#[cfg(test)]
mod tests;
