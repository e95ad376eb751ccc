//! Random tables and rows: our encoder writes, apache-avro reads with our schema, and
//! what it reads equals what was written.

use std::sync::Arc;

use apache_avro::types::Value as Avro;
use proptest::prelude::*;
use proptest::sample::subsequence;
use std::collections::BTreeMap;

use wellhead_decoders::change::{
    ChangeEvent, ColumnSchema, ColumnType, ColumnValue, Date, Lsn, Numeric, Operation, PgPosition, Position,
    RangeValue, Row, SnapshotFlag, TableName, TableSchema, Timestamp, TransactionInfo, Value,
};

use super::reader::{decode, field, optional_value, string, value};
use super::strategy::{NAMES, column_type, value_of};
use crate::avro::{EnvelopeEncoder, SourceFields, SourceKind, column_field_names, envelope_schema, key_schema};
use crate::json::value_text;

fn table() -> impl Strategy<Value = TableSchema> {
    (subsequence(NAMES.to_vec(), 1..=NAMES.len()), prop::collection::vec((column_type(), any::<bool>()), NAMES.len()))
        .prop_map(|(names, types)| TableSchema {
            table: TableName { namespace: "public".to_owned(), name: "random table".to_owned() },
            columns: names
                .into_iter()
                .zip(types)
                .map(|(name, (column_type, is_key))| ColumnSchema {
                    name: name.to_owned(),
                    column_type,
                    type_oid: 0,
                    type_modifier: -1,
                    is_key,
                })
                .collect(),
        })
}

/// Whether Avro's plain type for the value cannot carry it (so it goes to `special_values`),
/// said independently of the encoder.
fn is_special(value: &Value) -> bool {
    match value {
        Value::Numeric(numeric) => !matches!(numeric, Numeric::Finite(_)),
        Value::Date(date) => !matches!(date, Date::Days(_)),
        Value::Timestamp(timestamp) | Value::TimestampTz(timestamp) => match timestamp {
            Timestamp::Micros(micros) => i64::try_from(*micros).is_err(),
            _ => true,
        },
        Value::Array(array) => {
            array.dimensions.len() > 1
                || array.dimensions.iter().any(|dimension| dimension.lower_bound != 1)
                || array.elements.iter().flatten().any(is_special)
        }
        Value::Composite(fields) => fields.iter().filter_map(|(_, field)| field.as_ref()).any(is_special),
        Value::Range(range) => match range.as_ref() {
            RangeValue::Empty => false,
            RangeValue::Bounded { lower, upper } => {
                [lower, upper].into_iter().flatten().any(|end| is_special(&end.value))
            }
        },
        _ => false,
    }
}

fn row(table: &TableSchema) -> BoxedStrategy<Row> {
    table
        .columns
        .iter()
        .map(|column| {
            let present = value_of(&column.column_type).prop_map(ColumnValue::Value);
            if column.is_key {
                // A key column cannot be null, so a special value there is an error (tested in `units`).
                present
                    .prop_filter(
                        "a key value its type carries",
                        |value| !matches!(value, ColumnValue::Value(value) if is_special(value)),
                    )
                    .boxed()
            } else {
                prop_oneof![4 => present, 1 => Just(ColumnValue::Null), 1 => Just(ColumnValue::UnchangedToast)].boxed()
            }
        })
        .collect::<Vec<_>>()
        .boxed()
}

fn table_and_rows() -> impl Strategy<Value = (TableSchema, Option<Row>, Row)> {
    table().prop_flat_map(|table| {
        let rows = (prop::option::of(row(&table)), row(&table));
        (Just(table), rows).prop_map(|(table, (before, after))| (table, before, after))
    })
}

/// Floats compare by their exact rendering, so that NaN equals NaN and -0 differs from 0.
fn same(left: &Option<wellhead_decoders::change::Value>, right: &Option<wellhead_decoders::change::Value>) -> bool {
    format!("{left:?}") == format!("{right:?}")
}

/// Checks one row image against what was written; `special` is that image's `special_values` map.
fn check_row(table: &TableSchema, written: &Row, read: &Avro, special: &Avro) {
    let Avro::Union(1, record) = read else { panic!("row is not the record branch: {read:?}") };
    let Avro::Map(special) = special else { panic!("special_values image is not a map: {special:?}") };
    let names = column_field_names(table);
    let mut expected_special = BTreeMap::new();
    for ((column, written), name) in table.columns.iter().zip(written).zip(&names) {
        let read = field(record, name);
        let expected = match written {
            ColumnValue::Value(value) if is_special(value) => {
                expected_special.insert(name.clone(), Avro::String(value_text(value)));
                None
            }
            ColumnValue::Value(value) => Some(value.clone()),
            ColumnValue::Null | ColumnValue::UnchangedToast => None,
        };
        let read = if column.is_key {
            Some(value(&column.column_type, read))
        } else {
            optional_value(&column.column_type, read)
        };
        assert!(same(&expected, &read), "column {:?}: wrote {expected:?}, read {read:?}", column.name);
    }
    let special: BTreeMap<String, Avro> = special.clone().into_iter().collect();
    assert_eq!(special, expected_special);
}

fn has_union_in_union(schema: &serde_json::Value, in_union: bool) -> bool {
    match schema {
        serde_json::Value::Array(branches) => {
            in_union || branches.iter().any(|branch| has_union_in_union(branch, true))
        }
        serde_json::Value::Object(object) => object.values().any(|value| has_union_in_union(value, false)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn envelopes_and_keys_round_trip((table, before, after) in table_and_rows()) {
        let schema = envelope_schema(&table, SourceKind::Postgres, "shop");
        prop_assert!(!has_union_in_union(&schema, false));
        let encoder = EnvelopeEncoder::new(&table, SourceKind::Postgres);
        let event = ChangeEvent {
            schema: Arc::new(table.clone()),
            operation: Operation::Update,
            before: before.clone(),
            after: Some(after.clone()),
            position: Position::Postgres(PgPosition {
                commit_lsn: Lsn(0x16_B374_D848),
                change_ordinal: 1,
                lsn: Lsn(0x16_B374_D000),
            }),
            commit_time_micros: 1_700_000_000_123_456,
            transaction: Some(TransactionInfo { id: "731".to_owned(), total_order: 3, data_collection_order: 2 }),
            snapshot: SnapshotFlag::False,
        };
        let source = SourceFields { name: "shop".to_owned(), db: "shopdb".to_owned() };
        let mut out = vec![0xAA];
        encoder.encode_envelope(&event, &source, 1_700_000_000_999, &mut out).expect("valid test data");
        prop_assert_eq!(out[0], 0xAA);
        let envelope = decode(&schema, &out[1..]);

        let special = field(&envelope, "special_values");
        match &before {
            None => {
                prop_assert_eq!(field(&envelope, "before"), &Avro::Union(0, Box::new(Avro::Null)));
                prop_assert_eq!(field(special, "before"), &Avro::Map(Default::default()));
            }
            Some(before) => check_row(&table, before, field(&envelope, "before"), field(special, "before")),
        }
        check_row(&table, &after, field(&envelope, "after"), field(special, "after"));
        let source_record = field(&envelope, "source");
        prop_assert_eq!(string(field(source_record, "table")), "random table");
        prop_assert_eq!(field(source_record, "ts_ms"), &Avro::Long(1_700_000_000_123));
        prop_assert_eq!(field(source_record, "txId"), &Avro::Union(1, Box::new(Avro::Long(731))));
        prop_assert_eq!(field(source_record, "commit_lsn"), &Avro::Union(1, Box::new(Avro::Long(0x16_B374_D848))));
        prop_assert_eq!(string(field(&envelope, "op")), "u");
        prop_assert_eq!(field(&envelope, "ts_ms"), &Avro::Long(1_700_000_000_999));
        let Avro::Array(unchanged) = field(&envelope, "unchanged_columns") else { panic!("unchanged_columns") };
        let unchanged: Vec<String> = unchanged.iter().map(string).collect();
        let names = column_field_names(&table);
        let expected: Vec<String> = (0..table.columns.len())
            .filter(|&index| {
                let is_unchanged = |row: Option<&Row>| row.is_some_and(|row| row[index] == ColumnValue::UnchangedToast);
                is_unchanged(before.as_ref()) || is_unchanged(Some(&after))
            })
            .map(|index| names[index].clone())
            .collect();
        prop_assert_eq!(unchanged, expected);

        let key = key_schema(&table, "shop");
        prop_assert_eq!(key.is_some(), encoder.has_key());
        if let Some(key) = key {
            prop_assert!(!has_union_in_union(&key, false));
            let mut out = Vec::new();
            encoder.encode_key(&after, &mut out).expect("valid test data");
            let record = decode(&key, &out);
            for ((column, written), name) in table.columns.iter().zip(&after).zip(&names) {
                if let (true, ColumnValue::Value(written)) = (column.is_key, written) {
                    let read = Some(value(&column.column_type, field(&record, name)));
                    prop_assert!(same(&Some(written.clone()), &read), "key {}: {:?} vs {:?}", name, written, read);
                }
            }
        }
    }

    #[test]
    fn every_type_alone_is_a_valid_schema(column_type in column_type()) {
        let table = TableSchema {
            table: TableName { namespace: "public".to_owned(), name: "t".to_owned() },
            columns: vec![
                ColumnSchema { name: "k".to_owned(), column_type: column_type.clone(), type_oid: 0, type_modifier: -1, is_key: true },
                ColumnSchema { name: "v".to_owned(), column_type: column_type.clone(), type_oid: 0, type_modifier: -1, is_key: false },
                ColumnSchema { name: "w".to_owned(), column_type: ColumnType::Array { element: Box::new(column_type) }, type_oid: 0, type_modifier: -1, is_key: false },
            ],
        };
        for schema in [key_schema(&table, "p").expect("valid test data"), envelope_schema(&table, SourceKind::Mysql, "p")] {
            apache_avro::Schema::parse(&schema).expect("valid test data");
        }
    }
}
