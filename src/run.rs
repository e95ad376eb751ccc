//! `wellhead run`: every pipeline concurrently, until a signal or a failure.
//! SIGINT/SIGTERM ask each pipeline to stop reading, flush, checkpoint and exit.

use tokio::sync::watch;

use crate::config::Config;
use crate::pipeline::{PipelineError, run_pipeline};

/// Runs all pipelines; returns the first failure after stopping the others.
pub async fn run_pipelines(config: Config) -> Result<(), PipelineError> {
    if config.control.http.is_some() || config.control.sql.is_some() {
        tracing::warn!("The [control] listeners are not served by this version; the settings are ignored.");
    }
    let (stop, stopping) = watch::channel(false);
    let mut pipelines = tokio::task::JoinSet::new();
    for pipeline in config.pipelines {
        pipelines.spawn(run_pipeline(pipeline, stopping.clone()));
    }
    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("Stopping: flushing and checkpointing.");
        let _ = stop.send(true);
        stop
    });
    let mut first_error = None;
    while let Some(joined) = pipelines.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(%error, "Pipeline failed.");
                first_error.get_or_insert(error);
            }
            Err(join_error) => tracing::error!(%join_error, "Pipeline task panicked."),
        }
    }
    signals.abort();
    first_error.map_or(Ok(()), Err)
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
