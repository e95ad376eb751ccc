//! PostgreSQL source: logical replication with pgoutput.
//!
//! ```text
//!  connect SQL ─► prerequisites ─► tables, publication ─► replication connection
//!    ─► slot (create or reuse) ─► START_REPLICATION (proto 4 on 16+, 2 on 14-15, 1 before; streaming on)
//!    ─► stream::Session (until shutdown, or an error: transient ones reconnect with backoff)
//! ```
//!
//! Restart contract: the stream starts at the checkpoint's flush LSN (the server
//! starts at the slot's confirmed position if that is later); events at or
//! before the checkpoint's last position are dropped, so nothing is repeated.

pub mod catalog;
pub mod codec;
pub mod connection;
pub mod params;
pub mod prerequisites;
pub mod relations;
pub mod slot;
pub mod spill;
pub mod sql;
pub mod stream;
pub mod tls;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;
use wellhead_decoders::change::{PgPosition, Position};
use wellhead_decoders::pgoutput::PgOutputError;

use self::catalog::{CatalogError, TypeCatalog};
use self::codec::CodecError;
use self::connection::{ReplicationConnection, ReplicationConnectionError};
use self::params::{ConnectionParams, ParamsError};
use self::prerequisites::{Severity, check_prerequisites};
use self::relations::RelationMap;
use self::slot::{
    SlotError, check_slot_usable, create_slot, ensure_publication, find_slot, quote_identifier, resolve_tables,
};
use self::spill::{SpillError, SpillStore};
use self::stream::{Session, SessionEnd};
use crate::checkpoint::Checkpoint;
use crate::config::{PipelineConfig, PostgresSourceConfig};
use crate::pipeline::AckReceiver;
use crate::pipeline::batch::{BatchBuilder, BatchSender};
use crate::telemetry::{Metrics, PipelineLabel};

/// First reconnect delay; doubled up to [`MAX_BACKOFF`], with jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A session that lasted this long resets the backoff.
const HEALTHY_SESSION: Duration = Duration::from_secs(60);

/// Why the PostgreSQL source stopped.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error("cannot connect for SQL to {address}: {reason}")]
    SqlConnect { address: String, reason: String },
    #[error("{0}")]
    Replication(#[from] ReplicationConnectionError),
    #[error("{0}")]
    Slot(#[from] SlotError),
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    #[error("malformed replication data: {0}")]
    Decode(#[from] PgOutputError),
    #[error("{0}")]
    Codec(#[from] CodecError),
    #[error("{0}")]
    Spill(#[from] SpillError),
    #[error("replication protocol: {0}")]
    Protocol(String),
    #[error("prerequisites not met:\n{0}")]
    Prerequisites(String),
    #[error("the server ended the replication stream")]
    StreamEnded,
    #[error("the sink stopped")]
    SinkStopped,
}

impl SourceError {
    /// True when reconnecting later may succeed.
    fn is_transient(&self) -> bool {
        match self {
            SourceError::Replication(error) => error.is_transient(),
            SourceError::SqlConnect { .. } | SourceError::StreamEnded => true,
            SourceError::Slot(SlotError::Create { source, .. }) => source.is_transient(),
            _ => false,
        }
    }
}

/// A PostgreSQL source of one pipeline.
#[derive(Debug)]
pub struct PostgresSource {
    pipeline: String,
    config: PostgresSourceConfig,
    resume_from: Checkpoint,
    spill_dir: PathBuf,
    max_batch_events: usize,
    max_batch_bytes: usize,
    max_batch_wait: Duration,
    metrics: Metrics,
}

impl PostgresSource {
    /// A source resuming after `resume_from`.
    pub fn new(
        pipeline: &PipelineConfig,
        config: PostgresSourceConfig,
        resume_from: Checkpoint,
        metrics: Metrics,
    ) -> PostgresSource {
        PostgresSource {
            pipeline: pipeline.name.clone(),
            config,
            resume_from,
            spill_dir: pipeline.checkpoint.dir.join(format!("{}.spill", pipeline.name)),
            max_batch_events: pipeline.buffer.max_batch_events,
            max_batch_bytes: usize::try_from(pipeline.buffer.max_bytes / 4).unwrap_or(usize::MAX),
            max_batch_wait: Duration::from_millis(pipeline.buffer.max_batch_millis),
            metrics,
        }
    }

    /// Streams until shutdown; reconnects after transient errors.
    pub async fn run(
        self,
        sender: BatchSender,
        mut acks: AckReceiver,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), SourceError> {
        let params = ConnectionParams::from_config(&self.config)?;
        let mut handed_over = self.resume_from.last_position.as_ref().map(|Position::Postgres(position)| *position);
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = tokio::time::Instant::now();
            let outcome = self.run_session(&params, &sender, &mut acks, &mut shutdown, &mut handed_over).await;
            match outcome {
                Ok(SessionEnd::Shutdown) => return Ok(()),
                Err(error) if error.is_transient() && !*shutdown.borrow() => {
                    if started.elapsed() >= HEALTHY_SESSION {
                        backoff = FIRST_BACKOFF;
                    }
                    let jitter = Duration::from_millis(rand::random_range(0..=backoff.as_millis() as u64 / 4));
                    tracing::warn!(pipeline = %self.pipeline, %error, retry_in_ms = (backoff + jitter).as_millis() as u64, "Replication interrupted; reconnecting.");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff + jitter) => {}
                        _ = shutdown.changed() => return Ok(()),
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    self.metrics.reconnects.get_or_create(&PipelineLabel { pipeline: self.pipeline.clone() }).inc();
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn run_session(
        &self,
        params: &ConnectionParams,
        sender: &BatchSender,
        acks: &mut AckReceiver,
        shutdown: &mut watch::Receiver<bool>,
        handed_over: &mut Option<PgPosition>,
    ) -> Result<SessionEnd, SourceError> {
        let client = sql::connect_sql(params).await.map_err(|error| SourceError::SqlConnect {
            address: params.address(),
            reason: sql::describe_sql_error(&error),
        })?;
        let problems: Vec<String> = check_prerequisites(&client, &self.config, &params.database)
            .await
            .into_iter()
            .filter_map(|finding| match finding.severity {
                Severity::Error => Some(finding.to_string()),
                Severity::Warning => {
                    tracing::warn!(pipeline = %self.pipeline, problem = %finding.problem, fix = %finding.fix, "Prerequisite warning.");
                    None
                }
            })
            .collect();
        if !problems.is_empty() {
            return Err(SourceError::Prerequisites(problems.join("\n")));
        }
        let tables = resolve_tables(&client, &self.config.tables, &params.database).await?;
        ensure_publication(&client, &self.config.publication, &tables).await?;

        let mut connection = ReplicationConnection::connect(params).await?;
        let server_version_num: u32 = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map(|row| row.get::<_, i32>(0))
            .map_err(|error| SourceError::SqlConnect {
                address: params.address(),
                reason: sql::describe_sql_error(&error),
            })?
            .try_into()
            .unwrap_or(0);
        match find_slot(&client, &self.config.slot).await? {
            Some(existing) => check_slot_usable(&self.config.slot, &existing, &params.database)?,
            None => {
                create_slot(&mut connection, &self.config.slot, false, server_version_num).await?;
            }
        }
        let protocol_version = protocol_version_for(server_version_num);
        let acked = *acks.borrow();
        let mut options = vec![
            format!("proto_version '{protocol_version}'"),
            format!("publication_names '{}'", quote_identifier(&self.config.publication).replace('\'', "''")),
        ];
        if protocol_version >= 2 {
            options.push("streaming 'on'".into());
        }
        let command = format!(
            "START_REPLICATION SLOT {} LOGICAL {acked} ({})",
            quote_identifier(&self.config.slot),
            options.join(", ")
        );
        connection.start_copy_both(&command).await?;
        tracing::info!(pipeline = %self.pipeline, slot = %self.config.slot, start_lsn = %acked, protocol_version, "Streaming changes.");

        let mut catalog = TypeCatalog::default();
        let session = Session {
            connection,
            client: &client,
            catalog: &mut catalog,
            relations: RelationMap::default(),
            sender,
            acks,
            shutdown,
            spill: SpillStore::open(&self.spill_dir)?,
            protocol_version,
            handed_over,
            builder: BatchBuilder::new(self.max_batch_events, self.max_batch_bytes, self.max_batch_wait, acked),
        };
        session.run().await
    }
}

/// The highest pgoutput protocol version a server supports: 4 (parallel
/// streaming) on 16+, 3 on 15, 2 (streaming) on 14, 1 before.
/// Version 3 adds only two-phase messages, which Wellhead does not request, so 15 uses 2.
pub fn protocol_version_for(server_version_num: u32) -> u32 {
    match server_version_num {
        160_000.. => 4,
        140_000.. => 2,
        _ => 1,
    }
}
