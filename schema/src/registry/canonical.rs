//! The identity of a schema in the registry: Avro's Parsing Canonical Form,
//! extended to keep logical types.
//!
//! Why not `Schema::canonical_form()` alone: Parsing Canonical Form strips
//! `logicalType`, so `long` and `{"type": "long", "logicalType":
//! "timestamp-micros"}` (or `string` and a `uuid`) would share one schema id.
//! A column changed from bigint to timestamptz would then keep its old id and
//! its records would be read without the timestamp annotation. This form is
//! Parsing Canonical Form with `logicalType` kept (after `size`, before
//! `precision` and `scale`, which Parsing Canonical Form as implemented by
//! apache_avro already keeps); for schemas without logical types it is
//! byte-for-byte `Schema::canonical_form()`.
//!
//! Invariant: two schemas get the same form exactly when they have the same
//! names, types, fields, symbols, sizes and logical types; `doc`, `aliases`,
//! `default`, `order`, custom attributes and whitespace do not count.

use std::collections::HashSet;

use apache_avro::Schema;
use serde_json::{Map, Value};

/// Attributes kept, in the order they are written.
const KEPT_ATTRIBUTES: [&str; 10] =
    ["name", "type", "fields", "symbols", "items", "values", "size", "logicalType", "precision", "scale"];

/// The canonical text of `schema` (see the module documentation). Fails only
/// if apache_avro cannot serialise the schema back to JSON.
pub fn canonical_form(schema: &Schema) -> Result<String, serde_json::Error> {
    let json = serde_json::to_value(schema)?;
    let mut defined = HashSet::new();
    let mut out = String::new();
    write_schema(&json, None, &mut defined, &mut out);
    Ok(out)
}

fn write_schema(json: &Value, enclosing_namespace: Option<&str>, defined: &mut HashSet<String>, out: &mut String) {
    match json {
        Value::Array(branches) => {
            out.push('[');
            for (index, branch) in branches.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_schema(branch, enclosing_namespace, defined, out);
            }
            out.push(']');
        }
        Value::Object(object) => write_object(object, enclosing_namespace, defined, out),
        other => write_json(other, out),
    }
}

fn write_object(
    object: &Map<String, Value>,
    enclosing_namespace: Option<&str>,
    defined: &mut HashSet<String>,
    out: &mut String,
) {
    let type_name = object.get("type").and_then(Value::as_str);
    if object.len() == 1
        && let Some(primitive) = type_name
    {
        write_json(&Value::from(primitive), out);
        return;
    }
    let is_named = matches!(type_name, Some("record" | "enum" | "fixed"));
    let full_name = if is_named { full_name(object, enclosing_namespace) } else { None };
    if let Some(full_name) = &full_name
        && !defined.insert(full_name.clone())
    {
        write_json(&Value::from(full_name.as_str()), out);
        return;
    }
    let namespace = match &full_name {
        Some(full_name) => full_name.rsplit_once('.').map(|(namespace, _)| namespace),
        None => enclosing_namespace,
    };
    out.push('{');
    let mut first = true;
    for attribute in KEPT_ATTRIBUTES {
        let Some(value) = object.get(attribute) else { continue };
        if !first {
            out.push(',');
        }
        first = false;
        write_json(&Value::from(attribute), out);
        out.push(':');
        match (attribute, &full_name) {
            ("name", Some(full_name)) => write_json(&Value::from(full_name.as_str()), out),
            ("type" | "items" | "values", _) => write_schema(value, namespace, defined, out),
            ("fields", _) => write_fields(value, namespace, defined, out),
            _ => write_json(value, out),
        }
    }
    out.push('}');
}

/// Fields keep only `name` and `type`.
fn write_fields(fields: &Value, namespace: Option<&str>, defined: &mut HashSet<String>, out: &mut String) {
    let Value::Array(fields) = fields else { return write_json(fields, out) };
    out.push('[');
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push('{');
        if let Some(name) = field.get("name") {
            out.push_str("\"name\":");
            write_json(name, out);
            out.push(',');
        }
        out.push_str("\"type\":");
        if let Some(field_type) = field.get("type") {
            write_schema(field_type, namespace, defined, out);
        }
        out.push('}');
    }
    out.push(']');
}

fn full_name(object: &Map<String, Value>, enclosing_namespace: Option<&str>) -> Option<String> {
    let name = object.get("name").and_then(Value::as_str)?;
    if name.contains('.') {
        return Some(name.to_owned());
    }
    let namespace = object.get("namespace").and_then(Value::as_str).or(enclosing_namespace);
    Some(match namespace {
        Some(namespace) if !namespace.is_empty() => format!("{namespace}.{name}"),
        _ => name.to_owned(),
    })
}

/// JSON text of a scalar (strings escaped as JSON does).
fn write_json(value: &Value, out: &mut String) {
    out.push_str(&value.to_string());
}
