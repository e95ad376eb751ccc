//! The independent side of the round trips: apache-avro decodes our bytes, and
//! this module turns its generic values back into the change model.

use std::net::IpAddr;

use apache_avro::types::Value as Avro;
use wellhead_decoders::change::{
    ArrayDimension, ArrayValue, ColumnType, Date, Decimal, Inet, Numeric, RangeBound, RangeValue, Timestamp, Value,
};
use wellhead_decoders::pgvalue::decode_text;

use crate::avro::types::fixed_decimal;

/// Decodes one datum of `schema` (JSON) and checks that every byte was used.
pub(crate) fn decode(schema: &serde_json::Value, bytes: &[u8]) -> Avro {
    let schema = apache_avro::Schema::parse(schema).expect("the generated schema is valid Avro");
    let mut reader = bytes;
    let value = apache_avro::from_avro_datum(&schema, &mut reader, None).expect("apache-avro decodes our datum");
    assert!(reader.is_empty(), "{} bytes left after the datum", reader.len());
    value
}

/// The fields of a record value, by name.
pub(crate) fn field<'a>(record: &'a Avro, name: &str) -> &'a Avro {
    match record {
        Avro::Record(fields) => {
            &fields.iter().find(|(field, _)| field == name).unwrap_or_else(|| panic!("no field {name}")).1
        }
        other => panic!("not a record: {other:?}"),
    }
}

fn unwrap_union(value: &Avro) -> &Avro {
    match value {
        Avro::Union(_, inner) => unwrap_union(inner),
        other => other,
    }
}

/// A possibly-null position: `None` for null.
pub(crate) fn optional_value(column_type: &ColumnType, avro: &Avro) -> Option<Value> {
    match unwrap_union(avro) {
        Avro::Null => None,
        other => Some(value(column_type, other)),
    }
}

/// Big-endian two's complement to `(negative, decimal digits)`, by long division.
pub(crate) fn twos_complement_to_digits(bytes: &[u8]) -> (bool, String) {
    let negative = bytes.first().is_some_and(|&b| b & 0x80 != 0);
    let mut magnitude: Vec<u8> = if negative { bytes.iter().map(|b| !b).collect() } else { bytes.to_vec() };
    if negative {
        for byte in magnitude.iter_mut().rev() {
            let (sum, overflow) = byte.overflowing_add(1);
            *byte = sum;
            if !overflow {
                break;
            }
        }
    }
    let mut digits = Vec::new();
    while magnitude.iter().any(|&b| b != 0) {
        let mut remainder = 0_u32;
        for byte in magnitude.iter_mut() {
            let current = remainder * 256 + u32::from(*byte);
            *byte = (current / 10) as u8;
            remainder = current % 10;
        }
        digits.push(b'0' + remainder as u8);
    }
    if digits.is_empty() {
        return (false, "0".to_owned());
    }
    digits.reverse();
    (negative, String::from_utf8(digits).expect("valid test data"))
}

fn decimal_bytes(avro: &Avro) -> Vec<u8> {
    match avro {
        Avro::Decimal(decimal) => Vec::<u8>::try_from(decimal).expect("valid test data"),
        Avro::Bytes(bytes) => bytes.clone(),
        other => panic!("not a decimal: {other:?}"),
    }
}

fn int(avro: &Avro) -> i32 {
    match unwrap_union(avro) {
        Avro::Int(n) | Avro::Date(n) => *n,
        other => panic!("not an int: {other:?}"),
    }
}

fn long(avro: &Avro) -> i64 {
    match unwrap_union(avro) {
        Avro::Long(n) | Avro::TimeMicros(n) | Avro::TimestampMicros(n) | Avro::LocalTimestampMicros(n) => *n,
        other => panic!("not a long: {other:?}"),
    }
}

fn boolean(avro: &Avro) -> bool {
    match avro {
        Avro::Boolean(b) => *b,
        other => panic!("not a boolean: {other:?}"),
    }
}

pub(crate) fn string(avro: &Avro) -> String {
    match unwrap_union(avro) {
        Avro::String(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

fn items(avro: &Avro) -> &[Avro] {
    match avro {
        Avro::Array(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}

fn parse_hex_groups<const N: usize>(text: &str) -> [u8; N] {
    let bytes: Vec<u8> = text.split(':').map(|group| u8::from_str_radix(group, 16).expect("valid test data")).collect();
    bytes.try_into().expect("valid test data")
}

fn timestamp(avro: &Avro) -> Timestamp {
    Timestamp::Micros(i128::from(long(avro)))
}

/// A value written as text (timetz, interval), read back by the PostgreSQL text decoder.
fn from_text(column_type: &ColumnType, avro: &Avro) -> Value {
    let text = string(avro);
    decode_text(column_type, text.as_bytes()).unwrap_or_else(|error| panic!("{text:?}: {error}"))
}

/// The change-model value of a non-null Avro value of a column of `column_type`.
pub(crate) fn value(column_type: &ColumnType, avro: &Avro) -> Value {
    let avro = unwrap_union(avro);
    match column_type {
        ColumnType::Bool => Value::Bool(boolean(avro)),
        ColumnType::Int16 => Value::Int16(int(avro).try_into().expect("valid test data")),
        ColumnType::Int32 => Value::Int32(int(avro)),
        ColumnType::Year => Value::Year(int(avro).try_into().expect("valid test data")),
        ColumnType::Int64 => Value::Int64(long(avro)),
        ColumnType::Oid => Value::Oid(long(avro).try_into().expect("valid test data")),
        ColumnType::UInt64 => {
            Value::UInt64(twos_complement_to_digits(&decimal_bytes(avro)).1.parse().expect("valid test data"))
        }
        ColumnType::Float32 => match avro {
            Avro::Float(f) => Value::Float32(*f),
            other => panic!("not a float: {other:?}"),
        },
        ColumnType::Float64 => match avro {
            Avro::Double(f) => Value::Float64(*f),
            other => panic!("not a double: {other:?}"),
        },
        ColumnType::Numeric { precision, scale } => Value::Numeric(match avro {
            Avro::Record(_) => {
                let (negative, digits) = twos_complement_to_digits(&decimal_bytes(field(avro, "value")));
                let scale = int(field(avro, "scale")).try_into().expect("valid test data");
                Numeric::Finite(Decimal { negative, digits, scale })
            }
            other => {
                let (_, column_scale) = fixed_decimal(*precision, *scale).expect("a fixed decimal column");
                let (negative, digits) = twos_complement_to_digits(&decimal_bytes(other));
                Numeric::Finite(Decimal { negative, digits, scale: column_scale })
            }
        }),
        ColumnType::Money => {
            let (negative, digits) = twos_complement_to_digits(&decimal_bytes(avro));
            let magnitude: i128 = digits.parse().expect("valid test data");
            Value::Money(i64::try_from(if negative { -magnitude } else { magnitude }).expect("valid test data"))
        }
        ColumnType::Text => Value::Text(string(avro)),
        ColumnType::Xml => Value::Xml(string(avro)),
        ColumnType::Bit { .. } | ColumnType::VarBit => Value::Bits(string(avro)),
        ColumnType::TsVector | ColumnType::Other { .. } => Value::Other(string(avro)),
        ColumnType::Enum { .. } => Value::Enum(string(avro)),
        ColumnType::Json | ColumnType::Jsonb => Value::Json(string(avro)),
        ColumnType::Inet | ColumnType::Cidr => {
            // PostgreSQL's text: an inet's full-width prefix is left out.
            let text = string(avro);
            let address = text.split('/').next().expect("valid test data").parse::<IpAddr>().expect("valid test data");
            let width = if address.is_ipv4() { 32 } else { 128 };
            let prefix_length =
                text.split_once('/').map_or(width, |(_, prefix)| prefix.parse().expect("valid test data"));
            Value::Inet(Inet { address, prefix_length, cidr: matches!(column_type, ColumnType::Cidr) })
        }
        ColumnType::MacAddr => Value::MacAddr(parse_hex_groups(&string(avro))),
        ColumnType::MacAddr8 => Value::MacAddr8(parse_hex_groups(&string(avro))),
        ColumnType::Uuid => match avro {
            Avro::Uuid(uuid) => Value::Uuid(*uuid.as_bytes()),
            other => panic!("not a uuid: {other:?}"),
        },
        ColumnType::Bytes => match avro {
            Avro::Bytes(bytes) => Value::Bytes(bytes.clone()),
            other => panic!("not bytes: {other:?}"),
        },
        ColumnType::Date => Value::Date(match avro {
            Avro::Date(days) => Date::Days(*days),
            other => panic!("not a date: {other:?}"),
        }),
        ColumnType::Timestamp => {
            assert!(matches!(avro, Avro::LocalTimestampMicros(_)), "{avro:?}");
            Value::Timestamp(timestamp(avro))
        }
        ColumnType::TimestampTz => {
            assert!(matches!(avro, Avro::TimestampMicros(_)), "{avro:?}");
            Value::TimestampTz(timestamp(avro))
        }
        ColumnType::Time => match avro {
            Avro::TimeMicros(micros) => Value::Time(*micros),
            other => panic!("not a time-micros: {other:?}"),
        },
        ColumnType::TimeTz | ColumnType::Interval => from_text(column_type, avro),
        ColumnType::TimeDuration => Value::TimeDuration(long(avro)),
        ColumnType::Array { element } => {
            let elements: Vec<Option<Value>> = items(avro).iter().map(|item| optional_value(element, item)).collect();
            // A plain array is one-dimensional from 1; an empty one has no dimension (PostgreSQL's `{}`).
            let dimensions = if elements.is_empty() {
                Vec::new()
            } else {
                vec![ArrayDimension { lower_bound: 1, length: elements.len().try_into().expect("valid test data") }]
            };
            Value::Array(ArrayValue { dimensions, elements })
        }
        ColumnType::Composite { fields, .. } => {
            let Avro::Record(values) = avro else { panic!("not a record: {avro:?}") };
            assert_eq!(values.len(), fields.len());
            Value::Composite(
                fields
                    .iter()
                    .zip(values)
                    .map(|(field, (_, item))| (field.name.clone(), optional_value(&field.column_type, item)))
                    .collect(),
            )
        }
        ColumnType::Range { subtype, .. } => {
            if boolean(field(avro, "empty")) {
                return Value::Range(Box::new(RangeValue::Empty));
            }
            let bound = |value: &str, inclusive: &str| {
                optional_value(subtype, field(avro, value))
                    .map(|value| RangeBound { value, inclusive: boolean(field(avro, inclusive)) })
            };
            Value::Range(Box::new(RangeValue::Bounded {
                lower: bound("lower", "lower_inclusive"),
                upper: bound("upper", "upper_inclusive"),
            }))
        }
        ColumnType::Set { .. } => Value::Set(items(avro).iter().map(string).collect()),
        ColumnType::Geometry => Value::Geometry {
            srid: long(field(avro, "srid")).try_into().expect("valid test data"),
            wkb: match field(avro, "wkb") {
                Avro::Bytes(bytes) => bytes.clone(),
                other => panic!("not bytes: {other:?}"),
            },
        },
        ColumnType::Vector { .. } => Value::Vector(
            items(avro)
                .iter()
                .map(|item| match item {
                    Avro::Float(f) => *f,
                    other => panic!("not a float: {other:?}"),
                })
                .collect(),
        ),
    }
}
