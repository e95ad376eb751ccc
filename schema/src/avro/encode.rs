//! Avro binary datums of a table's keys and envelopes, written by hand.
//!
//! ```text
//!  TableSchema ──EnvelopeEncoder::new──► one Plan per column (once per schema version)
//!  ChangeEvent ──encode_envelope──► before | after | source | op | ts_ms | transaction | unchanged_columns
//!                                  | special_values (the values a column's plain type cannot carry)
//!  Row         ──encode_key──────► the key columns
//! ```
//!
//! The datums follow [`super::key_schema`] and [`super::envelope_schema`] of the
//! same table and source kind; an encoder must only be given rows of the table
//! schema it was built from (the caller keeps one encoder per schema version).
//! Encoding allocates nothing per event (decimals beyond 38 digits, timetz and
//! interval text, and special values aside) and never goes through
//! `apache_avro::types::Value`. On error, `out` is left as it was.

use wellhead_decoders::change::{BinlogPosition, ChangeEvent, ColumnValue, Position, Row, TableName, TableSchema};

use std::fmt::Write as _;

use super::binary::{ShortText, begin_array, end_array, write_bytes, write_long, write_string};
use super::envelope::{SourceKind, column_field_names};
use super::error::{EncodeError, Problem};
use super::plan::Plan;
use crate::json::value_text;

/// The `source.version` of every envelope.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Facts about the source that are the same for every event of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFields {
    /// `source.name`: the pipeline name.
    pub name: String,
    /// `source.db`: the database name.
    pub db: String,
}

#[derive(Debug, Clone)]
struct ColumnPlan {
    /// The database name, for errors.
    name: String,
    /// The Avro field name, for `unchanged_columns`.
    field_name: String,
    is_key: bool,
    plan: Plan,
}

/// A table's compiled encoder; build it once per table schema version.
#[derive(Debug, Clone)]
pub struct EnvelopeEncoder {
    table: TableName,
    source: SourceKind,
    columns: Vec<ColumnPlan>,
    has_key: bool,
    /// `source.version` and `source.connector`, pre-encoded.
    source_head: Vec<u8>,
    /// `source.schema` and `source.table` of a PostgreSQL table, pre-encoded.
    source_table: Vec<u8>,
}

impl EnvelopeEncoder {
    pub fn new(table: &TableSchema, source: SourceKind) -> Self {
        let names = column_field_names(table);
        let columns: Vec<ColumnPlan> = table
            .columns
            .iter()
            .zip(names)
            .map(|(column, field_name)| ColumnPlan {
                name: column.name.clone(),
                field_name,
                is_key: column.is_key,
                plan: Plan::new(&column.column_type),
            })
            .collect();
        let mut source_head = Vec::new();
        write_string(&mut source_head, VERSION);
        write_string(&mut source_head, source.connector());
        let mut source_table = Vec::new();
        if source == SourceKind::Postgres {
            write_string(&mut source_table, &table.table.namespace);
            write_string(&mut source_table, &table.table.name);
        }
        EnvelopeEncoder {
            table: table.table.clone(),
            source,
            has_key: columns.iter().any(|column| column.is_key),
            columns,
            source_head,
            source_table,
        }
    }

    /// Whether the table has key columns, and so [`encode_key`](Self::encode_key) can succeed.
    pub fn has_key(&self) -> bool {
        self.has_key
    }

    /// Appends the key datum (record `<ns>.Key`) of `row`, a full row image of the table.
    pub fn encode_key(&self, row: &Row, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if !self.has_key {
            return Err(EncodeError::NoKey { table: self.table.clone() });
        }
        self.check_length(row)?;
        append_whole(out, |out| {
            self.columns
                .iter()
                .zip(row)
                .filter(|(column, _)| column.is_key)
                .try_for_each(|(column, value)| self.write_column(column, value, out).map(|_| ()))
        })
    }

    /// Appends the envelope datum (record `<ns>.Envelope`) of `event`; `now_ms` is the processing time.
    pub fn encode_envelope(
        &self,
        event: &ChangeEvent,
        source: &SourceFields,
        now_ms: i64,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        append_whole(out, |out| self.write_envelope(event, source, now_ms, out))
    }

    fn write_envelope(
        &self,
        event: &ChangeEvent,
        source: &SourceFields,
        now_ms: i64,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let special_before = self.write_optional_row(event.before.as_ref(), out)?;
        let special_after = self.write_optional_row(event.after.as_ref(), out)?;
        self.write_source(event, source, out)?;
        write_string(out, event.operation.code());
        write_long(out, now_ms);
        match &event.transaction {
            None => write_long(out, 0),
            Some(transaction) => {
                write_long(out, 1);
                write_string(out, &transaction.id);
                write_long(out, self.to_long(transaction.total_order, "transaction total_order")?);
                write_long(out, self.to_long(transaction.data_collection_order, "transaction data_collection_order")?);
            }
        }
        let unchanged = |index: usize| {
            let is_unchanged = |row: Option<&Row>| {
                row.and_then(|row| row.get(index)).is_some_and(|value| matches!(value, ColumnValue::UnchangedToast))
            };
            is_unchanged(event.before.as_ref()) || is_unchanged(event.after.as_ref())
        };
        let unchanged_count = (0..self.columns.len()).filter(|&index| unchanged(index)).count();
        begin_array(out, unchanged_count);
        for (index, column) in self.columns.iter().enumerate() {
            if unchanged(index) {
                write_string(out, &column.field_name);
            }
        }
        end_array(out);
        self.write_special_values(event.before.as_ref(), &special_before, out);
        self.write_special_values(event.after.as_ref(), &special_after, out);
        Ok(())
    }

    /// One image's `special_values` map: field name → the text of each value in `columns`.
    fn write_special_values(&self, row: Option<&Row>, columns: &[usize], out: &mut Vec<u8>) {
        begin_array(out, columns.len());
        for &index in columns {
            if let (Some(column), Some(ColumnValue::Value(value))) =
                (self.columns.get(index), row.and_then(|row| row.get(index)))
            {
                write_string(out, &column.field_name);
                write_string(out, &value_text(value));
            }
        }
        end_array(out);
    }

    fn write_source(&self, event: &ChangeEvent, source: &SourceFields, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let place = match (self.source, event.position.log_position()) {
            (SourceKind::Postgres, Position::Postgres(position)) => {
                LogPlace::Postgres { lsn: position.lsn.0, commit_lsn: position.commit_lsn.0 }
            }
            (SourceKind::Postgres, Position::PostgresRecord(position)) => {
                LogPlace::Postgres { lsn: position.lsn.0, commit_lsn: position.commit_lsn.0 }
            }
            (SourceKind::Mysql, Position::Binlog(position)) => LogPlace::Binlog(position),
            (_, other) => {
                let position = match other {
                    Position::Postgres(_) | Position::PostgresRecord(_) => "PostgreSQL",
                    Position::Binlog(_) => "binlog",
                    Position::Snapshot(_) => "snapshot within a snapshot",
                };
                return Err(EncodeError::PositionMismatch {
                    table: self.table.clone(),
                    position,
                    source_kind: self.source.connector(),
                });
            }
        };
        out.extend_from_slice(&self.source_head);
        write_string(out, &source.name);
        let commit_micros = event.commit_time_micros;
        write_long(out, commit_micros.div_euclid(1000));
        write_string(out, event.snapshot.as_str());
        // A MySQL server's tables live in many databases: `db` is the table's, as Debezium's.
        write_string(out, if self.source == SourceKind::Mysql { &event.schema.table.namespace } else { &source.db });
        match place {
            LogPlace::Postgres { lsn, commit_lsn } => {
                write_long(out, 1);
                write_sequence(out, commit_lsn, lsn);
            }
            LogPlace::Binlog(_) => write_optional_string(out, None),
        }
        write_optional_long(out, Some(commit_micros));
        write_optional_long(out, commit_micros.checked_mul(1000));
        match place {
            LogPlace::Postgres { lsn, commit_lsn } => {
                out.extend_from_slice(&self.source_table);
                let txid = event.transaction.as_ref().and_then(|transaction| transaction.id.parse::<i64>().ok());
                write_optional_long(out, txid);
                write_optional_long(out, Some(self.to_long(lsn, "LSN")?));
                write_optional_long(out, None);
                write_optional_long(out, Some(self.to_long(commit_lsn, "commit LSN")?));
            }
            LogPlace::Binlog(position) => {
                write_optional_string(out, Some(&event.schema.table.name));
                write_long(out, i64::from(position.server_id));
                write_optional_string(out, position.gtid.as_deref());
                write_string(out, &position.file);
                write_long(out, self.to_long(position.event_offset, "binlog offset")?);
                write_long(out, i64::from(i32::try_from(position.row_index).unwrap_or(i32::MAX)));
                write_optional_long(out, None);
                write_optional_string(out, None);
            }
        }
        Ok(())
    }

    /// Writes `["null", <ns>.Value]`; returns the indexes of the columns written as null
    /// because their type cannot carry their value (see [`Self::write_special_values`]).
    fn write_optional_row(&self, row: Option<&Row>, out: &mut Vec<u8>) -> Result<Vec<usize>, EncodeError> {
        let mut special = Vec::new();
        let Some(row) = row else {
            write_long(out, 0);
            return Ok(special);
        };
        self.check_length(row)?;
        write_long(out, 1);
        for (index, (column, value)) in self.columns.iter().zip(row).enumerate() {
            if self.write_column(column, value, out)? == Written::Special {
                special.push(index);
            }
        }
        Ok(special)
    }

    #[inline]
    fn write_column(
        &self,
        column: &ColumnPlan,
        value: &ColumnValue,
        out: &mut Vec<u8>,
    ) -> Result<Written, EncodeError> {
        let start = out.len();
        let result = match (value, column.is_key) {
            (ColumnValue::Value(value), true) => column.plan.write(value, false, out),
            (ColumnValue::Value(value), false) => column.plan.write(value, true, out),
            (ColumnValue::Null | ColumnValue::UnchangedToast, false) => {
                write_long(out, 0);
                Ok(())
            }
            (ColumnValue::Null, true) => Err(Problem::NullKey),
            (ColumnValue::UnchangedToast, true) => Err(Problem::UnchangedKey),
        };
        match result {
            Ok(()) => Ok(Written::Value),
            Err(Problem::Special { .. }) if !column.is_key => {
                out.truncate(start);
                write_long(out, 0);
                Ok(Written::Special)
            }
            Err(problem) => {
                Err(EncodeError::Column { table: self.table.clone(), column: column.name.clone(), problem })
            }
        }
    }

    fn check_length(&self, row: &Row) -> Result<(), EncodeError> {
        if row.len() == self.columns.len() {
            return Ok(());
        }
        Err(EncodeError::RowLength { table: self.table.clone(), expected: self.columns.len(), found: row.len() })
    }

    fn to_long(&self, value: u64, what: &'static str) -> Result<i64, EncodeError> {
        i64::try_from(value).map_err(|_| EncodeError::OutOfRange { table: self.table.clone(), what })
    }
}

/// Debezium's `sequence` of a PostgreSQL change, `["<commit_lsn>","<lsn>"]`, as an Avro
/// string, without a heap string (it is in every envelope; at most 47 bytes).
fn write_sequence(out: &mut Vec<u8>, commit_lsn: u64, lsn: u64) {
    let mut text = ShortText::new();
    let _ = write!(text, "[\"{commit_lsn}\",\"{lsn}\"]");
    write_bytes(out, text.as_bytes());
}

/// Where in its source's log a change is, for the `source` block.
#[derive(Clone, Copy)]
enum LogPlace<'a> {
    Postgres { lsn: u64, commit_lsn: u64 },
    Binlog(&'a BinlogPosition),
}

/// How a column was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Value,
    /// As null, its value being one for `special_values`.
    Special,
}

fn write_optional_long(out: &mut Vec<u8>, value: Option<i64>) {
    match value {
        None => write_long(out, 0),
        Some(value) => {
            write_long(out, 1);
            write_long(out, value);
        }
    }
}

fn write_optional_string(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => write_long(out, 0),
        Some(value) => {
            write_long(out, 1);
            write_string(out, value);
        }
    }
}

/// Runs `write` on `out`; on error, `out` is cut back to where it was, so a failed
/// datum never leaves half its bytes behind.
fn append_whole(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = out.len();
    let result = write(out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}
