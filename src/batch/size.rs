//! An estimate of the memory a change event holds, for the queue's bound.

use wellhead_decoders::change::{ChangeEvent, ColumnValue, Numeric, Value};

/// Bytes an event holds, inline and on the heap (an estimate, not an exact count).
pub fn event_size_estimate(event: &ChangeEvent) -> usize {
    let row_bytes = |row: &Option<Vec<ColumnValue>>| {
        row.as_ref().map_or(0, |row| row.iter().map(column_size_estimate).sum::<usize>())
    };
    std::mem::size_of::<ChangeEvent>() + row_bytes(&event.before) + row_bytes(&event.after)
}

fn column_size_estimate(column: &ColumnValue) -> usize {
    let inline = std::mem::size_of::<ColumnValue>();
    match column {
        ColumnValue::Value(value) => inline + value_heap_size(value),
        _ => inline,
    }
}

fn value_heap_size(value: &Value) -> usize {
    match value {
        Value::Text(text)
        | Value::Json(text)
        | Value::Xml(text)
        | Value::Bits(text)
        | Value::Enum(text)
        | Value::Other(text) => text.len(),
        Value::Bytes(bytes) | Value::Geometry { wkb: bytes, .. } => bytes.len(),
        Value::Set(members) => members.iter().map(|m| m.len() + std::mem::size_of::<String>()).sum(),
        Value::Vector(elements) => elements.len() * 4,
        Value::Numeric(Numeric::Finite(decimal)) => decimal.digits.len(),
        Value::Array(array) => array
            .elements
            .iter()
            .map(|element| std::mem::size_of::<Option<Value>>() + element.as_ref().map_or(0, value_heap_size))
            .sum(),
        Value::Composite(fields) => fields
            .iter()
            .map(|(name, field)| {
                name.len() + std::mem::size_of::<Option<Value>>() + field.as_ref().map_or(0, value_heap_size)
            })
            .sum(),
        Value::Range(range) => std::mem::size_of_val(range.as_ref()),
        _ => 0,
    }
}
