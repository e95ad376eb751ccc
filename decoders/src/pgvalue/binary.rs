//! Binary (send/recv) forms, as pgoutput sends them with `binary = true`.
//!
//! All integers are big-endian. Times count from PostgreSQL's epoch
//! 2000-01-01 and are shifted to the model's 1970 epoch; a `timetz` zone is
//! seconds *west* of UTC on the wire and east in the model. Arrays, composites
//! and ranges carry length-prefixed elements (`-1` for NULL) decoded as their
//! element, field or subtype.
//!
//! Invariants: every byte is accounted for (a short or long value is an
//! error); counts read from the input are checked against the bytes that
//! remain before anything is allocated; `tsvector` and `Other` types, and any
//! container of them, are [`ValueError::BinaryUnsupported`].

use crate::change::{
    ArrayDimension, ArrayValue, ColumnType, CompositeField, Interval, RangeBound, RangeValue, TimeTz, Value,
};

use super::datetime::{check_time_micros, date_from_pg_days, timestamp_from_pg_micros};
use super::error::{Problem, ValueError};
use super::network::decode_inet_binary;
use super::numeric::decode_numeric_binary;
use super::type_name;

/// PostgreSQL's `MAXDIM`.
const MAX_DIMENSIONS: i32 = 6;
/// The only `jsonb` binary format version.
const JSONB_VERSION: u8 = 1;

pub(super) fn binary_value(column_type: &ColumnType, bytes: &[u8]) -> Result<Value, ValueError> {
    if let Some(unsupported) = unsupported_type(column_type) {
        return Err(ValueError::BinaryUnsupported {
            type_name: type_name(column_type),
            reason: format!("no binary decoder for {unsupported}"),
        });
    }
    parse_binary(column_type, bytes).map_err(|problem| ValueError::binary(type_name(column_type), bytes, problem))
}

/// The name of the first type inside `column_type` without a binary decoder.
fn unsupported_type(column_type: &ColumnType) -> Option<String> {
    match column_type {
        ColumnType::TsVector
        | ColumnType::Other { .. }
        | ColumnType::UInt64
        | ColumnType::TimeDuration
        | ColumnType::Year
        | ColumnType::Set { .. }
        | ColumnType::Geometry
        | ColumnType::Vector { .. } => Some(type_name(column_type)),
        ColumnType::Array { element } => unsupported_type(element),
        ColumnType::Range { subtype, .. } => unsupported_type(subtype),
        ColumnType::Composite { fields, .. } => fields.iter().find_map(|field| unsupported_type(&field.column_type)),
        _ => None,
    }
}

fn parse_binary(column_type: &ColumnType, bytes: &[u8]) -> Result<Value, Problem> {
    Ok(match column_type {
        ColumnType::Bool => Value::Bool(u8::from_be_bytes(exact(bytes)?) != 0),
        ColumnType::Int16 => Value::Int16(i16::from_be_bytes(exact(bytes)?)),
        ColumnType::Int32 => Value::Int32(i32::from_be_bytes(exact(bytes)?)),
        ColumnType::Int64 => Value::Int64(i64::from_be_bytes(exact(bytes)?)),
        ColumnType::Oid => Value::Oid(u32::from_be_bytes(exact(bytes)?)),
        ColumnType::Money => Value::Money(i64::from_be_bytes(exact(bytes)?)),
        ColumnType::Float32 => Value::Float32(f32::from_be_bytes(exact(bytes)?)),
        ColumnType::Float64 => Value::Float64(f64::from_be_bytes(exact(bytes)?)),
        ColumnType::Numeric { .. } => Value::Numeric(decode_numeric_binary(bytes)?),
        ColumnType::Text => Value::Text(utf8(bytes)?),
        ColumnType::Enum { .. } => Value::Enum(utf8(bytes)?),
        ColumnType::Json => Value::Json(utf8(bytes)?),
        ColumnType::Jsonb => match bytes.split_first() {
            Some((&JSONB_VERSION, json)) => Value::Json(utf8(json)?),
            _ => {
                return Err(format!("expected jsonb format version {JSONB_VERSION} in the first byte").into());
            }
        },
        ColumnType::Xml => Value::Xml(utf8(bytes)?),
        ColumnType::Bytes => Value::Bytes(bytes.to_vec()),
        ColumnType::Uuid => Value::Uuid(exact(bytes)?),
        ColumnType::MacAddr => Value::MacAddr(exact(bytes)?),
        ColumnType::MacAddr8 => Value::MacAddr8(exact(bytes)?),
        ColumnType::Inet | ColumnType::Cidr => Value::Inet(decode_inet_binary(bytes)?),
        ColumnType::Date => Value::Date(date_from_pg_days(i32::from_be_bytes(exact(bytes)?))?),
        ColumnType::Time => Value::Time(check_time_micros(i64::from_be_bytes(exact(bytes)?))?),
        ColumnType::TimeTz => {
            let mut reader = Reader::new(bytes);
            let micros = check_time_micros(reader.i64()?)?;
            let zone_west = reader.i32()?;
            reader.finish()?;
            if zone_west.unsigned_abs() > 15 * 3600 + 59 * 60 + 59 {
                return Err(format!("zone offset {zone_west} s is beyond ±15:59:59").into());
            }
            Value::TimeTz(TimeTz { micros, utc_offset_seconds: -zone_west })
        }
        ColumnType::Timestamp => Value::Timestamp(timestamp_from_pg_micros(i64::from_be_bytes(exact(bytes)?))?),
        ColumnType::TimestampTz => Value::TimestampTz(timestamp_from_pg_micros(i64::from_be_bytes(exact(bytes)?))?),
        ColumnType::Interval => {
            let mut reader = Reader::new(bytes);
            let micros = reader.i64()?;
            let days = reader.i32()?;
            let months = reader.i32()?;
            reader.finish()?;
            Value::Interval(Interval { months, days, micros })
        }
        ColumnType::Bit { .. } | ColumnType::VarBit => Value::Bits(bits(bytes)?),
        ColumnType::Array { element } => Value::Array(array(element, bytes)?),
        ColumnType::Composite { fields, .. } => Value::Composite(composite(fields, bytes)?),
        ColumnType::Range { subtype, .. } => Value::Range(Box::new(range(subtype, bytes)?)),
        ColumnType::TsVector
        | ColumnType::Other { .. }
        | ColumnType::UInt64
        | ColumnType::TimeDuration
        | ColumnType::Year
        | ColumnType::Set { .. }
        | ColumnType::Geometry
        | ColumnType::Vector { .. } => return Err("no binary decoder".into()),
    })
}

/// A fixed-size value: exactly `N` bytes.
fn exact<const N: usize>(bytes: &[u8]) -> Result<[u8; N], Problem> {
    <[u8; N]>::try_from(bytes).map_err(|_| format!("expected exactly {N} bytes").into())
}

fn utf8(bytes: &[u8]) -> Result<String, Problem> {
    String::from_utf8(bytes.to_vec())
        .map_err(|error| format!("not valid UTF-8 (bad byte at offset {})", error.utf8_error().valid_up_to()).into())
}

/// `varbit_send`: bit count, then the bits packed most significant first.
fn bits(bytes: &[u8]) -> Result<String, Problem> {
    let mut reader = Reader::new(bytes);
    let bit_count = usize::try_from(reader.i32()?).map_err(|_| "negative bit count")?;
    let packed = reader.take(bit_count.div_ceil(8))?;
    reader.finish()?;
    Ok((0..bit_count)
        .map(|index| {
            let byte = packed.get(index / 8).copied().unwrap_or(0);
            if byte & (0x80 >> (index % 8)) == 0 { '0' } else { '1' }
        })
        .collect())
}

/// `array_send`: dimension count, has-NULL flag, element OID, then
/// (length, lower bound) per dimension, then each element length-prefixed.
fn array(element: &ColumnType, bytes: &[u8]) -> Result<ArrayValue, Problem> {
    let mut reader = Reader::new(bytes);
    let dimension_count = reader.i32()?;
    if !(0..=MAX_DIMENSIONS).contains(&dimension_count) {
        return Err(format!("{dimension_count} dimensions, expected 0 to {MAX_DIMENSIONS}").into());
    }
    let _has_null = reader.i32()?;
    let _element_oid = reader.u32()?;
    let mut dimensions = Vec::new();
    let mut element_count: usize = if dimension_count == 0 { 0 } else { 1 };
    for _ in 0..dimension_count {
        let length = u32::try_from(reader.i32()?).map_err(|_| "negative dimension length")?;
        let lower_bound = reader.i32()?;
        if i64::from(lower_bound) + i64::from(length) - 1 > i64::from(i32::MAX) {
            return Err("array upper bound out of range".into());
        }
        element_count = usize::try_from(length)
            .ok()
            .and_then(|length| element_count.checked_mul(length))
            .ok_or("too many elements")?;
        dimensions.push(ArrayDimension { lower_bound, length });
    }
    if element_count > reader.remaining() / 4 {
        return Err(format!("{element_count} elements announced but only {} bytes follow", reader.remaining()).into());
    }
    let mut elements = Vec::with_capacity(element_count);
    for index in 0..element_count {
        let element_value = reader.nullable(element).map_err(|problem| format!("element {}: {problem}", index + 1))?;
        elements.push(element_value);
    }
    reader.finish()?;
    if element_count == 0 {
        dimensions.clear();
    }
    Ok(ArrayValue { dimensions, elements })
}

/// `record_send`: field count, then (type OID, length-prefixed value) per field.
fn composite(fields: &[CompositeField], bytes: &[u8]) -> Result<Vec<(String, Option<Value>)>, Problem> {
    let mut reader = Reader::new(bytes);
    let field_count = reader.i32()?;
    if usize::try_from(field_count).ok() != Some(fields.len()) {
        return Err(format!("{field_count} fields, the type has {}", fields.len()).into());
    }
    let mut values = Vec::with_capacity(fields.len());
    for field in fields {
        let _type_oid = reader.u32()?;
        let value =
            reader.nullable(&field.column_type).map_err(|problem| format!("field {:?}: {problem}", field.name))?;
        values.push((field.name.clone(), value));
    }
    reader.finish()?;
    Ok(values)
}

/// `range_send`: flags byte, then each present bound length-prefixed.
fn range(subtype: &ColumnType, bytes: &[u8]) -> Result<RangeValue, Problem> {
    const EMPTY: u8 = 0x01;
    const LOWER_INCLUSIVE: u8 = 0x02;
    const UPPER_INCLUSIVE: u8 = 0x04;
    const LOWER_INFINITE: u8 = 0x08;
    const UPPER_INFINITE: u8 = 0x10;
    const LOWER_NULL: u8 = 0x20;
    const UPPER_NULL: u8 = 0x40;
    let mut reader = Reader::new(bytes);
    let flags = u8::from_be_bytes(exact(reader.take(1)?)?);
    if flags & EMPTY != 0 {
        reader.finish()?;
        return Ok(RangeValue::Empty);
    }
    let mut bound = |absent: u8, inclusive: u8, end: &str| -> Result<Option<RangeBound>, Problem> {
        if flags & absent != 0 {
            return Ok(None);
        }
        let value = reader.nullable(subtype).map_err(|problem| format!("{end} bound: {problem}"))?;
        let value = value.ok_or_else(|| format!("{end} bound has length -1"))?;
        Ok(Some(RangeBound { value, inclusive: flags & inclusive != 0 }))
    };
    let lower = bound(LOWER_INFINITE | LOWER_NULL, LOWER_INCLUSIVE, "lower")?;
    let upper = bound(UPPER_INFINITE | UPPER_NULL, UPPER_INCLUSIVE, "upper")?;
    reader.finish()?;
    Ok(RangeValue::Bounded { lower, upper })
}

/// A cursor over a binary value; every read checks the remaining length.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, offset: 0 }
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.offset)
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], Problem> {
        let end = self.offset.checked_add(count).filter(|end| *end <= self.bytes.len());
        let taken = end.and_then(|end| self.bytes.get(self.offset..end));
        let taken =
            taken.ok_or_else(|| format!("ends at byte {} where {count} more were expected", self.bytes.len()))?;
        self.offset += count;
        Ok(taken)
    }

    fn i32(&mut self) -> Result<i32, Problem> {
        Ok(i32::from_be_bytes(exact(self.take(4)?)?))
    }

    fn u32(&mut self) -> Result<u32, Problem> {
        Ok(u32::from_be_bytes(exact(self.take(4)?)?))
    }

    fn i64(&mut self) -> Result<i64, Problem> {
        Ok(i64::from_be_bytes(exact(self.take(8)?)?))
    }

    /// A length-prefixed value (`-1` is NULL) decoded as `column_type`.
    fn nullable(&mut self, column_type: &ColumnType) -> Result<Option<Value>, Problem> {
        let length = self.i32()?;
        if length == -1 {
            return Ok(None);
        }
        let length = usize::try_from(length).map_err(|_| format!("invalid length {length}"))?;
        let bytes = self.take(length)?;
        parse_binary(column_type, bytes)
            .map(Some)
            .map_err(|problem| ValueError::binary(type_name(column_type), bytes, problem).to_string().into())
    }

    /// Fails unless every byte was read.
    fn finish(&self) -> Result<(), Problem> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(format!("{extra} unexpected bytes at offset {}", self.offset).into()),
        }
    }
}

#[cfg(test)]
#[path = "binary_tests.rs"]
mod tests;
