//! Wiring of one pipeline, and the policy that every source and sink shares:
//! restart de-duplication and batching (the [`Outlet`]), reconnecting a source
//! and restarting a pipeline after transient failures (one [`Backoff`]).
//!
//! ```text
//!  ┌────────┐ push ┌────────┐ Batch ┌──────────────┐ write+commit ┌────────────┐
//!  │ source ├─────►│ outlet ├──────►│ queue (bytes)├─────────────►│ sink thread│─► checkpoint
//!  └───▲────┘      └────────┘       └──────────────┘              └─────┬──────┘
//!      └──────── watch<restart point> (only after the checkpoint is durable) ┘
//! ```
//!
//! The restart policy reads the type a failure was classified into (see
//! [`crate::failure`]): a source that fails transiently is started again with the
//! same outlet (its resends are dropped there); a sink that fails transiently
//! restarts the whole pipeline from the last committed checkpoint. Definite
//! failures stop it.

pub mod backoff;

use std::time::{Duration, Instant};

use tokio::sync::watch;

use self::backoff::Backoff;
use crate::batch::{AckReceiver, BatchLimits, Outlet, batch_queue};
use crate::config::PipelineConfig;
use crate::failure::{Definite, ErrorClass, Failure, Transient};
use crate::health::PipelineState;
use crate::registry::SchemaRegistry;
use crate::sink::{self, SinkError};
use crate::source::{self, ChangeSource, SourceError};
use crate::telemetry::{Metrics, PipelineLabel};

/// Why a pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("pipeline {pipeline}: {source}")]
    Source { pipeline: String, source: SourceError },
    #[error("pipeline {pipeline}: {source}")]
    Sink { pipeline: String, source: SinkError },
    #[error("pipeline {pipeline}: the sink thread panicked")]
    SinkPanicked { pipeline: String },
}

/// The hint of a transient failure that ends a pipeline because it was stopping anyway.
const FAILED_WHILE_STOPPING: &str =
    "it failed while stopping; nothing after its last checkpoint was acknowledged, and the next start resumes there";

/// Runs one pipeline until `shutdown` turns true (then flushes and checkpoints) or it
/// fails for good. A transient failure of the sink (a Kafka broker away, the registry
/// unreachable) starts the pipeline again from its last committed checkpoint, after the
/// backoff; transient failures of the source are retried inside (see
/// [`stream_with_reconnects`]). Only a definite failure ends it.
pub async fn run_pipeline(
    config: PipelineConfig,
    mut shutdown: watch::Receiver<bool>,
    metrics: Metrics,
    registry: SchemaRegistry,
) -> Result<(), Definite<PipelineError>> {
    let mut backoff = Backoff::default();
    loop {
        let started = Instant::now();
        let result = run_pipeline_once(config.clone(), shutdown.clone(), metrics.clone(), registry.clone()).await;
        let stopped = |reason: String| metrics.health.set(&config.name, PipelineState::Stopped { reason });
        let error = match result {
            Ok(()) => {
                stopped("stopped on request".into());
                return Ok(());
            }
            Err(Failure::Definite(definite)) => {
                metrics.count_error(&config.name, ErrorClass::Definite);
                stopped(definite.error.to_string());
                return Err(definite);
            }
            Err(Failure::Transient(Transient(error))) if *shutdown.borrow() => {
                stopped(error.to_string());
                return Err(Definite { error, hint: Some(FAILED_WHILE_STOPPING) });
            }
            Err(Failure::Transient(Transient(error))) => error,
        };
        metrics.health.set(&config.name, PipelineState::Restarting { reason: error.to_string() });
        metrics.count_error(&config.name, ErrorClass::Transient);
        metrics.restarts.get_or_create(&PipelineLabel { pipeline: config.name.clone() }).inc();
        let delay = backoff.failed(started);
        tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "Pipeline stopped; starting again from its last committed checkpoint.");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        }
    }
}

async fn run_pipeline_once(
    config: PipelineConfig,
    shutdown: watch::Receiver<bool>,
    metrics: Metrics,
    registry: SchemaRegistry,
) -> Result<(), Failure<PipelineError>> {
    let pipeline = config.name.clone();
    let sink_error = |source: SinkError| {
        Failure::from(source).map(|source| PipelineError::Sink { pipeline: pipeline.clone(), source })
    };
    let source_error = |failure: Failure<SourceError>| {
        failure.map(|source| PipelineError::Source { pipeline: pipeline.clone(), source })
    };
    let panicked = || {
        Failure::Definite(Definite {
            error: PipelineError::SinkPanicked { pipeline: pipeline.clone() },
            hint: Some("this is a bug in Wellhead; please report it with this log"),
        })
    };
    // Opening a sink may block (Kafka's transactional producer fences, then the checkpoint is read back).
    let open_config = config.clone();
    let open_metrics = metrics.clone();
    let (sink, resume_from) = tokio::task::spawn_blocking(move || sink::open(&open_config, registry, open_metrics))
        .await
        .map_err(|_| panicked())?
        .map_err(sink_error)?;
    let mut source =
        source::build(&config, &resume_from, metrics.clone()).map_err(|error| source_error(error.into()))?;
    let (sender, receiver) = batch_queue(config.buffer.max_bytes);
    let queue = sender.occupancy();
    let (ack_sender, ack_receiver) = watch::channel(resume_from.restart_point.clone());
    // A batch takes at most a quarter of the queue, so that the sink writes one while the
    // source fills the next.
    let limits = BatchLimits {
        max_events: config.buffer.max_batch_events,
        max_bytes: usize::try_from(config.buffer.max_bytes / 4).unwrap_or(usize::MAX),
        max_wait: Duration::from_millis(config.buffer.max_batch_millis),
    };
    let mut outlet = Outlet::new(sender, limits, resume_from.last_written.clone(), resume_from.restart_point.clone());
    let sink_metrics = metrics.clone();
    let sink_pipeline = pipeline.clone();
    let sink_thread = tokio::task::spawn_blocking(move || {
        sink::drain(sink, resume_from, receiver, queue, ack_sender, &sink_metrics, &sink_pipeline)
    });
    let source_result =
        stream_with_reconnects(&mut source, &mut outlet, ack_receiver, shutdown, &metrics, &pipeline).await;
    if outlet.resends_dropped() > 0 {
        tracing::info!(%pipeline, resends_dropped = outlet.resends_dropped(), "Dropped changes the pipeline already held (sent again after a reconnection).");
    }
    // Closing the outlet closes the queue: the sink writes what is queued, commits and returns.
    drop(outlet);
    let sink_result = sink_thread.await.map_err(|_| panicked())?;
    // A failed sink is the cause; the source then only saw its queue close (`SinkStopped`).
    sink_result.map_err(sink_error)?;
    source_result.map_err(source_error)
}

/// Streams from `source` until shutdown; after a transient failure, waits for the backoff
/// and streams again into the same outlet (which drops what the source sends again).
async fn stream_with_reconnects(
    source: &mut impl ChangeSource,
    outlet: &mut Outlet,
    mut acks: AckReceiver,
    mut shutdown: watch::Receiver<bool>,
    metrics: &Metrics,
    pipeline: &str,
) -> Result<(), Failure<SourceError>> {
    let mut backoff = Backoff::default();
    loop {
        let started = Instant::now();
        let accepted_before = outlet.accepted().cloned();
        let error = match source.stream(outlet, &mut acks, &mut shutdown).await.map_err(Failure::from) {
            Ok(()) => return Ok(()),
            Err(Failure::Transient(Transient(error))) if !*shutdown.borrow() => error,
            Err(failure) => return Err(failure),
        };
        if outlet.accepted() != accepted_before.as_ref() {
            backoff.progressed();
        }
        let delay = backoff.failed(started);
        metrics.health.set(pipeline, PipelineState::Reconnecting { reason: error.to_string() });
        metrics.count_error(pipeline, ErrorClass::Transient);
        tracing::warn!(%pipeline, %error, retry_in_ms = delay.as_millis() as u64, "Source interrupted; reconnecting.");
        metrics.reconnects.get_or_create(&PipelineLabel { pipeline: pipeline.to_owned() }).inc();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        }
    }
}
