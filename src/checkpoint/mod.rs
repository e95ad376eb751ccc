//! The checkpoint: what a pipeline's sink durably holds, where its source
//! restarts, and what it was taken from. One model for every source and sink.
//!
//! ```text
//!  batch ─► sink writes each change ─► Checkpoint::record_written (per change)
//!        ─► Checkpoint::record_batch (restart point, origin, table states)
//!        ─► sink makes it durable with its own state ─► acknowledgement to the source
//! ```
//!
//! Invariants: a checkpoint only moves forward, and this module is the one
//! place that moves it (`record_*` refuse to go back); the sinks only store
//! it. On restart the pipeline drops every change at or before
//! `last_written`, which names exactly one change.

mod format;
mod store;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use wellhead_decoders::change::{Position, PositionMismatch, RestartPoint, SourceOrigin, TableName};

pub use self::format::{decode, encode};
pub use self::store::CheckpointStore;

/// What a pipeline has durably written (checkpoint format 2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Where the source resumes; `None` until the first transaction is held whole.
    pub restart_point: Option<RestartPoint>,
    /// Position of the last change the sink holds; `None` before the first.
    pub last_written: Option<Position>,
    /// What the checkpoint was taken from; `None` until the source first connected
    /// (and in checkpoints of format 1, which did not record it).
    pub origin: Option<SourceOrigin>,
    /// The lifecycle of each captured table, in table order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableProgress>,
    /// The sink's own state at this checkpoint.
    #[serde(default)]
    pub sink: SinkState,
}

/// One table's place in its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableProgress {
    pub table: TableName,
    pub state: TableState,
}

/// The lifecycle of a captured table (persisted in the checkpoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TableState {
    /// Known to the pipeline, waiting for its snapshot; set by the source when a copy must
    /// start over (`snapshot.mode = "when_needed"` after the slot lost changes).
    Queued {
        /// The copy supersedes the table's earlier rows in the output: it starts with a
        /// truncate (op `t`), since no change names the rows deleted meanwhile.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reset: bool,
    },
    /// Its rows are being copied; set by the snapshot coordinator with each batch of rows,
    /// so that the progress becomes durable with exactly the rows it counts.
    Snapshotting {
        /// Rows copied and durable.
        rows_done: u64,
        /// The ranges the copy was split into (one when it was not), each with its progress.
        ranges: Vec<CopyRange>,
    },
    /// Its changes are streamed; set by the source once it captures the table.
    Streaming,
    /// Its rows are copied and its changes are not streamed (`snapshot.mode = "initial_only"`);
    /// set by the snapshot coordinator when the copy is complete.
    Copied,
    /// Stopped for good; set by the pipeline when the table fails definitely.
    Errored { reason: String, hint: String },
}

/// One range of a table's copy, of its first key column's values (persisted: a resumed copy
/// keeps the ranges it was planned with).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CopyRange {
    /// The value (its text form) the range starts after; `None`: from the table's start.
    pub after: Option<String>,
    /// The value the range ends with, inclusive; `None`: to the table's end.
    pub up_to: Option<String>,
    /// The copy order key of the range's last durable row, as the snapshot reader encodes
    /// it; `None` before its first.
    pub resume_after: Option<String>,
    /// Every row of the range is durable.
    pub done: bool,
}

/// What a sink needs to line its output up with the checkpoint after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SinkState {
    /// Bytes of output written at this checkpoint (file sinks truncate back to it).
    #[serde(default)]
    pub offset: u64,
    /// Files the sink finalises by renaming them after this checkpoint is saved; a
    /// restart completes any rename a crash interrupted (a redo log of one step).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_renames: Vec<PendingRename>,
}

/// A finished, fsynced temporary file and the name it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRename {
    pub from: PathBuf,
    pub to: PathBuf,
}

/// A fact a source reports for the checkpoint besides its changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointUpdate {
    /// What the source is connected to (recorded at its first connection).
    Origin(SourceOrigin),
    /// A table entered a new lifecycle state.
    Table(TableName, TableState),
}

/// Checkpoint persistence failed, or a checkpoint would have moved back.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "checkpoint {location} is corrupt or from another version ({reason}); restore it from a backup or remove it to start over"
    )]
    Corrupt { location: String, reason: String },
    #[error("checkpoint {location} belongs to pipeline {found:?}, not {expected:?}")]
    WrongPipeline { location: String, found: String, expected: String },
    #[error("refusing to move the checkpoint back: {what} would go from {current} to {proposed}")]
    Backwards { what: &'static str, current: String, proposed: String },
    #[error("checkpoint: {0}")]
    Mismatch(#[from] PositionMismatch),
}

impl Checkpoint {
    /// Records that the sink now holds the change at `position`, which must come after
    /// every change recorded before.
    pub fn record_written(&mut self, position: &Position) -> Result<(), CheckpointError> {
        if let Some(last) = &self.last_written
            && position.compare(last)?.is_le()
        {
            return Err(CheckpointError::Backwards {
                what: "the last change written",
                current: last.to_string(),
                proposed: position.to_string(),
            });
        }
        self.last_written = Some(position.clone());
        Ok(())
    }

    /// Records a new restart point, which must cover the current one.
    pub fn record_restart_point(&mut self, point: &RestartPoint) -> Result<(), CheckpointError> {
        if let Some(current) = &self.restart_point {
            if current == point {
                return Ok(());
            }
            if !point.covers(current)? {
                return Err(CheckpointError::Backwards {
                    what: "the restart point",
                    current: current.to_string(),
                    proposed: point.to_string(),
                });
            }
        }
        self.restart_point = Some(point.clone());
        Ok(())
    }

    /// Applies a source's report; true when it changed the checkpoint.
    pub fn record_update(&mut self, update: &CheckpointUpdate) -> bool {
        match update {
            CheckpointUpdate::Origin(origin) => {
                let changed = self.origin.as_ref() != Some(origin);
                self.origin = Some(origin.clone());
                changed
            }
            CheckpointUpdate::Table(table, state) => {
                match self.tables.binary_search_by(|progress| progress.table.cmp(table)) {
                    Ok(index) if self.tables[index].state == *state => return false,
                    Ok(index) => self.tables[index].state = state.clone(),
                    Err(index) => {
                        self.tables.insert(index, TableProgress { table: table.clone(), state: state.clone() })
                    }
                }
                true
            }
        }
    }

    /// True when `self` holds something `earlier` does not (a change, a restart point,
    /// a source fact): what a sink commits. The sink's own state is left out.
    pub fn advanced_beyond(&self, earlier: &Checkpoint) -> bool {
        self.restart_point != earlier.restart_point
            || self.last_written != earlier.last_written
            || self.origin != earlier.origin
            || self.tables != earlier.tables
    }

    /// Checks that `self` may replace `current` in a store: nothing moves back.
    fn check_follows(&self, current: &Checkpoint) -> Result<(), CheckpointError> {
        let backwards = |what, current: &dyn std::fmt::Display, proposed: &dyn std::fmt::Display| {
            Err(CheckpointError::Backwards { what, current: current.to_string(), proposed: proposed.to_string() })
        };
        match (&current.last_written, &self.last_written) {
            (Some(old), Some(new)) if new.compare(old)?.is_lt() => {
                return backwards("the last change written", old, new);
            }
            (Some(old), None) => return backwards("the last change written", old, &"nothing"),
            _ => {}
        }
        match (&current.restart_point, &self.restart_point) {
            (Some(old), Some(new)) if !new.covers(old)? => backwards("the restart point", old, new),
            (Some(old), None) => backwards("the restart point", old, &"nothing"),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
