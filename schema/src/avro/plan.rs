//! The compiled form of a column type: what to write for each of its values.
//!
//! A [`Plan`] is built once per table schema from the same rules as
//! [`super::types`], so that the bytes written here are a datum of the schema
//! generated there; the round-trip tests decode them with apache-avro to hold
//! both to that. Writing a value allocates nothing, except for decimals of
//! more than 38 digits.
//!
//! A value the plain Avro type cannot carry (numeric NaN, an infinite or zero
//! date, a multi-dimensional array), also inside an array, composite or range,
//! is [`Problem::Special`]: the encoder then writes the column as null and the
//! value's text into `special_values`.

use std::fmt::Write as _;

use wellhead_decoders::change::{ColumnType, Date, Decimal, Numeric, RangeValue, Timestamp, Value};

use crate::json::{write_interval, write_time_tz};

use super::binary::{
    ShortText, begin_array, end_array, write_bool, write_bytes, write_double, write_float, write_int, write_long,
    write_string,
};
use super::decimal::{write_i128, write_unscaled};
use super::error::Problem;
use super::types::fixed_decimal;

/// How one column type is written; nested plans are for nullable positions (`["null", T]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    Boolean,
    Int,
    Long,
    UInt64,
    Float,
    Double,
    FixedDecimal { precision: u32, scale: u32 },
    VariableDecimal,
    Money,
    String,
    Uuid,
    Bytes,
    Date,
    Timestamp,
    TimestampTz,
    Time,
    TimeTz,
    Duration,
    Interval,
    Array(Box<Plan>),
    Composite(Vec<Plan>),
    Range(Box<Plan>),
    Set,
    Geometry,
    Vector,
}

impl Plan {
    pub(crate) fn new(column_type: &ColumnType) -> Plan {
        match column_type {
            ColumnType::Bool => Plan::Boolean,
            ColumnType::Int16 | ColumnType::Int32 | ColumnType::Year => Plan::Int,
            ColumnType::Int64 | ColumnType::Oid => Plan::Long,
            ColumnType::UInt64 => Plan::UInt64,
            ColumnType::Float32 => Plan::Float,
            ColumnType::Float64 => Plan::Double,
            ColumnType::Numeric { precision, scale } => match fixed_decimal(*precision, *scale) {
                Some((precision, scale)) => Plan::FixedDecimal { precision, scale },
                None => Plan::VariableDecimal,
            },
            ColumnType::Money => Plan::Money,
            ColumnType::Text
            | ColumnType::Xml
            | ColumnType::Inet
            | ColumnType::Cidr
            | ColumnType::MacAddr
            | ColumnType::MacAddr8
            | ColumnType::Bit { .. }
            | ColumnType::VarBit
            | ColumnType::TsVector
            | ColumnType::Other { .. }
            | ColumnType::Enum { .. }
            | ColumnType::Json
            | ColumnType::Jsonb => Plan::String,
            ColumnType::Uuid => Plan::Uuid,
            ColumnType::Bytes => Plan::Bytes,
            ColumnType::Date => Plan::Date,
            ColumnType::Timestamp => Plan::Timestamp,
            ColumnType::TimestampTz => Plan::TimestampTz,
            ColumnType::Time => Plan::Time,
            ColumnType::TimeTz => Plan::TimeTz,
            ColumnType::TimeDuration => Plan::Duration,
            ColumnType::Interval => Plan::Interval,
            ColumnType::Array { element } => Plan::Array(Box::new(Plan::new(element))),
            ColumnType::Composite { fields, .. } => {
                Plan::Composite(fields.iter().map(|field| Plan::new(&field.column_type)).collect())
            }
            ColumnType::Range { subtype, .. } => Plan::Range(Box::new(Plan::new(subtype))),
            ColumnType::Set { .. } => Plan::Set,
            ColumnType::Geometry => Plan::Geometry,
            ColumnType::Vector { .. } => Plan::Vector,
        }
    }

    /// Appends `value` in a `["null", T]` position (`None` is SQL NULL).
    #[inline]
    pub(crate) fn write_nullable(&self, value: Option<&Value>, out: &mut Vec<u8>) -> Result<(), Problem> {
        match value {
            None => {
                write_long(out, 0);
                Ok(())
            }
            Some(value) => self.write(value, true, out),
        }
    }

    /// Appends `value`, preceded by the index of the `T` branch when it sits in `["null", T]`.
    pub(crate) fn write(&self, value: &Value, nullable: bool, out: &mut Vec<u8>) -> Result<(), Problem> {
        if nullable {
            write_long(out, 1);
        }
        match (self, value) {
            (Plan::Boolean, Value::Bool(b)) => write_bool(out, *b),
            (Plan::Int, Value::Int16(n) | Value::Year(n)) => write_int(out, i32::from(*n)),
            (Plan::Int, Value::Int32(n)) => write_int(out, *n),
            (Plan::Long, Value::Int16(n)) => write_long(out, i64::from(*n)),
            (Plan::Long, Value::Int32(n)) => write_long(out, i64::from(*n)),
            (Plan::Long, Value::Int64(n)) => write_long(out, *n),
            (Plan::Long, Value::Oid(n)) => write_long(out, i64::from(*n)),
            (Plan::UInt64, Value::UInt64(n)) => write_i128(out, i128::from(*n)),
            (Plan::Float, Value::Float32(f)) => write_float(out, *f),
            (Plan::Double, Value::Float64(f)) => write_double(out, *f),
            (Plan::FixedDecimal { precision, scale }, Value::Numeric(numeric)) => {
                write_fixed_decimal(finite(numeric)?, *precision, *scale, out)?
            }
            (Plan::VariableDecimal, Value::Numeric(numeric)) => write_variable_decimal(finite(numeric)?, out)?,
            (Plan::Money, Value::Money(minor_units)) => write_i128(out, i128::from(*minor_units)),
            (Plan::String, value) => write_text(value, out)?,
            (Plan::Uuid, Value::Uuid(bytes)) => write_uuid(bytes, out),
            (Plan::Bytes, Value::Bytes(bytes)) => write_bytes(out, bytes),
            (Plan::Date, Value::Date(date)) => match date {
                Date::Days(days) => write_int(out, *days),
                Date::PositiveInfinity | Date::NegativeInfinity => {
                    return Err(Problem::Special { what: INFINITE_DATE });
                }
                Date::Incomplete { .. } => return Err(Problem::Special { what: INCOMPLETE_DATE }),
            },
            (Plan::Timestamp, Value::Timestamp(timestamp)) | (Plan::TimestampTz, Value::TimestampTz(timestamp)) => {
                match timestamp {
                    Timestamp::Micros(micros) => {
                        let micros = i64::try_from(*micros).map_err(|_| Problem::Special {
                            what: "a timestamp beyond Avro's range (after 294247-01-10 or before 290308 BC)",
                        })?;
                        write_long(out, micros);
                    }
                    Timestamp::PositiveInfinity | Timestamp::NegativeInfinity => {
                        return Err(Problem::Special { what: INFINITE_DATE });
                    }
                    Timestamp::Incomplete { .. } => return Err(Problem::Special { what: INCOMPLETE_DATE }),
                }
            }
            (Plan::Time, Value::Time(micros)) | (Plan::Duration, Value::TimeDuration(micros)) => {
                write_long(out, *micros)
            }
            // At most 24 and 52 bytes of text: a ShortText holds them without allocating.
            (Plan::TimeTz, Value::TimeTz(time)) => {
                let mut text = ShortText::new();
                write_time_tz(&mut text, time);
                write_bytes(out, text.as_bytes());
            }
            (Plan::Interval, Value::Interval(interval)) => {
                let mut text = ShortText::new();
                write_interval(&mut text, interval);
                write_bytes(out, text.as_bytes());
            }
            (Plan::Array(element), Value::Array(array)) => {
                if array.dimensions.len() > 1 || array.dimensions.iter().any(|dimension| dimension.lower_bound != 1) {
                    return Err(Problem::Special {
                        what: "an array of more than one dimension or with a lower bound other than 1",
                    });
                }
                begin_array(out, array.elements.len());
                for item in &array.elements {
                    element.write_nullable(item.as_ref(), out)?;
                }
                end_array(out);
            }
            (Plan::Composite(fields), Value::Composite(values)) => {
                if fields.len() != values.len() {
                    return Err(Problem::CompositeArity { expected: fields.len(), found: values.len() });
                }
                for (field, (_, item)) in fields.iter().zip(values) {
                    field.write_nullable(item.as_ref(), out)?;
                }
            }
            (Plan::Range(bound), Value::Range(range)) => match range.as_ref() {
                RangeValue::Empty => out.extend_from_slice(&[1, 0, 0, 0, 0]),
                RangeValue::Bounded { lower, upper } => {
                    write_bool(out, false);
                    for end in [lower, upper] {
                        match end {
                            Some(end) => {
                                bound.write(&end.value, true, out)?;
                                write_bool(out, end.inclusive);
                            }
                            None => out.extend_from_slice(&[0, 0]),
                        }
                    }
                }
            },
            (Plan::Set, Value::Set(members)) => {
                begin_array(out, members.len());
                for member in members {
                    write_string(out, member);
                }
                end_array(out);
            }
            (Plan::Geometry, Value::Geometry { srid, wkb }) => {
                write_long(out, i64::from(*srid));
                write_bytes(out, wkb);
            }
            (Plan::Vector, Value::Vector(elements)) => {
                begin_array(out, elements.len());
                for element in elements {
                    write_float(out, *element);
                }
                end_array(out);
            }
            (plan, value) => return Err(Problem::TypeMismatch { expected: plan.expected(), found: value_kind(value) }),
        }
        Ok(())
    }

    /// What values this plan takes, for error messages.
    fn expected(&self) -> &'static str {
        match self {
            Plan::Boolean => "Bool",
            Plan::Int => "Int16, Int32 or Year",
            Plan::Long => "Int16, Int32, Int64 or Oid",
            Plan::UInt64 => "UInt64",
            Plan::Float => "Float32",
            Plan::Double => "Float64",
            Plan::FixedDecimal { .. } | Plan::VariableDecimal => "Numeric",
            Plan::Money => "Money",
            Plan::String => "a textual value",
            Plan::Uuid => "Uuid",
            Plan::Bytes => "Bytes",
            Plan::Date => "Date",
            Plan::Timestamp => "Timestamp",
            Plan::TimestampTz => "TimestampTz",
            Plan::Time => "Time",
            Plan::TimeTz => "TimeTz",
            Plan::Duration => "TimeDuration",
            Plan::Interval => "Interval",
            Plan::Array(_) => "Array",
            Plan::Composite(_) => "Composite",
            Plan::Range(_) => "Range",
            Plan::Set => "Set",
            Plan::Geometry => "Geometry",
            Plan::Vector => "Vector",
        }
    }
}

/// The variant name of a value, for error messages.
pub(crate) fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "Bool",
        Value::Int16(_) => "Int16",
        Value::Int32(_) => "Int32",
        Value::Int64(_) => "Int64",
        Value::Float32(_) => "Float32",
        Value::Float64(_) => "Float64",
        Value::Numeric(_) => "Numeric",
        Value::Text(_) => "Text",
        Value::Bytes(_) => "Bytes",
        Value::Date(_) => "Date",
        Value::Time(_) => "Time",
        Value::TimeTz(_) => "TimeTz",
        Value::Timestamp(_) => "Timestamp",
        Value::TimestampTz(_) => "TimestampTz",
        Value::Interval(_) => "Interval",
        Value::Uuid(_) => "Uuid",
        Value::Json(_) => "Json",
        Value::Xml(_) => "Xml",
        Value::Inet(_) => "Inet",
        Value::MacAddr(_) => "MacAddr",
        Value::MacAddr8(_) => "MacAddr8",
        Value::Money(_) => "Money",
        Value::Bits(_) => "Bits",
        Value::Oid(_) => "Oid",
        Value::Enum(_) => "Enum",
        Value::Array(_) => "Array",
        Value::Composite(_) => "Composite",
        Value::Range(_) => "Range",
        Value::UInt64(_) => "UInt64",
        Value::TimeDuration(_) => "TimeDuration",
        Value::Year(_) => "Year",
        Value::Set(_) => "Set",
        Value::Geometry { .. } => "Geometry",
        Value::Vector(_) => "Vector",
        Value::Other(_) => "Other",
    }
}

const INFINITE_DATE: &str = "an infinite date or timestamp";
const INCOMPLETE_DATE: &str = "a MySQL zero or incomplete date, which names no day";

/// The decimal of a finite numeric; NaN and ±Infinity are special values.
fn finite(numeric: &Numeric) -> Result<&Decimal, Problem> {
    match numeric {
        Numeric::Finite(decimal) => Ok(decimal),
        Numeric::NaN | Numeric::PositiveInfinity | Numeric::NegativeInfinity => {
            Err(Problem::Special { what: "a numeric NaN or infinity" })
        }
    }
}

fn write_fixed_decimal(decimal: &Decimal, precision: u32, column_scale: u32, out: &mut Vec<u8>) -> Result<(), Problem> {
    let Some(extra_zeros) = column_scale.checked_sub(decimal.scale) else {
        return Err(Problem::ScaleTooLarge { scale: decimal.scale, column_scale });
    };
    let significant = decimal.digits.trim_start_matches('0').len();
    let digits = if significant == 0 { 0 } else { significant + extra_zeros as usize };
    if digits > precision as usize {
        return Err(Problem::PrecisionExceeded { digits, precision });
    }
    write_unscaled(out, decimal.negative, decimal.digits.as_bytes(), extra_zeros as usize)
        .map_err(|_| Problem::MalformedDecimal)
}

fn write_variable_decimal(decimal: &Decimal, out: &mut Vec<u8>) -> Result<(), Problem> {
    let scale = i32::try_from(decimal.scale).map_err(|_| Problem::OutOfRange { what: "decimal scale", avro: "int" })?;
    write_int(out, scale);
    write_unscaled(out, decimal.negative, decimal.digits.as_bytes(), 0).map_err(|_| Problem::MalformedDecimal)
}

/// Textual values as Avro strings; network addresses as PostgreSQL's text (`192.168.0.1/24`, `08:00:2b:01:02:03`).
fn write_text(value: &Value, out: &mut Vec<u8>) -> Result<(), Problem> {
    let mut text = ShortText::new();
    let rendered = match value {
        Value::Text(text)
        | Value::Xml(text)
        | Value::Enum(text)
        | Value::Bits(text)
        | Value::Json(text)
        | Value::Other(text) => {
            write_string(out, text);
            return Ok(());
        }
        Value::Inet(inet) => write!(text, "{inet}"),
        Value::MacAddr(bytes) => write_hex_groups(&mut text, bytes),
        Value::MacAddr8(bytes) => write_hex_groups(&mut text, bytes),
        other => return Err(Problem::TypeMismatch { expected: Plan::String.expected(), found: value_kind(other) }),
    };
    rendered.map_err(|_| Problem::OutOfRange { what: "network address text", avro: "string" })?;
    write_bytes(out, text.as_bytes());
    Ok(())
}

fn write_hex_groups(text: &mut ShortText, bytes: &[u8]) -> std::fmt::Result {
    for (index, byte) in bytes.iter().enumerate() {
        if index > 0 {
            text.write_char(':')?;
        }
        write!(text, "{byte:02x}")?;
    }
    Ok(())
}

/// The canonical lowercase text of a UUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
fn write_uuid(bytes: &[u8; 16], out: &mut Vec<u8>) {
    let hex_digit = |nibble: u8| if nibble < 10 { b'0' + nibble } else { b'a' + nibble - 10 };
    write_long(out, 36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(hex_digit(byte >> 4));
        out.push(hex_digit(byte & 0x0f));
    }
}
