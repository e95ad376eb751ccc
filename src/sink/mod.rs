//! Sinks: where batches become durable output, then a checkpoint, then an ack.
//!
//! ```text
//!  queue ─► drain(): take every queued batch ─► Sink::write_event (each change)
//!          ─► Checkpoint::record_* (the one place the checkpoint advances)
//!          ─► Sink::commit (durable output + checkpoint) ─► ack(restart point) to the source
//! ```
//!
//! `drain` runs on a blocking thread: writing and encoding are CPU and disk work
//! that must not stall the source's socket.

mod avro_table;
mod dead_letter;
mod drift;
mod files;
pub mod json;
mod jsonl;
pub mod kafka;
mod null;
mod stdout;

use std::collections::HashMap;

use wellhead_decoders::change::{ChangeEvent, Operation};

use crate::batch::{AckSender, BatchReceiver, QueueOccupancy};
use crate::checkpoint::{Checkpoint, CheckpointError, CheckpointStore, SinkState};
use crate::clock;
use crate::config::{PipelineConfig, SinkConfig, SourceConfig};
use crate::failure::{Classify, ErrorClass};
use crate::registry::SchemaRegistry;
use crate::telemetry::{ChangeLabels, Metrics, PipelineLabel};

use self::json::SourceInfo;
use wellhead_schema::avro::{SourceFields, SourceKind};

/// Writing output failed; the pipeline stops with its checkpoint untouched.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("output {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(
        "output {path} holds {found} bytes but no checkpoint exists for it; move the file away (or restore the checkpoint) before starting"
    )]
    OrphanOutput { path: String, found: u64 },
    #[error(
        "output {path} is shorter ({found} bytes) than its checkpoint says ({expected}); it was changed outside Wellhead"
    )]
    Shortened { path: String, found: u64, expected: u64 },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(
        "another pipeline writes the topics of prefix {topic_prefix} into {dir} (it holds the directory's .{topic_prefix}.lock): give this pipeline another sink.dir or topic_prefix, or stop the other one"
    )]
    DirectoryInUse { dir: String, topic_prefix: String },
    #[error("output file {path} is named in the checkpoint but missing; it was removed outside Wellhead")]
    MissingFile { path: String },
    #[error("table {table}: {source}")]
    Schema { table: String, source: Box<crate::registry::RegisterError> },
    /// A table's new shape was refused by its subject's compatibility level (policy `stop`).
    #[error(
        "table {table} changed incompatibly ({changes}): {source}. Nothing of the new shape was written and the \
         checkpoint stays before it; to let the change through, set on_incompatible = \"allow\" under \
         [pipelines.registry] (or relax the subject's compatibility level), then restart"
    )]
    Incompatible { table: String, changes: String, source: Box<crate::registry::RegisterError> },
    /// A table the sink cannot name (topic too long, or one Kafka would refuse as colliding).
    #[error("table {table}: {reason}")]
    Name { table: String, reason: String },
    /// A change that cannot be encoded; names the table, the column and the position, never the value.
    #[error("at {position}: {source}")]
    Encode { table: String, position: String, source: Box<wellhead_schema::avro::EncodeError> },
    #[error("internal: {0}")]
    Internal(String),
    /// A Kafka failure a fresh start from the last committed checkpoint may get past.
    #[error("Kafka: {what}: {reason}")]
    KafkaRetriable { what: String, reason: String },
    #[error("Kafka: {what}: {reason}")]
    KafkaFatal { what: String, reason: String },
    #[error(
        "Kafka fenced this instance of pipeline {pipeline} ({reason}): another instance with the same \
         transactional.id started. This instance stops and acknowledges nothing more; run one instance per pipeline"
    )]
    KafkaFenced { pipeline: String, reason: String },
}

impl Classify for SinkError {
    /// Transient: starting the pipeline again from its last checkpoint may succeed.
    fn class(&self) -> ErrorClass {
        match self {
            SinkError::KafkaRetriable { .. } => ErrorClass::Transient,
            SinkError::Schema { source, .. } => source.class(),
            SinkError::Io { .. }
            | SinkError::OrphanOutput { .. }
            | SinkError::Shortened { .. }
            | SinkError::Checkpoint(_)
            | SinkError::MissingFile { .. }
            | SinkError::DirectoryInUse { .. }
            | SinkError::Incompatible { .. }
            | SinkError::Encode { .. }
            | SinkError::Name { .. }
            | SinkError::Internal(_)
            | SinkError::KafkaFatal { .. }
            | SinkError::KafkaFenced { .. } => ErrorClass::Definite,
        }
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            SinkError::Internal(_) => Some("this is a bug in Wellhead; please report it with this log"),
            SinkError::Encode { .. } => Some(
                "the checkpoint stays before this change; to let such rows pass into the sink's dead-letter output instead, set on_unencodable = \"dead_letter\" under [pipelines.sink] (files and kafka sinks)",
            ),
            _ => None,
        }
    }
}

/// A sink ready to write: a local output with its checkpoint file, or Kafka,
/// which keeps the checkpoint in the same transaction as the data.
#[derive(Debug)]
pub enum Sink {
    Local(Box<LocalSink>),
    Kafka(Box<kafka::KafkaSink>),
}

/// A local output and its checkpoint file.
#[derive(Debug)]
pub struct LocalSink {
    output: LocalOutput,
    store: CheckpointStore,
}

/// Outputs whose checkpoint is a local file.
#[derive(Debug)]
pub enum LocalOutput {
    Stdout(stdout::StdoutSink),
    Null(null::NullSink),
    Jsonl(jsonl::JsonlSink),
    Files(Box<files::FilesSink>),
}

/// Opens the configured sink and reads its checkpoint; returns both (the source resumes after it).
pub fn open(
    config: &PipelineConfig,
    registry: SchemaRegistry,
    metrics: Metrics,
) -> Result<(Sink, Checkpoint), SinkError> {
    if let SinkConfig::Kafka(kafka_config) = &config.sink {
        let source = source_info(config);
        let settings = kafka::KafkaSettings {
            config: kafka_config.clone(),
            pipeline: config.name.clone(),
            topic_prefix: config.topic_prefix().unwrap_or(&config.name).to_owned(),
            source_kind: source_kind(config),
            source_fields: SourceFields { name: source.name.clone(), db: source.db.clone() },
            registry_config: config.registry.clone(),
            source_info: source,
        };
        let (sink, checkpoint) = kafka::KafkaSink::open(settings, registry, metrics)?;
        return Ok((Sink::Kafka(Box::new(sink)), checkpoint));
    }
    let store = CheckpointStore::open(&config.checkpoint.dir, &config.name)?;
    let resume_from = store.current().cloned().unwrap_or_default();
    let output = build_local(config, &resume_from, store.current().is_some(), registry, metrics)?;
    Ok((Sink::Local(Box::new(LocalSink { output, store })), resume_from))
}

/// Builds a local output, lined up with the checkpoint's `sink_offset`.
fn build_local(
    config: &PipelineConfig,
    resume_from: &Checkpoint,
    has_checkpoint: bool,
    registry: SchemaRegistry,
    metrics: Metrics,
) -> Result<LocalOutput, SinkError> {
    let sink_offset = resume_from.sink.offset;
    let source = source_info(config);
    match &config.sink {
        SinkConfig::Stdout {} => Ok(LocalOutput::Stdout(stdout::StdoutSink::new(source))),
        SinkConfig::Null {} => Ok(LocalOutput::Null(null::NullSink::new(
            source_kind(config),
            SourceFields { name: source.name.clone(), db: source.db.clone() },
        ))),
        SinkConfig::Jsonl { dir } => {
            Ok(LocalOutput::Jsonl(jsonl::JsonlSink::open(dir, &config.name, source, sink_offset, has_checkpoint)?))
        }
        SinkConfig::Files { dir, roll_bytes, roll_seconds, codec, on_unencodable, .. } => {
            let settings = files::FilesSettings {
                dir: dir.clone(),
                topic_prefix: config.topic_prefix().unwrap_or(&config.name).to_owned(),
                roll_bytes: *roll_bytes,
                roll_age: std::time::Duration::from_secs(*roll_seconds),
                codec: *codec,
                source_kind: source_kind(config),
                source_fields: SourceFields { name: source.name.clone(), db: source.db.clone() },
                registry_config: config.registry.clone(),
                pipeline: config.name.clone(),
                source_info: source.clone(),
                on_unencodable: *on_unencodable,
            };
            Ok(LocalOutput::Files(Box::new(files::FilesSink::open(settings, resume_from, registry, metrics)?)))
        }
        SinkConfig::Kafka(_) => Err(SinkError::Internal("the Kafka sink is not a local output".into())),
    }
}

fn source_kind(config: &PipelineConfig) -> SourceKind {
    match &config.source {
        SourceConfig::Postgres(_) => SourceKind::Postgres,
        SourceConfig::Mysql(_) => SourceKind::Mysql,
    }
}

fn source_info(config: &PipelineConfig) -> SourceInfo {
    match &config.source {
        SourceConfig::Postgres(source) => SourceInfo {
            connector: "postgresql",
            name: config.name.clone(),
            db: source.url.url().path().trim_start_matches('/').to_owned(),
        },
        SourceConfig::Mysql(source) => SourceInfo {
            connector: "mysql",
            name: config.name.clone(),
            db: source.url.url().path().trim_start_matches('/').to_owned(),
        },
    }
}

impl Sink {
    /// Writes one change; `covered` is the checkpoint of everything written before it.
    fn write_event(&mut self, event: &ChangeEvent, covered: &Checkpoint, now_ms: i64) -> Result<(), SinkError> {
        let local = match self {
            Sink::Kafka(sink) => return sink.write_event(event, now_ms),
            Sink::Local(local) => local.as_mut(),
        };
        match &mut local.output {
            LocalOutput::Stdout(sink) => sink.write_event(event, now_ms),
            LocalOutput::Null(sink) => sink.write_event(event, now_ms),
            LocalOutput::Jsonl(sink) => sink.write_event(event, now_ms),
            LocalOutput::Files(sink) => sink.write_event(event, now_ms, covered, &mut local.store),
        }
    }

    /// The checkpoint saved before anything is written, if the sink has none yet:
    /// output without a checkpoint is refused on start (`OrphanOutput`), so a crash
    /// between the first write and the first save must not leave that state behind.
    fn save_initial_checkpoint(&mut self) -> Result<(), SinkError> {
        if let Sink::Local(local) = self
            && local.store.current().is_none()
        {
            local.store.save(Checkpoint::default())?;
        }
        Ok(())
    }

    /// Commits what waits for time to pass (old files); nothing for the other sinks.
    fn commit_if_due(&mut self, covered: &Checkpoint) -> Result<Option<Checkpoint>, SinkError> {
        match self {
            Sink::Local(local) => match &mut local.output {
                LocalOutput::Files(sink) => sink.commit(covered, &mut local.store),
                _ => Ok(None),
            },
            Sink::Kafka(_) => Ok(None),
        }
    }

    /// Commits whatever is still open at a clean stop.
    fn close(&mut self, covered: &Checkpoint) -> Result<Option<Checkpoint>, SinkError> {
        match self {
            Sink::Kafka(sink) => sink.close(covered),
            Sink::Local(local) => match &mut local.output {
                LocalOutput::Files(sink) => sink.close(covered, &mut local.store).map(Some),
                _ => self.commit(covered),
            },
        }
    }

    /// Makes everything written so far durable and saves `covered` (the checkpoint of
    /// everything written) with the sink's own state; returns the checkpoint saved.
    fn commit(&mut self, covered: &Checkpoint) -> Result<Option<Checkpoint>, SinkError> {
        let local = match self {
            Sink::Kafka(sink) => return sink.commit(covered),
            Sink::Local(local) => local.as_mut(),
        };
        let offset = match &mut local.output {
            LocalOutput::Stdout(sink) => sink.make_durable()?,
            LocalOutput::Null(sink) => sink.encoded_bytes(),
            LocalOutput::Jsonl(sink) => sink.make_durable()?,
            LocalOutput::Files(sink) => return sink.commit(covered, &mut local.store),
        };
        let saved = Checkpoint { sink: SinkState { offset, pending_renames: Vec::new() }, ..covered.clone() };
        local.store.save(saved.clone())?;
        Ok(Some(saved))
    }
}

/// How long the sink thread waits for a batch before it commits anyway.
const IDLE_COMMIT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Writes batches until the queue closes: each round takes every queued batch,
/// writes them, then commits once (durable output and checkpoint), then acks
/// what the commit made durable. The checkpoint advances here and only here.
pub fn drain(
    mut sink: Sink,
    resume_from: Checkpoint,
    mut receiver: BatchReceiver,
    queue: QueueOccupancy,
    acks: AckSender,
    metrics: &Metrics,
    pipeline: &str,
) -> Result<(), SinkError> {
    let pipeline_label = PipelineLabel { pipeline: pipeline.to_owned() };
    let mut op_counts: HashMap<Operation, u64> = HashMap::new();
    sink.save_initial_checkpoint()?;
    let mut covered = resume_from;
    // A run that received nothing (its source refused to start, say) commits nothing at the
    // end either: committing would line the output up with a checkpoint the source did not
    // accept (the jsonl sink truncates then).
    let mut received_any = false;
    let runtime = tokio::runtime::Handle::current();
    loop {
        // Wake up now and then without batches, so that time-based commits (file rolls) happen.
        let first = match runtime.block_on(tokio::time::timeout(IDLE_COMMIT_INTERVAL, receiver.recv())) {
            Ok(Some(batch)) => batch,
            Ok(None) => break,
            Err(_) => {
                if let Some(saved) = sink.commit_if_due(&covered)? {
                    acks.send_replace(saved.restart_point);
                }
                continue;
            }
        };
        received_any = true;
        let mut round = vec![first];
        while let Ok(next) = receiver.try_recv() {
            round.push(next);
        }
        let now = clock::unix_millis_now();
        let mut advanced = false;
        let mut newest_commit_micros = None;
        for batch in &round {
            newest_commit_micros = batch.events.last().map(|event| event.commit_time_micros).or(newest_commit_micros);
            for event in &batch.events {
                sink.write_event(event, &covered, now)?;
                covered.record_written(&event.position)?;
                *op_counts.entry(event.operation).or_default() += 1;
            }
            if let Some(point) = &batch.restart_point {
                covered.record_restart_point(point)?;
            }
            for update in &batch.updates {
                covered.record_update(update);
            }
            advanced |= !batch.events.is_empty() || batch.restart_point.is_some() || !batch.updates.is_empty();
        }
        // The source's last batch: finalise everything now, so that its acknowledgement reaches
        // the source (and the server) before it disconnects.
        let stopping = round.iter().any(|batch| batch.stopping);
        let saved = if stopping {
            sink.close(&covered)?
        } else if advanced {
            sink.commit(&covered)?
        } else {
            None
        };
        if let Some(saved) = saved {
            acks.send_replace(saved.restart_point);
            metrics.checkpoints.get_or_create(&pipeline_label).inc();
            let saved_at_micros = clock::unix_micros_now();
            metrics.checkpoint_timestamp_seconds.get_or_create(&pipeline_label).set(saved_at_micros as f64 / 1e6);
            if let Some(commit_micros) = newest_commit_micros {
                let latency = (saved_at_micros - commit_micros).max(0) as f64 / 1e6;
                metrics.sink_latency_seconds.get_or_create(&pipeline_label).set(latency);
            }
            for (operation, count) in op_counts.drain() {
                let labels = ChangeLabels { pipeline: pipeline.to_owned(), op: operation.code().to_owned() };
                metrics.changes.get_or_create(&labels).inc_by(count);
            }
        }
        // Dropping the round releases its memory permits to the source.
        drop(round);
        metrics.queue_bytes.get_or_create(&pipeline_label).set(i64::try_from(queue.bytes()).unwrap_or(i64::MAX));
        metrics.queue_batches.get_or_create(&pipeline_label).set(i64::try_from(receiver.len()).unwrap_or(i64::MAX));
    }
    if received_any && let Some(saved) = sink.close(&covered)? {
        acks.send_replace(saved.restart_point);
    }
    Ok(())
}
