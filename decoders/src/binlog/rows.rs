//! WRITE_ROWS, UPDATE_ROWS, DELETE_ROWS (v1 and v2), PARTIAL_UPDATE_ROWS and MariaDB's
//! compressed rows events: their row images into change-model rows (MySQL source,
//! `libbinlogevents` "Rows_event"; MariaDB, "Rows Events").
//!
//! ```text
//!   post-header: table_id:u48 (u32 when the format says 6-byte post-headers)  flags:u16
//!                [v2: extra_length:u16, extra_length - 2 bytes of extra row info]
//!   body:        column_count:lenenc  present:bitmap  [update: present_after:bitmap]
//!                rows (zlib-compressed in MariaDB's *_COMPRESSED events)
//!   row:         image | before-image after-image (updates)
//!   image:       [partial after-image: value_options:lenenc [partial_json:bitmap]]
//!                nulls:bitmap over the present columns, then each present non-NULL value
//! ```

use crate::change::{ColumnValue, Row};

use super::cursor::ImageCursor;
use super::error::Problem;
use super::header::event_type as kind;
use super::json;
use super::table::BinlogTable;
use super::value::{ColumnCodec, decode_value};

/// What a rows event does to its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowsKind {
    Write,
    Update,
    Delete,
}

/// One row changed by a rows event: `before` for updates and deletes, `after` for
/// writes and updates. Columns the image leaves out (`binlog_row_image=MINIMAL` or
/// NOBLOB) are [`ColumnValue::UnchangedToast`]: not sent, never guessed.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    pub before: Option<Row>,
    pub after: Option<Row>,
}

/// A decoded rows event.
#[derive(Debug, Clone, PartialEq)]
pub struct RowsEvent {
    pub table_id: u64,
    pub kind: RowsKind,
    /// `STMT_END_F`: the last rows event of its statement.
    pub end_of_statement: bool,
    pub rows: Vec<RowChange>,
}

/// `STMT_END_F` in a rows event's flags.
const FLAG_STATEMENT_END: u16 = 1;
/// `PARTIAL_JSON_UPDATES` in a partial after-image's value options.
const VALUE_OPTION_PARTIAL_JSON: u64 = 1;

/// The kind of a rows event type, whether it has the v2 extra header, whether MariaDB compressed it.
pub fn rows_event_layout(event_type: u8) -> Option<(RowsKind, bool, bool)> {
    Some(match event_type {
        kind::WRITE_ROWS_V1 => (RowsKind::Write, false, false),
        kind::UPDATE_ROWS_V1 => (RowsKind::Update, false, false),
        kind::DELETE_ROWS_V1 => (RowsKind::Delete, false, false),
        kind::WRITE_ROWS => (RowsKind::Write, true, false),
        kind::UPDATE_ROWS | kind::PARTIAL_UPDATE_ROWS => (RowsKind::Update, true, false),
        kind::DELETE_ROWS => (RowsKind::Delete, true, false),
        kind::MARIADB_WRITE_ROWS_COMPRESSED_V1 => (RowsKind::Write, false, true),
        kind::MARIADB_UPDATE_ROWS_COMPRESSED_V1 => (RowsKind::Update, false, true),
        kind::MARIADB_DELETE_ROWS_COMPRESSED_V1 => (RowsKind::Delete, false, true),
        kind::MARIADB_WRITE_ROWS_COMPRESSED => (RowsKind::Write, true, true),
        kind::MARIADB_UPDATE_ROWS_COMPRESSED => (RowsKind::Update, true, true),
        kind::MARIADB_DELETE_ROWS_COMPRESSED => (RowsKind::Delete, true, true),
        _ => return None,
    })
}

/// The table id a rows or table-map event body starts with (both post-headers do).
pub fn rows_table_id(body: &[u8], post_header_length: u8) -> Result<u64, Problem> {
    let mut cursor = ImageCursor::new(body);
    let width = if post_header_length == 6 { 4 } else { 6 };
    cursor.uint_le(width, "the table id").map_err(Problem::Malformed)
}

/// Decodes the rows of a rows event `body` (after the common header, without checksum).
pub fn decode_rows(
    event_type: u8,
    post_header_length: u8,
    body: &[u8],
    table: &BinlogTable,
) -> Result<RowsEvent, Problem> {
    let Some((kind, has_extra, compressed)) = rows_event_layout(event_type) else {
        return Err(Problem::malformed(format!("event type {event_type} is not a rows event")));
    };
    let mut cursor = ImageCursor::new(body);
    let width = if post_header_length == 6 { 4 } else { 6 };
    let table_id = cursor.uint_le(width, "the table id").map_err(Problem::Malformed)?;
    let flags = cursor.uint_le(2, "the flags").map_err(Problem::Malformed)? as u16;
    if has_extra {
        let extra = cursor.uint_le(2, "the extra row info length").map_err(Problem::Malformed)? as usize;
        cursor.take(extra.saturating_sub(2), "the extra row info").map_err(Problem::Malformed)?;
    }
    let column_count = cursor.length_encoded("the column count").map_err(Problem::Malformed)? as usize;
    if column_count != table.columns.len() {
        return Err(Problem::malformed(format!(
            "the rows have {column_count} columns, the table map of {}.{} has {}",
            table.database,
            table.table,
            table.columns.len()
        )));
    }
    let bitmap_length = column_count.div_ceil(8);
    let present =
        Present::new(cursor.take(bitmap_length, "the columns bitmap").map_err(Problem::Malformed)?, column_count);
    let present_after = if kind == RowsKind::Update {
        Present::new(
            cursor.take(bitmap_length, "the after-image columns bitmap").map_err(Problem::Malformed)?,
            column_count,
        )
    } else {
        present
    };
    let rest = &body[cursor.offset()..];
    let decompressed;
    let rows_bytes = if compressed {
        decompressed = super::mariadb::uncompress(rest)?;
        &decompressed[..]
    } else {
        rest
    };
    let partial = event_type == kind::PARTIAL_UPDATE_ROWS;
    let mut rows = Vec::new();
    let mut cursor = ImageCursor::new(rows_bytes);
    while !cursor.is_empty() {
        let row_start = cursor.offset();
        let in_row = |problem: Problem| match problem {
            Problem::Column { column, type_name, problem } => Problem::Column {
                column,
                type_name,
                problem: format!("{problem} (row {} at byte {row_start} of the rows)", rows.len() + 1),
            },
            other => other,
        };
        let row = match kind {
            RowsKind::Write => RowChange {
                before: None,
                after: Some(read_image(&mut cursor, table, present, JsonMode::Values).map_err(in_row)?),
            },
            RowsKind::Delete => RowChange {
                before: Some(read_image(&mut cursor, table, present, JsonMode::Values).map_err(in_row)?),
                after: None,
            },
            RowsKind::Update if partial => {
                read_partial_update(&mut cursor, table, present, present_after).map_err(in_row)?
            }
            RowsKind::Update => RowChange {
                before: Some(read_image(&mut cursor, table, present, JsonMode::Values).map_err(in_row)?),
                after: Some(read_image(&mut cursor, table, present_after, JsonMode::Values).map_err(in_row)?),
            },
        };
        if cursor.offset() == row_start {
            // An image of no columns takes no bytes: the rows would never end.
            return Err(Problem::malformed("a row image without a single column"));
        }
        rows.push(row);
    }
    Ok(RowsEvent { table_id, kind, end_of_statement: flags & FLAG_STATEMENT_END != 0, rows })
}

/// The columns an image holds: the event's bitmap and how many bits it sets (the size of
/// each row's NULL bitmap), counted once per event.
#[derive(Debug, Clone, Copy)]
struct Present<'a> {
    bitmap: &'a [u8],
    count: usize,
}

impl<'a> Present<'a> {
    fn new(bitmap: &'a [u8], columns: usize) -> Present<'a> {
        Present { bitmap, count: (0..columns).filter(|index| bit(bitmap, *index)).count() }
    }
}

fn bit(bitmap: &[u8], index: usize) -> bool {
    bitmap.get(index / 8).is_some_and(|byte| byte >> (index % 8) & 1 == 1)
}

/// The parsed JSON documents of a before image, by column index, for the diffs of a
/// partial after image.
type JsonDocuments = Vec<(usize, json::JsonNode)>;

/// How JSON columns of an image are read.
enum JsonMode<'a> {
    /// As values.
    Values,
    /// As values, keeping the parsed documents (a partial update's before image).
    Keep(&'a mut JsonDocuments),
    /// The columns marked in the bitmap carry diffs against these documents.
    Diffs(&'a [u8], &'a JsonDocuments),
}

/// One row image.
fn read_image(
    cursor: &mut ImageCursor<'_>,
    table: &BinlogTable,
    present: Present<'_>,
    mut json_mode: JsonMode<'_>,
) -> Result<Row, Problem> {
    let nulls = cursor.take(present.count.div_ceil(8), "the NULL bitmap").map_err(Problem::Malformed)?;
    let mut row = Vec::with_capacity(table.columns.len());
    let mut image_index = 0;
    let mut json_index = 0;
    for (index, column) in table.columns.iter().enumerate() {
        let json_ordinal = json_index;
        if let ColumnCodec::Json { .. } = column.codec {
            json_index += 1;
        }
        if !bit(present.bitmap, index) {
            row.push(ColumnValue::UnchangedToast);
            continue;
        }
        let is_null = bit(nulls, image_index);
        image_index += 1;
        if is_null {
            row.push(ColumnValue::Null);
            continue;
        }
        let column_problem = |problem: String| Problem::Column {
            column: column.name.clone().unwrap_or_else(|| format!("#{}", index + 1)),
            type_name: column.codec.type_name(),
            problem,
        };
        let value = match (&mut json_mode, &column.codec) {
            (JsonMode::Keep(documents), ColumnCodec::Json { length_bytes }) => {
                let length = cursor.uint_le(usize::from(*length_bytes), "a length").map_err(column_problem)? as usize;
                let node = json::parse_binary(cursor.take(length, "a JSON value").map_err(column_problem)?)
                    .map_err(column_problem)?;
                let mut text = String::new();
                json::write_node(&node, &mut text);
                documents.push((index, node));
                crate::change::Value::Json(text)
            }
            (JsonMode::Diffs(bits, documents), ColumnCodec::Json { length_bytes }) if bit(bits, json_ordinal) => {
                let length = cursor.uint_le(usize::from(*length_bytes), "a length").map_err(column_problem)? as usize;
                let diffs = json::parse_diffs(cursor.take(length, "JSON diffs").map_err(column_problem)?)
                    .map_err(column_problem)?;
                let Some((_, document)) = documents.iter().find(|(at, _)| *at == index) else {
                    return Err(column_problem(
                        "a partial JSON update whose before image lacks the document, so the new value cannot be \
                         known: set binlog_row_value_options='' (or binlog_row_image=FULL) on the server"
                            .to_owned(),
                    ));
                };
                let updated = json::apply_diffs(document.clone(), diffs).map_err(column_problem)?;
                let mut text = String::new();
                json::write_node(&updated, &mut text);
                crate::change::Value::Json(text)
            }
            _ => decode_value(&column.codec, cursor).map_err(column_problem)?,
        };
        row.push(ColumnValue::Value(value));
    }
    Ok(row)
}

/// A partial update's before image (keeping its JSON documents) and after image: value
/// options, then an image whose partial JSON columns are diffs.
fn read_partial_update(
    cursor: &mut ImageCursor<'_>,
    table: &BinlogTable,
    present: Present<'_>,
    present_after: Present<'_>,
) -> Result<RowChange, Problem> {
    let mut documents = JsonDocuments::new();
    let before = read_image(cursor, table, present, JsonMode::Keep(&mut documents))?;
    let options = cursor.length_encoded("the value options").map_err(Problem::Malformed)?;
    let after = if options & VALUE_OPTION_PARTIAL_JSON == 0 {
        read_image(cursor, table, present_after, JsonMode::Values)?
    } else {
        let bits =
            cursor.take(table.json_columns.div_ceil(8), "the partial JSON bitmap").map_err(Problem::Malformed)?;
        read_image(cursor, table, present_after, JsonMode::Diffs(bits, &documents))?
    };
    Ok(RowChange { before: Some(before), after: Some(after) })
}
