//! Where a change sits in its source's log, and where a source restarts.
//!
//! ```text
//!  PostgreSQL: commit LSN ─► place of the change in its transaction   (Position::Postgres)
//!  binlog:     file ─► offset of the rows event ─► row in the event    (Position::Binlog)
//!  snapshot:   the last log change before it ─► row among the snapshot's rows (Position::Snapshot)
//!  restart:    the source's own restart point (flush LSN, binlog file + offset)
//! ```
//!
//! Invariants:
//! - A [`Position`] names exactly one change: a PostgreSQL LSN alone does not
//!   (COPY and other multi-inserts give one WAL record, and so one LSN, to
//!   every row of a heap page), so a PostgreSQL position is the commit LSN and
//!   the change's ordinal inside its transaction, which is the same each time
//!   the server sends the transaction again.
//! - Positions of one source are totally ordered; comparing positions (or
//!   restart points) of two kinds of source is an error, never `false`.
//! - A [`RestartPoint`] is what the source itself needs to resume; it is
//!   ordered by what it covers ([`RestartPoint::covers`]), since a GTID set is
//!   ordered by containment rather than by `<`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A PostgreSQL write-ahead-log position (`pg_lsn`), shown as `XXXXXXXX/XXXXXXXX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Lsn(pub u64);

impl Lsn {
    /// `0/0`: "no position"; START_REPLICATION from it means "from the slot's confirmed position".
    pub const ZERO: Lsn = Lsn(0);
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Why a text is not an LSN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LSN {text:?}: expected two hexadecimal numbers separated by '/', like 16/B374D848")]
pub struct LsnParseError {
    text: String,
}

impl FromStr for Lsn {
    type Err = LsnParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || LsnParseError { text: text.to_owned() };
        let (high, low) = text.split_once('/').ok_or_else(error)?;
        let high = u32::from_str_radix(high, 16).map_err(|_| error())?;
        let low = u32::from_str_radix(low, 16).map_err(|_| error())?;
        Ok(Lsn((u64::from(high) << 32) | u64::from(low)))
    }
}

impl From<Lsn> for String {
    fn from(lsn: Lsn) -> String {
        lsn.to_string()
    }
}

impl TryFrom<String> for Lsn {
    type Error = LsnParseError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

/// Where a change sits in its PostgreSQL source's history.
///
/// Ordered by `(commit_lsn, change_ordinal)`: commit LSNs increase from one
/// transaction to the next, and the ordinal counts the transaction's changes
/// in the order the server sends them (the same on every resend). `lsn` is
/// carried for the envelope; it does not tell apart the rows of one COPY page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PgPosition {
    /// LSN of the commit record of the change's transaction.
    pub commit_lsn: Lsn,
    /// The change's place in its transaction, from 1 (a truncate counts once per table).
    pub change_ordinal: u64,
    /// LSN of the WAL record that holds the change.
    pub lsn: Lsn,
}

impl Ord for PgPosition {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.commit_lsn, self.change_ordinal).cmp(&(other.commit_lsn, other.change_ordinal))
    }
}

impl PartialOrd for PgPosition {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for PgPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{} (at {})", self.commit_lsn, self.change_ordinal, self.lsn)
    }
}

/// A checkpoint position written by Wellhead's checkpoint format 1: a WAL
/// record's LSN, which several rows of one multi-insert may share. Read from
/// old checkpoints only, never produced by a source; it orders against change
/// positions by `(commit_lsn, lsn)`, which is all format 1 knew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PgRecordPosition {
    pub commit_lsn: Lsn,
    pub lsn: Lsn,
}

/// The positions a format-1 checkpoint stored (Wellhead before checkpoint format 2
/// knew PostgreSQL only), in their stored shape, so that a checkpoint reader can
/// convert them without knowing PostgreSQL's types.
#[derive(Debug, Clone, Deserialize)]
pub struct FormatOnePositions {
    last_position: Option<FormatOnePosition>,
    /// `0/0` meant "no transaction held whole yet".
    flush_lsn: Lsn,
}

#[derive(Debug, Clone, Deserialize)]
struct FormatOnePosition {
    source: String,
    commit_lsn: Lsn,
    lsn: Lsn,
}

impl FormatOnePositions {
    /// The last change written, or an error naming a source format 1 never had.
    pub fn last_written(&self) -> Result<Option<Position>, String> {
        match &self.last_position {
            None => Ok(None),
            Some(position) if position.source == "postgres" => Ok(Some(Position::PostgresRecord(PgRecordPosition {
                commit_lsn: position.commit_lsn,
                lsn: position.lsn,
            }))),
            Some(position) => Err(format!("format 1 position of unknown source {:?}", position.source)),
        }
    }

    /// Where the source restarts (none before the first whole transaction).
    pub fn restart_point(&self) -> Option<RestartPoint> {
        (self.flush_lsn != Lsn::ZERO).then_some(RestartPoint::Postgres { flush_lsn: self.flush_lsn })
    }
}

/// Where a row change sits in a MySQL or MariaDB binlog.
///
/// Ordered by `(file_sequence, event_offset, row_index)`: the binlog is written
/// in commit order, files follow their numeric suffix, and a rows event holds
/// its rows in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BinlogPosition {
    /// The numeric suffix of the binlog file (`mysql-bin.000042` → 42).
    pub file_sequence: u64,
    /// Byte offset of the rows event in its file.
    pub event_offset: u64,
    /// The row's index inside its rows event, from 0.
    pub row_index: u32,
    /// The binlog file's name.
    pub file: String,
    /// The transaction's GTID, when the server assigns them.
    pub gtid: Option<String>,
    /// The `server_id` of the server where the change was first written (the event header's;
    /// 0 in checkpoints written before it was kept). Not part of the order.
    #[serde(default)]
    pub server_id: u32,
}

impl BinlogPosition {
    fn key(&self) -> (u64, u64, u32) {
        (self.file_sequence, self.event_offset, self.row_index)
    }
}

/// Where a row read by a snapshot sits: right after the last log change the pipeline
/// accepted before it, so that it orders after every change the snapshot's read already
/// reflects and before every change that follows.
///
/// Ordered by `(after, ordinal)` (no `after` first). The rows of one snapshot are numbered
/// in the order they are handed to the pipeline, which differs from one run to the next
/// (parallel readers): a snapshot resumes by its tables' progress in the checkpoint, not
/// by these ordinals; they only keep the pipeline's positions increasing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SnapshotPosition {
    /// The last log change accepted before this row; `None` before the first. Shared by
    /// every row of the run (a snapshot writes millions of positions).
    pub after: Option<Arc<Position>>,
    /// The row's place among the snapshot rows handed over after `after`, from 1.
    pub ordinal: u64,
    /// Where the snapshot was taken in the log, as a log position (PostgreSQL: the
    /// consistent point as commit LSN and LSN, ordinal 0); what the envelope shows.
    pub taken_at: Arc<Position>,
}

impl SnapshotPosition {
    /// Orders `whole` (this snapshot row) against a log change: before it unless the log
    /// change is at or before `after`.
    fn compare_with_log(&self, whole: &Position, log: &Position) -> Result<Ordering, PositionMismatch> {
        if whole.kind() != log.kind() {
            return Err(PositionMismatch::new(whole, log));
        }
        match &self.after {
            Some(after) if log.compare(after)?.is_le() => Ok(Ordering::Greater),
            _ => Ok(Ordering::Less),
        }
    }
}

/// The position of a change in its source's log; ordered within one kind of source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Position {
    /// A PostgreSQL logical replication position.
    Postgres(PgPosition),
    /// A format-1 checkpoint's PostgreSQL position (see [`PgRecordPosition`]).
    PostgresRecord(PgRecordPosition),
    /// A MySQL/MariaDB binlog position.
    Binlog(BinlogPosition),
    /// A row read by a snapshot (see [`SnapshotPosition`]).
    Snapshot(SnapshotPosition),
}

/// Comparing positions from different kinds of source is a mistake of the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot compare position {left} with position {right}: they come from different kinds of source")]
pub struct PositionMismatch {
    left: String,
    right: String,
}

impl PositionMismatch {
    fn new(left: &impl fmt::Display, right: &impl fmt::Display) -> PositionMismatch {
        PositionMismatch { left: left.to_string(), right: right.to_string() }
    }
}

impl Position {
    /// Orders two positions of the same source kind.
    pub fn compare(&self, other: &Position) -> Result<Ordering, PositionMismatch> {
        use Position::{Binlog, Postgres, PostgresRecord, Snapshot};
        match (self, other) {
            (Postgres(left), Postgres(right)) => Ok(left.cmp(right)),
            (Postgres(left), PostgresRecord(right)) => {
                Ok((left.commit_lsn, left.lsn).cmp(&(right.commit_lsn, right.lsn)))
            }
            (PostgresRecord(left), Postgres(right)) => {
                Ok((left.commit_lsn, left.lsn).cmp(&(right.commit_lsn, right.lsn)))
            }
            (PostgresRecord(left), PostgresRecord(right)) => {
                Ok((left.commit_lsn, left.lsn).cmp(&(right.commit_lsn, right.lsn)))
            }
            (Binlog(left), Binlog(right)) => Ok(left.key().cmp(&right.key())),
            (Snapshot(left), Snapshot(right)) => {
                if self.kind() != other.kind() {
                    return Err(PositionMismatch::new(self, other));
                }
                let by_after = match (&left.after, &right.after) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(left_after), Some(right_after)) => left_after.compare(right_after)?,
                };
                Ok(by_after.then(left.ordinal.cmp(&right.ordinal)))
            }
            (Snapshot(snapshot), log) => snapshot.compare_with_log(self, log),
            (log, Snapshot(snapshot)) => snapshot.compare_with_log(other, log).map(Ordering::reverse),
            _ => Err(PositionMismatch::new(self, other)),
        }
    }

    /// The kind of source a position comes from (a snapshot row: that of where it was taken).
    fn kind(&self) -> &'static str {
        match self {
            Position::Postgres(_) | Position::PostgresRecord(_) => "postgres",
            Position::Binlog(_) => "binlog",
            Position::Snapshot(snapshot) => snapshot.taken_at.kind(),
        }
    }

    /// The log position the envelope shows: a snapshot row's is where the snapshot was taken.
    pub fn log_position(&self) -> &Position {
        match self {
            Position::Snapshot(snapshot) => &snapshot.taken_at,
            log => log,
        }
    }

    /// A text of fixed width per source kind that sorts as the positions do (for file names).
    pub fn sortable_name(&self) -> String {
        match self {
            Position::Postgres(position) => {
                format!("{:016X}-{:016X}", position.commit_lsn.0, position.change_ordinal)
            }
            Position::PostgresRecord(position) => format!("{:016X}-r{:016X}", position.commit_lsn.0, position.lsn.0),
            Position::Binlog(position) => {
                format!("{:010}-{:016X}-{:08X}", position.file_sequence, position.event_offset, position.row_index)
            }
            // '+' sorts before every character of a log position's name and after its end, so a
            // snapshot row's name falls between its `after` and the next log position's.
            Position::Snapshot(snapshot) => {
                let after = snapshot.after.as_ref().map(|after| after.sortable_name()).unwrap_or_default();
                format!("{after}+s{:016X}", snapshot.ordinal)
            }
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Postgres(position) => write!(f, "postgres:{position}"),
            Position::PostgresRecord(position) => write!(f, "postgres:{}:{}", position.commit_lsn, position.lsn),
            Position::Binlog(position) => {
                write!(f, "binlog:{}:{}#{}", position.file, position.event_offset, position.row_index)?;
                match &position.gtid {
                    Some(gtid) => write!(f, " ({gtid})"),
                    None => Ok(()),
                }
            }
            Position::Snapshot(snapshot) => {
                write!(f, "snapshot row {} taken at {}", snapshot.ordinal, snapshot.taken_at)?;
                match &snapshot.after {
                    Some(after) => write!(f, ", after {after}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Where a source resumes reading: everything before it is durably in the sink.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum RestartPoint {
    /// PostgreSQL: the end LSN of the last transaction the sink holds whole; the
    /// slot may be confirmed up to here.
    Postgres { flush_lsn: Lsn },
    /// A binlog file and the offset of the first event not yet held whole.
    BinlogFile { file_sequence: u64, file: String, offset: u64 },
}

impl RestartPoint {
    /// True when resuming at `self` skips nothing that resuming at `other` would read
    /// (for file offsets and LSNs: `self >= other`).
    pub fn covers(&self, other: &RestartPoint) -> Result<bool, PositionMismatch> {
        match (self, other) {
            (RestartPoint::Postgres { flush_lsn: left }, RestartPoint::Postgres { flush_lsn: right }) => {
                Ok(left >= right)
            }
            (
                RestartPoint::BinlogFile { file_sequence: left_file, offset: left_offset, .. },
                RestartPoint::BinlogFile { file_sequence: right_file, offset: right_offset, .. },
            ) => Ok((left_file, left_offset) >= (right_file, right_offset)),
            _ => Err(PositionMismatch::new(self, other)),
        }
    }
}

impl fmt::Display for RestartPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPoint::Postgres { flush_lsn } => write!(f, "postgres flush LSN {flush_lsn}"),
            RestartPoint::BinlogFile { file, offset, .. } => write!(f, "binlog {file}:{offset}"),
        }
    }
}

/// What a checkpoint was taken from: a start against anything else is refused,
/// since its positions would mean other changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum SourceOrigin {
    /// A PostgreSQL cluster, database and replication slot.
    Postgres {
        /// `IDENTIFY_SYSTEM`'s `systemid`: changes when the cluster is re-created (initdb, a restore
        /// into a new cluster).
        system_identifier: String,
        /// The timeline the checkpoint was taken on: changes at a promotion or point-in-time recovery.
        timeline: u32,
        database: String,
        slot: String,
        /// Where the slot started when Wellhead created it (`None` for a slot it found).
        slot_consistent_point: Option<Lsn>,
    },
    /// A MySQL or MariaDB server.
    Binlog { server_uuid: Option<String>, server_id: u32 },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(commit: u64, ordinal: u64, lsn: u64) -> Position {
        Position::Postgres(PgPosition { commit_lsn: Lsn(commit), change_ordinal: ordinal, lsn: Lsn(lsn) })
    }

    #[test]
    fn rows_of_one_wal_record_have_distinct_ordered_positions() {
        // Two rows of one COPY page: same LSN, different places in the transaction.
        let first = change(100, 7, 50);
        let second = change(100, 8, 50);
        assert_eq!(first.compare(&second), Ok(Ordering::Less));
        assert_ne!(first, second);
        assert!(first.sortable_name() < second.sortable_name());
        // Commit order first: a later transaction's first change follows an earlier one's last.
        assert_eq!(change(200, 1, 10).compare(&change(100, 9_999, 90)), Ok(Ordering::Greater));
    }

    #[test]
    fn a_format_1_position_orders_by_its_lsn() {
        let old = Position::PostgresRecord(PgRecordPosition { commit_lsn: Lsn(100), lsn: Lsn(50) });
        assert_eq!(change(100, 3, 50).compare(&old), Ok(Ordering::Equal));
        assert_eq!(change(100, 4, 60).compare(&old), Ok(Ordering::Greater));
        assert_eq!(old.compare(&change(90, 1, 95)), Ok(Ordering::Greater));
    }

    #[test]
    fn positions_and_restart_points_of_two_kinds_do_not_compare() {
        let binlog = Position::Binlog(BinlogPosition {
            file_sequence: 3,
            event_offset: 400,
            row_index: 0,
            file: "mysql-bin.000003".into(),
            gtid: None,
            server_id: 1,
        });
        assert!(change(1, 1, 1).compare(&binlog).is_err());
        let postgres = RestartPoint::Postgres { flush_lsn: Lsn(5) };
        let file = RestartPoint::BinlogFile { file_sequence: 1, file: "b.000001".into(), offset: 4 };
        assert!(postgres.covers(&file).is_err());
        assert_eq!(postgres.covers(&RestartPoint::Postgres { flush_lsn: Lsn(4) }), Ok(true));
        assert_eq!(postgres.covers(&RestartPoint::Postgres { flush_lsn: Lsn(6) }), Ok(false));
    }

    fn snapshot_row(after: Option<Position>, ordinal: u64) -> Position {
        Position::Snapshot(SnapshotPosition {
            after: after.map(Arc::new),
            ordinal,
            taken_at: Arc::new(change(500, 0, 500)),
        })
    }

    #[test]
    fn snapshot_rows_sit_between_the_log_change_before_them_and_the_next() {
        let first = snapshot_row(None, 1);
        let second = snapshot_row(None, 2);
        assert_eq!(first.compare(&second), Ok(Ordering::Less));
        // Before any log change when nothing came before them.
        assert_eq!(second.compare(&change(1, 1, 1)), Ok(Ordering::Less));
        assert_eq!(change(1, 1, 1).compare(&second), Ok(Ordering::Greater));
        // After the change they follow, and before the next one.
        let after = snapshot_row(Some(change(700, 3, 690)), 1);
        assert_eq!(after.compare(&change(700, 3, 690)), Ok(Ordering::Greater));
        assert_eq!(after.compare(&change(600, 9, 600)), Ok(Ordering::Greater));
        assert_eq!(after.compare(&change(700, 4, 695)), Ok(Ordering::Less));
        assert_eq!(after.compare(&second), Ok(Ordering::Greater));
        // File names sort the same way.
        let mut names: Vec<String> =
            [change(700, 4, 695), after.clone(), change(700, 3, 690), second.clone(), first.clone(), change(1, 1, 1)]
                .iter()
                .map(Position::sortable_name)
                .collect();
        names.sort();
        let expected: Vec<String> = [first, second, change(1, 1, 1), change(700, 3, 690), after, change(700, 4, 695)]
            .iter()
            .map(Position::sortable_name)
            .collect();
        assert_eq!(names, expected);
        // A snapshot of one kind of source does not compare with another's changes.
        let binlog = Position::Binlog(BinlogPosition {
            file_sequence: 1,
            event_offset: 4,
            row_index: 0,
            file: "b.000001".into(),
            gtid: None,
            server_id: 1,
        });
        assert!(snapshot_row(None, 1).compare(&binlog).is_err());
        assert!(binlog.compare(&snapshot_row(None, 1)).is_err());
        assert_eq!(snapshot_row(None, 1).log_position(), &change(500, 0, 500));
    }

    #[test]
    fn lsn_text_round_trips() {
        let lsn: Lsn = "16/B374D848".parse().expect("LSN");
        assert_eq!(lsn, Lsn(0x16_B374_D848));
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert!("16B374D848".parse::<Lsn>().is_err());
    }
}
