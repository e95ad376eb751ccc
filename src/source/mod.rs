//! Sources: connections to databases that turn their logs into change events.
//!
//! ```text
//!  pipeline ─► source::build(config, checkpoint) ─► ChangeSource::stream(outlet, acks, shutdown)
//!                 (again after a transient failure, with the pipeline's backoff)
//! ```
//!
//! A source knows nothing of sinks: it pushes changes and restart points into
//! the pipeline's [`Outlet`] and reads acknowledgements (the generic
//! checkpoint's restart point), which it turns into its database's own
//! confirmation at its edge.

pub mod finding;
pub mod mysql;
pub mod postgres;

use std::future::Future;

use tokio::sync::watch;

use crate::batch::{AckReceiver, Outlet};
use crate::checkpoint::Checkpoint;
use crate::config::{PipelineConfig, SourceConfig};
use crate::telemetry::Metrics;

pub use self::mysql::MysqlError;
pub use self::postgres::PostgresError;
use crate::failure::{Classify, ErrorClass};

/// A source's failure.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Postgres(#[from] PostgresError),
    #[error(transparent)]
    Mysql(#[from] MysqlError),
}

impl Classify for SourceError {
    fn class(&self) -> ErrorClass {
        match self {
            SourceError::Postgres(error) => error.class(),
            SourceError::Mysql(error) => error.class(),
        }
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            SourceError::Postgres(error) => error.hint(),
            SourceError::Mysql(error) => error.hint(),
        }
    }
}

/// What every source does.
pub trait ChangeSource {
    /// Connects, checks that the database is the one the checkpoint was taken from, and
    /// streams every change after the latest acknowledged restart point into `outlet`,
    /// until `shutdown` (then it flushes, waits for the last acknowledgement, and returns
    /// `Ok`) or a failure.
    ///
    /// Contract: the pipeline calls it again after a transient failure (with the same
    /// outlet); the source then sends again what came after the latest acknowledgement,
    /// and the outlet drops what it already holds. Positions pushed must increase.
    fn stream(
        &mut self,
        outlet: &mut Outlet,
        acks: &mut AckReceiver,
        shutdown: &mut watch::Receiver<bool>,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;
}

/// The configured source of a pipeline.
#[derive(Debug)]
pub enum Source {
    Postgres(Box<postgres::PostgresSource>),
    Mysql(Box<mysql::MysqlSource>),
}

/// Builds the source `config` names, resuming after `resume_from`.
pub fn build(config: &PipelineConfig, resume_from: &Checkpoint, metrics: Metrics) -> Result<Source, SourceError> {
    match &config.source {
        SourceConfig::Postgres(source_config) => Ok(Source::Postgres(Box::new(postgres::PostgresSource::new(
            config,
            source_config.clone(),
            resume_from,
            metrics,
        )))),
        SourceConfig::Mysql(source_config) => {
            Ok(Source::Mysql(Box::new(mysql::MysqlSource::new(config, source_config.clone(), resume_from, metrics))))
        }
    }
}

impl ChangeSource for Source {
    async fn stream(
        &mut self,
        outlet: &mut Outlet,
        acks: &mut AckReceiver,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), SourceError> {
        match self {
            Source::Postgres(source) => Ok(source.stream(outlet, acks, shutdown).await?),
            Source::Mysql(source) => Ok(source.stream(outlet, acks, shutdown).await?),
        }
    }
}
