//! `wellhead run`: every pipeline concurrently, until a signal or a failure.
//! SIGINT/SIGTERM ask each pipeline to stop reading, flush, checkpoint and exit.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use tracing::Instrument as _;

use crate::control::reload::ConfigReload;

use crate::config::EMBEDDED_REGISTRY;
use crate::config::{Config, SinkConfig};
use crate::control::RegistryDoor;
use crate::control::http::{self, ControlState, HttpError};
use crate::failure::{Classify as _, Definite, ErrorClass};
use crate::health::PipelineState;
use crate::pipeline::backoff::Backoff;
use crate::pipeline::{PipelineError, run_pipeline};
use crate::registry::SchemaRegistry;
use crate::registry::client::RegistryClient;
use crate::registry::embedded::{EmbeddedRegistry, EmbeddedRegistryError, RegistryStorage};
use crate::secret::SecretUrl;
use crate::telemetry::Metrics;

/// `wellhead run` failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Pipeline(Box<Definite<PipelineError>>),
    #[error("a pipeline task panicked: {0}; this is a bug in Wellhead, please report it with this log")]
    PipelinePanicked(String),
    #[error(transparent)]
    Control(#[from] HttpError),
    #[error(transparent)]
    Registry(#[from] EmbeddedRegistryError),
    #[error("registry.url: {0}")]
    RegistryUrl(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("opening the embedded schema registry: {0}")]
    RegistryOpen(String),
}

/// Runs all pipelines; returns the first failure after stopping the others. With
/// `config_path`, SIGHUP reloads the config from it (see [`ConfigReload`]).
pub async fn run_pipelines(config: Config, config_path: Option<PathBuf>) -> Result<(), RunError> {
    if config.control.sql.is_some() {
        tracing::warn!("The SQL control address is not served by this version; control.sql is ignored.");
    }
    let metrics = Metrics::new();
    let storage = config.embedded_registry_storage()?;
    if let RegistryStorage::File { dir } = &storage
        && config
            .pipelines
            .iter()
            .any(|p| matches!(p.sink, SinkConfig::Kafka(_)) && p.registry.url == EMBEDDED_REGISTRY)
    {
        tracing::warn!(dir = %dir.display(), "The embedded schema registry stays in control.registry_dir: its Kafka topic is written in transactions, which at_least_once sinks do not assume. An instance moved elsewhere needs this directory, or an external registry (registry.url).");
    }
    let (stop, mut stopping) = watch::channel(false);
    let stop = Arc::new(stop);
    let signal_stop = stop.clone();
    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("Stopping: flushing and checkpointing.");
        let _ = signal_stop.send(true);
    });
    let Some(registry) = open_embedded_registry(storage, &mut stopping).await? else {
        signals.abort();
        return Ok(());
    };
    let reloads = config_path.map(|path| {
        let mut reload = ConfigReload::new(path, &config, metrics.snapshot_requests.clone());
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hangups) = signal(SignalKind::hangup()) else { return };
            while hangups.recv().await.is_some() {
                reload.reload();
            }
        })
    });
    let registry = Arc::new(registry);
    let control = match &config.control.http {
        Some(address) => {
            let registry_door =
                RegistryDoor::new(&config.control.registry_user, config.control.resolve_registry_password()?);
            let router =
                http::router(ControlState { metrics: metrics.clone(), registry: registry.clone(), registry_door });
            Some(http::serve(address, router, stopping.clone()).await?)
        }
        None => None,
    };
    let mut pipelines = tokio::task::JoinSet::new();
    for pipeline in config.pipelines {
        let registry = if pipeline.registry.url == EMBEDDED_REGISTRY {
            SchemaRegistry::Embedded(registry.clone())
        } else {
            let url =
                SecretUrl::parse(&pipeline.registry.url).map_err(|error| RunError::RegistryUrl(error.to_string()))?;
            let timeout = std::time::Duration::from_millis(pipeline.registry.timeout_ms);
            SchemaRegistry::External(Arc::new(RegistryClient::new(&url, timeout)))
        };
        metrics.health.set(&pipeline.name, PipelineState::Starting);
        // Every line a pipeline logs carries its name (JSON logs: in `span` and `spans`; the
        // field is not `name`, which JSON lines use for the span's own name).
        let span = tracing::info_span!("pipeline", pipeline = %pipeline.name);
        pipelines.spawn(run_pipeline(pipeline, stopping.clone(), metrics.clone(), registry).instrument(span));
    }
    // One process never runs half alive: the first pipeline that fails for good stops the
    // others (each flushes and checkpoints, as on SIGTERM), and the process exits non-zero
    // with that failure, printed once, by `main`; later failures are logged.
    let mut first_error = None;
    while let Some(joined) = pipelines.join_next().await {
        let error = match joined {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => RunError::Pipeline(Box::new(error)),
            Err(join_error) => RunError::PipelinePanicked(join_error.to_string()),
        };
        match first_error {
            None => {
                if !pipelines.is_empty() && !*stop.borrow() {
                    tracing::error!(
                        running = pipelines.len(),
                        "A pipeline failed; stopping the other pipelines (the failure is printed when they have stopped)."
                    );
                    let _ = stop.send(true);
                }
                first_error = Some(error);
            }
            Some(_) => tracing::error!(%error, "Pipeline failed."),
        }
    }
    signals.abort();
    if let Some(reloads) = reloads {
        reloads.abort();
    }
    if let Some(control) = control {
        control.abort();
    }
    first_error.map_or(Ok(()), Err)
}

/// Opens the embedded registry; while its Kafka topic cannot be read (the cluster is away), waits
/// and tries again with the pipelines' backoff, as they would. `None` when asked to stop first.
async fn open_embedded_registry(
    storage: RegistryStorage,
    stopping: &mut watch::Receiver<bool>,
) -> Result<Option<EmbeddedRegistry>, RunError> {
    let mut backoff = Backoff::default();
    loop {
        let started = std::time::Instant::now();
        let attempt = storage.clone();
        let opened = tokio::task::spawn_blocking(move || EmbeddedRegistry::open_storage(&attempt))
            .await
            .map_err(|error| RunError::RegistryOpen(error.to_string()))?;
        match opened {
            Ok(registry) => return Ok(Some(registry)),
            Err(EmbeddedRegistryError::Kafka(error)) if error.class() == ErrorClass::Transient => {
                let delay = backoff.failed(started);
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "The embedded registry's Kafka topic cannot be read yet; trying again.");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stopping.wait_for(|stop| *stop) => return Ok(None),
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(mut interrupt), Ok(mut terminate)) => {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
