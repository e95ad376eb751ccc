//! Checks the JSON of a schema sent to the registry before apache-avro parses it.
//!
//! That parser unwraps where its input breaks Avro's naming rules — a record named
//! `1bad`, a type reference that is no name, an alias or enum symbol that is no name —
//! and so panics on text that any HTTP client can send. Everything it would unwrap is
//! checked here first and refused as an ordinary invalid schema (42201); what the
//! parser reports as an error by itself is left to it.

use serde_json::Value as Json;

use crate::naming::is_valid_name;

/// Deeper than this is no schema a database table gives, and recursion must stay bounded.
const MAX_DEPTH: usize = 64;

/// Why the schema's JSON is refused, or `Ok` when apache-avro may parse it.
pub(super) fn check_schema_json(schema: &Json) -> Result<(), String> {
    check_type(schema, 0)
}

fn check_type(schema: &Json, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("the schema nests deeper than {MAX_DEPTH} levels"));
    }
    match schema {
        Json::String(reference) => check_full_name(reference, "type"),
        Json::Array(branches) => branches.iter().try_for_each(|branch| check_type(branch, depth + 1)),
        Json::Object(definition) => {
            if let Some(Json::String(name)) = definition.get("name") {
                check_full_name(name, "name")?;
            }
            if let Some(Json::String(namespace)) = definition.get("namespace")
                && !namespace.is_empty()
            {
                check_full_name(namespace, "namespace")?;
            }
            check_aliases(definition.get("aliases"))?;
            if let Some(Json::Array(symbols)) = definition.get("symbols") {
                for symbol in symbols.iter().filter_map(Json::as_str) {
                    check_simple_name(symbol, "enum symbol")?;
                }
            }
            for key in ["size", "precision", "scale"] {
                check_integer(definition.get(key), key)?;
            }
            if let Some(Json::Array(fields)) = definition.get("fields") {
                for field in fields {
                    if let Some(Json::String(name)) = field.get("name") {
                        check_simple_name(name, "field name")?;
                    }
                    check_aliases(field.get("aliases"))?;
                    if let Some(field_type) = field.get("type") {
                        check_type(field_type, depth + 1)?;
                    }
                }
            }
            for key in ["type", "items", "values"] {
                if let Some(inner) = definition.get(key) {
                    check_type(inner, depth + 1)?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_aliases(aliases: Option<&Json>) -> Result<(), String> {
    match aliases {
        Some(Json::Array(aliases)) => {
            aliases.iter().filter_map(Json::as_str).try_for_each(|a| check_full_name(a, "alias"))
        }
        _ => Ok(()),
    }
}

/// A dotted name: every part a valid Avro name.
fn check_full_name(name: &str, what: &str) -> Result<(), String> {
    if name.split('.').all(is_valid_name) {
        Ok(())
    } else {
        Err(format!(
            "{what} {name:?} is not a valid Avro name (letters, digits and '_', not starting with a digit, parts joined by '.')"
        ))
    }
}

fn check_simple_name(name: &str, what: &str) -> Result<(), String> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(format!("{what} {name:?} is not a valid Avro name (letters, digits and '_', not starting with a digit)"))
    }
}

/// `size`, `precision` and `scale` are whole numbers (as JSON numbers or digit strings).
fn check_integer(value: Option<&Json>, key: &str) -> Result<(), String> {
    let whole = match value {
        None => true,
        Some(Json::Number(number)) => number.as_i64().is_some(),
        Some(Json::String(text)) => text.parse::<i64>().is_ok(),
        Some(_) => false,
    };
    if whole { Ok(()) } else { Err(format!("{key} must be a whole number")) }
}
