//! A copy that runs inside the stream: the other tables keep streaming while a
//! table (added to the config, or asked for again) is copied.
//!
//! ```text
//!  temporary slot ─► (consistent point X, snapshot S) ─► readers copy in S ─► pieces
//!  stream session: ... tx ... tx ... [between two transactions, once the stream is past X:
//!                                     a piece, minus the rows whose key the stream changed since X] ... tx ...
//! ```
//!
//! Why it is exact: a piece's rows are the table as of X. Emitted at a point P
//! of the stream (after X), a row is stale only if a change committed in
//! [X, P] touched its key; that change, already written, carries the row's
//! newer state (or its deletion), so the row is dropped. Changes after P come
//! after the row. A truncate of the table after X drops every row still to
//! come. Tables without a key cannot be tracked: they are copied the other way
//! (the stream waits), see `phase`.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use wellhead_decoders::change::{ChangeEvent, ColumnValue, Lsn, Operation, Row, TableName};

use super::reader::RowsPiece;
use super::{
    CopyContext, CopyOrder, Progress, SnapshotError, SnapshotOrdinals, SnapshotReader, TableCopy, spawn_readers,
};
use crate::batch::Outlet;
use crate::checkpoint::TableState;
use crate::source::postgres::PostgresError;

/// What the readers have ready (see [`StreamingCopy::ready_piece`]).
#[derive(Debug)]
pub enum ReadyPiece {
    Piece(RowsPiece),
    NotYet,
    /// Every range is copied: the copy is to be finished.
    AllDone,
}

/// A copy merged into a stream session between its transactions.
#[derive(Debug)]
pub struct StreamingCopy {
    context: CopyContext,
    consistent_point: Lsn,
    /// The stream has passed the consistent point: pieces may be written.
    reached: bool,
    tables: Arc<Vec<TableCopy>>,
    /// Per table: the keys of the rows the stream changed since the consistent point, and
    /// whether it truncated the table since.
    changed: Vec<(HashSet<String>, bool)>,
    receiver: mpsc::Receiver<RowsPiece>,
    workers: JoinSet<Result<(), SnapshotError>>,
    progress: Progress,
    /// Every range is copied (the readers are done).
    complete: bool,
    rows_dropped: u64,
}

impl StreamingCopy {
    /// Starts `readers` (inside the snapshot of `consistent_point`) on `tables`, which must all
    /// have a key.
    pub fn start(
        context: CopyContext,
        consistent_point: Lsn,
        tables: Vec<TableCopy>,
        readers: Vec<SnapshotReader>,
    ) -> StreamingCopy {
        let tables = Arc::new(tables);
        let (receiver, workers) = spawn_readers(&tables, readers, context.memory_bytes);
        let progress = Progress::new(&context, &tables, context.complete_state.clone());
        let changed = tables.iter().map(|_| (HashSet::new(), false)).collect();
        StreamingCopy {
            context,
            consistent_point,
            reached: false,
            tables,
            changed,
            receiver,
            workers,
            progress,
            complete: false,
            rows_dropped: 0,
        }
    }

    /// True when every table of `tables` can be copied this way (each has a key).
    pub fn suits(tables: &[TableCopy]) -> bool {
        tables.iter().all(|copy| matches!(copy.table.order, CopyOrder::Key(_)))
    }

    /// The stream is between transactions at `lsn` (a keepalive's position, or the commit
    /// LSN of the transaction about to start): every transaction before it has been read.
    pub fn note_position(&mut self, lsn: Lsn) {
        self.reached |= lsn >= self.consistent_point;
    }

    /// True while the stream has not shown that it passed the consistent point (the session
    /// then asks the server for keepalives, which show its position).
    pub fn waits_for_the_stream(&self) -> bool {
        !self.reached && !self.complete
    }

    /// True when a piece may be written now (call between transactions only).
    pub fn ready(&self) -> bool {
        self.reached && !self.complete
    }

    /// Records a change the stream is writing, committed at `commit_lsn`.
    pub fn note_change(&mut self, event: &ChangeEvent, commit_lsn: Lsn) {
        if commit_lsn < self.consistent_point || self.complete {
            return;
        }
        let Some(index) = self.table_index(&event.schema.table) else { return };
        let Some(CopyOrder::Key(key)) = self.tables.get(index).map(|copy| &copy.table.order) else { return };
        let key = key.clone();
        let Some((keys, truncated)) = self.changed.get_mut(index) else { return };
        if event.operation == Operation::Truncate {
            *truncated = true;
            return;
        }
        for row in [&event.before, &event.after].into_iter().flatten() {
            if let Some(encoded) = key_of(row, &key) {
                keys.insert(encoded);
            }
        }
    }

    /// The next piece the readers have ready, when they have one; `None` once all are done
    /// (then the copy is complete, or failed: see [`Self::finish`]).
    pub async fn next_piece(&mut self) -> Option<RowsPiece> {
        let piece = self.receiver.recv().await;
        self.complete |= piece.is_none();
        piece
    }

    /// A piece the readers have ready now, without waiting.
    pub fn ready_piece(&mut self) -> ReadyPiece {
        match self.receiver.try_recv() {
            Ok(piece) => ReadyPiece::Piece(piece),
            Err(mpsc::error::TryRecvError::Empty) => ReadyPiece::NotYet,
            Err(mpsc::error::TryRecvError::Disconnected) => {
                self.complete = true;
                ReadyPiece::AllDone
            }
        }
    }

    /// Writes a piece into `outlet`, without the rows the stream changed since the
    /// consistent point, and records the table's progress with it.
    pub fn write_piece(&mut self, mut piece: RowsPiece, outlet: &mut Outlet) -> Result<(), PostgresError> {
        let rows = std::mem::take(&mut piece.rows);
        let row_count = rows.len() as u64;
        let (schema, key) = match self.tables.get(piece.table) {
            Some(TableCopy { table, .. }) => (table.schema.clone(), table.order.clone()),
            None => return Err(SnapshotError::Stopped.into()),
        };
        let (changed, truncated) =
            self.changed.get(piece.table).map_or((None, false), |(keys, truncated)| (Some(keys), *truncated));
        let mut ordinals = SnapshotOrdinals::after(outlet.accepted());
        // Keys are encoded only when the stream changed some of the table's rows.
        let changed = changed.filter(|keys| !keys.is_empty());
        for row in rows {
            let stale = truncated
                || match (&key, changed) {
                    (CopyOrder::Key(key), Some(keys)) => {
                        key_of(&row, key).is_some_and(|encoded| keys.contains(&encoded))
                    }
                    _ => false,
                };
            if stale {
                self.rows_dropped += 1;
                continue;
            }
            outlet.push(self.context.event(&schema, Operation::Read, Some(row), &mut ordinals))?;
        }
        self.progress.advance(&piece, row_count);
        self.progress.record(outlet);
        self.progress.log_if_due();
        Ok(())
    }

    /// Ends a complete copy: the readers' results, and the tables' final states into `outlet`.
    pub async fn finish(&mut self, outlet: &mut Outlet) -> Result<Vec<TableName>, PostgresError> {
        while let Some(joined) = self.workers.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(error.into()),
                Err(_) => return Err(SnapshotError::Stopped.into()),
            }
        }
        self.progress.record(outlet);
        self.progress.log_complete();
        if self.rows_dropped > 0 {
            tracing::info!(pipeline = %self.context.pipeline, rows = self.rows_dropped, "Copied rows left out: the stream had written newer states of them.");
        }
        Ok(self.tables.iter().map(|copy| copy.table.schema.table.clone()).collect())
    }

    /// Each table's state as handed to the pipeline so far.
    pub fn table_states(&self) -> Vec<(TableName, TableState)> {
        self.progress.states()
    }

    fn table_index(&self, table: &TableName) -> Option<usize> {
        self.tables.iter().position(|copy| copy.table.schema.table == *table)
    }
}

/// A row's key columns, encoded so that equal keys (from the stream's text or the copy's
/// binary decoding, which give equal values) encode equally.
fn key_of(row: &Row, key: &[usize]) -> Option<String> {
    let values: Option<Vec<&ColumnValue>> = key.iter().map(|&index| row.get(index)).collect();
    serde_json::to_string(&values?).ok()
}
