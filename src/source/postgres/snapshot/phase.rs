//! The snapshot phase of a source session: which tables to copy, where their
//! snapshot comes from, catching the stream up to it, and how an `initial_only`
//! pipeline ends.
//!
//! ```text
//!  checkpoint table states + snapshot.mode ─► tables to copy
//!    ─► snapshot exported by the slot just created | by a temporary slot (then catch up to it)
//!    ─► readers import it ─► copy_tables ─► Streaming (or Copied: initial_only, then the slot is dropped)
//! ```

use wellhead_decoders::change::{PgPosition, Position, RestartPoint, TableName};

use super::{CopyContext, CopyEnd, SnapshotReader, SnapshotTable, StreamingCopy, TableCopy, copy_tables};
use crate::batch::Outlet;
use crate::batch::wait_until_acknowledged;
use crate::checkpoint::{CheckpointUpdate, TableState};
use crate::clock;
use crate::config::SnapshotMode;
use crate::health::PipelineState;
use crate::source::postgres::catalog::TypeCatalog;
use crate::source::postgres::connection::ReplicationConnection;
use crate::source::postgres::params::ConnectionParams;
use crate::source::postgres::slot::{CreatedSlot, NewSlot, create_slot, drop_slot};
use crate::source::postgres::stream::SessionEnd;
use crate::source::postgres::{PipelineEnds, PostgresError, PostgresSource, StreamStart};

/// Rows a range of a split copy should have at least: smaller tables are copied whole.
const MIN_RANGE_ROWS: i64 = 200_000;

/// How many ranges to split `table`'s copy into for `workers` readers.
fn ranges_for(table: &SnapshotTable, workers: usize) -> usize {
    usize::try_from(table.estimated_rows / MIN_RANGE_ROWS).unwrap_or(1).clamp(1, workers.max(1))
}

/// The connection a snapshot is exported on: the one that just created the pipeline's slot
/// with its snapshot (`created`), or one to make a temporary slot on (`None`).
/// How the snapshot phase of a session ended.
#[derive(Debug)]
pub enum PhaseEnd {
    /// Every table is copied; stream as usual.
    Complete,
    /// Shutdown was requested during the copy.
    Stopped,
    /// The copy goes on inside the stream session that follows.
    Interleaved(Box<StreamingCopy>),
}

#[derive(Debug)]
pub struct Exporter {
    pub connection: ReplicationConnection,
    pub created: Option<CreatedSlot>,
}

impl PostgresSource {
    /// The tables whose rows are to be copied before their changes are streamed: those the
    /// checkpoint has queued or left half copied, and (unless snapshots are off) those it
    /// does not know yet. Every other table is recorded as streaming.
    pub(in crate::source::postgres) fn tables_to_copy(
        &mut self,
        tables: &[TableName],
        outlet: &mut Outlet,
    ) -> Vec<TableName> {
        let mut to_copy = Vec::new();
        for table in tables {
            let copy = match self.table_states.get(table) {
                Some(TableState::Streaming | TableState::Errored { .. }) => false,
                // Copied by initial_only: its changes since were not streamed.
                Some(TableState::Copied) => {
                    !matches!(self.snapshot.mode, SnapshotMode::Never | SnapshotMode::InitialOnly)
                }
                Some(TableState::Queued { .. } | TableState::Snapshotting { .. }) | None => {
                    self.snapshot.mode != SnapshotMode::Never
                }
            };
            if copy {
                to_copy.push(table.clone());
            } else if self.snapshot.mode == SnapshotMode::Never
                && !matches!(self.table_states.get(table), Some(TableState::Streaming | TableState::Errored { .. }))
            {
                if self.table_states.contains_key(table) {
                    tracing::warn!(pipeline = %self.pipeline, %table, "snapshot.mode is \"never\": the copy of this table's rows is abandoned; only its changes are streamed from here.");
                }
                outlet.update_checkpoint(CheckpointUpdate::Table(table.clone(), TableState::Streaming));
                self.table_states.insert(table.clone(), TableState::Streaming);
            }
        }
        to_copy
    }

    /// Copies `tables` in a snapshot consistent with the stream: the one exported by the slot
    /// just created, or else one exported by a temporary slot, after the stream has caught up
    /// to that snapshot's consistent point.
    pub(in crate::source::postgres) async fn snapshot(
        &mut self,
        params: &ConnectionParams,
        client: &tokio_postgres::Client,
        exporter: Exporter,
        tables: Vec<TableName>,
        stream: &StreamStart,
        ends: &mut PipelineEnds<'_>,
    ) -> Result<PhaseEnd, PostgresError> {
        self.metrics.health.set(&self.pipeline, PipelineState::Snapshotting);
        let catch_up = exporter.created.is_none();
        let (exporter, created) = match exporter.created {
            Some(created) => (exporter.connection, created),
            None => {
                drop(exporter.connection);
                let mut exporter = ReplicationConnection::connect(params).await?;
                let name = format!("wellhead_snapshot_{}", exporter.backend_pid().unwrap_or_default());
                tracing::info!(pipeline = %self.pipeline, "Exporting a snapshot with a temporary slot (it waits for transactions running on the server to end).");
                let created =
                    create_slot(&mut exporter, &name, NewSlot::TemporaryForSnapshot, self.server_version_num).await?;
                (exporter, created)
            }
        };
        let snapshot_name = created
            .snapshot_name
            .clone()
            .ok_or_else(|| PostgresError::Protocol("CREATE_REPLICATION_SLOT exported no snapshot".into()))?;
        let mut catalog = TypeCatalog::default();
        let mut copies = Vec::with_capacity(tables.len());
        for table in tables {
            let known = match self.table_states.get(&table) {
                Some(TableState::Snapshotting { rows_done, ranges }) => Some((*rows_done, ranges.clone())),
                _ => None,
            };
            let reset = matches!(self.table_states.get(&table), Some(TableState::Queued { reset: true }));
            let table = SnapshotTable::describe(client, &mut catalog, &table).await?;
            let (rows_done, ranges) = match known {
                Some(known) => known,
                None => (0, table.plan_ranges(client, ranges_for(&table, self.snapshot.workers)).await?),
            };
            copies.push(TableCopy { table, rows_done, ranges, reset });
        }
        let mut readers = Vec::new();
        let work_items: usize = copies.iter().map(|copy| copy.ranges.iter().filter(|range| !range.done).count()).sum();
        for _ in 0..self.snapshot.workers.min(work_items).max(1) {
            readers.push(SnapshotReader::import(params, &snapshot_name).await?);
        }
        // The readers hold the snapshot now; a temporary slot goes with its connection.
        drop(exporter);
        let consistent_point = created.consistent_point;
        tracing::info!(pipeline = %self.pipeline, %consistent_point, tables = copies.len(), readers = readers.len(), "Snapshot taken.");
        let complete_state =
            if self.snapshot.mode == SnapshotMode::InitialOnly { TableState::Copied } else { TableState::Streaming };
        let context = CopyContext {
            pipeline: self.pipeline.clone(),
            taken_at: Position::Postgres(PgPosition {
                commit_lsn: consistent_point,
                change_ordinal: 0,
                lsn: consistent_point,
            }),
            taken_at_micros: clock::unix_micros_now(),
            completes_at: RestartPoint::Postgres { flush_lsn: consistent_point },
            complete_state: complete_state.clone(),
            memory_bytes: self.snapshot_memory,
            metrics: self.metrics.clone(),
        };
        // With the pipeline's slot already there, the other tables keep streaming while these
        // are copied, when each has a key to tell which rows the stream changed meanwhile.
        let interleave = catch_up
            && self.snapshot.mode != SnapshotMode::InitialOnly
            && copies.iter().all(|copy| !copy.reset)
            && StreamingCopy::suits(&copies);
        if interleave {
            tracing::info!(pipeline = %self.pipeline, "Copying while the stream goes on: the rows are merged into it once it passes the consistent point.");
            return Ok(PhaseEnd::Interleaved(Box::new(StreamingCopy::start(
                context,
                consistent_point,
                copies,
                readers,
            ))));
        }
        if catch_up {
            let connection = ReplicationConnection::connect(params).await?;
            self.previous_walsender = connection.backend_pid();
            tracing::info!(pipeline = %self.pipeline, up_to = %consistent_point, "Streaming up to the snapshot's consistent point before copying.");
            let ended = self.stream_changes(client, connection, stream, Some(consistent_point), None, ends).await?;
            if ended == SessionEnd::Shutdown {
                return Ok(PhaseEnd::Stopped);
            }
            self.metrics.health.set(&self.pipeline, PipelineState::Snapshotting);
        }
        let table_names: Vec<TableName> = copies.iter().map(|copy| copy.table.schema.table.clone()).collect();
        let ended = copy_tables(context, copies, readers, ends.outlet, ends.shutdown).await?;
        if ended == CopyEnd::Stopped {
            return Ok(PhaseEnd::Stopped);
        }
        for table in table_names {
            self.table_states.insert(table, complete_state.clone());
        }
        Ok(PhaseEnd::Complete)
    }

    /// Ends an `initial_only` pipeline whose tables are all copied: once the sink holds every
    /// row (the copy's last batch is acknowledged), its slot is dropped, so that it pins no WAL.
    pub(in crate::source::postgres) async fn finish_initial_only(
        &mut self,
        client: &tokio_postgres::Client,
        ends: &mut PipelineEnds<'_>,
    ) -> Result<(), PostgresError> {
        ends.outlet.stop_after_next_flush();
        ends.outlet.flush().await.map_err(|_| PostgresError::SinkStopped)?;
        let queued = ends.outlet.queued_restart_point().cloned();
        wait_until_acknowledged(ends.acks, queued.as_ref()).await.map_err(|_| PostgresError::SinkStopped)?;
        if drop_slot(client, &self.config.slot).await? {
            tracing::info!(pipeline = %self.pipeline, slot = %self.config.slot, "snapshot.mode = \"initial_only\": every table is copied and durable; dropped the slot. The pipeline stops.");
        } else {
            tracing::info!(pipeline = %self.pipeline, "snapshot.mode = \"initial_only\": every table is copied and durable; the pipeline stops.");
        }
        self.metrics
            .health
            .set(&self.pipeline, PipelineState::Stopped { reason: "initial_only snapshot complete".into() });
        Ok(())
    }
}
