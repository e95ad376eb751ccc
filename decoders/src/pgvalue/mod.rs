//! PostgreSQL column values, as pgoutput sends them, into typed [`Value`]s.
//!
//! ```text
//!   Relation: type OID + atttypmod ──builtin_column_type──► ColumnType
//!                                   (user types: the source reads the catalog)
//!   TupleData 't' bytes ──decode_text───┐
//!   TupleData 'b' bytes ──decode_binary─┴─► Value
//! ```
//!
//! The text forms are those of the replication session's fixed settings:
//! `DateStyle=ISO, YMD`, `IntervalStyle=iso_8601`, `TimeZone=UTC`,
//! `extra_float_digits=3`, `lc_monetary=C`, `bytea_output=hex`,
//! `client_encoding=UTF8`. Each family has its own parser module; arrays,
//! composites and ranges decode their elements through [`decode_text`]'s
//! dispatch, so any nesting the catalog describes decodes.
//!
//! Invariants: pure functions, no I/O; no input makes them panic; every
//! failure is a [`ValueError`] naming the type and quoting the input; a value
//! keeps its exact meaning (no float for a decimal, no lossy time).

mod array;
mod binary;
mod composite;
pub(crate) mod datetime;
mod error;
mod interval;
mod network;
mod numeric;
mod oid;
mod range;
mod scalar;
mod token;

#[cfg(test)]
mod tests;

use crate::change::{ColumnType, Value};

use self::error::Problem;
use self::scalar::parse_integer;

pub use self::error::ValueError;
pub use self::oid::{builtin_array_element_oid, builtin_column_type};

/// Decodes pgoutput's text form of one value of `column_type`.
pub fn decode_text(column_type: &ColumnType, text: &[u8]) -> Result<Value, ValueError> {
    let text_str = std::str::from_utf8(text).map_err(|error| {
        let problem = format!("not valid UTF-8 (bad byte at offset {})", error.valid_up_to());
        ValueError::text(type_name(column_type), text, problem)
    })?;
    text_value(column_type, text_str)
}

/// Decodes the binary (send/recv) form of one value of `column_type`.
///
/// Covers every type with a specific [`ColumnType`] except `tsvector`,
/// including arrays, composites and ranges of them; `tsvector` and
/// [`ColumnType::Other`] give [`ValueError::BinaryUnsupported`].
pub fn decode_binary(column_type: &ColumnType, bytes: &[u8]) -> Result<Value, ValueError> {
    binary::binary_value(column_type, bytes)
}

/// [`decode_text`] on text already known to be UTF-8 (nested elements).
fn text_value(column_type: &ColumnType, text: &str) -> Result<Value, ValueError> {
    parse_text(column_type, text).map_err(|problem| ValueError::text(type_name(column_type), text.as_bytes(), problem))
}

fn parse_text(column_type: &ColumnType, text: &str) -> Result<Value, Problem> {
    Ok(match column_type {
        ColumnType::Bool => Value::Bool(scalar::parse_bool(text)?),
        ColumnType::Int16 => Value::Int16(parse_integer(text)?),
        ColumnType::Int32 => Value::Int32(parse_integer(text)?),
        ColumnType::Int64 => Value::Int64(parse_integer(text)?),
        ColumnType::Oid => Value::Oid(parse_integer(text)?),
        ColumnType::Float32 => Value::Float32(scalar::parse_float32(text)?),
        ColumnType::Float64 => Value::Float64(scalar::parse_float64(text)?),
        ColumnType::Numeric { .. } => Value::Numeric(numeric::parse_numeric(text)?),
        ColumnType::Money => Value::Money(scalar::parse_money(text)?),
        ColumnType::Text => Value::Text(text.to_owned()),
        ColumnType::Bytes => Value::Bytes(scalar::parse_bytea(text)?),
        ColumnType::Date => Value::Date(datetime::parse_date(text)?),
        ColumnType::Time => Value::Time(datetime::parse_time(text)?),
        ColumnType::TimeTz => Value::TimeTz(datetime::parse_timetz(text)?),
        ColumnType::Timestamp => Value::Timestamp(datetime::parse_timestamp(text, false)?),
        ColumnType::TimestampTz => Value::TimestampTz(datetime::parse_timestamp(text, true)?),
        ColumnType::Interval => Value::Interval(interval::parse_interval(text)?),
        ColumnType::Uuid => Value::Uuid(scalar::parse_uuid(text)?),
        ColumnType::Json | ColumnType::Jsonb => Value::Json(text.to_owned()),
        ColumnType::Xml => Value::Xml(text.to_owned()),
        ColumnType::Inet | ColumnType::Cidr => {
            Value::Inet(network::parse_inet(text, matches!(column_type, ColumnType::Cidr))?)
        }
        ColumnType::MacAddr => Value::MacAddr(network::parse_mac(text)?),
        ColumnType::MacAddr8 => Value::MacAddr8(network::parse_mac(text)?),
        ColumnType::Bit { .. } | ColumnType::VarBit => Value::Bits(scalar::parse_bits(text)?),
        ColumnType::TsVector | ColumnType::Other { .. } => Value::Other(text.to_owned()),
        ColumnType::Enum { .. } => Value::Enum(text.to_owned()),
        ColumnType::Array { element } => Value::Array(array::parse_array(element, text)?),
        ColumnType::Composite { fields, .. } => Value::Composite(composite::parse_record(fields, text)?),
        ColumnType::Range { subtype, .. } => Value::Range(Box::new(range::parse_range(subtype, text)?)),
        ColumnType::UInt64
        | ColumnType::TimeDuration
        | ColumnType::Year
        | ColumnType::Set { .. }
        | ColumnType::Geometry
        | ColumnType::Vector { .. } => return Err("a MySQL type cannot come from PostgreSQL".into()),
    })
}

/// The PostgreSQL name of a column type, for error messages.
fn type_name(column_type: &ColumnType) -> String {
    let name = match column_type {
        ColumnType::Bool => "bool",
        ColumnType::Int16 => "int2",
        ColumnType::Int32 => "int4",
        ColumnType::Int64 => "int8",
        ColumnType::Float32 => "float4",
        ColumnType::Float64 => "float8",
        ColumnType::Numeric { .. } => "numeric",
        ColumnType::Text => "text",
        ColumnType::Bytes => "bytea",
        ColumnType::Date => "date",
        ColumnType::Time => "time",
        ColumnType::TimeTz => "timetz",
        ColumnType::Timestamp => "timestamp",
        ColumnType::TimestampTz => "timestamptz",
        ColumnType::Interval => "interval",
        ColumnType::Uuid => "uuid",
        ColumnType::Json => "json",
        ColumnType::Jsonb => "jsonb",
        ColumnType::Xml => "xml",
        ColumnType::Inet => "inet",
        ColumnType::Cidr => "cidr",
        ColumnType::MacAddr => "macaddr",
        ColumnType::MacAddr8 => "macaddr8",
        ColumnType::Money => "money",
        ColumnType::Bit { .. } => "bit",
        ColumnType::VarBit => "varbit",
        ColumnType::Oid => "oid",
        ColumnType::TsVector => "tsvector",
        ColumnType::UInt64 => "bigint unsigned",
        ColumnType::TimeDuration => "time (MySQL)",
        ColumnType::Year => "year",
        ColumnType::Set { .. } => "set",
        ColumnType::Geometry => "geometry",
        ColumnType::Vector { .. } => "vector",
        ColumnType::Array { element } => return format!("{}[]", type_name(element)),
        ColumnType::Enum { type_name, .. }
        | ColumnType::Composite { type_name, .. }
        | ColumnType::Range { type_name, .. }
        | ColumnType::Other { type_name } => type_name,
    };
    name.to_owned()
}
