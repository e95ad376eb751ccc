//! The TABLE_MAP event, field by field (MySQL source, `libbinlogevents`
//! "Table_map_event", optional metadata of `binlog_row_metadata`; MariaDB shares it).
//!
//! ```text
//!   post-header: table_id:u48 (u32 with 6-byte post-headers)  flags:u16
//!   body:        database:u8-length string NUL  table:u8-length string NUL
//!                column_count:lenenc  types[column_count]  metadata:lenenc-bytes
//!                nullable:bitmap  optional metadata: (type:u8 length:lenenc value)*
//! ```
//!
//! Counts read from the input never size an allocation beyond the bytes that are there.

use super::cursor::ImageCursor;
use super::error::Problem;

/// Raw column type codes (MySQL `enum_field_types`).
pub mod column_type {
    pub const DECIMAL: u8 = 0;
    pub const TINY: u8 = 1;
    pub const SHORT: u8 = 2;
    pub const LONG: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const DOUBLE: u8 = 5;
    pub const NULL: u8 = 6;
    pub const TIMESTAMP: u8 = 7;
    pub const LONGLONG: u8 = 8;
    pub const INT24: u8 = 9;
    pub const DATE: u8 = 10;
    pub const TIME: u8 = 11;
    pub const DATETIME: u8 = 12;
    pub const YEAR: u8 = 13;
    pub const NEWDATE: u8 = 14;
    pub const VARCHAR: u8 = 15;
    pub const BIT: u8 = 16;
    pub const TIMESTAMP2: u8 = 17;
    pub const DATETIME2: u8 = 18;
    pub const TIME2: u8 = 19;
    pub const VECTOR: u8 = 242;
    pub const JSON: u8 = 245;
    pub const NEWDECIMAL: u8 = 246;
    pub const ENUM: u8 = 247;
    pub const SET: u8 = 248;
    pub const TINY_BLOB: u8 = 249;
    pub const MEDIUM_BLOB: u8 = 250;
    pub const LONG_BLOB: u8 = 251;
    pub const BLOB: u8 = 252;
    pub const VAR_STRING: u8 = 253;
    pub const STRING: u8 = 254;
    pub const GEOMETRY: u8 = 255;
}

use column_type as ty;

/// A TABLE_MAP event as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMapEvent {
    pub table_id: u64,
    pub database: String,
    pub table: String,
    /// Raw type and metadata (0–2 bytes, zero-padded) per column.
    pub columns: Vec<(u8, [u8; 2])>,
    /// Nullable flag per column.
    pub nullable: Vec<bool>,
    pub optional: OptionalMetadata,
}

/// `binlog_row_metadata` fields; each `None`/empty when the server did not send it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionalMetadata {
    /// One flag per numeric column (TINYINT..BIGINT, FLOAT, DOUBLE, DECIMAL, YEAR): unsigned.
    pub unsigned: Option<Vec<bool>>,
    /// Default collation, then exceptions as (index among character columns, collation).
    pub default_charset: Option<(u16, Vec<(u64, u16)>)>,
    /// One collation per character column.
    pub column_charsets: Option<Vec<u16>>,
    pub names: Option<Vec<String>>,
    /// Labels per SET column, in column order, in the column's character set.
    pub set_labels: Vec<Vec<Vec<u8>>>,
    /// Labels per ENUM column, in column order, in the column's character set.
    pub enum_labels: Vec<Vec<Vec<u8>>>,
    /// Primary key column indexes.
    pub primary_key: Vec<u64>,
    pub enum_set_default_charset: Option<(u16, Vec<(u64, u16)>)>,
    pub enum_set_column_charsets: Option<Vec<u16>>,
    /// One flag per column: visible (MySQL 8.0.23+).
    pub visible: Option<Vec<bool>>,
    /// Dimensions per VECTOR column.
    pub vector_dimensions: Vec<u64>,
}

mod field {
    pub const SIGNEDNESS: u8 = 1;
    pub const DEFAULT_CHARSET: u8 = 2;
    pub const COLUMN_CHARSET: u8 = 3;
    pub const COLUMN_NAME: u8 = 4;
    pub const SET_STR_VALUE: u8 = 5;
    pub const ENUM_STR_VALUE: u8 = 6;
    pub const GEOMETRY_TYPE: u8 = 7;
    pub const SIMPLE_PRIMARY_KEY: u8 = 8;
    pub const PRIMARY_KEY_WITH_PREFIX: u8 = 9;
    pub const ENUM_AND_SET_DEFAULT_CHARSET: u8 = 10;
    pub const ENUM_AND_SET_COLUMN_CHARSET: u8 = 11;
    pub const COLUMN_VISIBILITY: u8 = 12;
    pub const VECTOR_DIMENSIONALITY: u8 = 13;
}

/// The real type of a column whose raw type is STRING: CHAR/BINARY, ENUM or SET (in the
/// first metadata byte), as the server packs it.
pub fn real_type(raw_type: u8, meta: [u8; 2]) -> u8 {
    if raw_type != ty::STRING || meta[0] == 0 {
        return raw_type;
    }
    if meta[0] & 0x30 != 0x30 { meta[0] | 0x30 } else { meta[0] }
}

/// Numeric columns carry a signedness flag (MySQL counts YEAR among them).
pub fn is_numeric(real_type: u8) -> bool {
    matches!(
        real_type,
        ty::TINY
            | ty::SHORT
            | ty::INT24
            | ty::LONG
            | ty::LONGLONG
            | ty::DECIMAL
            | ty::NEWDECIMAL
            | ty::FLOAT
            | ty::DOUBLE
            | ty::YEAR
    )
}

/// Bytes of metadata per raw column type ("field metadata" of the table map).
pub fn metadata_length(raw_type: u8) -> usize {
    match raw_type {
        ty::TINY_BLOB
        | ty::BLOB
        | ty::MEDIUM_BLOB
        | ty::LONG_BLOB
        | ty::DOUBLE
        | ty::FLOAT
        | ty::GEOMETRY
        | ty::TIME2
        | ty::DATETIME2
        | ty::TIMESTAMP2
        | ty::JSON
        | ty::VECTOR => 1,
        ty::VARCHAR | ty::NEWDECIMAL | ty::SET | ty::ENUM | ty::STRING | ty::BIT => 2,
        _ => 0,
    }
}

impl TableMapEvent {
    /// Parses a TABLE_MAP body; `post_header_length` is the format description's for TABLE_MAP.
    pub fn parse(body: &[u8], post_header_length: u8) -> Result<TableMapEvent, Problem> {
        let mut cursor = ImageCursor::new(body);
        let m = Problem::Malformed;
        let table_id = cursor.uint_le(if post_header_length == 6 { 4 } else { 6 }, "the table id").map_err(m)?;
        cursor.take(2, "the flags").map_err(m)?;
        let database = name(&mut cursor, "the database name")?;
        let table = name(&mut cursor, "the table name")?;
        let column_count = cursor.length_encoded("the column count").map_err(m)? as usize;
        let types = cursor.take(column_count, "the column types").map_err(m)?;
        let metadata_bytes = cursor.length_encoded("the metadata length").map_err(m)? as usize;
        let mut metadata = ImageCursor::new(cursor.take(metadata_bytes, "the column metadata").map_err(m)?);
        let mut columns = Vec::with_capacity(column_count);
        for (index, raw_type) in types.iter().enumerate() {
            let mut meta = [0_u8; 2];
            let length = metadata_length(*raw_type);
            let bytes = metadata
                .take(length, "a column's metadata")
                .map_err(|problem| Problem::malformed(format!("column #{}: {problem}", index + 1)))?;
            meta[..length].copy_from_slice(bytes);
            columns.push((*raw_type, meta));
        }
        let nullable_bits = cursor.take(column_count.div_ceil(8), "the nullable bitmap").map_err(m)?;
        let nullable = (0..column_count).map(|index| nullable_bits[index / 8] >> (index % 8) & 1 == 1).collect();
        let optional = OptionalMetadata::parse(&body[cursor.offset()..], &columns)?;
        Ok(TableMapEvent { table_id, database, table, columns, nullable, optional })
    }
}

fn name(cursor: &mut ImageCursor<'_>, what: &str) -> Result<String, Problem> {
    let length = cursor.take(1, what).map_err(Problem::Malformed)?[0];
    let bytes = cursor.take(usize::from(length) + 1, what).map_err(Problem::Malformed)?;
    Ok(String::from_utf8_lossy(&bytes[..usize::from(length)]).into_owned())
}

impl OptionalMetadata {
    fn parse(bytes: &[u8], columns: &[(u8, [u8; 2])]) -> Result<OptionalMetadata, Problem> {
        let real_types: Vec<u8> = columns.iter().map(|(raw, meta)| real_type(*raw, *meta)).collect();
        let count = |test: fn(u8) -> bool| real_types.iter().filter(|real| test(**real)).count();
        let mut parsed = OptionalMetadata::default();
        let mut cursor = ImageCursor::new(bytes);
        let m = Problem::Malformed;
        while !cursor.is_empty() {
            let field_type = cursor.take(1, "an optional metadata type").map_err(m)?[0];
            let length = cursor.length_encoded("an optional metadata length").map_err(m)? as usize;
            let value = cursor.take(length, "an optional metadata field").map_err(m)?;
            let mut value = ImageCursor::new(value);
            let v = &mut value;
            match field_type {
                field::SIGNEDNESS => parsed.unsigned = Some(msb_bits(v, count(is_numeric))?),
                field::DEFAULT_CHARSET => parsed.default_charset = Some(default_charset(v)?),
                field::COLUMN_CHARSET => {
                    parsed.column_charsets = Some(lenenc_list(v)?.into_iter().map(|id| id as u16).collect())
                }
                field::COLUMN_NAME => {
                    let names = bytes_list(v, usize::MAX)?;
                    parsed.names = Some(names.iter().map(|name| String::from_utf8_lossy(name).into_owned()).collect())
                }
                field::SET_STR_VALUE => parsed.set_labels = label_lists(v)?,
                field::ENUM_STR_VALUE => parsed.enum_labels = label_lists(v)?,
                field::GEOMETRY_TYPE => {
                    lenenc_list(v)?;
                }
                field::SIMPLE_PRIMARY_KEY => parsed.primary_key = lenenc_list(v)?,
                field::PRIMARY_KEY_WITH_PREFIX => {
                    let pairs = lenenc_list(v)?;
                    parsed.primary_key = pairs.chunks(2).map(|pair| pair[0]).collect();
                }
                field::ENUM_AND_SET_DEFAULT_CHARSET => parsed.enum_set_default_charset = Some(default_charset(v)?),
                field::ENUM_AND_SET_COLUMN_CHARSET => {
                    parsed.enum_set_column_charsets = Some(lenenc_list(v)?.into_iter().map(|id| id as u16).collect())
                }
                field::COLUMN_VISIBILITY => parsed.visible = Some(msb_bits(v, columns.len())?),
                field::VECTOR_DIMENSIONALITY => parsed.vector_dimensions = lenenc_list(v)?,
                // Fields newer than this decoder describe nothing it needs.
                _ => {}
            }
        }
        Ok(parsed)
    }

    /// The collation of the `ordinal`-th character column.
    pub fn charset(&self, ordinal: usize) -> Option<u16> {
        charset_of(&self.column_charsets, &self.default_charset, ordinal)
    }

    /// The collation of the `ordinal`-th ENUM or SET column.
    pub fn enum_set_charset(&self, ordinal: usize) -> Option<u16> {
        charset_of(&self.enum_set_column_charsets, &self.enum_set_default_charset, ordinal)
    }
}

fn charset_of(per_column: &Option<Vec<u16>>, default: &Option<(u16, Vec<(u64, u16)>)>, ordinal: usize) -> Option<u16> {
    if let Some(per_column) = per_column {
        return per_column.get(ordinal).copied();
    }
    let (default, exceptions) = default.as_ref()?;
    Some(exceptions.iter().find(|(index, _)| *index == ordinal as u64).map_or(*default, |(_, collation)| *collation))
}

/// `count` flags, most significant bit first.
fn msb_bits(value: &mut ImageCursor<'_>, count: usize) -> Result<Vec<bool>, Problem> {
    let bytes = value.take(count.div_ceil(8), "a flags bitmap").map_err(Problem::Malformed)?;
    Ok((0..count).map(|index| bytes[index / 8] >> (7 - index % 8) & 1 == 1).collect())
}

fn lenenc_list(value: &mut ImageCursor<'_>) -> Result<Vec<u64>, Problem> {
    let mut list = Vec::new();
    while !value.is_empty() {
        list.push(value.length_encoded("a metadata number").map_err(Problem::Malformed)?);
    }
    Ok(list)
}

fn default_charset(value: &mut ImageCursor<'_>) -> Result<(u16, Vec<(u64, u16)>), Problem> {
    let default = value.length_encoded("the default collation").map_err(Problem::Malformed)? as u16;
    let rest = lenenc_list(value)?;
    if rest.len() % 2 != 0 {
        return Err(Problem::malformed("a charset exception without its collation"));
    }
    Ok((default, rest.chunks(2).map(|pair| (pair[0], pair[1] as u16)).collect()))
}

/// Length-encoded strings to the end, or `limit` of them.
fn bytes_list(value: &mut ImageCursor<'_>, limit: usize) -> Result<Vec<Vec<u8>>, Problem> {
    let mut list = Vec::new();
    while !value.is_empty() && list.len() < limit {
        let length = value.length_encoded("a string length").map_err(Problem::Malformed)? as usize;
        list.push(value.take(length, "a string").map_err(Problem::Malformed)?.to_vec());
    }
    Ok(list)
}

/// Per column: a count, then that many length-encoded labels.
fn label_lists(value: &mut ImageCursor<'_>) -> Result<Vec<Vec<Vec<u8>>>, Problem> {
    let mut lists = Vec::new();
    while !value.is_empty() {
        let count = value.length_encoded("a label count").map_err(Problem::Malformed)? as usize;
        let labels = bytes_list(value, count)?;
        if labels.len() != count {
            return Err(Problem::malformed(format!("{count} labels claimed, {} there", labels.len())));
        }
        lists.push(labels);
    }
    Ok(lists)
}
