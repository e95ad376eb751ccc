//! One behaviour per test: representations, rescaling, and the errors.

use std::sync::Arc;

use apache_avro::types::Value as Avro;
use wellhead_decoders::change::{
    ChangeEvent, ColumnSchema, ColumnType, ColumnValue, Date, Decimal, Lsn, Numeric, Operation, PgPosition, Position,
    SnapshotFlag, TableName, TableSchema, Timestamp, Value,
};

use super::reader::{decode, field};
use crate::avro::{EncodeError, EnvelopeEncoder, Problem, SourceFields, SourceKind, envelope_schema, key_schema};

fn column(name: &str, column_type: ColumnType, is_key: bool) -> ColumnSchema {
    ColumnSchema { name: name.to_owned(), column_type, type_oid: 0, type_modifier: -1, is_key }
}

fn table(columns: Vec<ColumnSchema>) -> TableSchema {
    TableSchema { table: TableName { namespace: "public".to_owned(), name: "t".to_owned() }, columns }
}

fn numeric(precision: u32, scale: u32) -> ColumnType {
    ColumnType::Numeric { precision: Some(precision), scale: Some(scale) }
}

fn decimal(negative: bool, digits: &str, scale: u32) -> Value {
    Value::Numeric(Numeric::Finite(Decimal { negative, digits: digits.to_owned(), scale }))
}

/// Encodes `value` as the only (key) column of a table of `column_type` and decodes it with apache-avro.
fn key_round_trip(column_type: ColumnType, value: Value) -> Result<Avro, EncodeError> {
    let table = table(vec![column("v", column_type, true)]);
    let mut out = Vec::new();
    EnvelopeEncoder::new(&table, SourceKind::Postgres).encode_key(&vec![ColumnValue::Value(value)], &mut out)?;
    Ok(field(&decode(&key_schema(&table, "p").expect("valid test data"), &out), "v").clone())
}

fn event(table: &TableSchema, after: Vec<ColumnValue>) -> ChangeEvent {
    ChangeEvent {
        schema: Arc::new(table.clone()),
        operation: Operation::Insert,
        before: None,
        after: Some(after),
        position: Position::Postgres(PgPosition { commit_lsn: Lsn(2), change_ordinal: 1, lsn: Lsn(1) }),
        commit_time_micros: -1,
        transaction: None,
        snapshot: SnapshotFlag::True,
    }
}

fn source() -> SourceFields {
    SourceFields { name: "pipe".to_owned(), db: "db".to_owned() }
}

#[test]
fn smaller_scales_are_rescaled_exactly() {
    let read = key_round_trip(numeric(12, 2), decimal(false, "15", 1)).expect("valid test data");
    let Avro::Decimal(decimal) = read else { panic!("{read:?}") };
    assert_eq!(Vec::<u8>::try_from(decimal).expect("valid test data"), [0, 150]);
}

/// Encodes an insert of `after` (before = the same row) and decodes the envelope with apache-avro.
fn envelope_round_trip(table: &TableSchema, row: Vec<ColumnValue>) -> Avro {
    let mut change = event(table, row.clone());
    change.before = Some(row);
    let mut out = Vec::new();
    EnvelopeEncoder::new(table, SourceKind::Postgres)
        .encode_envelope(&change, &source(), 0, &mut out)
        .expect("valid test data");
    decode(&envelope_schema(table, SourceKind::Postgres, "p"), &out)
}

fn map_of(pairs: &[(&str, &str)]) -> Avro {
    Avro::Map(pairs.iter().map(|(key, value)| ((*key).to_owned(), Avro::String((*value).to_owned()))).collect())
}

#[test]
fn values_a_plain_type_cannot_carry_are_null_with_their_text_in_special_values() {
    let table = table(vec![
        column("id", ColumnType::Int32, true),
        column("amount", numeric(12, 2), false),
        column("day", ColumnType::Date, false),
        column("at", ColumnType::TimestampTz, false),
        column("grid", ColumnType::Array { element: Box::new(ColumnType::Int32) }, false),
        column("plain", ColumnType::Array { element: Box::new(ColumnType::Int32) }, false),
    ]);
    let array = |dimensions: Vec<(i32, u32)>, elements: &[i32]| {
        Value::Array(wellhead_decoders::change::ArrayValue {
            dimensions: dimensions
                .into_iter()
                .map(|(lower_bound, length)| wellhead_decoders::change::ArrayDimension { lower_bound, length })
                .collect(),
            elements: elements.iter().map(|&n| Some(Value::Int32(n))).collect(),
        })
    };
    let row = vec![
        ColumnValue::Value(Value::Int32(1)),
        ColumnValue::Value(Value::Numeric(Numeric::NaN)),
        ColumnValue::Value(Value::Date(Date::NegativeInfinity)),
        ColumnValue::Value(Value::TimestampTz(Timestamp::PositiveInfinity)),
        ColumnValue::Value(array(vec![(1, 2), (1, 2)], &[1, 2, 3, 4])),
        ColumnValue::Value(array(vec![(1, 2)], &[5, 6])),
    ];
    let envelope = envelope_round_trip(&table, row);
    let Avro::Union(1, after) = field(&envelope, "after") else { panic!("{envelope:?}") };
    for name in ["amount", "day", "at", "grid"] {
        assert_eq!(field(after, name), &Avro::Union(0, Box::new(Avro::Null)), "{name}");
    }
    assert_eq!(
        field(after, "plain"),
        &Avro::Union(
            1,
            Box::new(Avro::Array(vec![Avro::Union(1, Box::new(Avro::Int(5))), Avro::Union(1, Box::new(Avro::Int(6)))]))
        )
    );
    let expected = map_of(&[("amount", "NaN"), ("day", "-infinity"), ("at", "infinity"), ("grid", "[[1,2],[3,4]]")]);
    let special = field(&envelope, "special_values");
    assert_eq!(field(special, "before"), &expected);
    assert_eq!(field(special, "after"), &expected);

    let shifted = array(vec![(0, 2)], &[7, 8]);
    let row = vec![
        ColumnValue::Value(Value::Int32(2)),
        ColumnValue::Null,
        ColumnValue::Null,
        ColumnValue::Null,
        ColumnValue::Value(shifted),
        ColumnValue::Null,
    ];
    let envelope = envelope_round_trip(&table, row);
    let special = field(&envelope, "special_values");
    assert_eq!(field(special, "after"), &map_of(&[("grid", "{\"lower_bounds\":[0],\"elements\":[7,8]}")]));
}

#[test]
fn a_key_column_whose_value_is_special_is_an_error_naming_it() {
    let error = key_round_trip(ColumnType::Date, Value::Date(Date::PositiveInfinity)).expect_err("an encode error");
    assert!(
        matches!(&error, EncodeError::Column { column, problem: Problem::Special { .. }, .. } if column == "v"),
        "{error}"
    );
    assert!(error.to_string().contains("an infinite date or timestamp"), "{error}");
    let read =
        key_round_trip(ColumnType::TimestampTz, Value::TimestampTz(Timestamp::Micros(-1))).expect("valid test data");
    assert_eq!(read, Avro::TimestampMicros(-1));
}

#[test]
fn floats_keep_their_bits() {
    for bits in [f64::NAN.to_bits() | 1, (-0.0_f64).to_bits(), f64::INFINITY.to_bits()] {
        let read = key_round_trip(ColumnType::Float64, Value::Float64(f64::from_bits(bits))).expect("valid test data");
        let Avro::Double(read) = read else { panic!("{read:?}") };
        assert_eq!(read.to_bits(), bits);
    }
}

#[test]
fn unsigned_bigint_and_money_never_wrap() {
    let read = key_round_trip(ColumnType::UInt64, Value::UInt64(u64::MAX)).expect("valid test data");
    let Avro::Decimal(decimal) = read else { panic!("{read:?}") };
    assert_eq!(
        Vec::<u8>::try_from(decimal).expect("valid test data"),
        [0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    let read = key_round_trip(ColumnType::Money, Value::Money(-1)).expect("valid test data");
    let Avro::Decimal(decimal) = read else { panic!("{read:?}") };
    assert_eq!(Vec::<u8>::try_from(decimal).expect("valid test data"), [0xff]);
}

#[test]
fn uuids_and_addresses_are_canonical_text() {
    let bytes = [0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0, 0];
    let read = key_round_trip(ColumnType::Uuid, Value::Uuid(bytes)).expect("valid test data");
    let Avro::Uuid(uuid) = read else { panic!("{read:?}") };
    assert_eq!(uuid.to_string(), "550e8400-e29b-41d4-a716-446655440000");
    let read = key_round_trip(ColumnType::MacAddr, Value::MacAddr([8, 0, 0x2b, 1, 2, 3])).expect("valid test data");
    assert_eq!(read, Avro::String("08:00:2b:01:02:03".to_owned()));
    let inet = wellhead_decoders::change::Inet {
        address: "2001:db8::1".parse().expect("valid test data"),
        prefix_length: 64,
        cidr: false,
    };
    let read = key_round_trip(ColumnType::Inet, Value::Inet(inet)).expect("valid test data");
    assert_eq!(read, Avro::String("2001:db8::1/64".to_owned()));
    let host = wellhead_decoders::change::Inet { prefix_length: 128, ..inet };
    let read = key_round_trip(ColumnType::Inet, Value::Inet(host)).expect("valid test data");
    assert_eq!(
        read,
        Avro::String("2001:db8::1".to_owned()),
        "an inet's full-width prefix is left out, as PostgreSQL prints it"
    );
}

#[test]
fn errors_name_table_column_and_problem_and_leave_the_buffer_alone() {
    let table = table(vec![column("id", ColumnType::Int64, true), column("amount", numeric(5, 2), false)]);
    let encoder = EnvelopeEncoder::new(&table, SourceKind::Postgres);
    let mut out = vec![7];
    let row = vec![ColumnValue::Value(Value::Int64(1)), ColumnValue::Value(decimal(false, "1", 3))];
    let error = encoder.encode_envelope(&event(&table, row), &source(), 0, &mut out).expect_err("an encode error");
    assert_eq!(
        error,
        EncodeError::Column {
            table: table.table.clone(),
            column: "amount".to_owned(),
            problem: Problem::ScaleTooLarge { scale: 3, column_scale: 2 },
        }
    );
    assert_eq!(
        error.to_string(),
        "cannot encode table public.t, column \"amount\": a decimal of scale 3 does not fit the column's scale 2 \
         (Wellhead never rounds)"
    );
    assert_eq!(out, [7]);

    let cases: [(Vec<ColumnValue>, Problem); 4] = [
        (
            vec![ColumnValue::Value(Value::Int64(1)), ColumnValue::Value(decimal(true, "123456", 2))],
            Problem::PrecisionExceeded { digits: 6, precision: 5 },
        ),
        (vec![ColumnValue::Null, ColumnValue::Null], Problem::NullKey),
        (vec![ColumnValue::UnchangedToast, ColumnValue::Null], Problem::UnchangedKey),
        (
            vec![ColumnValue::Value(Value::Text("1".to_owned())), ColumnValue::Null],
            Problem::TypeMismatch { expected: "Int16, Int32, Int64 or Oid", found: "Text" },
        ),
    ];
    for (row, problem) in cases {
        match encoder.encode_envelope(&event(&table, row), &source(), 0, &mut out) {
            Err(EncodeError::Column { problem: found, .. }) => assert_eq!(found, problem),
            other => panic!("{other:?}"),
        }
    }
    let short = event(&table, vec![ColumnValue::Null]);
    assert!(matches!(
        encoder.encode_envelope(&short, &source(), 0, &mut out),
        Err(EncodeError::RowLength { expected: 2, found: 1, .. })
    ));
    assert_eq!(out, [7]);
}

#[test]
fn keyless_tables_have_no_key_schema_and_no_key() {
    let table = table(vec![column("v", ColumnType::Text, false)]);
    assert_eq!(key_schema(&table, "p"), None);
    let encoder = EnvelopeEncoder::new(&table, SourceKind::Postgres);
    assert!(!encoder.has_key());
    assert!(matches!(encoder.encode_key(&vec![ColumnValue::Null], &mut Vec::new()), Err(EncodeError::NoKey { .. })));
}

#[test]
fn mysql_envelopes_refuse_postgres_positions() {
    let table = table(vec![column("v", ColumnType::UInt64, true)]);
    let encoder = EnvelopeEncoder::new(&table, SourceKind::Mysql);
    let event = event(&table, vec![ColumnValue::Value(Value::UInt64(1))]);
    let error = encoder.encode_envelope(&event, &source(), 0, &mut Vec::new()).expect_err("an encode error");
    assert!(matches!(error, EncodeError::PositionMismatch { .. }), "{error}");
}

#[test]
fn snapshot_reads_encode_the_whole_envelope() {
    let table = table(vec![column("id", ColumnType::Int32, true), column("note", ColumnType::Text, false)]);
    let encoder = EnvelopeEncoder::new(&table, SourceKind::Postgres);
    let mut event = event(&table, vec![ColumnValue::Value(Value::Int32(5)), ColumnValue::Null]);
    event.operation = Operation::Read;
    let mut out = Vec::new();
    encoder.encode_envelope(&event, &source(), 42, &mut out).expect("valid test data");
    let envelope = decode(&envelope_schema(&table, SourceKind::Postgres, "p"), &out);
    let after = field(&envelope, "after");
    let Avro::Union(1, after) = after else { panic!("{after:?}") };
    assert_eq!(field(after, "id"), &Avro::Int(5));
    assert_eq!(field(after, "note"), &Avro::Union(0, Box::new(Avro::Null)));
    let source = field(&envelope, "source");
    assert_eq!(field(source, "snapshot"), &Avro::String("true".to_owned()));
    assert_eq!(field(source, "ts_ms"), &Avro::Long(-1));
    assert_eq!(field(source, "connector"), &Avro::String("postgresql".to_owned()));
    assert_eq!(field(source, "txId"), &Avro::Union(0, Box::new(Avro::Null)));
    assert_eq!(field(source, "sequence"), &Avro::Union(1, Box::new(Avro::String("[\"2\",\"1\"]".to_owned()))));
    assert_eq!(field(source, "ts_us"), &Avro::Union(1, Box::new(Avro::Long(-1))));
    assert_eq!(field(source, "ts_ns"), &Avro::Union(1, Box::new(Avro::Long(-1000))));
    assert_eq!(field(source, "lsn"), &Avro::Union(1, Box::new(Avro::Long(1))));
    assert_eq!(field(source, "commit_lsn"), &Avro::Union(1, Box::new(Avro::Long(2))));
    assert_eq!(field(&envelope, "op"), &Avro::String("r".to_owned()));
    assert_eq!(field(&envelope, "transaction"), &Avro::Union(0, Box::new(Avro::Null)));
    assert_eq!(field(&envelope, "unchanged_columns"), &Avro::Array(Vec::new()));
    let special = field(&envelope, "special_values");
    assert_eq!((field(special, "before"), field(special, "after")), (&map_of(&[]), &map_of(&[])));
}

#[test]
fn the_longest_interval_and_timetz_texts_are_written_whole() {
    let interval = wellhead_decoders::change::Interval { months: i32::MIN + 1, days: i32::MIN, micros: i64::MIN + 1 };
    let read = key_round_trip(ColumnType::Interval, Value::Interval(interval)).expect("valid test data");
    assert_eq!(read, Avro::String("P-178956970Y-7M-2147483648DT-2562047788H-54.775807S".to_owned()));
    let time =
        wellhead_decoders::change::TimeTz { micros: 86_399_999_999, utc_offset_seconds: -(15 * 3600 + 59 * 60 + 59) };
    let read = key_round_trip(ColumnType::TimeTz, Value::TimeTz(time)).expect("valid test data");
    assert_eq!(read, Avro::String("23:59:59.999999-15:59:59".to_owned()));
}
