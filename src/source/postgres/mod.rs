//! PostgreSQL source: logical replication with pgoutput.
//!
//! ```text
//!  connect SQL ─► prerequisites ─► tables, publication ─► replication connection
//!    ─► IDENTIFY_SYSTEM + slot ─► identity checks (same cluster, timeline, slot can continue)
//!    ─► slot created at the first start only ─► START_REPLICATION (proto 4 on 16+, 2 on 14-15, 1 before)
//!    ─► stream::Session (until shutdown or an error; the pipeline reconnects after transient ones)
//! ```
//!
//! Restart contract: the stream starts at the acknowledged restart point's
//! flush LSN (the server starts at the slot's confirmed position if that is
//! later); the pipeline's outlet drops what it already holds. A start that
//! finds another cluster or timeline, a checkpoint beyond the server's WAL, a
//! missing slot or a slot confirmed beyond the checkpoint refuses with the
//! changes it cannot recover and the fix, and leaves the slot as it is.

pub mod catalog;
pub mod codec;
pub mod connection;
pub mod identity;
pub mod params;
pub mod prerequisites;
pub mod relations;
pub mod slot;
pub mod snapshot;
pub mod spill;
pub mod sql;
pub mod stream;
pub mod tls;

use std::collections::BTreeMap;
use std::path::PathBuf;

use tokio::sync::watch;
use wellhead_decoders::change::{Lsn, PositionMismatch, RestartPoint, SourceOrigin, TableName};
use wellhead_decoders::pgoutput::PgOutputError;

use self::catalog::{CatalogError, TypeCatalog};
use self::codec::CodecError;
use self::connection::{ReplicationConnection, ReplicationConnectionError};
use self::identity::{CheckpointFacts, IdentityError, ServerIdentity, SlotDecision, check_server, check_slot};
use self::params::{ConnectionParams, ParamsError};
use self::prerequisites::{Severity, check_prerequisites};
use self::relations::RelationMap;
use self::slot::{
    CreatedSlot, NewSlot, SlotError, check_slot_usable, create_slot, end_stale_walsender, ensure_publication,
    find_slot, quote_identifier, resolve_tables,
};
use self::snapshot::{Exporter, PhaseEnd, SnapshotError, StreamingCopy};
use self::spill::{SpillError, SpillStore};
use self::stream::{Session, SessionEnd, acknowledged_flush_lsn};
use crate::batch::{AckReceiver, Outlet};
use crate::checkpoint::{Checkpoint, CheckpointUpdate, TableState};
use crate::config::{PipelineConfig, PostgresSourceConfig, SnapshotConfig, SnapshotMode};
use crate::failure::{Classify, ErrorClass};
use crate::health::PipelineState;
use crate::telemetry::{Metrics, PipelineLabel};

/// Why the PostgreSQL source stopped.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error("cannot connect for SQL to {address}: {reason}")]
    SqlConnect { address: String, reason: String, class: ErrorClass },
    #[error("{0}")]
    Replication(#[from] ReplicationConnectionError),
    #[error("{0}")]
    Slot(#[from] SlotError),
    #[error("{0}")]
    Identity(#[from] IdentityError),
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    #[error("malformed replication data: {0}")]
    Decode(#[from] PgOutputError),
    #[error("{0}")]
    Codec(#[from] CodecError),
    #[error("{0}")]
    Spill(#[from] SpillError),
    #[error("snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("replication protocol: {0}")]
    Protocol(String),
    #[error("{0}")]
    Position(#[from] PositionMismatch),
    #[error("prerequisites not met:\n{0}")]
    Prerequisites(String),
    #[error("the server ended the replication stream")]
    StreamEnded,
    #[error(
        "nothing arrived from the server for {seconds} s (source.receive_timeout_seconds), not even a reply to a status update: the connection counts as lost"
    )]
    ReceiveTimeout { seconds: u64 },
    #[error("the sink stopped")]
    SinkStopped,
}

impl Classify for PostgresError {
    /// Transient: reconnecting later may succeed.
    fn class(&self) -> ErrorClass {
        match self {
            PostgresError::Replication(error) => error.class(),
            PostgresError::Slot(SlotError::Create { source, .. }) => source.class(),
            PostgresError::Slot(SlotError::Sql { class, .. })
            | PostgresError::Catalog(CatalogError::Query { class, .. })
            | PostgresError::SqlConnect { class, .. } => *class,
            PostgresError::StreamEnded | PostgresError::ReceiveTimeout { .. } => ErrorClass::Transient,
            PostgresError::Snapshot(error) => error.class(),
            PostgresError::Params(_)
            | PostgresError::Slot(_)
            | PostgresError::Identity(_)
            | PostgresError::Catalog(_)
            | PostgresError::Decode(_)
            | PostgresError::Codec(_)
            | PostgresError::Spill(_)
            | PostgresError::Protocol(_)
            | PostgresError::Position(_)
            | PostgresError::Prerequisites(_)
            | PostgresError::SinkStopped => ErrorClass::Definite,
        }
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            PostgresError::Decode(_)
            | PostgresError::Codec(_)
            | PostgresError::Protocol(_)
            | PostgresError::Position(_) => {
                Some("Wellhead could not read what the server sent; please report it with this log")
            }
            PostgresError::Replication(ReplicationConnectionError::Authentication { .. }) => {
                Some("check the user and password in source.url")
            }
            _ => None,
        }
    }
}

/// A PostgreSQL source of one pipeline.
#[derive(Debug)]
pub struct PostgresSource {
    pipeline: String,
    config: PostgresSourceConfig,
    spill_dir: PathBuf,
    metrics: Metrics,
    /// `--accept-gap` for this pipeline: a missing slot or one confirmed beyond the
    /// checkpoint is accepted once, at the first connection of this process.
    accept_gap: bool,
    /// The origin the checkpoint recorded, or this process did.
    origin: Option<SourceOrigin>,
    /// True once the pipeline has streamed (its slot must exist from then on).
    started_before: bool,
    /// Each table's lifecycle state as the checkpoint recorded it, or this process since.
    table_states: BTreeMap<TableName, TableState>,
    snapshot: SnapshotConfig,
    /// Bytes snapshot readers may hold before the pipeline's queue takes their rows.
    snapshot_memory: usize,
    /// The server process of this source's last replication connection.
    previous_walsender: Option<i32>,
    /// `server_version_num` of the server, as of the latest connection.
    server_version_num: u32,
}

impl PostgresSource {
    /// A source resuming after `resume_from`.
    pub fn new(
        pipeline: &PipelineConfig,
        config: PostgresSourceConfig,
        resume_from: &Checkpoint,
        metrics: Metrics,
    ) -> PostgresSource {
        PostgresSource {
            pipeline: pipeline.name.clone(),
            config,
            spill_dir: pipeline.checkpoint.dir.join(format!("{}.spill", pipeline.name)),
            metrics,
            accept_gap: pipeline.accept_gap,
            origin: resume_from.origin.clone(),
            started_before: resume_from.origin.is_some()
                || resume_from.restart_point.is_some()
                || resume_from.last_written.is_some(),
            table_states: resume_from
                .tables
                .iter()
                .map(|progress| (progress.table.clone(), progress.state.clone()))
                .collect(),
            snapshot: pipeline.snapshot.clone(),
            snapshot_memory: usize::try_from(pipeline.buffer.max_bytes / 4).unwrap_or(usize::MAX),
            previous_walsender: None,
            server_version_num: 0,
        }
    }

    /// Checks the server and slot against the checkpoint (and creates the slot at the first
    /// start); records the origin. Returns the server's identity and where the server will
    /// start sending: the acknowledged LSN, or the slot's own start when that is later (a
    /// slot just created, or one confirmed beyond the checkpoint over an accepted gap). A slot
    /// created exporting a snapshot comes back too: its snapshot is importable until
    /// `connection` runs its next command. With `snapshot.mode = "when_needed"` a lost slot, or
    /// one confirmed beyond the checkpoint, is a gap that a new snapshot of every table fills.
    async fn prepare_slot(
        &mut self,
        params: &ConnectionParams,
        client: &tokio_postgres::Client,
        connection: &mut ReplicationConnection,
        outlet: &mut Outlet,
        acknowledged: Lsn,
        slot_kind: NewSlot,
    ) -> Result<PreparedSlot, PostgresError> {
        let server = identify_system(connection).await?;
        let restart_lsn = match outlet.queued_restart_point() {
            Some(RestartPoint::Postgres { flush_lsn }) => Some((*flush_lsn).max(acknowledged)),
            _ => (acknowledged != Lsn::ZERO).then_some(acknowledged),
        };
        let facts = CheckpointFacts { origin: self.origin.clone(), restart_lsn, started_before: self.started_before };
        check_server(&self.pipeline, &params.address(), &facts, &server)?;
        let existing = find_slot(client, &self.config.slot).await?;
        if let Some(existing) = &existing {
            check_slot_usable(&self.config.slot, existing, &params.database)?;
        }
        let confirmed = existing.as_ref().map(|slot| slot.confirmed_flush_lsn);
        let snapshot_fills_gaps = self.snapshot.mode == SnapshotMode::WhenNeeded;
        let (decision, gap) = check_slot(
            &self.pipeline,
            &self.config.slot,
            &facts,
            &server,
            confirmed,
            self.accept_gap || snapshot_fills_gaps,
        )?;
        let resnapshot = gap.is_some() && snapshot_fills_gaps;
        if let Some(gap) = gap {
            if resnapshot {
                tracing::warn!(pipeline = %self.pipeline, slot = %self.config.slot, after = %gap.after, up_to = %gap.up_to, "The slot cannot send every change after the checkpoint (it is gone, or confirmed beyond it): snapshot.mode = \"when_needed\" copies every table again in a new snapshot. The changes in this range are not streamed one by one; the new snapshot holds their result.");
            } else {
                tracing::warn!(pipeline = %self.pipeline, slot = %self.config.slot, after = %gap.after, up_to = %gap.up_to, "Continuing over a gap accepted with --accept-gap: changes in this range are missing from the output.");
            }
        }
        self.accept_gap = false;
        let mut consistent_point = match &self.origin {
            Some(SourceOrigin::Postgres { slot, slot_consistent_point, .. }) if *slot == self.config.slot => {
                *slot_consistent_point
            }
            _ => None,
        };
        let mut slot_start = confirmed.flatten();
        let mut exported = None;
        if decision == SlotDecision::Create {
            let kind = if resnapshot { NewSlot::ExportingSnapshot } else { slot_kind };
            let created = create_slot(connection, &self.config.slot, kind, self.server_version_num).await?;
            consistent_point = Some(created.consistent_point);
            slot_start = Some(created.consistent_point);
            exported = (kind == NewSlot::ExportingSnapshot).then_some(created);
        }
        let origin = SourceOrigin::Postgres {
            system_identifier: server.system_identifier.clone(),
            timeline: server.timeline,
            database: params.database.clone(),
            slot: self.config.slot.clone(),
            slot_consistent_point: consistent_point,
        };
        if self.origin.as_ref() != Some(&origin) {
            outlet.update_checkpoint(CheckpointUpdate::Origin(origin.clone()));
            self.origin = Some(origin);
        }
        self.started_before = true;
        let start_lsn = acknowledged.max(slot_start.unwrap_or(Lsn::ZERO));
        Ok(PreparedSlot { server, start_lsn, exported, resnapshot })
    }

    async fn run_session(
        &mut self,
        params: &ConnectionParams,
        outlet: &mut Outlet,
        acks: &mut AckReceiver,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<SessionEnd, PostgresError> {
        let client = sql::connect_sql(params).await.map_err(|error| PostgresError::SqlConnect {
            address: params.address(),
            reason: sql::describe_sql_error(&error),
            class: sql::sql_error_class(&error),
        })?;
        if let Some(pid) = self.previous_walsender.take()
            && end_stale_walsender(&client, &self.config.slot, pid).await?
        {
            tracing::info!(pipeline = %self.pipeline, slot = %self.config.slot, pid, "Ended this pipeline's previous walsender, which still held the slot after its connection was lost.");
        }
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
            return Err(PostgresError::Prerequisites(problems.join("\n")));
        }
        let tables = resolve_tables(&client, &self.config.tables, &params.database).await?;
        ensure_publication(&client, &self.config.publication, &tables).await?;

        let mut connection = ReplicationConnection::connect(params).await?;
        self.previous_walsender = connection.backend_pid();
        self.server_version_num = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map(|row| row.get::<_, i32>(0))
            .map_err(|error| PostgresError::SqlConnect {
                address: params.address(),
                reason: sql::describe_sql_error(&error),
                class: sql::sql_error_class(&error),
            })?
            .try_into()
            .unwrap_or(0);
        let acknowledged = acknowledged_flush_lsn(&acks.borrow());
        let mut to_copy = self.tables_to_copy(&tables, outlet);
        if to_copy.is_empty() && self.snapshot.mode == SnapshotMode::InitialOnly {
            self.finish_initial_only(&client, &mut PipelineEnds { outlet, acks, shutdown }).await?;
            return Ok(SessionEnd::Shutdown);
        }
        let slot_kind = if to_copy.is_empty() { NewSlot::Plain } else { NewSlot::ExportingSnapshot };
        let PreparedSlot { server, start_lsn, exported, resnapshot } =
            self.prepare_slot(params, &client, &mut connection, outlet, acknowledged, slot_kind).await?;
        if resnapshot {
            for table in &tables {
                let queued = TableState::Queued { reset: true };
                outlet.update_checkpoint(CheckpointUpdate::Table(table.clone(), queued.clone()));
                self.table_states.insert(table.clone(), queued);
            }
            to_copy = tables.clone();
        }
        let protocol_version = protocol_version_for(self.server_version_num);
        let stream = StreamStart { server, protocol_version, start_lsn, receive_timeout: params.receive_timeout };
        let mut ends = PipelineEnds { outlet, acks, shutdown };
        let mut interleaved = None;
        if !to_copy.is_empty() {
            let exporter = Exporter { connection, created: exported };
            match self.snapshot(params, &client, exporter, to_copy, &stream, &mut ends).await? {
                PhaseEnd::Stopped => return Ok(SessionEnd::Shutdown),
                PhaseEnd::Complete if self.snapshot.mode == SnapshotMode::InitialOnly => {
                    self.finish_initial_only(&client, &mut ends).await?;
                    return Ok(SessionEnd::Shutdown);
                }
                PhaseEnd::Complete => {}
                PhaseEnd::Interleaved(copy) => interleaved = Some(copy),
            }
            connection = ReplicationConnection::connect(params).await?;
            self.previous_walsender = connection.backend_pid();
        }
        let ended =
            self.stream_changes(&client, connection, &stream, None, interleaved.as_deref_mut(), &mut ends).await;
        // A reconnection resumes the copy from what was handed over (the pipeline restarts
        // from the checkpoint when the sink fails).
        if let Some(copy) = &interleaved {
            for (table, state) in copy.table_states() {
                self.table_states.insert(table, state);
            }
        }
        ended
    }

    /// Streams changes from the slot on `connection` until shutdown or `stop_at` (see
    /// [`Session::stop_at`]).
    async fn stream_changes(
        &mut self,
        client: &tokio_postgres::Client,
        mut connection: ReplicationConnection,
        stream: &StreamStart,
        stop_at: Option<Lsn>,
        copy: Option<&mut StreamingCopy>,
        ends: &mut PipelineEnds<'_>,
    ) -> Result<SessionEnd, PostgresError> {
        let protocol_version = stream.protocol_version;
        let acknowledged = acknowledged_flush_lsn(&ends.acks.borrow());
        let mut options = vec![
            format!("proto_version '{protocol_version}'"),
            format!("publication_names '{}'", quote_identifier(&self.config.publication).replace('\'', "''")),
        ];
        if protocol_version >= 2 {
            options.push("streaming 'on'".into());
        }
        let command = format!(
            "START_REPLICATION SLOT {} LOGICAL {acknowledged} ({})",
            quote_identifier(&self.config.slot),
            options.join(", ")
        );
        connection.start_copy_both(&command).await?;
        // The server starts at the later of the LSN asked for and the slot's confirmed one.
        let start_lsn = stream.start_lsn.max(acknowledged);
        if stop_at.is_none() {
            tracing::info!(pipeline = %self.pipeline, slot = %self.config.slot, start_lsn = %start_lsn, protocol_version, "Streaming changes.");
            let state = if copy.is_some() { PipelineState::Snapshotting } else { PipelineState::Streaming };
            self.metrics.health.set(&self.pipeline, state);
        }
        let mut catalog = TypeCatalog::default();
        let session = Session {
            connection,
            client,
            catalog: &mut catalog,
            relations: RelationMap::default(),
            outlet: ends.outlet,
            acks: ends.acks,
            shutdown: ends.shutdown,
            spill: SpillStore::open(&self.spill_dir)?,
            protocol_version,
            server_lsn: stream.server.wal_end,
            metrics: self.metrics.clone(),
            pipeline_label: PipelineLabel { pipeline: self.pipeline.clone() },
            receive_timeout: stream.receive_timeout,
            stop_at,
            snapshot_requests: self.metrics.snapshot_requests.subscribe(),
            copy,
        };
        session.run().await
    }
}

impl PostgresSource {
    /// Takes a reloaded config's `source.tables`: the next session resolves them, adds the
    /// new tables to the publication and copies them while the others stream.
    fn take_reloaded_tables(&mut self) {
        if let Some(patterns) = self.metrics.snapshot_requests.take_capture(&self.pipeline)
            && patterns != self.config.tables
        {
            tracing::info!(pipeline = %self.pipeline, tables = ?patterns, previously = ?self.config.tables, "Capturing the tables of the reloaded configuration.");
            self.config.tables = patterns;
        }
    }

    /// Takes the operator's requests for this pipeline: each table it captures is queued for
    /// a new copy (recorded in the checkpoint with the next batch), which the next session
    /// takes like a table added to the config.
    fn queue_requested_tables(&mut self, outlet: &mut Outlet) {
        for table in self.metrics.snapshot_requests.take(&self.pipeline) {
            if self.snapshot.mode == SnapshotMode::Never {
                tracing::error!(pipeline = %self.pipeline, %table, "Snapshot request ignored: snapshot.mode is \"never\".");
                continue;
            }
            if !self.table_states.contains_key(&table) {
                tracing::error!(pipeline = %self.pipeline, %table, "Snapshot request ignored: the pipeline does not capture this table (see source.tables).");
                continue;
            }
            tracing::info!(pipeline = %self.pipeline, %table, "Copying the table again, as requested.");
            let queued = TableState::Queued { reset: false };
            outlet.update_checkpoint(CheckpointUpdate::Table(table.clone(), queued.clone()));
            self.table_states.insert(table, queued);
        }
    }
}

/// What `prepare_slot` found and did.
struct PreparedSlot {
    server: ServerIdentity,
    /// Where the server starts sending.
    start_lsn: Lsn,
    /// The slot, when just created with an exported snapshot.
    exported: Option<CreatedSlot>,
    /// `when_needed`: the slot cannot continue the checkpoint; every table is copied again.
    resnapshot: bool,
}

/// The pipeline's ends a source works with.
struct PipelineEnds<'a> {
    outlet: &'a mut Outlet,
    acks: &'a mut AckReceiver,
    shutdown: &'a mut watch::Receiver<bool>,
}

/// What every session of one connection attempt starts from.
#[derive(Debug)]
struct StreamStart {
    server: ServerIdentity,
    protocol_version: u32,
    /// Where the server starts sending (see `prepare_slot`).
    start_lsn: Lsn,
    receive_timeout: Option<std::time::Duration>,
}

impl PostgresSource {
    /// Streams until shutdown or a failure: [`crate::source::ChangeSource::stream`]'s contract.
    pub async fn stream(
        &mut self,
        outlet: &mut Outlet,
        acks: &mut AckReceiver,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), PostgresError> {
        let params = ConnectionParams::from_config(&self.config)?;
        loop {
            // Requests made while the source was connecting or copying are taken here.
            self.take_reloaded_tables();
            self.queue_requested_tables(outlet);
            match self.run_session(&params, outlet, acks, shutdown).await? {
                SessionEnd::SnapshotRequested => {}
                SessionEnd::Shutdown | SessionEnd::ReachedStopPoint => return Ok(()),
            }
        }
    }
}

/// `IDENTIFY_SYSTEM` on the replication connection.
async fn identify_system(connection: &mut ReplicationConnection) -> Result<ServerIdentity, PostgresError> {
    let rows = connection.simple_query("IDENTIFY_SYSTEM").await?;
    let unexpected = || PostgresError::Protocol(format!("unexpected answer to IDENTIFY_SYSTEM: {rows:?}"));
    let row = rows.first().ok_or_else(unexpected)?;
    let field = |index: usize| row.get(index).cloned().flatten();
    let system_identifier = field(0).ok_or_else(unexpected)?;
    let timeline = field(1).and_then(|text| text.parse::<u32>().ok()).ok_or_else(unexpected)?;
    let wal_end = field(2).and_then(|text| text.parse::<Lsn>().ok()).ok_or_else(unexpected)?;
    Ok(ServerIdentity { system_identifier, timeline, wal_end })
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
