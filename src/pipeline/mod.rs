//! Wiring of one pipeline: source task → bounded batch queue → sink thread →
//! checkpoint → acknowledgement back to the source. Only connects things.
//!
//! ```text
//!  ┌────────┐ Batch ┌──────────────┐ write+fsync ┌────────────┐ save ┌────────────┐
//!  │ source ├──────►│ queue (bytes)├────────────►│ sink thread├─────►│ checkpoint │
//!  └───▲────┘       └──────────────┘             └─────┬──────┘      └────────────┘
//!      └──────────── watch<flush_lsn> (ack only after the checkpoint is saved) ┘
//! ```

pub mod batch;

use tokio::sync::watch;
use wellhead_decoders::change::Lsn;

use crate::checkpoint::CheckpointStore;
use crate::config::{PipelineConfig, SourceConfig};
use crate::registry::SchemaRegistry;
use crate::sink::{self, SinkError};
use crate::source::postgres::{PostgresSource, SourceError};
use crate::telemetry::Metrics;

/// A pipeline stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("pipeline {pipeline}: {source}")]
    Source { pipeline: String, source: SourceError },
    #[error("pipeline {pipeline}: {source}")]
    Sink { pipeline: String, source: SinkError },
    #[error("pipeline {pipeline}: {source}")]
    Checkpoint { pipeline: String, source: crate::checkpoint::CheckpointError },
    #[error("pipeline {pipeline}: the sink thread panicked")]
    SinkPanicked { pipeline: String },
}

/// Runs one pipeline until `shutdown` turns true (then flushes and checkpoints) or it fails.
pub async fn run_pipeline(
    config: PipelineConfig,
    shutdown: watch::Receiver<bool>,
    metrics: Metrics,
    registry: SchemaRegistry,
) -> Result<(), PipelineError> {
    let pipeline = config.name.clone();
    let store = CheckpointStore::open(&config.checkpoint.dir, &pipeline)
        .map_err(|source| PipelineError::Checkpoint { pipeline: pipeline.clone(), source })?;
    let resume_from = store.current().cloned().unwrap_or_default();
    let sink = sink::build(&config, &resume_from, store.current().is_some(), registry, metrics.clone())
        .map_err(|source| PipelineError::Sink { pipeline: pipeline.clone(), source })?;
    let (sender, receiver) = batch::batch_queue(config.buffer.max_bytes);
    let (ack_sender, ack_receiver) = watch::channel(resume_from.flush_lsn);
    let sink_metrics = metrics.clone();
    let sink_pipeline = pipeline.clone();
    let sink_thread = tokio::task::spawn_blocking(move || {
        sink::drain(sink, store, receiver, ack_sender, &sink_metrics, &sink_pipeline)
    });
    let source_result = match &config.source {
        SourceConfig::Postgres(source_config) => {
            let source = PostgresSource::new(&config, source_config.clone(), resume_from, metrics);
            source.run(sender, ack_receiver, shutdown).await
        }
        SourceConfig::Mysql(_) => Ok(()),
    };
    let sink_result = sink_thread.await.map_err(|_| PipelineError::SinkPanicked { pipeline: pipeline.clone() })?;
    // A failed sink is the cause; the source then only saw its queue close (`SinkStopped`).
    sink_result.map_err(|source| PipelineError::Sink { pipeline: pipeline.clone(), source })?;
    source_result.map_err(|source| PipelineError::Source { pipeline, source })?;
    Ok(())
}

/// The flush LSN acknowledged so far.
pub type AckReceiver = watch::Receiver<Lsn>;
