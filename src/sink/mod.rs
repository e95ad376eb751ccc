//! Sinks: where batches become durable output, then a checkpoint, then an ack.
//!
//! ```text
//!  queue ─► drain(): take every queued batch ─► Sink::write ─► Sink::make_durable
//!          ─► CheckpointStore::save ─► ack(flush_lsn) to the source
//! ```
//!
//! `drain` runs on a blocking thread: writing and encoding are CPU and disk work
//! that must not stall the source's socket.

mod drift;
mod files;
pub mod json;
mod jsonl;
mod null;
mod stdout;

use std::collections::HashMap;

use tokio::sync::watch;
use wellhead_decoders::change::{Lsn, Operation};

use crate::checkpoint::{Checkpoint, CheckpointError, CheckpointStore};
use crate::config::{PipelineConfig, SinkConfig, SourceConfig};
use crate::pipeline::batch::{Batch, BatchReceiver};
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
    #[error("sink type {0} is not available in this version")]
    Unavailable(&'static str),
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
    #[error("table {table}: {source}")]
    Encode { table: String, source: Box<wellhead_schema::avro::EncodeError> },
    #[error("internal: {0}")]
    Internal(String),
}

/// A sink ready to write.
#[derive(Debug)]
pub enum Sink {
    Stdout(stdout::StdoutSink),
    Null(null::NullSink),
    Jsonl(jsonl::JsonlSink),
    Files(Box<files::FilesSink>),
}

/// Builds the configured sink, lined up with the checkpoint's `sink_offset`.
pub fn build(
    config: &PipelineConfig,
    resume_from: &Checkpoint,
    has_checkpoint: bool,
    registry: SchemaRegistry,
    metrics: Metrics,
) -> Result<Sink, SinkError> {
    let sink_offset = resume_from.sink_offset;
    let source = source_info(config);
    match &config.sink {
        SinkConfig::Stdout {} => Ok(Sink::Stdout(stdout::StdoutSink::new(source))),
        SinkConfig::Null {} => Ok(Sink::Null(null::NullSink::new(
            source_kind(config),
            SourceFields { name: source.name.clone(), db: source.db.clone() },
        ))),
        SinkConfig::Jsonl { dir } => {
            Ok(Sink::Jsonl(jsonl::JsonlSink::open(dir, &config.name, source, sink_offset, has_checkpoint)?))
        }
        SinkConfig::Files { dir, topic_prefix, roll_bytes, roll_seconds, codec } => {
            let settings = files::FilesSettings {
                dir: dir.clone(),
                topic_prefix: topic_prefix.clone().unwrap_or_else(|| config.name.clone()),
                roll_bytes: *roll_bytes,
                roll_age: std::time::Duration::from_secs(*roll_seconds),
                codec: *codec,
                source_kind: source_kind(config),
                source_fields: SourceFields { name: source.name.clone(), db: source.db.clone() },
                registry_config: config.registry.clone(),
                pipeline: config.name.clone(),
            };
            Ok(Sink::Files(Box::new(files::FilesSink::open(settings, resume_from, registry, metrics)?)))
        }
        SinkConfig::Kafka { .. } => Err(SinkError::Unavailable("kafka")),
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
    fn write(&mut self, batch: &Batch, store: &mut CheckpointStore) -> Result<(), SinkError> {
        match self {
            Sink::Stdout(sink) => sink.write(batch),
            Sink::Null(sink) => sink.write(batch),
            Sink::Jsonl(sink) => sink.write(batch),
            Sink::Files(sink) => sink.write(batch, store),
        }
    }

    /// Commits what waits for time to pass (old files); nothing for the other sinks.
    fn commit_if_due(&mut self, store: &mut CheckpointStore) -> Result<Option<Checkpoint>, SinkError> {
        match self {
            Sink::Files(sink) => sink.commit(store),
            _ => Ok(None),
        }
    }

    /// Commits whatever is still open at a clean stop.
    fn close(&mut self, covered: Checkpoint, store: &mut CheckpointStore) -> Result<Option<Checkpoint>, SinkError> {
        match self {
            Sink::Files(sink) => sink.close(store).map(Some),
            _ => self.commit(covered, store),
        }
    }

    /// Makes everything written so far durable and saves `covered` (the checkpoint of
    /// everything written) with the sink's own state; returns the checkpoint saved.
    fn commit(
        &mut self,
        mut covered: Checkpoint,
        store: &mut CheckpointStore,
    ) -> Result<Option<Checkpoint>, SinkError> {
        covered.sink_offset = match self {
            Sink::Stdout(sink) => sink.make_durable()?,
            Sink::Null(sink) => sink.encoded_bytes(),
            Sink::Jsonl(sink) => sink.make_durable()?,
            Sink::Files(sink) => return sink.commit(store),
        };
        store.save(covered.clone())?;
        Ok(Some(covered))
    }
}

/// How long the sink thread waits for a batch before it commits anyway.
const IDLE_COMMIT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Writes batches until the queue closes: each round takes every queued batch,
/// writes them, then commits once (durable output and checkpoint), then acks
/// what the commit made durable.
pub fn drain(
    mut sink: Sink,
    mut store: CheckpointStore,
    mut receiver: BatchReceiver,
    acks: watch::Sender<Lsn>,
    metrics: &Metrics,
    pipeline: &str,
) -> Result<(), SinkError> {
    let pipeline_label = PipelineLabel { pipeline: pipeline.to_owned() };
    let mut op_counts: HashMap<Operation, u64> = HashMap::new();
    // A first, empty checkpoint goes down before anything is written: output without a
    // checkpoint is refused on start (`OrphanOutput`), so a crash between the first write
    // and the first save must not be able to leave that state behind.
    if store.current().is_none() {
        store.save(Checkpoint::default())?;
    }
    let mut covered = store.current().cloned().unwrap_or_default();
    let runtime = tokio::runtime::Handle::current();
    loop {
        // Wake up now and then without batches, so that time-based commits (file rolls) happen.
        let first = match runtime.block_on(tokio::time::timeout(IDLE_COMMIT_INTERVAL, receiver.recv())) {
            Ok(Some(batch)) => batch,
            Ok(None) => break,
            Err(_) => {
                if let Some(saved) = sink.commit_if_due(&mut store)? {
                    acks.send_replace(saved.flush_lsn);
                }
                continue;
            }
        };
        let mut round = vec![first];
        while let Ok(next) = receiver.try_recv() {
            round.push(next);
        }
        let mut advanced = false;
        for batch in &round {
            sink.write(batch, &mut store)?;
            for event in &batch.events {
                *op_counts.entry(event.operation).or_default() += 1;
            }
            if batch.last_position.is_some() {
                covered.last_position = batch.last_position.clone();
                advanced = true;
            }
            if batch.flush_lsn > covered.flush_lsn {
                covered.flush_lsn = batch.flush_lsn;
                advanced = true;
            }
        }
        if advanced && let Some(saved) = sink.commit(covered.clone(), &mut store)? {
            acks.send_replace(saved.flush_lsn);
            metrics.checkpoints.get_or_create(&pipeline_label).inc();
            metrics
                .checkpoint_lsn
                .get_or_create(&pipeline_label)
                .set(i64::try_from(saved.flush_lsn.0).unwrap_or(i64::MAX));
            for (operation, count) in op_counts.drain() {
                let labels = ChangeLabels { pipeline: pipeline.to_owned(), op: operation.code().to_owned() };
                metrics.changes.get_or_create(&labels).inc_by(count);
            }
        }
        // Dropping the round releases its memory permits to the source.
        drop(round);
    }
    if let Some(saved) = sink.close(covered, &mut store)? {
        acks.send_replace(saved.flush_lsn);
    }
    Ok(())
}

/// Milliseconds since the Unix epoch, for `ts_ms`.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
