//! The public entry points: dispatch of every column type, UTF-8 handling,
//! error messages, and property tests (float and decimal round trips through
//! PostgreSQL's text forms; no input panics any decoder).

use proptest::prelude::*;

use super::*;
use crate::change::{CompositeField, Decimal, Numeric, RangeValue};

fn text(column_type: &ColumnType, input: &str) -> Value {
    match decode_text(column_type, input.as_bytes()) {
        Ok(value) => value,
        Err(error) => panic!("{input:?} rejected: {error}"),
    }
}

fn owned(text: &str) -> String {
    text.to_owned()
}

#[test]
fn text_dispatch_for_every_scalar() {
    // Strings as PostgreSQL 15 prints them under the replication session's settings.
    assert_eq!(text(&ColumnType::Bool, "t"), Value::Bool(true));
    assert_eq!(text(&ColumnType::Int16, "-32768"), Value::Int16(i16::MIN));
    assert_eq!(text(&ColumnType::Int32, "2147483647"), Value::Int32(i32::MAX));
    assert_eq!(text(&ColumnType::Int64, "-9223372036854775808"), Value::Int64(i64::MIN));
    assert_eq!(text(&ColumnType::Oid, "4294967295"), Value::Oid(u32::MAX));
    assert_eq!(text(&ColumnType::Float32, "1.5"), Value::Float32(1.5));
    assert_eq!(text(&ColumnType::Float64, "1e+300"), Value::Float64(1e300));
    let numeric = ColumnType::Numeric { precision: Some(10), scale: Some(2) };
    assert_eq!(
        text(&numeric, "123.00").to_owned(),
        Value::Numeric(Numeric::Finite(Decimal { negative: false, digits: owned("12300"), scale: 2 }))
    );
    assert_eq!(text(&ColumnType::Money, "-$1.00"), Value::Money(-100));
    assert_eq!(text(&ColumnType::Text, "a b  "), Value::Text(owned("a b  ")));
    assert_eq!(text(&ColumnType::Text, ""), Value::Text(String::new()));
    assert_eq!(text(&ColumnType::Bytes, "\\x00ff"), Value::Bytes(vec![0, 255]));
    assert_eq!(text(&ColumnType::Time, "24:00:00"), Value::Time(86_400_000_000));
    assert_eq!(text(&ColumnType::Json, "{\"a\": 1}"), Value::Json(owned("{\"a\": 1}")));
    assert_eq!(text(&ColumnType::Jsonb, "{\"a\": 1}"), Value::Json(owned("{\"a\": 1}")));
    assert_eq!(text(&ColumnType::Xml, "<a/>"), Value::Xml(owned("<a/>")));
    assert_eq!(text(&ColumnType::Bit { length: Some(4) }, "0101"), Value::Bits(owned("0101")));
    assert_eq!(text(&ColumnType::VarBit, ""), Value::Bits(String::new()));
    assert_eq!(text(&ColumnType::TsVector, "'a':1 'b':2"), Value::Other(owned("'a':1 'b':2")));
    assert_eq!(text(&ColumnType::TsVector, ""), Value::Other(String::new()));
    let other = ColumnType::Other { type_name: owned("point") };
    assert_eq!(text(&other, "(1,2)"), Value::Other(owned("(1,2)")));
    let mood = ColumnType::Enum { type_name: owned("mood"), labels: vec![owned("happy")] };
    assert_eq!(text(&mood, "happy"), Value::Enum(owned("happy")));
    assert_eq!(text(&ColumnType::MacAddr, "08:00:2b:01:02:03"), Value::MacAddr([8, 0, 0x2b, 1, 2, 3]));
    assert!(matches!(text(&ColumnType::Cidr, "10.0.0.0/8"), Value::Inet(inet) if inet.prefix_length == 8));
    assert!(matches!(text(&ColumnType::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), Value::Uuid(_)));
    assert!(matches!(text(&ColumnType::Interval, "P-1Y-2M"), Value::Interval(interval) if interval.months == -14));
}

#[test]
fn text_dispatch_for_containers() {
    let range = ColumnType::Range { type_name: owned("daterange"), subtype: Box::new(ColumnType::Date) };
    assert!(
        matches!(text(&range, "[2020-01-01,)"), Value::Range(value) if matches!(*value, RangeValue::Bounded { upper: None, .. }))
    );
    let composite = ColumnType::Composite {
        type_name: owned("pair"),
        fields: vec![
            CompositeField { name: owned("a"), column_type: ColumnType::Int32 },
            CompositeField { name: owned("b"), column_type: ColumnType::Text },
        ],
    };
    assert_eq!(
        text(&composite, "(1,)"),
        Value::Composite(vec![(owned("a"), Some(Value::Int32(1))), (owned("b"), None)])
    );
    // SELECT ROW(1, ARRAY['a b', NULL]) → (1,"{""a b"",NULL}")
    let with_array = ColumnType::Composite {
        type_name: owned("holder"),
        fields: vec![
            CompositeField { name: owned("n"), column_type: ColumnType::Int32 },
            CompositeField {
                name: owned("list"),
                column_type: ColumnType::Array { element: Box::new(ColumnType::Text) },
            },
        ],
    };
    let Value::Composite(fields) = text(&with_array, "(1,\"{\"\"a b\"\",NULL}\")") else {
        panic!("not a composite");
    };
    let Some((_, Some(Value::Array(list)))) = fields.get(1) else {
        panic!("no array field");
    };
    assert_eq!(list.elements, vec![Some(Value::Text(owned("a b"))), None]);
}

#[test]
fn utf8_passes_and_invalid_utf8_is_an_error() {
    assert_eq!(text(&ColumnType::Text, "😀𝄞 ü"), Value::Text(owned("😀𝄞 ü")));
    let Err(error) = decode_text(&ColumnType::Text, b"ab\xff") else {
        panic!("invalid UTF-8 accepted");
    };
    assert_eq!(error.to_string(), "invalid text text \"ab\u{fffd}\": not valid UTF-8 (bad byte at offset 2)");
    assert!(decode_text(&ColumnType::Other { type_name: owned("x") }, b"\xc3").is_err());
}

#[test]
fn errors_name_the_type_and_quote_the_text() {
    let Err(error) = decode_text(&ColumnType::Date, b"2021-02-29") else {
        panic!("bad date accepted");
    };
    assert_eq!(error.to_string(), "invalid date text \"2021-02-29\": day 29 is out of range for the month");
    let array = ColumnType::Array { element: Box::new(ColumnType::Int16) };
    let Err(error) = decode_text(&array, b"{1,99999}") else {
        panic!("bad array accepted");
    };
    assert_eq!(
        error.to_string(),
        "invalid int2[] text \"{1,99999}\": element 2: invalid int2 text \"99999\": integer out of range"
    );
}

/// A float as `float8out`/`float4out` print it with `extra_float_digits=3`:
/// shortest round-trip digits, exponent form outside `1e-4 ..< 1e15` (`1e6` for float4).
fn postgres_float(scientific: String, fixed: String, fixed_limit: i32) -> String {
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or_default();
    if (-4..fixed_limit).contains(&exponent) {
        fixed
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    }
}

fn postgres_float64(value: f64) -> String {
    match value {
        _ if value.is_nan() => owned("NaN"),
        f64::INFINITY => owned("Infinity"),
        f64::NEG_INFINITY => owned("-Infinity"),
        _ => postgres_float(format!("{value:e}"), format!("{value}"), 15),
    }
}

fn postgres_float32(value: f32) -> String {
    match value {
        _ if value.is_nan() => owned("NaN"),
        f32::INFINITY => owned("Infinity"),
        f32::NEG_INFINITY => owned("-Infinity"),
        _ => postgres_float(format!("{value:e}"), format!("{value}"), 6),
    }
}

#[test]
fn float_formatter_matches_postgres() {
    // SELECT 1e15::float8, 1e14::float8, '-0'::float8, 1e-5::float8, 1e7::float4, 16777216::float4, 1e-45::float4
    assert_eq!(postgres_float64(1e15), "1e+15");
    assert_eq!(postgres_float64(1e14), "100000000000000");
    assert_eq!(postgres_float64(-0.0), "-0");
    assert_eq!(postgres_float64(1e-5), "1e-05");
    assert_eq!(postgres_float64(1.7976931348623157e308), "1.7976931348623157e+308");
    assert_eq!(postgres_float32(1e7), "1e+07");
    assert_eq!(postgres_float32(16_777_216.0), "1.6777216e+07");
    assert_eq!(postgres_float32(1e-45), "1e-45");
}

/// Column types to throw arbitrary input at, nesting included.
fn every_column_type() -> Vec<ColumnType> {
    let scalars = vec![
        ColumnType::Bool,
        ColumnType::Int16,
        ColumnType::Int32,
        ColumnType::Int64,
        ColumnType::Float32,
        ColumnType::Float64,
        ColumnType::Numeric { precision: None, scale: None },
        ColumnType::Text,
        ColumnType::Bytes,
        ColumnType::Date,
        ColumnType::Time,
        ColumnType::TimeTz,
        ColumnType::Timestamp,
        ColumnType::TimestampTz,
        ColumnType::Interval,
        ColumnType::Uuid,
        ColumnType::Json,
        ColumnType::Jsonb,
        ColumnType::Xml,
        ColumnType::Inet,
        ColumnType::Cidr,
        ColumnType::MacAddr,
        ColumnType::MacAddr8,
        ColumnType::Money,
        ColumnType::Bit { length: Some(3) },
        ColumnType::VarBit,
        ColumnType::Oid,
        ColumnType::TsVector,
        ColumnType::Enum { type_name: owned("mood"), labels: vec![owned("ok")] },
        ColumnType::Other { type_name: owned("box") },
    ];
    let composite = ColumnType::Composite {
        type_name: owned("pair"),
        fields: vec![
            CompositeField { name: owned("n"), column_type: ColumnType::Int32 },
            CompositeField { name: owned("t"), column_type: ColumnType::Array { element: Box::new(ColumnType::Text) } },
        ],
    };
    let range = ColumnType::Range { type_name: owned("tsrange"), subtype: Box::new(ColumnType::Timestamp) };
    let mut types: Vec<ColumnType> =
        scalars.iter().map(|element| ColumnType::Array { element: Box::new(element.clone()) }).collect();
    types.extend(scalars);
    types.push(ColumnType::Array { element: Box::new(composite.clone()) });
    types.push(ColumnType::Array { element: Box::new(range.clone()) });
    types.push(composite);
    types.push(range);
    types
}

proptest! {
    #[test]
    fn float64_round_trips_bit_exactly(bits in any::<u64>()) {
        let value = f64::from_bits(bits);
        let decoded = decode_text(&ColumnType::Float64, postgres_float64(value).as_bytes());
        match decoded {
            Ok(Value::Float64(parsed)) if value.is_nan() => prop_assert!(parsed.is_nan()),
            Ok(Value::Float64(parsed)) => prop_assert_eq!(parsed.to_bits(), bits),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn float32_round_trips_bit_exactly(bits in any::<u32>()) {
        let value = f32::from_bits(bits);
        let decoded = decode_text(&ColumnType::Float32, postgres_float32(value).as_bytes());
        match decoded {
            Ok(Value::Float32(parsed)) if value.is_nan() => prop_assert!(parsed.is_nan()),
            Ok(Value::Float32(parsed)) => prop_assert_eq!(parsed.to_bits(), bits),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn decimals_round_trip(negative in any::<bool>(), digits in "[1-9][0-9]{0,60}|0", scale in 0_u32..80) {
        let decimal = Decimal { negative: negative && digits != "0", digits, scale };
        let numeric = ColumnType::Numeric { precision: None, scale: None };
        let decoded = decode_text(&numeric, decimal.to_string().as_bytes());
        prop_assert_eq!(decoded, Ok(Value::Numeric(Numeric::Finite(decimal))));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        for column_type in every_column_type() {
            let _ = decode_text(&column_type, &bytes);
            let _ = decode_binary(&column_type, &bytes);
        }
    }

    #[test]
    fn random_syntax_never_panics(input in r#"[-+0-9a-fPTYMDHSNUL{}()\[\]",;:.=\\ x$]{0,40}"#) {
        for column_type in every_column_type() {
            let _ = decode_text(&column_type, input.as_bytes());
        }
    }
}
