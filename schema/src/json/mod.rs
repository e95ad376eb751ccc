//! One typed value as JSON, written straight into a byte buffer (no
//! intermediate tree). Every rendering keeps the value's exact meaning and is
//! accepted back by PostgreSQL's input function for the type:
//!
//! | value | JSON |
//! |---|---|
//! | bool, int, oid | JSON literal / number |
//! | float | number, shortest exact digits, exponent form outside 1e-6 ≤ \|x\| < 1e21 (`1.7976931348623157e308`); `"NaN"`, `"Infinity"`, `"-Infinity"`; `-0` kept |
//! | numeric, money | string with every digit (`"12.500"`, `"NaN"`) |
//! | bytes | `"\\x0aff"` |
//! | date, time, timestamps | ISO 8601 (`"2024-05-01T12:00:00.5+00:00"`), `"0044-03-15 BC"`, `"infinity"` |
//! | interval | ISO 8601 duration (`"P1Y2M3DT4H5M6.5S"`) |
//! | json, jsonb | the document itself, verbatim but for line breaks, which become spaces |
//! | array | nested JSON arrays; with a lower bound other than 1: `{"lower_bounds": [..], "elements": [..]}` |
//! | composite | object of its fields |
//! | MySQL TIME | `"-838:59:59.000001"` (signed hours beyond 24) |
//! | SET, VECTOR | JSON array of members / numbers |
//! | geometry | `{"srid": 4326, "wkb": "\\x0101..."}` |
//! | range | `{"empty": true}` or `{"lower": v, "lower_inclusive": b, "upper": v, "upper_inclusive": b}` |

use std::fmt::Write as _;

use wellhead_decoders::change::{ArrayValue, Date, RangeValue, TimeTz, Timestamp, Value};

mod time;

pub(crate) use self::time::write_interval;
use self::time::{write_date, write_duration, write_time_of_day, write_timestamp};

/// Appends `value` as JSON.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int16(n) => push_display(out, n),
        Value::Int32(n) => push_display(out, n),
        Value::Int64(n) => push_display(out, n),
        Value::Oid(n) => push_display(out, n),
        Value::UInt64(n) => push_display(out, n),
        Value::Year(n) => push_display(out, n),
        Value::TimeDuration(micros) => quoted(out, |s| write_duration(s, *micros)),
        Value::Set(members) => {
            out.push('[');
            for (index, member) in members.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(out, member);
            }
            out.push(']');
        }
        Value::Geometry { srid, wkb } => {
            let _ = write!(out, "{{\"srid\":{srid},\"wkb\":");
            write_hex_bytes(out, wkb);
            out.push('}');
        }
        Value::Vector(elements) => {
            out.push('[');
            for (index, element) in elements.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_float(out, f64::from(*element), |exponent| shortest(*element, exponent));
            }
            out.push(']');
        }
        Value::Float32(f) => write_float(out, f64::from(*f), |exponent| shortest(*f, exponent)),
        Value::Float64(f) => write_float(out, *f, |exponent| shortest(*f, exponent)),
        Value::Numeric(numeric) => write_string(out, &numeric.to_string()),
        Value::Money(minor_units) => {
            let sign = if *minor_units < 0 { "-" } else { "" };
            let magnitude = minor_units.unsigned_abs();
            write_string(out, &format!("{sign}{}.{:02}", magnitude / 100, magnitude % 100));
        }
        Value::Text(text) | Value::Xml(text) | Value::Enum(text) | Value::Bits(text) | Value::Other(text) => {
            write_string(out, text)
        }
        Value::Bytes(bytes) => write_hex_bytes(out, bytes),
        Value::Date(date) => quoted(out, |s| match date {
            Date::Days(days) => write_date(s, *days),
            Date::PositiveInfinity => s.push_str("infinity"),
            Date::NegativeInfinity => s.push_str("-infinity"),
            Date::Incomplete { year, month, day } => {
                let _ = write!(s, "{year:04}-{month:02}-{day:02}");
            }
        }),
        Value::Time(micros) => quoted(out, |s| write_time_of_day(s, *micros)),
        Value::TimeTz(time) => quoted(out, |s| write_time_tz(s, time)),
        Value::Timestamp(timestamp) => quoted(out, |s| write_timestamp_value(s, timestamp, false)),
        Value::TimestampTz(timestamp) => quoted(out, |s| write_timestamp_value(s, timestamp, true)),
        Value::Interval(interval) => quoted(out, |s| write_interval(s, interval)),
        Value::Uuid(bytes) => quoted(out, |s| {
            for (index, byte) in bytes.iter().enumerate() {
                if matches!(index, 4 | 6 | 8 | 10) {
                    s.push('-');
                }
                let _ = write!(s, "{byte:02x}");
            }
        }),
        // The database validated the document; it is embedded as it was rendered, except that
        // line breaks become spaces so that one envelope stays one line. In a valid document
        // they can only be whitespace between tokens (a string cannot hold a raw one).
        Value::Json(document) => out.extend(document.chars().map(|c| if matches!(c, '\n' | '\r') { ' ' } else { c })),
        Value::Inet(inet) => write_string(out, &inet.to_string()),
        Value::MacAddr(bytes) => write_string(out, &hex_groups(bytes)),
        Value::MacAddr8(bytes) => write_string(out, &hex_groups(bytes)),
        Value::Array(array) => write_array(out, array),
        Value::Composite(fields) => {
            out.push('{');
            for (index, (name, field)) in fields.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(out, name);
                out.push(':');
                write_optional(out, field.as_ref());
            }
            out.push('}');
        }
        Value::Range(range) => match range.as_ref() {
            RangeValue::Empty => out.push_str("{\"empty\":true}"),
            RangeValue::Bounded { lower, upper } => {
                out.push_str("{\"lower\":");
                write_optional(out, lower.as_ref().map(|b| &b.value));
                out.push_str(",\"lower_inclusive\":");
                out.push_str(if lower.as_ref().is_some_and(|b| b.inclusive) { "true" } else { "false" });
                out.push_str(",\"upper\":");
                write_optional(out, upper.as_ref().map(|b| &b.value));
                out.push_str(",\"upper_inclusive\":");
                out.push_str(if upper.as_ref().is_some_and(|b| b.inclusive) { "true" } else { "false" });
                out.push('}');
            }
        },
    }
}

/// The text of `value` where a JSON literal is not wanted (Avro's `special_values`): its
/// JSON rendering, except that a value rendered as a JSON string is given as the string's
/// text (`NaN`, `infinity`, `0000-00-00`) rather than as a quoted literal.
pub fn value_text(value: &Value) -> String {
    let mut json = String::new();
    write_value(&mut json, value);
    if json.starts_with('"')
        && let Ok(text) = serde_json::from_str::<String>(&json)
    {
        return text;
    }
    json
}

/// `HH:MM:SS[.ffffff]±HH:MM[:SS]`: ISO 8601, and accepted back by PostgreSQL's timetz input.
pub(crate) fn write_time_tz(out: &mut impl std::fmt::Write, time: &TimeTz) {
    write_time_of_day(out, time.micros);
    write_offset(out, time.utc_offset_seconds);
}

/// Appends `value` or `null`.
pub fn write_optional(out: &mut String, value: Option<&Value>) {
    match value {
        Some(value) => write_value(out, value),
        None => out.push_str("null"),
    }
}

/// Appends a JSON string literal.
pub fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `"\\x0aff"`: PostgreSQL's hex form of bytes, as a JSON string (hex digits need no escaping).
fn write_hex_bytes(out: &mut String, bytes: &[u8]) {
    out.reserve(4 + bytes.len() * 2);
    out.push_str("\"\\\\x");
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out.push('"');
}

fn push_display(out: &mut String, value: impl std::fmt::Display) {
    let _ = write!(out, "{value}");
}

fn quoted(out: &mut String, body: impl FnOnce(&mut String)) {
    out.push('"');
    body(out);
    out.push('"');
}

/// Floats this large or small are written with an exponent, as JavaScript does:
/// plain digits would run to hundreds of characters (`f64::MAX`, `5e-324`) and
/// some JSON readers (serde_json without `float_roundtrip`) reject them as out of range.
const PLAIN_FLOAT_RANGE: std::ops::Range<f64> = 1e-6..1e21;

/// `shortest(exponent_form)` renders a finite value in its shortest exact digits.
fn write_float(out: &mut String, value: f64, shortest: impl FnOnce(bool) -> String) {
    if value.is_finite() {
        out.push_str(&shortest(value != 0.0 && !PLAIN_FLOAT_RANGE.contains(&value.abs())));
    } else if value.is_nan() {
        out.push_str("\"NaN\"");
    } else if value > 0.0 {
        out.push_str("\"Infinity\"");
    } else {
        out.push_str("\"-Infinity\"");
    }
}

/// Rust's shortest round-trip digits, plain (`0.1`, `-0`) or with an exponent (`1e-45`).
fn shortest<F: std::fmt::Display + std::fmt::LowerExp>(value: F, exponent_form: bool) -> String {
    if exponent_form { format!("{value:e}") } else { value.to_string() }
}

fn write_timestamp_value(out: &mut String, timestamp: &Timestamp, with_zone: bool) {
    match timestamp {
        Timestamp::Micros(micros) => write_timestamp(out, *micros, with_zone),
        Timestamp::PositiveInfinity => out.push_str("infinity"),
        Timestamp::NegativeInfinity => out.push_str("-infinity"),
        // The server's own text for a date that names no day ('0000-00-00 00:00:00').
        Timestamp::Incomplete { year, month, day, micros_of_day } => {
            let _ = write!(out, "{year:04}-{month:02}-{day:02} ");
            write_time_of_day(out, *micros_of_day);
        }
    }
}

fn write_offset(out: &mut impl std::fmt::Write, offset_seconds: i32) {
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let magnitude = offset_seconds.unsigned_abs();
    let _ = write!(out, "{sign}{:02}:{:02}", magnitude / 3600, magnitude / 60 % 60);
    if !magnitude.is_multiple_of(60) {
        let _ = write!(out, ":{:02}", magnitude % 60);
    }
}

fn hex_groups(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn write_array(out: &mut String, array: &ArrayValue) {
    let default_bounds = array.dimensions.iter().all(|d| d.lower_bound == 1);
    if !default_bounds {
        out.push_str("{\"lower_bounds\":[");
        for (index, dimension) in array.dimensions.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            push_display(out, dimension.lower_bound);
        }
        out.push_str("],\"elements\":");
    }
    let lengths: Vec<usize> = array.dimensions.iter().map(|d| d.length as usize).collect();
    let mut elements = array.elements.iter();
    write_dimension(out, &lengths, &mut elements);
    if !default_bounds {
        out.push('}');
    }
}

fn write_dimension<'a>(out: &mut String, lengths: &[usize], elements: &mut impl Iterator<Item = &'a Option<Value>>) {
    out.push('[');
    match lengths.split_first() {
        None => {}
        Some((length, [])) => {
            for index in 0..*length {
                if index > 0 {
                    out.push(',');
                }
                write_optional(out, elements.next().and_then(Option::as_ref));
            }
        }
        Some((length, inner)) => {
            for index in 0..*length {
                if index > 0 {
                    out.push(',');
                }
                write_dimension(out, inner, elements);
            }
        }
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: Value) -> String {
        let mut out = String::new();
        write_value(&mut out, &value);
        out
    }

    #[test]
    fn json_documents_stay_on_one_line() {
        let document = "{\"a\": [1,\r\n 2.50],\n \"s\": \"x\\ny\"}";
        assert_eq!(json(Value::Json(document.to_owned())), "{\"a\": [1,   2.50],  \"s\": \"x\\ny\"}");
    }

    #[test]
    fn floats_are_shortest_and_exact() {
        assert_eq!(json(Value::Float64(f64::MAX)), "1.7976931348623157e308");
        assert_eq!(json(Value::Float64(5e-324)), "5e-324");
        assert_eq!(json(Value::Float64(-1.2345678901234568e21)), "-1.2345678901234568e21");
        assert_eq!(json(Value::Float64(1.2345678901234568e20)), "123456789012345680000");
        assert_eq!(json(Value::Float64(0.000001)), "0.000001");
        assert_eq!(json(Value::Float64(-0.0)), "-0");
        assert_eq!(json(Value::Float64(f64::NAN)), "\"NaN\"");
        assert_eq!(json(Value::Float32(f32::MAX)), "3.4028235e38");
        assert_eq!(json(Value::Float32(1e-45)), "1e-45");
        assert_eq!(json(Value::Float32(0.1)), "0.1");
        assert_eq!(json(Value::Float32(f32::NEG_INFINITY)), "\"-Infinity\"");
        for text in ["1.7976931348623157e308", "5e-324", "3.4028235e38"] {
            assert!(serde_json::from_str::<serde_json::Value>(text).is_ok(), "{text}");
        }
    }
}
