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

use std::time::{Duration, Instant};

use tokio::sync::watch;
use wellhead_decoders::change::Lsn;

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

/// Longest wait between two starts of a pipeline that failed in a way a retry may fix.
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);
/// A run this long resets the restart delay to its minimum.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Runs one pipeline until `shutdown` turns true (then flushes and checkpoints) or it
/// fails for good. A failure a retry may fix (a Kafka broker away) starts the pipeline
/// again from its last committed checkpoint, after a capped exponential backoff with jitter.
pub async fn run_pipeline(
    config: PipelineConfig,
    mut shutdown: watch::Receiver<bool>,
    metrics: Metrics,
    registry: SchemaRegistry,
) -> Result<(), PipelineError> {
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        let result = run_pipeline_once(config.clone(), shutdown.clone(), metrics.clone(), registry.clone()).await;
        let error = match result {
            Err(PipelineError::Sink { pipeline, source }) if source.is_retriable() && !*shutdown.borrow() => {
                PipelineError::Sink { pipeline, source }
            }
            other => return other,
        };
        failures = if started.elapsed() >= HEALTHY_RUN { 1 } else { failures.saturating_add(1) };
        let delay = restart_delay(failures);
        tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "Pipeline stopped; starting again from its last committed checkpoint.");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        }
    }
}

/// 250 ms doubling per failure up to [`MAX_RESTART_DELAY`], minus up to a quarter at random
/// (instances restarted together do not stampede the broker).
pub fn restart_delay(failures: u32) -> Duration {
    let base =
        Duration::from_millis(250).saturating_mul(1 << failures.saturating_sub(1).min(10)).min(MAX_RESTART_DELAY);
    base.mul_f64(1.0 - rand::random::<f64>() * 0.25)
}

async fn run_pipeline_once(
    config: PipelineConfig,
    shutdown: watch::Receiver<bool>,
    metrics: Metrics,
    registry: SchemaRegistry,
) -> Result<(), PipelineError> {
    let pipeline = config.name.clone();
    // Opening a sink may block (Kafka's transactional producer fences, then the checkpoint is read back).
    let open_config = config.clone();
    let open_metrics = metrics.clone();
    let (sink, resume_from) = tokio::task::spawn_blocking(move || sink::open(&open_config, registry, open_metrics))
        .await
        .map_err(|_| PipelineError::SinkPanicked { pipeline: pipeline.clone() })?
        .map_err(|source| PipelineError::Sink { pipeline: pipeline.clone(), source })?;
    let (sender, receiver) = batch::batch_queue(config.buffer.max_bytes);
    let (ack_sender, ack_receiver) = watch::channel(resume_from.flush_lsn);
    let sink_metrics = metrics.clone();
    let sink_pipeline = pipeline.clone();
    let sink_resume = resume_from.clone();
    let sink_thread = tokio::task::spawn_blocking(move || {
        sink::drain(sink, sink_resume, receiver, ack_sender, &sink_metrics, &sink_pipeline)
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
