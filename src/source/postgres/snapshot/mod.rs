//! Snapshots: the rows a table already holds, copied in a snapshot consistent
//! with a known point of the replication stream, and handed to the pipeline as
//! op `r` between the log changes before that point and those after it.
//!
//! ```text
//!  slot created with an exported snapshot (first start) ─┐
//!  or a temporary slot exporting one (resume, new table) ─┴─► (consistent point X, snapshot S)
//!     ─► readers import S ─► [stream up to X: the changes the checkpoint lacks before X]
//!     ─► copy_tables: readers COPY tables in key order ─► pieces ─► Outlet (op r, Position::Snapshot)
//!            (a big table in ranges of its first key column, one reader each)
//!            with each batch: TableState::Snapshotting { rows_done, ranges } (durable with its rows)
//!     ─► every table Streaming ─► stream from X
//! ```
//!
//! Why it is exact across crashes: rows copied at X are followed by every change
//! after X (the slot has not moved past X while the copy ran); after a crash the
//! remaining rows are copied at a new point X' after the stream has caught up
//! to X', each table from the key after its last durable row. A row changed
//! between X and X' gets its change from the stream and its later state from the
//! copy (`r` after the change), never a state older than one already written.

mod interleave;
mod phase;
mod reader;
mod table;

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use wellhead_decoders::change::{
    ChangeEvent, Operation, Position, RestartPoint, Row, SnapshotFlag, SnapshotPosition, TableName, TableSchema,
};

pub use self::interleave::{ReadyPiece, StreamingCopy};
pub use self::phase::{Exporter, PhaseEnd};
pub use self::reader::RowsPiece;
pub use self::reader::SnapshotReader;
use self::reader::{CopyWork, PieceMemory};
pub use self::table::{CopyOrder, SnapshotTable};
use super::catalog::CatalogError;
use super::codec::CodecError;
use crate::batch::Outlet;
use crate::batch::sleep_until;
use crate::checkpoint::{CheckpointUpdate, CopyRange, TableState};
use crate::failure::ErrorClass;
use crate::telemetry::{Metrics, TableLabels};

/// How often progress is logged while tables are copied.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

/// A snapshot could not be taken or copied.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{action}: {reason}")]
    Sql { action: String, reason: String, class: ErrorClass },
    #[error("table {table} no longer exists; remove it from source.tables or create it again")]
    TableGone { table: TableName },
    #[error("copying {table}: malformed COPY data: {reason}")]
    Copy { table: TableName, reason: String },
    #[error(
        "the checkpoint's snapshot progress of {table} ({key:?}) is not a key this version wrote; remove the table's entry from the checkpoint to copy it again from its start"
    )]
    ResumeKey { table: TableName, key: String },
    #[error("{0}")]
    Codec(#[from] CodecError),
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    #[error("a snapshot reader stopped unexpectedly")]
    Stopped,
}

impl SnapshotError {
    fn sql(action: impl Into<String>, error: &tokio_postgres::Error) -> SnapshotError {
        SnapshotError::Sql {
            action: action.into(),
            reason: super::sql::describe_sql_error(error),
            class: super::sql::sql_error_class(error),
        }
    }

    /// Transient: a new attempt may succeed (it resumes where the checkpoint says).
    pub fn class(&self) -> ErrorClass {
        match self {
            SnapshotError::Sql { class, .. } => *class,
            SnapshotError::Catalog(CatalogError::Query { class, .. }) => *class,
            SnapshotError::Stopped => ErrorClass::Transient,
            _ => ErrorClass::Definite,
        }
    }
}

/// One table to copy, and how far earlier runs got.
#[derive(Debug)]
pub struct TableCopy {
    pub table: SnapshotTable,
    pub rows_done: u64,
    /// The table's ranges and their progress (see [`SnapshotTable::plan_ranges`]).
    pub ranges: Vec<CopyRange>,
    /// The copy supersedes the table's earlier rows: a truncate (op `t`) goes first.
    pub reset: bool,
}

/// How a copy ended without error.
#[derive(Debug, PartialEq, Eq)]
pub enum CopyEnd {
    /// Every table is copied and durable or queued; each is now streaming.
    Complete,
    /// Shutdown was requested; the progress so far is in the last batch.
    Stopped,
}

/// What a copy needs besides its tables and readers.
#[derive(Debug, Clone)]
pub struct CopyContext {
    pub pipeline: String,
    /// Where the snapshot was taken, as the log position the envelope shows.
    pub taken_at: Position,
    /// When it was taken (the rows' `ts_ms`), microseconds since the Unix epoch.
    pub taken_at_micros: i64,
    /// Where the source may restart once every row is durable: the consistent point (the
    /// stream has delivered everything before it).
    pub completes_at: RestartPoint,
    /// A table's state once all its rows are durable (`Streaming`, or `Copied` when its
    /// changes are not to be streamed).
    pub complete_state: TableState,
    /// Bytes the readers may hold in pieces not yet handed to the pipeline.
    pub memory_bytes: usize,
    pub metrics: Metrics,
}

impl CopyContext {
    /// A snapshot event of this copy (`r` with its row, or the `t` a reset copy starts with),
    /// numbered after the last change the pipeline accepted.
    fn event(
        &self,
        schema: &Arc<TableSchema>,
        operation: Operation,
        after: Option<Row>,
        ordinals: &mut SnapshotOrdinals,
    ) -> ChangeEvent {
        ChangeEvent {
            schema: schema.clone(),
            operation,
            before: None,
            after,
            position: ordinals.next(&self.taken_at),
            commit_time_micros: self.taken_at_micros,
            transaction: None,
            snapshot: SnapshotFlag::True,
        }
    }
}

/// Copies `tables` with `readers` (each takes the next range when it finishes one) into
/// `outlet`, recording each table's progress with the batch that makes it durable.
pub async fn copy_tables(
    context: CopyContext,
    tables: Vec<TableCopy>,
    readers: Vec<SnapshotReader>,
    outlet: &mut Outlet,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<CopyEnd, super::PostgresError> {
    let tables: Arc<Vec<TableCopy>> = Arc::new(tables);
    let (mut receiver, mut workers) = spawn_readers(&tables, readers, context.memory_bytes);

    let mut progress = Progress::new(&context, &tables, context.complete_state.clone());
    let mut ordinal_after = SnapshotOrdinals::after(outlet.accepted());
    let mut held = HeldPiece::default();
    // In the batch that records the copy as started, so that it is written exactly once.
    for (index, copy) in tables.iter().enumerate().filter(|(_, copy)| copy.reset) {
        outlet.push(context.event(&copy.table.schema, Operation::Truncate, None, &mut ordinal_after))?;
        progress.changed.insert(index);
    }
    loop {
        let deadline = outlet.deadline();
        let cut_when_idle = outlet.cut_when_idle();
        tokio::select! {
            biased;
            changed = shutdown.changed() => {
                if changed.is_ok() && !*shutdown.borrow() {
                    continue;
                }
                workers.abort_all();
                progress.record(outlet);
                outlet.stop_after_next_flush();
                outlet.flush().await.map_err(|_| super::PostgresError::SinkStopped)?;
                return Ok(CopyEnd::Stopped);
            }
            Some(joined) = workers.join_next(), if !workers.is_empty() => match joined {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(error.into()),
                Err(_) => return Err(SnapshotError::Stopped.into()),
            },
            piece = receiver.recv() => {
                let Some(piece) = piece else { break };
                let Some(ready) = held.arrive(piece, &mut progress) else { continue };
                hand_over(&context, &tables, ready, SnapshotFlag::True, outlet, &mut progress, &mut ordinal_after)?;
                if outlet.is_full() {
                    progress.record(outlet);
                    outlet.flush().await.map_err(|_| super::PostgresError::SinkStopped)?;
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                progress.record(outlet);
                outlet.flush().await.map_err(|_| super::PostgresError::SinkStopped)?;
            }
            () = std::future::ready(()), if cut_when_idle && receiver.is_empty() => {
                progress.record(outlet);
                outlet.flush().await.map_err(|_| super::PostgresError::SinkStopped)?;
            }
        }
        progress.log_if_due();
    }
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error.into()),
            Err(_) => return Err(SnapshotError::Stopped.into()),
        }
    }
    if let Some(last) = held.piece.take() {
        hand_over(&context, &tables, last, SnapshotFlag::Last, outlet, &mut progress, &mut ordinal_after)?;
    }
    progress.record(outlet);
    outlet.restart_point(context.completes_at.clone())?;
    outlet.flush().await.map_err(|_| super::PostgresError::SinkStopped)?;
    progress.log_complete();
    Ok(CopyEnd::Complete)
}

/// The latest piece with rows, kept back until another piece with rows arrives or the copy
/// ends, so that the snapshot's last row can be marked `last` as Debezium marks it, even when
/// the copy ends with empty ranges (an empty table). A held piece is neither in the outlet
/// nor in the progress, so a batch cut meanwhile records neither (its rows are copied again
/// after a crash, never lost or doubled); it gives back its memory permit, or a piece larger
/// than the budget would keep the next one from ever being read.
#[derive(Debug, Default)]
struct HeldPiece {
    piece: Option<RowsPiece>,
}

impl HeldPiece {
    /// Takes `piece` in; returns the piece to hand over now, if any. An empty piece is
    /// recorded at once, unless it only ends the held piece's range, which then ends with it.
    fn arrive(&mut self, mut piece: RowsPiece, progress: &mut Progress) -> Option<RowsPiece> {
        if piece.rows.is_empty() {
            match &mut self.piece {
                Some(held) if (held.table, held.range) == (piece.table, piece.range) => held.last |= piece.last,
                _ => progress.advance(&piece, 0),
            }
            return None;
        }
        piece.release_memory();
        self.piece.replace(piece)
    }
}

/// Pushes `piece`'s rows into `outlet` as snapshot reads (the last row marked `last_mark`)
/// and records its progress.
fn hand_over(
    context: &CopyContext,
    tables: &[TableCopy],
    mut piece: RowsPiece,
    last_mark: SnapshotFlag,
    outlet: &mut Outlet,
    progress: &mut Progress,
    ordinals: &mut SnapshotOrdinals,
) -> Result<(), super::PostgresError> {
    let rows = std::mem::take(&mut piece.rows);
    let row_count = rows.len() as u64;
    let schema = &tables[piece.table].table.schema;
    let last_index = rows.len().saturating_sub(1);
    for (index, row) in rows.into_iter().enumerate() {
        let mut event = context.event(schema, Operation::Read, Some(row), ordinals);
        if index == last_index {
            event.snapshot = last_mark;
        }
        outlet.push(event)?;
    }
    progress.advance(&piece, row_count);
    Ok(())
}

/// Starts `readers` on the ranges of `tables` not done yet (each takes the next range when it
/// finishes one); their pieces come out of the receiver, which closes when all are done.
fn spawn_readers(
    tables: &Arc<Vec<TableCopy>>,
    readers: Vec<SnapshotReader>,
    memory_bytes: usize,
) -> (mpsc::Receiver<RowsPiece>, JoinSet<Result<(), SnapshotError>>) {
    let work: VecDeque<CopyWork> = tables
        .iter()
        .enumerate()
        .flat_map(|(table, copy)| {
            copy.ranges
                .iter()
                .enumerate()
                .filter(|(_, range)| !range.done)
                .map(move |(range, _)| CopyWork { table, range })
        })
        .collect();
    let queue = Arc::new(Mutex::new(work));
    let memory = PieceMemory::new(memory_bytes);
    let (sender, receiver) = mpsc::channel::<RowsPiece>(readers.len().max(1) * 2);
    let mut workers: JoinSet<Result<(), SnapshotError>> = JoinSet::new();
    for reader in readers {
        let (tables, queue, memory, sender) = (tables.clone(), queue.clone(), memory.clone(), sender.clone());
        workers.spawn(async move {
            loop {
                let next = queue.lock().ok().and_then(|mut queue| queue.pop_front());
                let Some(work) = next else { return Ok(()) };
                let copy = &tables[work.table];
                let Some(range) = copy.ranges.get(work.range) else { return Err(SnapshotError::Stopped) };
                reader.copy(work, &copy.table, range, &sender, &memory).await?;
            }
        });
    }
    (receiver, workers)
}

/// Numbers snapshot rows after the last change the pipeline accepted.
#[derive(Debug)]
struct SnapshotOrdinals {
    after: Option<Arc<Position>>,
    last: u64,
    taken_at: Option<Arc<Position>>,
}

impl SnapshotOrdinals {
    /// Continues after `accepted`: the ordinals of an earlier snapshot row, or a log change's.
    fn after(accepted: Option<&Position>) -> SnapshotOrdinals {
        match accepted {
            Some(Position::Snapshot(snapshot)) => {
                SnapshotOrdinals { after: snapshot.after.clone(), last: snapshot.ordinal, taken_at: None }
            }
            Some(log) => SnapshotOrdinals { after: Some(Arc::new(log.clone())), last: 0, taken_at: None },
            None => SnapshotOrdinals { after: None, last: 0, taken_at: None },
        }
    }

    fn next(&mut self, taken_at: &Position) -> Position {
        self.last += 1;
        let taken_at = match &self.taken_at {
            Some(shared) if **shared == *taken_at => shared.clone(),
            _ => self.taken_at.insert(Arc::new(taken_at.clone())).clone(),
        };
        Position::Snapshot(SnapshotPosition { after: self.after.clone(), ordinal: self.last, taken_at })
    }
}

/// Each table's progress: recorded in the checkpoint with every batch, counted in metrics,
/// logged every [`PROGRESS_INTERVAL`].
#[derive(Debug)]
struct Progress {
    pipeline: String,
    metrics: Metrics,
    tables: Vec<TableProgressCount>,
    /// Tables whose state changed since it was last recorded.
    changed: BTreeSet<usize>,
    complete_state: TableState,
    started: Instant,
    last_log: Instant,
    rows_this_run: u64,
}

#[derive(Debug)]
struct TableProgressCount {
    name: TableName,
    label: TableLabels,
    estimated_rows: u64,
    rows_done: u64,
    ranges: Vec<CopyRange>,
}

impl TableProgressCount {
    fn complete(&self) -> bool {
        self.ranges.iter().all(|range| range.done)
    }
}

impl Progress {
    fn new(context: &CopyContext, tables: &[TableCopy], complete_state: TableState) -> Progress {
        let now = Instant::now();
        let tables = tables
            .iter()
            .map(|work| {
                let name = work.table.schema.table.clone();
                let label = TableLabels { pipeline: context.pipeline.clone(), table: name.dotted() };
                let estimated_rows = u64::try_from(work.table.estimated_rows).unwrap_or(0);
                context.metrics.snapshot_rows_estimated.get_or_create(&label).set(work.table.estimated_rows.max(0));
                let resume = work.ranges.iter().any(|range| range.done || range.resume_after.is_some());
                tracing::info!(pipeline = %context.pipeline, table = %name, estimated_rows, ranges = work.ranges.len(), resume, rows_done = work.rows_done, "Copying table.");
                TableProgressCount { name, label, estimated_rows, rows_done: work.rows_done, ranges: work.ranges.clone() }
            })
            .collect();
        Progress {
            pipeline: context.pipeline.clone(),
            metrics: context.metrics.clone(),
            tables,
            changed: BTreeSet::new(),
            complete_state,
            started: now,
            last_log: now,
            rows_this_run: 0,
        }
    }

    fn advance(&mut self, piece: &RowsPiece, rows: u64) {
        let Some(table) = self.tables.get_mut(piece.table) else { return };
        table.rows_done += rows;
        self.rows_this_run += rows;
        if let Some(range) = table.ranges.get_mut(piece.range) {
            if piece.resume_after.is_some() {
                range.resume_after = piece.resume_after.clone();
            }
            range.done |= piece.last;
        }
        self.metrics.snapshot_rows.get_or_create(&table.label).inc_by(rows);
        self.changed.insert(piece.table);
    }

    /// Each table's state as recorded so far.
    fn states(&self) -> Vec<(TableName, TableState)> {
        self.tables.iter().map(|table| (table.name.clone(), self.state_of(table))).collect()
    }

    fn state_of(&self, table: &TableProgressCount) -> TableState {
        if table.complete() {
            self.complete_state.clone()
        } else {
            TableState::Snapshotting { rows_done: table.rows_done, ranges: table.ranges.clone() }
        }
    }

    /// Adds each changed table's state to the batch being collected.
    fn record(&mut self, outlet: &mut Outlet) {
        for index in std::mem::take(&mut self.changed) {
            let Some(table) = self.tables.get(index) else { continue };
            if table.complete() {
                tracing::info!(pipeline = %self.pipeline, table = %table.name, rows = table.rows_done, "Table copied.");
                self.metrics.snapshot_remaining_seconds.get_or_create(&table.label).set(0);
            }
            outlet.update_checkpoint(CheckpointUpdate::Table(table.name.clone(), self.state_of(table)));
        }
    }

    fn log_if_due(&mut self) {
        if self.last_log.elapsed() < PROGRESS_INTERVAL {
            return;
        }
        self.last_log = Instant::now();
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = self.rows_this_run as f64 / seconds;
        let done: u64 = self.tables.iter().map(|table| table.rows_done).sum();
        let estimated: u64 = self.tables.iter().map(|table| table.estimated_rows.max(table.rows_done)).sum();
        for table in self.tables.iter().filter(|table| !table.complete()) {
            let remaining = table.estimated_rows.saturating_sub(table.rows_done) as f64;
            let eta = if rate > 0.0 { (remaining / rate).round() as i64 } else { -1 };
            self.metrics.snapshot_remaining_seconds.get_or_create(&table.label).set(eta);
        }
        let eta_seconds = if rate > 0.0 { (estimated.saturating_sub(done) as f64 / rate).round() as u64 } else { 0 };
        tracing::info!(
            pipeline = %self.pipeline,
            rows = done,
            estimated_rows = estimated,
            rows_per_second = rate.round() as u64,
            eta_seconds,
            tables_left = self.tables.iter().filter(|table| !table.complete()).count(),
            "Snapshot progress."
        );
    }

    fn log_complete(&self) {
        let seconds = self.started.elapsed().as_secs_f64();
        tracing::info!(
            pipeline = %self.pipeline,
            tables = self.tables.len(),
            rows = self.rows_this_run,
            seconds = (seconds * 10.0).round() / 10.0,
            rows_per_second = (self.rows_this_run as f64 / seconds.max(0.001)).round() as u64,
            "Snapshot complete."
        );
    }
}
