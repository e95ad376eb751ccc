//! Encodes 1,000,000 change events of the benchmark row shape
//! `(id bigint, account_id int, kind text, amount numeric(12,2), payload jsonb, created_at timestamptz)`
//! and prints events per second. Run by hand: `cargo run --release -p wellhead-schema --example encode_throughput`.

use std::sync::Arc;
use std::time::Instant;

use wellhead_decoders::change::{
    ChangeEvent, ColumnSchema, ColumnType, ColumnValue, Decimal, Lsn, Numeric, Operation, PgPosition, Position,
    TableName, TableSchema, Timestamp, TransactionInfo, Value,
};
use wellhead_schema::avro::{EnvelopeEncoder, SourceFields, SourceKind};

const EVENT_COUNT: usize = 1_000_000;
/// Distinct events cycled through, so that the input is not one cache-hot row.
const DISTINCT_EVENTS: usize = 4096;

fn column(name: &str, column_type: ColumnType, is_key: bool) -> ColumnSchema {
    ColumnSchema { name: name.to_owned(), column_type, type_oid: 0, type_modifier: -1, is_key }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = Arc::new(TableSchema {
        table: TableName { namespace: "public".to_owned(), name: "ledger".to_owned() },
        columns: vec![
            column("id", ColumnType::Int64, true),
            column("account_id", ColumnType::Int32, false),
            column("kind", ColumnType::Text, false),
            column("amount", ColumnType::Numeric { precision: Some(12), scale: Some(2) }, false),
            column("payload", ColumnType::Jsonb, false),
            column("created_at", ColumnType::TimestampTz, false),
        ],
    });
    let events: Vec<ChangeEvent> = (0..DISTINCT_EVENTS)
        .map(|index| {
            let id = index as i64 + 1;
            let row = vec![
                ColumnValue::Value(Value::Int64(id)),
                ColumnValue::Value(Value::Int32((index % 1000) as i32)),
                ColumnValue::Value(Value::Text(if index % 2 == 0 { "credit" } else { "debit" }.to_owned())),
                ColumnValue::Value(Value::Numeric(Numeric::Finite(Decimal {
                    negative: index % 3 == 0,
                    digits: format!("{}", 100 + index * 37),
                    scale: 2,
                }))),
                ColumnValue::Value(Value::Json(format!("{{\"note\": \"event {index}\", \"tags\": [\"a\", \"b\"]}}"))),
                ColumnValue::Value(Value::TimestampTz(Timestamp::Micros(i128::from(
                    1_700_000_000_000_000 + id * 1000,
                )))),
            ];
            ChangeEvent {
                schema: Arc::clone(&table),
                operation: Operation::Insert,
                before: None,
                after: Some(row),
                position: Position::Postgres(PgPosition {
                    commit_lsn: Lsn(id as u64 * 200),
                    change_ordinal: 1,
                    lsn: Lsn(id as u64 * 100),
                }),
                commit_time_micros: 1_700_000_000_000_000 + id * 1000,
                transaction: Some(TransactionInfo {
                    id: format!("{}", 700 + index / 10),
                    total_order: (index % 10) as u64 + 1,
                    data_collection_order: (index % 10) as u64 + 1,
                }),
                snapshot: wellhead_decoders::change::SnapshotFlag::False,
            }
        })
        .collect();
    let encoder = EnvelopeEncoder::new(&table, SourceKind::Postgres);
    let source = SourceFields { name: "bench".to_owned(), db: "bench".to_owned() };
    let mut key = Vec::with_capacity(64);
    let mut value = Vec::with_capacity(512);
    let mut total_bytes = 0_usize;
    let started = Instant::now();
    for event in events.iter().cycle().take(EVENT_COUNT) {
        key.clear();
        value.clear();
        if let Some(after) = &event.after {
            encoder.encode_key(after, &mut key)?;
        }
        encoder.encode_envelope(event, &source, 1_700_000_000_000, &mut value)?;
        total_bytes += key.len() + value.len();
    }
    let elapsed = started.elapsed();
    println!(
        "{EVENT_COUNT} events (key + envelope) in {:.3} s: {:.0} events/s, {:.1} bytes/event",
        elapsed.as_secs_f64(),
        EVENT_COUNT as f64 / elapsed.as_secs_f64(),
        total_bytes as f64 / EVENT_COUNT as f64
    );
    Ok(())
}
