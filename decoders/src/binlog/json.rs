//! MySQL's binary JSON (MySQL source, `sql-common/json_binary.h`) into the text a
//! `SELECT` of the column prints, and the partial-update diffs of
//! `binlog_row_value_options=PARTIAL_JSON` (`sql-common/json_diff.h`) applied to a
//! before image. MariaDB's JSON is a text column and never comes here.
//!
//! ```text
//!   value:   type:u8  body
//!   object:  count  size  (key_offset key_length:u16)*  (type offset|inlined)*  keys  values
//!   array:   count  size                                (type offset|inlined)*  values
//!            count, size, offsets: u16 (small) or u32 (large); offsets from the object's start
//!   diff:    operation:u8 (0 replace, 1 insert, 2 remove)  path:lenenc-string  [value:lenenc-bytes]
//! ```
//!
//! Every offset is checked against the value's bytes; nesting is bounded, and so is the
//! number of values read (no more than the document has bytes: offsets that point twice
//! at one value cannot multiply a small input into a huge document).

use std::fmt::Write as _;

use super::cursor::ImageCursor;

/// Deeper nesting is refused: MySQL itself stops at 100.
const MAX_DEPTH: usize = 150;

/// A JSON document with its members in MySQL's order.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonNode {
    Null,
    Bool(bool),
    /// A number as MySQL prints it.
    Number(String),
    String(String),
    Array(Vec<JsonNode>),
    Object(Vec<(String, JsonNode)>),
}

/// The text of a binary JSON value, as MySQL prints it.
pub fn binary_to_text(bytes: &[u8]) -> Result<String, String> {
    let mut text = String::with_capacity(bytes.len() + 16);
    write_node(&parse_binary(bytes)?, &mut text);
    Ok(text)
}

/// Parses a binary JSON value (an empty one is JSON null, as MySQL reads it).
pub fn parse_binary(bytes: &[u8]) -> Result<JsonNode, String> {
    let Some((&value_type, body)) = bytes.split_first() else {
        return Ok(JsonNode::Null);
    };
    let mut budget = bytes.len();
    parse_value(value_type, body, 0, &mut budget)
}

mod kind {
    pub const SMALL_OBJECT: u8 = 0x00;
    pub const LARGE_OBJECT: u8 = 0x01;
    pub const SMALL_ARRAY: u8 = 0x02;
    pub const LARGE_ARRAY: u8 = 0x03;
    pub const LITERAL: u8 = 0x04;
    pub const INT16: u8 = 0x05;
    pub const UINT16: u8 = 0x06;
    pub const INT32: u8 = 0x07;
    pub const UINT32: u8 = 0x08;
    pub const INT64: u8 = 0x09;
    pub const UINT64: u8 = 0x0a;
    pub const DOUBLE: u8 = 0x0b;
    pub const STRING: u8 = 0x0c;
    pub const OPAQUE: u8 = 0x0f;
}

/// `budget`: how many more values may be read.
fn parse_value(value_type: u8, body: &[u8], depth: usize, budget: &mut usize) -> Result<JsonNode, String> {
    if depth > MAX_DEPTH {
        return Err(format!("JSON nested deeper than {MAX_DEPTH} levels"));
    }
    *budget = budget.checked_sub(1).ok_or("a JSON document that refers to its values more than once")?;
    let mut cursor = ImageCursor::new(body);
    match value_type {
        kind::SMALL_OBJECT => parse_container(body, false, true, depth, budget),
        kind::LARGE_OBJECT => parse_container(body, true, true, depth, budget),
        kind::SMALL_ARRAY => parse_container(body, false, false, depth, budget),
        kind::LARGE_ARRAY => parse_container(body, true, false, depth, budget),
        kind::LITERAL => match cursor.take(1, "a JSON literal")?[0] {
            0 => Ok(JsonNode::Null),
            1 => Ok(JsonNode::Bool(true)),
            2 => Ok(JsonNode::Bool(false)),
            other => Err(format!("JSON literal {other} is not null, true or false")),
        },
        kind::INT16 => Ok(JsonNode::Number((cursor.uint_le(2, "a JSON int16")? as u16 as i16).to_string())),
        kind::UINT16 => Ok(JsonNode::Number(cursor.uint_le(2, "a JSON uint16")?.to_string())),
        kind::INT32 => Ok(JsonNode::Number((cursor.uint_le(4, "a JSON int32")? as u32 as i32).to_string())),
        kind::UINT32 => Ok(JsonNode::Number(cursor.uint_le(4, "a JSON uint32")?.to_string())),
        kind::INT64 => Ok(JsonNode::Number((cursor.uint_le(8, "a JSON int64")? as i64).to_string())),
        kind::UINT64 => Ok(JsonNode::Number(cursor.uint_le(8, "a JSON uint64")?.to_string())),
        kind::DOUBLE => Ok(JsonNode::Number(double_text(f64::from_bits(cursor.uint_le(8, "a JSON double")?)))),
        kind::STRING => {
            let length = variable_length(&mut cursor)?;
            let bytes = cursor.take(length, "a JSON string")?;
            std::str::from_utf8(bytes)
                .map(|text| JsonNode::String(text.to_owned()))
                .map_err(|_| "a JSON string is not valid UTF-8".to_owned())
        }
        kind::OPAQUE => {
            let field_type = cursor.take(1, "a JSON opaque type")?[0];
            let length = variable_length(&mut cursor)?;
            opaque(field_type, cursor.take(length, "a JSON opaque value")?)
        }
        other => Err(format!("JSON value type {other:#04x} is unknown")),
    }
}

/// An object or array: `body` starts at its element count.
fn parse_container(
    body: &[u8],
    large: bool,
    is_object: bool,
    depth: usize,
    budget: &mut usize,
) -> Result<JsonNode, String> {
    let offset_size = if large { 4 } else { 2 };
    let mut header = ImageCursor::new(body);
    let count = header.uint_le(offset_size, "a JSON element count")? as usize;
    let size = header.uint_le(offset_size, "a JSON container size")? as usize;
    if size > body.len() {
        return Err(format!("a JSON container claims {size} bytes, {} are there", body.len()));
    }
    let body = &body[..size];
    let key_entry_size = offset_size + 2;
    let value_entry_size = 1 + offset_size;
    let entries_size = count
        .checked_mul(if is_object { key_entry_size + value_entry_size } else { value_entry_size })
        .and_then(|entries| entries.checked_add(2 * offset_size))
        .filter(|end| *end <= size)
        .ok_or_else(|| format!("a JSON container of {size} bytes cannot hold {count} entries"))?;
    let value_entries_at = 2 * offset_size + if is_object { count * key_entry_size } else { 0 };
    let mut keys = Vec::with_capacity(if is_object { count } else { 0 });
    let mut entries = ImageCursor::new(&body[2 * offset_size..entries_size]);
    if is_object {
        for _ in 0..count {
            let key_offset = entries.uint_le(offset_size, "a JSON key offset")? as usize;
            let key_length = entries.uint_le(2, "a JSON key length")? as usize;
            let key = body
                .get(key_offset..key_offset.saturating_add(key_length))
                .ok_or_else(|| format!("a JSON key at {key_offset}+{key_length} is outside its object"))?;
            keys.push(std::str::from_utf8(key).map_err(|_| "a JSON key is not valid UTF-8".to_owned())?.to_owned());
        }
    }
    let mut values = Vec::with_capacity(count);
    let mut entries = ImageCursor::new(&body[value_entries_at..entries_size]);
    for _ in 0..count {
        let value_type = entries.take(1, "a JSON value type")?[0];
        let inlined = matches!(value_type, kind::LITERAL | kind::INT16 | kind::UINT16)
            || (large && matches!(value_type, kind::INT32 | kind::UINT32));
        let field = entries.take(offset_size, "a JSON value entry")?;
        let value = if inlined {
            parse_value(value_type, field, depth + 1, budget)?
        } else {
            let offset = field.iter().rev().fold(0_usize, |offset, byte| (offset << 8) | usize::from(*byte));
            let value_bytes =
                body.get(offset..).ok_or_else(|| format!("a JSON value at {offset} is outside its container"))?;
            parse_value(value_type, value_bytes, depth + 1, budget)?
        };
        values.push(value);
    }
    Ok(if is_object { JsonNode::Object(keys.into_iter().zip(values).collect()) } else { JsonNode::Array(values) })
}

/// JSON's variable-length integers: 7 bits per byte, low bits first, the top bit set on
/// every byte but the last (at most 5 bytes for a u32).
fn variable_length(cursor: &mut ImageCursor<'_>) -> Result<usize, String> {
    let mut length = 0_u64;
    for index in 0..5 {
        let byte = cursor.take(1, "a JSON length")?[0];
        length |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return usize::try_from(length).map_err(|_| "a JSON length does not fit".to_owned());
        }
    }
    Err("a JSON length runs past 5 bytes".to_owned())
}

/// Field types of opaque values (MySQL `enum_field_types`).
const OPAQUE_NEWDECIMAL: u8 = 246;
const OPAQUE_DATE: u8 = 10;
const OPAQUE_TIME: u8 = 11;
const OPAQUE_DATETIME: u8 = 12;
const OPAQUE_TIMESTAMP: u8 = 7;

/// An opaque value: MySQL prints decimals as numbers, temporal values as quoted strings,
/// anything else as `"base64:typeNN:..."`.
fn opaque(field_type: u8, data: &[u8]) -> Result<JsonNode, String> {
    match field_type {
        OPAQUE_NEWDECIMAL => {
            let [precision, scale, packed @ ..] = data else {
                return Err("a JSON decimal without its precision and scale".to_owned());
            };
            let decimal = super::packed_decimal::decode(&mut ImageCursor::new(packed), *precision, *scale)?;
            Ok(JsonNode::Number(decimal.to_string()))
        }
        OPAQUE_DATE | OPAQUE_TIME | OPAQUE_DATETIME | OPAQUE_TIMESTAMP => {
            let packed = ImageCursor::new(data).uint_le(8, "a JSON temporal value")? as i64;
            Ok(JsonNode::String(packed_temporal_text(field_type, packed)))
        }
        other => {
            use base64::Engine as _;
            Ok(JsonNode::String(format!(
                "base64:type{other}:{}",
                base64::engine::general_purpose::STANDARD.encode(data)
            )))
        }
    }
}

/// MySQL's in-memory packed temporal value (`longlong` with the integer part above bit 24).
fn packed_temporal_text(field_type: u8, packed: i64) -> String {
    let negative = packed < 0;
    let magnitude = packed.unsigned_abs();
    let micros = magnitude % (1 << 24);
    let integer = magnitude >> 24;
    if field_type == OPAQUE_TIME {
        let (hours, minutes, seconds) = ((integer >> 12) % (1 << 10), (integer >> 6) % (1 << 6), integer % (1 << 6));
        let sign = if negative { "-" } else { "" };
        return format!("{sign}{hours:02}:{minutes:02}:{seconds:02}.{micros:06}");
    }
    let (date_part, clock) = (integer >> 17, integer % (1 << 17));
    let (year_month, day) = (date_part >> 5, date_part % (1 << 5));
    let (year, month) = (year_month / 13, year_month % 13);
    if field_type == OPAQUE_DATE {
        return format!("{year:04}-{month:02}-{day:02}");
    }
    let (hour, minute, second) = (clock >> 12, (clock >> 6) % (1 << 6), clock % (1 << 6));
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{micros:06}")
}

/// A double as MySQL prints it in JSON: the shortest digits that read back the same, an
/// exponent for very large or small magnitudes, and always a mark that it is not an integer.
fn double_text(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-5..1e15).contains(&magnitude) {
        return format!("{value:e}");
    }
    let text = value.to_string();
    if text.contains(['.', 'e', 'N', 'i']) { text } else { format!("{text}.0") }
}

/// Writes `node` as MySQL prints JSON: `{"a": 1, "b": [1, 2]}`.
pub fn write_node(node: &JsonNode, out: &mut String) {
    match node {
        JsonNode::Null => out.push_str("null"),
        JsonNode::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
        JsonNode::Number(text) => out.push_str(text),
        JsonNode::String(text) => write_string(text, out),
        JsonNode::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_node(item, out);
            }
            out.push(']');
        }
        JsonNode::Object(members) => {
            out.push('{');
            for (index, (key, value)) in members.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_string(key, out);
                out.push_str(": ");
                write_node(value, out);
            }
            out.push('}');
        }
    }
}

fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            control if u32::from(control) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// One change of a partial JSON update.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonDiff {
    pub operation: JsonDiffOperation,
    pub path: Vec<PathLeg>,
    /// The new value (none for a removal).
    pub value: Option<JsonNode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonDiffOperation {
    Replace,
    Insert,
    Remove,
}

/// One step of a JSON path: `.key` or `[index]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathLeg {
    Member(String),
    Index(usize),
}

/// Reads the diffs of a partial JSON update.
pub fn parse_diffs(bytes: &[u8]) -> Result<Vec<JsonDiff>, String> {
    let mut cursor = ImageCursor::new(bytes);
    let mut diffs = Vec::new();
    while !cursor.is_empty() {
        let operation = match cursor.take(1, "a JSON diff operation")?[0] {
            0 => JsonDiffOperation::Replace,
            1 => JsonDiffOperation::Insert,
            2 => JsonDiffOperation::Remove,
            other => return Err(format!("JSON diff operation {other} is unknown")),
        };
        let path_length = cursor.length_encoded("a JSON diff path length")? as usize;
        let path = std::str::from_utf8(cursor.take(path_length, "a JSON diff path")?)
            .map_err(|_| "a JSON diff path is not valid UTF-8".to_owned())?;
        let path = parse_path(path)?;
        let value = if operation == JsonDiffOperation::Remove {
            None
        } else {
            let length = cursor.length_encoded("a JSON diff value length")? as usize;
            Some(parse_binary(cursor.take(length, "a JSON diff value")?)?)
        };
        diffs.push(JsonDiff { operation, path, value });
    }
    Ok(diffs)
}

/// A JSON path as the server writes it in diffs: `$`, then `.key`, `."quoted key"` or `[n]` legs.
fn parse_path(path: &str) -> Result<Vec<PathLeg>, String> {
    let invalid = || format!("JSON path {path:?} is not one the server writes");
    let mut rest = path.strip_prefix('$').ok_or_else(invalid)?.trim_start();
    let mut legs = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let (index, after) = after.split_once(']').ok_or_else(invalid)?;
            legs.push(PathLeg::Index(index.trim().parse().map_err(|_| invalid())?));
            rest = after;
        } else if let Some(after) = rest.strip_prefix('.') {
            if let Some(quoted) = after.strip_prefix('"') {
                let mut key = String::new();
                let mut characters = quoted.char_indices();
                let end = loop {
                    match characters.next() {
                        Some((_, '\\')) => key.push(characters.next().ok_or_else(invalid)?.1),
                        Some((at, '"')) => break at + 1,
                        Some((_, other)) => key.push(other),
                        None => return Err(invalid()),
                    }
                };
                legs.push(PathLeg::Member(key));
                rest = &quoted[end..];
            } else {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                legs.push(PathLeg::Member(after[..end].to_owned()));
                rest = &after[end..];
            }
        } else {
            return Err(invalid());
        }
    }
    Ok(legs)
}

/// Applies partial-update diffs to the before image's document, as the server did.
pub fn apply_diffs(mut document: JsonNode, diffs: Vec<JsonDiff>) -> Result<JsonNode, String> {
    for diff in diffs {
        let Some((last, parents)) = diff.path.split_last() else {
            match (diff.operation, diff.value) {
                (JsonDiffOperation::Replace, Some(value)) => document = value,
                _ => return Err("a JSON diff removes or inserts the whole document".to_owned()),
            }
            continue;
        };
        let mut target = &mut document;
        for leg in parents {
            target = match (target, leg) {
                (JsonNode::Object(members), PathLeg::Member(key)) => members
                    .iter_mut()
                    .find(|(name, _)| name == key)
                    .map(|(_, value)| value)
                    .ok_or_else(|| format!("JSON diff path member {key:?} is not in the document"))?,
                (JsonNode::Array(items), PathLeg::Index(index)) => {
                    items.get_mut(*index).ok_or_else(|| format!("JSON diff path index {index} is past the array"))?
                }
                _ => return Err("a JSON diff path does not match the document's shape".to_owned()),
            };
        }
        match (diff.operation, target, last, diff.value) {
            (JsonDiffOperation::Remove, JsonNode::Object(members), PathLeg::Member(key), _) => {
                members.retain(|(name, _)| name != key)
            }
            (JsonDiffOperation::Remove, JsonNode::Array(items), PathLeg::Index(index), _) if *index < items.len() => {
                items.remove(*index);
            }
            (_, JsonNode::Object(members), PathLeg::Member(key), Some(value)) => {
                match members.iter_mut().find(|(name, _)| name == key) {
                    Some((_, existing)) => *existing = value,
                    None => {
                        // MySQL keeps an object's keys ordered by length, then bytes.
                        let at = members
                            .partition_point(|(name, _)| (name.len(), name.as_bytes()) < (key.len(), key.as_bytes()));
                        members.insert(at, (key.clone(), value));
                    }
                }
            }
            (JsonDiffOperation::Replace, JsonNode::Array(items), PathLeg::Index(index), Some(value))
                if *index < items.len() =>
            {
                items[*index] = value
            }
            (JsonDiffOperation::Insert, JsonNode::Array(items), PathLeg::Index(index), Some(value)) => {
                items.insert((*index).min(items.len()), value)
            }
            _ => return Err("a JSON diff does not apply to the before image".to_owned()),
        }
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_prints_json_with_spaces_after_separators() {
        // {"a": [1, "x"]}: a small object of one key whose value is a small array.
        let array = [2_u8, 0, 12, 0, 0x05, 1, 0, 0x0c, 10, 0, 1, b'x'];
        let mut object = vec![0x00, 1, 0, 0, 0, 11, 0, 1, 0, 0x02, 12, 0, b'a'];
        object.extend_from_slice(&array);
        let size = (object.len() - 1) as u8;
        object[3] = size;
        assert_eq!(binary_to_text(&object), Ok(r#"{"a": [1, "x"]}"#.to_owned()));
    }

    #[test]
    fn a_document_that_points_at_itself_is_refused_not_expanded() {
        // An array of two entries whose values are both the array itself: 2^depth values.
        let looping = [0x02_u8, 2, 0, 10, 0, 0x02, 0, 0, 0x02, 0, 0];
        assert!(binary_to_text(&looping).is_err());
    }
}
