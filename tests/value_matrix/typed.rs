//! The oracle's side of the Avro value matrix: what Python type fastavro must
//! return for each column type, and the PostgreSQL input text of a typed value.
//!
//! ```text
//!   read_avro.py line ──value──► literal(Kind::of(sql_type), described)
//!                                   ├─ wrong Python type / record ──► Err(why)
//!                                   └─ Ok(Some('…')) ──► rows::matches_stored   Ok(None) = SQL NULL
//! ```
//!
//! A described value is `{"pytype", "value" | "fields" | "items", …}` as
//! `tests/python/read_avro.py` documents. The expected types follow the table
//! of `schema/src/avro/mod.rs`: numeric → `Decimal` (unconstrained numeric via
//! the `wellhead.VariableScaleDecimal` record); date/timestamp(tz) →
//! `date`/naive/aware `datetime`; interval and timetz → `str` (ISO 8601);
//! arrays → `list`; composites and ranges → `dict` records. A value the plain
//! type cannot carry (NaN, ±infinity, a multi-dimensional array or one with
//! other lower bounds, or any container holding one) must be null in the row
//! and present in the envelope's `special_values` (`"pytype": "special"`, see
//! the script), its text being the JSON sink's rendering, turned into a
//! literal as `literal.rs` does for the JSON-lines matrix. A temporal value
//! fastavro cannot hold arrives raw (`"stripped"`, see the script) and is
//! converted here from days or microseconds since 1970-01-01 (proleptic
//! Gregorian, year 0 = 1 BC).

// Shared by the files and Kafka value-matrix tests; each uses a part.
#![allow(dead_code)]

use serde_json::Value;

use crate::literal::{Json, literal as json_literal};
use crate::support::calendar::civil_date;

/// `(row id, column, the exception fastavro raises for each value of the cell it
/// cannot hold, in order)`: the cells that go to `matrix_beyond`.
pub const BEYOND_PYTHON: &[(usize, &str, &[&str])] = &[
    // 24:00:00 in a time (a timetz is text, and the arrays and ranges of row 3 hold
    // infinities, which go to special_values as text).
    (3, "c_time", &["ValueError: hour must be in 0..23"]),
    // 4714-11-24 BC, PostgreSQL's first day.
    (4, "c_date", &["ValueError: ordinal must be >= 1"]),
    (4, "c_timestamp", &["OverflowError: date value out of range"]),
    (4, "c_timestamptz", &["OverflowError: date value out of range"]),
    // 5874897-12-31 and 294246-12-31 23:59:59.999999.
    (5, "c_date", &["ValueError: year 5874897 is out of range"]),
    (5, "c_timestamp", &["OverflowError: date value out of range"]),
    (5, "c_timestamptz", &["OverflowError: date value out of range"]),
    // 0001-12-31 23:59:59.999999 BC, the last microsecond before year 1.
    (6, "c_timestamp", &["OverflowError: date value out of range"]),
];

/// The exceptions fastavro raises for the values of cell `column` of row `id`, when it is
/// one of [`BEYOND_PYTHON`].
pub fn beyond_python(id: usize, column: &str) -> Option<&'static [&'static str]> {
    BEYOND_PYTHON.iter().find(|(row, name, _)| *row == id && *name == column).map(|(_, _, errors)| *errors)
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// What fastavro must return for a column type.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Int,
    Bool,
    Float,
    /// numeric(p, s): Avro `decimal`, read as `Decimal`.
    FixedDecimal,
    /// Unconstrained numeric: record `wellhead.VariableScaleDecimal`.
    VariableDecimal,
    /// money: Avro `decimal(19, 2)`, no special values.
    Money,
    /// Text family, xml, network types, bits, tsvector, enums, domains over text, json, jsonb.
    Text,
    Bytes,
    Uuid,
    Date,
    Time,
    TimeTz,
    Timestamp,
    TimestampTz,
    Interval,
    Array(Box<Kind>),
    /// Field kinds in type order.
    Composite(Vec<Kind>),
    Range(Box<Kind>),
}

impl Kind {
    /// The kind of a column type of the matrix (`rows::COLUMNS`).
    pub fn of(sql_type: &str) -> Kind {
        if let Some(element) = sql_type.strip_suffix("[]") {
            return Kind::Array(Box::new(Kind::of(element)));
        }
        match sql_type {
            "smallint" | "integer" | "bigint" | "oid" | "posint" => Kind::Int,
            "boolean" => Kind::Bool,
            "real" | "double precision" => Kind::Float,
            "numeric" => Kind::VariableDecimal,
            "money" => Kind::Money,
            "bytea" => Kind::Bytes,
            "uuid" => Kind::Uuid,
            "date" => Kind::Date,
            "time" => Kind::Time,
            "timetz" => Kind::TimeTz,
            "timestamp" => Kind::Timestamp,
            "timestamptz" => Kind::TimestampTz,
            "interval" => Kind::Interval,
            "pair" => Kind::Composite(vec![Kind::Int, Kind::Text]),
            "int4range" => Kind::Range(Box::new(Kind::Int)),
            "numrange" => Kind::Range(Box::new(Kind::VariableDecimal)),
            "tstzrange" => Kind::Range(Box::new(Kind::TimestampTz)),
            "daterange" => Kind::Range(Box::new(Kind::Date)),
            "floatrange" => Kind::Range(Box::new(Kind::Float)),
            numeric if numeric.starts_with("numeric(") => Kind::FixedDecimal,
            _ => Kind::Text,
        }
    }
}

/// PostgreSQL input text of the described value (`None`: SQL NULL), or why it
/// is not what fastavro must return for `kind`.
pub fn literal(kind: &Kind, described: &Value) -> Result<Option<String>, String> {
    let pytype = field_str(described, "pytype")?;
    if pytype == "NoneType" {
        return Ok(None);
    }
    let wrong = || Err(format!("{kind:?} must not be read as {}", described));
    let value = || field_str(described, "value").map(str::to_owned);
    let text = match (kind, pytype) {
        (_, "special") => special(kind, &value()?)?,
        (Kind::Int, "int") | (Kind::FixedDecimal | Kind::Money, "Decimal") | (Kind::Text, "str") => value()?,
        (Kind::TimeTz | Kind::Interval, "str") => value()?,
        (Kind::Uuid, "UUID") | (Kind::Date, "date") | (Kind::Time, "time") => value()?,
        (Kind::Float, "float") => value()?,
        (Kind::Bool, "bool") => described["value"].as_bool().ok_or("bool without value")?.to_string(),
        (Kind::Bytes, "bytes") => format!("\\x{}", value()?),
        (Kind::Timestamp | Kind::TimestampTz, "datetime") => {
            let aware = described["aware"].as_bool().ok_or("datetime without aware")?;
            if aware != (*kind == Kind::TimestampTz) {
                return Err(format!("{kind:?} read as a datetime with aware = {aware}: {described}"));
            }
            value()?
        }
        (Kind::Date | Kind::Time | Kind::Timestamp | Kind::TimestampTz, "int") => raw_temporal(kind, described)?,
        (Kind::VariableDecimal, "dict") => {
            record(described, |name| name == "wellhead.VariableScaleDecimal")?;
            field_str(described, "decimal")?.to_owned()
        }
        (Kind::Array(element), "list") => {
            let elements: Vec<String> = items(described)?
                .iter()
                .map(|item| Ok(quoted(literal(element, item)?, "NULL")))
                .collect::<Result<_, String>>()?;
            format!("{{{}}}", elements.join(","))
        }
        (Kind::Composite(kinds), "dict") => {
            let fields = record(described, |name| name.starts_with("wellhead.composite."))?;
            if fields.len() != kinds.len() {
                return wrong();
            }
            let fields: Result<Vec<String>, String> =
                kinds.iter().zip(&fields).map(|(kind, (_, field))| Ok(quoted(literal(kind, field)?, ""))).collect();
            format!("({})", fields?.join(","))
        }
        (Kind::Range(bound), "dict") => {
            let fields = record(described, |name| name.starts_with("wellhead.range."))?;
            let [(_, empty), (_, lower), (_, lower_inclusive), (_, upper), (_, upper_inclusive)] =
                named(&fields, ["empty", "lower", "lower_inclusive", "upper", "upper_inclusive"])?;
            if boolean(empty)? {
                "empty".to_owned()
            } else {
                format!(
                    "{}{},{}{}",
                    if boolean(lower_inclusive)? { '[' } else { '(' },
                    quoted(literal(bound, lower)?, ""),
                    quoted(literal(bound, upper)?, ""),
                    if boolean(upper_inclusive)? { ']' } else { ')' }
                )
            }
        }
        _ => return wrong(),
    };
    Ok(Some(text))
}

/// Checks one value an Avro reader described against the stored cell: the Python type
/// must be the documented one and the value, as PostgreSQL input text, must equal what
/// PostgreSQL has. The mismatch, said for the failure message, or `None`.
pub async fn cell_mismatch(
    oracle: &tokio_postgres::Client,
    table: &str,
    id: i32,
    (column, sql_type): (&str, &str),
    value: &Value,
    reader: &str,
) -> Option<String> {
    use crate::rows::{matches_stored, truncated};
    let text = match literal(&Kind::of(sql_type), value) {
        Ok(text) => text,
        Err(why) => return Some(format!("{table}.{column} ({sql_type}) row {id}: {}", truncated(&why))),
    };
    let (equal, stored) = matches_stored(oracle, table, id, column, sql_type, text.as_deref()).await;
    (!equal).then(|| {
        format!(
            "{table}.{column} ({sql_type}) row {id}: {reader} read {} (literal {:?}); PostgreSQL has {:?}",
            truncated(&value.to_string()),
            text.as_deref().map(truncated),
            stored.as_deref().map(truncated)
        )
    })
}

/// The raw leaves' fastavro outcomes of a value read with its temporal logical
/// types stripped: the error fastavro raises for each value it cannot hold, in order.
pub fn fastavro_errors(described: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(error) = described.get("fastavro").and_then(Value::as_str) {
        errors.push(error.to_owned());
    }
    let children = described["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| pair.get(1))
        .chain(described["items"].as_array().into_iter().flatten());
    for child in children {
        errors.extend(fastavro_errors(child));
    }
    errors
}

/// The literal of a value from `special_values`: only values the plain type cannot carry
/// may be there, each as the JSON sink renders it (a JSON string as its text).
fn special(kind: &Kind, text: &str) -> Result<String, String> {
    let container = matches!(kind, Kind::Array(_) | Kind::Composite(_) | Kind::Range(_));
    let scalar_special = match kind {
        Kind::FixedDecimal | Kind::VariableDecimal => ["NaN", "Infinity", "-Infinity"].contains(&text),
        Kind::Date | Kind::Timestamp | Kind::TimestampTz => ["infinity", "-infinity"].contains(&text),
        _ => false,
    };
    if scalar_special {
        return Ok(text.to_owned());
    }
    if !container {
        return Err(format!("{kind:?} has {text:?} in special_values, which its plain type carries"));
    }
    // A container belongs there only when it holds what a plain array/record cannot.
    let needs_special = ["\"lower_bounds\"", "[[", "\"NaN\"", "Infinity\"", "infinity\""];
    if !needs_special.iter().any(|marker| text.contains(marker)) {
        return Err(format!("{kind:?} has {text:?} in special_values, which its plain type carries"));
    }
    let json = Json::parse(text).map_err(|why| format!("special value {text:?} is not JSON: {why}"))?;
    json_literal(&json).ok_or_else(|| format!("special value {text:?} is null"))
}

/// A value fastavro could not hold as a Python temporal, read as its raw Avro int/long.
fn raw_temporal(kind: &Kind, described: &Value) -> Result<String, String> {
    let expected = match kind {
        Kind::Date => "date",
        Kind::Time => "time-micros",
        Kind::Timestamp => "local-timestamp-micros",
        _ => "timestamp-micros",
    };
    if described.get("stripped").and_then(Value::as_str) != Some(expected) {
        return Err(format!("{kind:?} read as a plain int, not a raw {expected}: {described}"));
    }
    let raw: i64 = int(described)?;
    let instant =
        || format!("{} {}", civil_date(raw.div_euclid(MICROS_PER_DAY)), time_of_day(raw.rem_euclid(MICROS_PER_DAY)));
    Ok(match kind {
        Kind::Date => civil_date(raw),
        Kind::Time => time_of_day(raw),
        Kind::Timestamp => instant(),
        _ => format!("{}+00", instant()),
    })
}

/// `HH:MM:SS.ffffff` of microseconds since midnight (24:00:00 included).
fn time_of_day(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    format!("{:02}:{:02}:{:02}.{:06}", seconds / 3600, seconds / 60 % 60, seconds % 60, micros % 1_000_000)
}

/// Double-quoted with backslash escapes (valid in array, row and range literals); `null` for SQL NULL.
fn quoted(text: Option<String>, null: &str) -> String {
    match text {
        Some(text) => format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")),
        None => null.to_owned(),
    }
}

/// The fields of a record whose full name satisfies `name_ok`.
fn record(described: &Value, name_ok: impl Fn(&str) -> bool) -> Result<Vec<(String, Value)>, String> {
    let name = field_str(described, "record")?;
    if described["pytype"] != "dict" || !name_ok(name) {
        return Err(format!("unexpected record {described}"));
    }
    items(&described["fields"])?
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([Value::String(name), value]) => Ok((name.clone(), value.clone())),
            _ => Err(format!("bad field {pair}")),
        })
        .collect()
}

/// The record's fields, which must be exactly `names` in order.
fn named<'a, const N: usize>(
    fields: &'a [(String, Value)],
    names: [&str; N],
) -> Result<[(&'a str, &'a Value); N], String> {
    let found: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
    if found != names {
        return Err(format!("fields {found:?}, expected {names:?}"));
    }
    Ok(std::array::from_fn(|index| (fields[index].0.as_str(), &fields[index].1)))
}

fn items(value: &Value) -> Result<&Vec<Value>, String> {
    if let Some(items) = value.get("items") {
        if value["pytype"] != "list" {
            return Err(format!("an Avro array not read as a list: {value}"));
        }
        return items.as_array().ok_or_else(|| format!("bad items {value}"));
    }
    value.as_array().ok_or_else(|| format!("expected a list, got {value}"))
}

fn int(described: &Value) -> Result<i64, String> {
    if described["pytype"] != "int" {
        return Err(format!("expected int, got {described}"));
    }
    field_str(described, "value")?.parse().map_err(|e| format!("{described}: {e}"))
}

fn boolean(described: &Value) -> Result<bool, String> {
    match (&described["pytype"], &described["value"]) {
        (Value::String(pytype), Value::Bool(b)) if pytype == "bool" => Ok(*b),
        _ => Err(format!("expected bool, got {described}")),
    }
}

fn field_str<'a>(described: &'a Value, key: &str) -> Result<&'a str, String> {
    described.get(key).and_then(Value::as_str).ok_or_else(|| format!("no {key} in {described}"))
}
