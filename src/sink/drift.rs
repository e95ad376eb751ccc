//! What changed between two registered shapes of a table, in the words an
//! operator needs when a change is refused: which columns were added, removed,
//! or changed type (`column n: int → string`).
//!
//! Works on the schema texts (the subject's latest registered version against
//! the one refused), so it also explains a change seen first after a restart,
//! when the old shape is no longer in memory. Both envelope schemas (the row is
//! the record inside `before`) and key schemas (the row is the record) are read.

use serde_json::Value as Json;
use wellhead_decoders::change::Identifier;
use wellhead_schema::naming::COLUMN_ATTRIBUTE;

/// One change per column, in the new schema's column order, then removed columns;
/// empty when either text is not a record schema or nothing differs by column.
pub fn column_changes(previous: &str, refused: &str) -> Vec<String> {
    let (Ok(previous), Ok(refused)) = (serde_json::from_str::<Json>(previous), serde_json::from_str::<Json>(refused))
    else {
        return Vec::new();
    };
    let (Some(previous), Some(refused)) = (row_fields(&previous), row_fields(&refused)) else {
        return Vec::new();
    };
    let mut changes = Vec::new();
    for field in refused {
        let column = column_name(field);
        match previous.iter().find(|old| old["name"] == field["name"]) {
            None => changes.push(format!("column {column} added as {}", describe_type(&field["type"]))),
            Some(old) if old["type"] != field["type"] => {
                let ((before, was_nullable), (after, nullable)) = (branches(&old["type"]), branches(&field["type"]));
                let nullability = match (was_nullable, nullable) {
                    (false, true) => ", now nullable",
                    (true, false) => ", now not null",
                    _ => "",
                };
                if before == after && nullability.is_empty() {
                    changes.push(format!("column {column}: type attributes of {before} changed"));
                } else if before == after {
                    changes.push(format!("column {column}: {before}{nullability}"));
                } else {
                    changes.push(format!("column {column}: type {before} → {after}{nullability}"));
                }
            }
            Some(old) if old.get("default") != field.get("default") => {
                changes.push(format!("column {column}: default changed"));
            }
            Some(_) => {}
        }
    }
    for old in previous {
        if !refused.iter().any(|field| field["name"] == old["name"]) {
            changes.push(format!("column {} removed", column_name(old)));
        }
    }
    changes
}

/// The fields of the row record: inside `before`'s union for an envelope, else the record's own.
fn row_fields(schema: &Json) -> Option<&Vec<Json>> {
    let fields = schema.get("fields")?.as_array()?;
    let before = fields.iter().find(|field| field["name"] == "before");
    match before.and_then(|field| field["type"].as_array()) {
        Some(branches) => branches.iter().find(|branch| branch["type"] == "record")?.get("fields")?.as_array(),
        None => Some(fields),
    }
}

fn column_name(field: &Json) -> String {
    let name = field.get(COLUMN_ATTRIBUTE).and_then(Json::as_str).or_else(|| field["name"].as_str()).unwrap_or("?");
    Identifier(name).to_string()
}

/// `int`, `decimal(12,2)`, `string, nullable` (a union of several value types: `a or b`).
fn describe_type(schema: &Json) -> String {
    match branches(schema) {
        (text, true) => format!("{text}, nullable"),
        (text, false) => text,
    }
}

/// The type without its `null` branch, and whether it had one.
fn branches(schema: &Json) -> (String, bool) {
    match schema.as_array() {
        Some(branches) => {
            let nullable = branches.iter().any(|branch| branch == "null");
            let named: Vec<String> = branches.iter().filter(|branch| *branch != "null").map(describe_branch).collect();
            (named.join(" or "), nullable)
        }
        None => (describe_branch(schema), false),
    }
}

fn describe_branch(schema: &Json) -> String {
    if let Some(name) = schema.as_str() {
        return name.to_owned();
    }
    if let Some(logical) = schema.get("logicalType").and_then(Json::as_str) {
        return match (schema.get("precision"), schema.get("scale")) {
            (Some(precision), Some(scale)) => format!("{logical}({precision},{scale})"),
            _ => logical.to_owned(),
        };
    }
    let kind = schema.get("type").and_then(Json::as_str).unwrap_or("?");
    match kind {
        "record" | "enum" | "fixed" => schema.get("name").and_then(Json::as_str).unwrap_or(kind).to_owned(),
        "array" => format!("array of {}", describe_type(&schema["items"])),
        "map" => format!("map of {}", describe_type(&schema["values"])),
        _ => match schema.get(wellhead_schema::avro::TYPE_ATTRIBUTE).and_then(Json::as_str) {
            Some(database_type) => format!("{kind} ({database_type})"),
            None => kind.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::column_changes;

    fn envelope(fields: &str) -> String {
        format!(
            r#"{{"type": "record", "name": "Envelope", "fields": [
                {{"name": "before", "type": ["null", {{"type": "record", "name": "Value", "fields": [{fields}]}}]}},
                {{"name": "after", "type": ["null", "Value"]}}]}}"#
        )
    }

    #[test]
    fn names_type_changes_additions_and_removals() {
        let previous = envelope(
            r#"{"name": "id", "type": "long"}, {"name": "n", "type": ["null", "int"]}, {"name": "gone", "type": ["null", "int"]},
               {"name": "m", "type": ["null", "int"]}"#,
        );
        let refused = envelope(
            r#"{"name": "id", "type": "long"}, {"name": "n", "type": ["null", "string"]}, {"name": "m", "type": "int"},
               {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}}"#,
        );
        assert_eq!(
            column_changes(&previous, &refused),
            [
                "column n: type int → string",
                "column m: int, now not null",
                "column price added as decimal(12,2)",
                "column gone removed"
            ]
        );
    }

    #[test]
    fn reads_key_schemas_and_renamed_columns() {
        let previous = r#"{"type": "record", "name": "Key", "fields": [{"name": "order_id", "type": "int", "wellhead.column": "order id"}]}"#;
        let refused = r#"{"type": "record", "name": "Key", "fields": [{"name": "order_id", "type": ["null", "int"], "wellhead.column": "order id"}]}"#;
        assert_eq!(column_changes(previous, refused), ["column \"order id\": int, now nullable"]);
    }

    #[test]
    fn gives_nothing_for_what_it_cannot_read() {
        assert!(column_changes("not json", r#"{"type": "string"}"#).is_empty());
    }
}
