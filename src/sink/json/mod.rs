//! The Debezium-shaped envelope as one line of JSON:
//!
//! ```json
//! {"before":null,"after":{"id":1},"source":{...},"op":"c","ts_ms":1700000000000,
//!  "transaction":{"id":"731","total_order":1,"data_collection_order":1}}
//! ```
//!
//! A column the database did not send (unchanged TOAST) is left out of the row
//! object and named in `"unchanged_columns"`; it is never given a made-up value.

use std::fmt::Write as _;

use wellhead_decoders::change::{ChangeEvent, ColumnValue, Position, Row};

pub use wellhead_schema::json::write_string;

/// Fixed facts about the source, repeated in every envelope's `source` block.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// `postgresql` or `mysql`.
    pub connector: &'static str,
    /// The pipeline name.
    pub name: String,
    /// The database name.
    pub db: String,
}

/// Appends one envelope (no trailing newline). `now_ms` is the processing time.
pub fn write_envelope(out: &mut String, event: &ChangeEvent, source: &SourceInfo, now_ms: i64) {
    let mut unchanged: Vec<&str> = Vec::new();
    out.push_str("{\"before\":");
    write_row(out, event, event.before.as_ref(), &mut unchanged);
    out.push_str(",\"after\":");
    write_row(out, event, event.after.as_ref(), &mut unchanged);
    out.push_str(",\"source\":{\"version\":");
    write_string(out, env!("CARGO_PKG_VERSION"));
    out.push_str(",\"connector\":");
    write_string(out, source.connector);
    out.push_str(",\"name\":");
    write_string(out, &source.name);
    let commit_ms = event.commit_time_micros.div_euclid(1000);
    let _ = write!(out, ",\"ts_ms\":{commit_ms},\"snapshot\":\"{}\"", event.snapshot.as_str());
    out.push_str(",\"db\":");
    // A MySQL server's tables live in many databases: `db` is the table's, as Debezium's.
    write_string(out, if source.connector == "mysql" { &event.schema.table.namespace } else { &source.db });
    match event.position.log_position() {
        Position::Postgres(position) => {
            write_times_and_table(out, event, Some((position.commit_lsn.0, position.lsn.0)));
            write_txid(out, event);
            let _ = write!(
                out,
                ",\"lsn\":{},\"xmin\":null,\"commit_lsn\":{},\"change_ordinal\":{}",
                position.lsn.0, position.commit_lsn.0, position.change_ordinal
            );
        }
        Position::PostgresRecord(position) => {
            write_times_and_table(out, event, Some((position.commit_lsn.0, position.lsn.0)));
            write_txid(out, event);
            let _ = write!(out, ",\"lsn\":{},\"xmin\":null,\"commit_lsn\":{}", position.lsn.0, position.commit_lsn.0);
        }
        Position::Binlog(position) => {
            write_times_and_table(out, event, None);
            let _ = write!(out, ",\"server_id\":{},\"gtid\":", position.server_id);
            match &position.gtid {
                Some(gtid) => write_string(out, gtid),
                None => out.push_str("null"),
            }
            out.push_str(",\"file\":");
            write_string(out, &position.file);
            let _ = write!(
                out,
                ",\"pos\":{},\"row\":{},\"thread\":null,\"query\":null",
                position.event_offset, position.row_index
            );
        }
        // A snapshot row's log position is where the snapshot was taken, never another snapshot row.
        Position::Snapshot(_) => write_times_and_table(out, event, None),
    }
    let _ = write!(out, "}},\"op\":\"{}\",\"ts_ms\":{now_ms}", event.operation.code());
    if !unchanged.is_empty() {
        out.push_str(",\"unchanged_columns\":[");
        for (index, name) in unchanged.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            write_string(out, name);
        }
        out.push(']');
    }
    match &event.transaction {
        Some(transaction) => {
            out.push_str(",\"transaction\":{\"id\":");
            write_string(out, &transaction.id);
            let _ = write!(
                out,
                ",\"total_order\":{},\"data_collection_order\":{}}}",
                transaction.total_order, transaction.data_collection_order
            );
        }
        None => out.push_str(",\"transaction\":null"),
    }
    out.push('}');
}

/// `sequence`, `ts_us`, `ts_ns`, then `schema` and `table`, as Debezium orders them; a
/// PostgreSQL change gives its `sequence` as `(commit_lsn, lsn)` and has a `schema`.
fn write_times_and_table(out: &mut String, event: &ChangeEvent, postgres_sequence: Option<(u64, u64)>) {
    match postgres_sequence {
        Some((commit_lsn, lsn)) => {
            let _ = write!(out, ",\"sequence\":\"[\\\"{commit_lsn}\\\",\\\"{lsn}\\\"]\"");
        }
        None => out.push_str(",\"sequence\":null"),
    }
    let commit_micros = event.commit_time_micros;
    let _ = write!(out, ",\"ts_us\":{commit_micros}");
    match commit_micros.checked_mul(1000) {
        Some(nanos) => {
            let _ = write!(out, ",\"ts_ns\":{nanos}");
        }
        None => out.push_str(",\"ts_ns\":null"),
    }
    if postgres_sequence.is_some() {
        out.push_str(",\"schema\":");
        write_string(out, &event.schema.table.namespace);
    }
    out.push_str(",\"table\":");
    write_string(out, &event.schema.table.name);
}

/// PostgreSQL's `txId`: the transaction's xid, when the event has one.
fn write_txid(out: &mut String, event: &ChangeEvent) {
    match event.transaction.as_ref().and_then(|transaction| transaction.id.parse::<i64>().ok()) {
        Some(xid) => {
            let _ = write!(out, ",\"txId\":{xid}");
        }
        None => out.push_str(",\"txId\":null"),
    }
}

fn write_row<'a>(out: &mut String, event: &'a ChangeEvent, row: Option<&Row>, unchanged: &mut Vec<&'a str>) {
    let Some(row) = row else {
        out.push_str("null");
        return;
    };
    out.push('{');
    let mut first = true;
    for (column, value) in event.schema.columns.iter().zip(row) {
        let value = match value {
            ColumnValue::UnchangedToast => {
                unchanged.push(&column.name);
                continue;
            }
            ColumnValue::Null => None,
            ColumnValue::Value(value) => Some(value),
        };
        if !first {
            out.push(',');
        }
        first = false;
        write_string(out, &column.name);
        out.push(':');
        wellhead_schema::json::write_optional(out, value);
    }
    out.push('}');
}
