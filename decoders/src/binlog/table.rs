//! TABLE_MAP events into the codecs that read a table's row images, and the table's
//! shape in the change model.
//!
//! With `binlog_row_metadata=FULL` the optional metadata names the columns and gives
//! signedness, character sets, ENUM/SET labels, the primary key and visibility; with
//! MINIMAL only signedness and character sets come (names and labels then come from the
//! schema history the source keeps, never guessed here).

use std::sync::Arc;

use crate::change::ColumnType;

use super::charset::Charset;
use super::error::Problem;
use super::table_map::{TableMapEvent, column_type as ty, is_numeric, real_type};
use super::value::ColumnCodec;

/// One table as a TABLE_MAP event describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct BinlogTable {
    /// The server's number for the table in this binlog (stable until the table is altered or flushed).
    pub table_id: u64,
    pub database: String,
    pub table: String,
    pub columns: Vec<BinlogColumn>,
    /// How many JSON columns the table has: a partial update's bitmap counts them.
    pub json_columns: usize,
}

/// One column of a table map.
#[derive(Debug, Clone, PartialEq)]
pub struct BinlogColumn {
    /// `None` without full row metadata.
    pub name: Option<String>,
    pub codec: ColumnCodec,
    /// The column's type in the change model.
    pub column_type: ColumnType,
    pub nullable: bool,
    /// Part of the primary key (known with full row metadata).
    pub is_key: bool,
    /// False for MySQL's invisible columns (full row metadata, MySQL 8.0.23+).
    pub visible: bool,
}

impl BinlogTable {
    /// Resolves every column's codec from a parsed TABLE_MAP.
    pub fn from_event(event: TableMapEvent) -> Result<BinlogTable, Problem> {
        let optional = &event.optional;
        let (mut numeric, mut character, mut enum_or_set, mut enums, mut sets, mut vectors) = (0, 0, 0, 0, 0, 0);
        let mut columns = Vec::with_capacity(event.columns.len());
        let mut json_columns = 0;
        for (index, (raw_type, meta)) in event.columns.iter().copied().enumerate() {
            let name = optional.names.as_ref().and_then(|names| names.get(index)).cloned();
            let column_name = || name.clone().unwrap_or_else(|| format!("#{}", index + 1));
            let bad = |problem: String| Problem::Column { column: column_name(), type_name: "column", problem };
            let real = real_type(raw_type, meta);
            let unsigned = if is_numeric(real) {
                numeric += 1;
                optional.unsigned.as_ref().and_then(|flags| flags.get(numeric - 1)).copied().unwrap_or(false)
            } else {
                false
            };
            // Character columns (CHAR, VARCHAR, TEXT and their binary kin) are counted for
            // the charset metadata in column order.
            let mut next_charset = || {
                character += 1;
                optional.charset(character - 1).map_or(Charset::NotGiven, Charset::from_collation)
            };
            // ENUM and SET labels are in the column's character set.
            let mut enum_set = |labels: &[Vec<Vec<u8>>], ordinal: &mut usize| -> Result<Arc<[String]>, String> {
                enum_or_set += 1;
                *ordinal += 1;
                let charset = optional.enum_set_charset(enum_or_set - 1).map_or(Charset::Utf8, Charset::from_collation);
                let Some(labels) = labels.get(*ordinal - 1) else { return Ok(Arc::from(Vec::new())) };
                labels
                    .iter()
                    .map(|label| match charset.decode(label)? {
                        crate::change::Value::Text(text) => Ok(text),
                        _ => Ok(String::from_utf8_lossy(label).into_owned()),
                    })
                    .collect()
            };
            let codec = match real {
                ty::TINY => ColumnCodec::Integer { width: 1, unsigned },
                ty::SHORT => ColumnCodec::Integer { width: 2, unsigned },
                ty::INT24 => ColumnCodec::Integer { width: 3, unsigned },
                ty::LONG => ColumnCodec::Integer { width: 4, unsigned },
                ty::LONGLONG => ColumnCodec::Integer { width: 8, unsigned },
                ty::FLOAT => ColumnCodec::Float,
                ty::DOUBLE => ColumnCodec::Double,
                ty::NEWDECIMAL => ColumnCodec::Decimal { precision: meta[0], scale: meta[1] },
                ty::YEAR => ColumnCodec::Year,
                ty::DATE | ty::NEWDATE => ColumnCodec::Date,
                ty::TIME => ColumnCodec::TimeOld,
                ty::TIME2 => ColumnCodec::Time { fsp: fsp(meta[0]).map_err(bad)? },
                ty::DATETIME => ColumnCodec::DateTimeOld,
                ty::DATETIME2 => ColumnCodec::DateTime { fsp: fsp(meta[0]).map_err(bad)? },
                ty::TIMESTAMP => ColumnCodec::TimestampOld,
                ty::TIMESTAMP2 => ColumnCodec::Timestamp { fsp: fsp(meta[0]).map_err(bad)? },
                ty::BIT => {
                    let bits = u32::from(meta[1]) * 8 + u32::from(meta[0]);
                    if bits == 0 || bits > 64 {
                        return Err(bad(format!("BIT({bits}) is not 1..=64 bits")));
                    }
                    ColumnCodec::Bit { bits }
                }
                ty::VARCHAR | ty::VAR_STRING => {
                    let max_bytes = u16::from_le_bytes(meta);
                    ColumnCodec::VarString {
                        length_bytes: if max_bytes < 256 { 1 } else { 2 },
                        charset: next_charset(),
                    }
                }
                ty::STRING => {
                    // CHAR(n)'s byte length keeps its high bits in the first metadata byte.
                    let length = if meta[0] & 0x30 != 0x30 {
                        u16::from(meta[1]) | (u16::from((meta[0] & 0x30) ^ 0x30) << 4)
                    } else {
                        u16::from(meta[1])
                    };
                    ColumnCodec::FixedString {
                        length_bytes: if length < 256 { 1 } else { 2 },
                        max_bytes: length,
                        charset: next_charset(),
                    }
                }
                ty::ENUM | ty::SET => {
                    let pack = meta[1];
                    if real == ty::ENUM {
                        let labels = enum_set(&optional.enum_labels, &mut enums).map_err(bad)?;
                        if !matches!(pack, 1 | 2) {
                            return Err(bad(format!("ENUM of {pack} bytes")));
                        }
                        ColumnCodec::Enum { pack, labels }
                    } else {
                        let labels = enum_set(&optional.set_labels, &mut sets).map_err(bad)?;
                        if !(1..=8).contains(&pack) {
                            return Err(bad(format!("SET of {pack} bytes")));
                        }
                        ColumnCodec::Set { pack, labels }
                    }
                }
                ty::BLOB | ty::TINY_BLOB | ty::MEDIUM_BLOB | ty::LONG_BLOB => ColumnCodec::Blob {
                    length_bytes: blob_length_bytes(meta[0]).map_err(bad)?,
                    charset: next_charset(),
                },
                ty::JSON => {
                    json_columns += 1;
                    ColumnCodec::Json { length_bytes: blob_length_bytes(meta[0]).map_err(bad)? }
                }
                ty::GEOMETRY => ColumnCodec::Geometry { length_bytes: blob_length_bytes(meta[0]).map_err(bad)? },
                ty::VECTOR => ColumnCodec::Vector { length_bytes: blob_length_bytes(meta[0]).map_err(bad)? },
                other => return Err(bad(format!("MySQL column type {other} has no row-image decoder"))),
            };
            let column_type = model_type(&codec, || {
                vectors += 1;
                optional.vector_dimensions.get(vectors - 1).copied()
            });
            columns.push(BinlogColumn {
                name,
                codec,
                column_type,
                nullable: event.nullable.get(index).copied().unwrap_or(true),
                is_key: optional.primary_key.contains(&(index as u64)),
                visible: optional.visible.as_ref().and_then(|flags| flags.get(index).copied()).unwrap_or(true),
            });
        }
        Ok(BinlogTable {
            table_id: event.table_id,
            database: event.database,
            table: event.table,
            columns,
            json_columns,
        })
    }
}

fn fsp(meta: u8) -> Result<u8, String> {
    if meta <= 6 { Ok(meta) } else { Err(format!("fractional second precision {meta} is not 0..=6")) }
}

fn blob_length_bytes(meta: u8) -> Result<u8, String> {
    if (1..=4).contains(&meta) { Ok(meta) } else { Err(format!("a length prefix of {meta} bytes is not 1..=4")) }
}

/// The change model's type for a column read with `codec`: unsigned integers widen to a
/// signed type that holds them (BIGINT UNSIGNED has its own).
fn model_type(codec: &ColumnCodec, vector_dimensions: impl FnOnce() -> Option<u64>) -> ColumnType {
    match codec {
        ColumnCodec::Integer { width: 1, .. } | ColumnCodec::Integer { width: 2, unsigned: false } => ColumnType::Int16,
        ColumnCodec::Integer { width: 2 | 3, .. } | ColumnCodec::Integer { width: 4, unsigned: false } => {
            ColumnType::Int32
        }
        ColumnCodec::Integer { width: 4, .. } | ColumnCodec::Integer { unsigned: false, .. } => ColumnType::Int64,
        ColumnCodec::Integer { .. } => ColumnType::UInt64,
        ColumnCodec::Float => ColumnType::Float32,
        ColumnCodec::Double => ColumnType::Float64,
        ColumnCodec::Decimal { precision, scale } => {
            ColumnType::Numeric { precision: Some(u32::from(*precision)), scale: Some(u32::from(*scale)) }
        }
        ColumnCodec::Year => ColumnType::Year,
        ColumnCodec::Date => ColumnType::Date,
        ColumnCodec::TimeOld | ColumnCodec::Time { .. } => ColumnType::TimeDuration,
        ColumnCodec::DateTimeOld | ColumnCodec::DateTime { .. } => ColumnType::Timestamp,
        ColumnCodec::TimestampOld | ColumnCodec::Timestamp { .. } => ColumnType::TimestampTz,
        ColumnCodec::Bit { bits } => ColumnType::Bit { length: Some(*bits) },
        ColumnCodec::Enum { labels, .. } => ColumnType::Enum { type_name: "enum".to_owned(), labels: labels.to_vec() },
        ColumnCodec::Set { labels, .. } => ColumnType::Set { labels: labels.to_vec() },
        ColumnCodec::VarString { charset, .. }
        | ColumnCodec::FixedString { charset, .. }
        | ColumnCodec::Blob { charset, .. } => {
            if charset.is_text() {
                ColumnType::Text
            } else {
                ColumnType::Bytes
            }
        }
        ColumnCodec::Json { .. } => ColumnType::Json,
        ColumnCodec::Geometry { .. } => ColumnType::Geometry,
        ColumnCodec::Vector { .. } => {
            ColumnType::Vector { dimensions: vector_dimensions().and_then(|dimensions| u32::try_from(dimensions).ok()) }
        }
    }
}
