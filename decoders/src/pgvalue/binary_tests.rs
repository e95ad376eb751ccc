//! Binary forms against the server's own send functions: each fixture is
//! `SELECT encode(<type>_send(<value>), 'hex')` on PostgreSQL 15.

use super::*;
use crate::change::{Date, Decimal, Numeric, Timestamp};

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .filter_map(|start| text.get(start..start + 2))
        .filter_map(|pair| u8::from_str_radix(pair, 16).ok())
        .collect()
}

fn decoded(column_type: &ColumnType, fixture: &str) -> Value {
    match binary_value(column_type, &hex(fixture)) {
        Ok(value) => value,
        Err(error) => panic!("{fixture} rejected: {error}"),
    }
}

fn finite(negative: bool, digits: &str, scale: u32) -> Value {
    Value::Numeric(Numeric::Finite(Decimal { negative, digits: digits.to_owned(), scale }))
}

#[test]
fn numerics() {
    let numeric = ColumnType::Numeric { precision: None, scale: None };
    assert_eq!(decoded(&numeric, "0003000100000003000109291a7c"), finite(false, "12345678", 3));
    assert_eq!(decoded(&numeric, "0001ffff400000040001"), finite(true, "1", 4));
    assert_eq!(decoded(&numeric, "0000000000000002"), finite(false, "0", 2));
    assert_eq!(decoded(&numeric, "00000000c0000000"), Value::Numeric(Numeric::NaN));
    assert_eq!(decoded(&numeric, "00000000f0000020"), Value::Numeric(Numeric::NegativeInfinity));
}

#[test]
fn fixed_width_scalars() {
    assert_eq!(decoded(&ColumnType::Bool, "01"), Value::Bool(true));
    assert_eq!(decoded(&ColumnType::Int16, "8000"), Value::Int16(i16::MIN));
    assert_eq!(decoded(&ColumnType::Int32, "7fffffff"), Value::Int32(i32::MAX));
    assert_eq!(decoded(&ColumnType::Int64, "ffffffffffffffff"), Value::Int64(-1));
    assert_eq!(decoded(&ColumnType::Oid, "ffffffff"), Value::Oid(u32::MAX));
    assert_eq!(decoded(&ColumnType::Money, "ffffffffffffff6a"), Value::Money(-150));
    assert_eq!(decoded(&ColumnType::Float32, "3fc00000"), Value::Float32(1.5));
    assert_eq!(decoded(&ColumnType::Float64, "8000000000000000"), Value::Float64(-0.0));
    assert!(matches!(decoded(&ColumnType::Float64, "7ff8000000000000"), Value::Float64(value) if value.is_nan()));
    assert_eq!(
        decoded(&ColumnType::Uuid, "a0eebc999c0b4ef8bb6d6bb9bd380a11"),
        Value::Uuid([0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11])
    );
    assert_eq!(decoded(&ColumnType::MacAddr, "08002b010203"), Value::MacAddr([8, 0, 0x2b, 1, 2, 3]));
    assert_eq!(decoded(&ColumnType::MacAddr8, "08002b0102030405"), Value::MacAddr8([8, 0, 0x2b, 1, 2, 3, 4, 5]));
}

#[test]
fn strings() {
    assert_eq!(decoded(&ColumnType::Text, "f09f9880"), Value::Text("😀".to_owned()));
    assert_eq!(decoded(&ColumnType::Bytes, "00ff"), Value::Bytes(vec![0, 255]));
    assert_eq!(decoded(&ColumnType::Jsonb, "017b2261223a20317d"), Value::Json("{\"a\": 1}".to_owned()));
    assert_eq!(decoded(&ColumnType::Json, "7b7d"), Value::Json("{}".to_owned()));
    let label = ColumnType::Enum { type_name: "mood".to_owned(), labels: vec!["ok".to_owned()] };
    assert_eq!(decoded(&label, "6f6b"), Value::Enum("ok".to_owned()));
    assert_eq!(decoded(&ColumnType::VarBit, "00000005b0"), Value::Bits("10110".to_owned()));
    assert!(binary_value(&ColumnType::Text, &[0xff]).is_err());
    assert!(binary_value(&ColumnType::Jsonb, b"{}").is_err());
}

#[test]
fn dates_and_times() {
    assert_eq!(decoded(&ColumnType::Date, "00000001"), Value::Date(Date::Days(10_958)));
    assert_eq!(decoded(&ColumnType::Date, "7fffffff"), Value::Date(Date::PositiveInfinity));
    assert_eq!(
        decoded(&ColumnType::TimestampTz, "00000000000f4240"),
        Value::TimestampTz(Timestamp::Micros(946_684_801_000_000))
    );
    assert_eq!(decoded(&ColumnType::Timestamp, "8000000000000000"), Value::Timestamp(Timestamp::NegativeInfinity));
    // timetz_send('12:00:00.5+05:30'): zone is seconds west.
    assert_eq!(
        decoded(&ColumnType::TimeTz, "0000000a0ef35120ffffb2a8"),
        Value::TimeTz(TimeTz { micros: 43_200_500_000, utc_offset_seconds: 19_800 })
    );
    assert_eq!(
        decoded(&ColumnType::Interval, "000000036c9361a0000000030000000e"),
        Value::Interval(Interval { months: 14, days: 3, micros: 14_706_500_000 })
    );
    assert!(binary_value(&ColumnType::Time, &hex("00000014250b2001")).is_err());
}

#[test]
fn network_addresses() {
    let Value::Inet(inet) = decoded(&ColumnType::Inet, "02180004c0a80001") else {
        panic!("not an inet");
    };
    assert_eq!((inet.address.to_string(), inet.prefix_length), ("192.168.0.1".to_owned(), 24));
    let Value::Inet(inet) = decoded(&ColumnType::Cidr, "0380001000000000000000000000000000000001") else {
        panic!("not an inet");
    };
    assert_eq!((inet.address.to_string(), inet.prefix_length), ("::1".to_owned(), 128));
}

#[test]
fn arrays() {
    let int_array = ColumnType::Array { element: Box::new(ColumnType::Int32) };
    assert_eq!(
        decoded(&int_array, "00000001000000010000001700000002000000000000000400000001ffffffff"),
        Value::Array(ArrayValue {
            dimensions: vec![ArrayDimension { lower_bound: 0, length: 2 }],
            elements: vec![Some(Value::Int32(1)), None],
        })
    );
    assert_eq!(
        decoded(&int_array, "000000000000000000000017"),
        Value::Array(ArrayValue { dimensions: vec![], elements: vec![] })
    );
    let int2_array = ColumnType::Array { element: Box::new(ColumnType::Int16) };
    let Value::Array(square) = decoded(
        &int2_array,
        "00000002000000000000001500000002000000010000000200000001000000020001000000020002000000020003000000020004",
    ) else {
        panic!("not an array");
    };
    assert_eq!(square.dimensions.len(), 2);
    assert_eq!(square.elements.get(3), Some(&Some(Value::Int16(4))));
    // A count far beyond the bytes present is refused before allocating.
    assert!(binary_value(&int_array, &hex("0000000100000000000000177fffffff00000001")).is_err());
    assert!(binary_value(&int_array, &hex("0000000700000000000000170000000100000001")).is_err());
}

#[test]
fn composites_and_ranges() {
    let composite = ColumnType::Composite {
        type_name: "row".to_owned(),
        fields: ["a", "b", "c"]
            .into_iter()
            .zip([ColumnType::Int32, ColumnType::Text, ColumnType::Int32])
            .map(|(name, column_type)| CompositeField { name: name.to_owned(), column_type })
            .collect(),
    };
    assert_eq!(
        decoded(&composite, "000000030000001700000004000000010000001900000002616200000017ffffffff"),
        Value::Composite(vec![
            ("a".to_owned(), Some(Value::Int32(1))),
            ("b".to_owned(), Some(Value::Text("ab".to_owned()))),
            ("c".to_owned(), None),
        ])
    );
    let range = ColumnType::Range { type_name: "int4range".to_owned(), subtype: Box::new(ColumnType::Int32) };
    let bound = |value, inclusive| Some(RangeBound { value: Value::Int32(value), inclusive });
    assert_eq!(
        decoded(&range, "0200000004000000010000000400000005"),
        Value::Range(Box::new(RangeValue::Bounded { lower: bound(1, true), upper: bound(5, false) }))
    );
    assert_eq!(
        decoded(&range, "080000000400000006"),
        Value::Range(Box::new(RangeValue::Bounded { lower: None, upper: bound(6, false) }))
    );
    assert_eq!(decoded(&range, "01"), Value::Range(Box::new(RangeValue::Empty)));
    assert!(binary_value(&range, &hex("0100")).is_err());
}

#[test]
fn unsupported_types_say_use_text() {
    let tsvector_array = ColumnType::Array { element: Box::new(ColumnType::TsVector) };
    let Err(error) = binary_value(&tsvector_array, &[]) else {
        panic!("tsvector[] decoded from binary");
    };
    let message = error.to_string();
    assert!(
        message.starts_with("cannot decode tsvector[] from its binary form: no binary decoder for tsvector"),
        "{message}"
    );
    assert!(message.contains("text format"), "{message}");
}

#[test]
fn errors_name_type_and_problem() {
    let Err(error) = binary_value(&ColumnType::Int32, &[1, 2]) else {
        panic!("short int4 accepted");
    };
    assert_eq!(error.to_string(), "invalid int4 binary value (2 bytes: 01 02): expected exactly 4 bytes");
    assert!(binary_value(&ColumnType::Int32, &[0, 0, 0, 0, 0]).is_err());
}
