//! One column value of a row image, from its binary form in a rows event into the
//! change model: MySQL's "Binary Log: row image" value formats (MySQL source,
//! `sql/log_event.cc`, `log_event_print_value`; `my_time.cc` for the packed temporal
//! types; `decimal.c`, `bin2decimal`), which MariaDB shares.
//!
//! How each codec is chosen from a TABLE_MAP column is in [`super::table`]; this module
//! only reads bytes. Every length is checked against what is left before it is used.

use std::sync::Arc;

use crate::change::{Date, Timestamp, Value};
use crate::pgvalue::datetime::{days_from_civil, days_in_month};

use super::charset::Charset;
use super::cursor::ImageCursor;
use super::json;
use super::packed_decimal;

/// How to read one column's values, fixed by its TABLE_MAP entry.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnCodec {
    /// TINYINT, SMALLINT, MEDIUMINT, INT, BIGINT: `width` bytes, little endian.
    Integer {
        width: u8,
        unsigned: bool,
    },
    Float,
    Double,
    /// DECIMAL(precision, scale) in MySQL's packed binary form.
    Decimal {
        precision: u8,
        scale: u8,
    },
    /// YEAR: one byte, 0 or years since 1900.
    Year,
    /// DATE: 3 bytes, `day | month << 5 | year << 9`.
    Date,
    /// TIME before MySQL 5.6: 3 bytes holding `HHMMSS` as a signed integer.
    TimeOld,
    /// TIME(fsp) since MySQL 5.6.
    Time {
        fsp: u8,
    },
    /// DATETIME before MySQL 5.6: 8 bytes holding `YYYYMMDDHHMMSS`.
    DateTimeOld,
    /// DATETIME(fsp) since MySQL 5.6.
    DateTime {
        fsp: u8,
    },
    /// TIMESTAMP before MySQL 5.6: seconds since the epoch, little endian.
    TimestampOld,
    /// TIMESTAMP(fsp) since MySQL 5.6: seconds since the epoch, big endian, then the fraction.
    Timestamp {
        fsp: u8,
    },
    /// BIT(bits): big endian.
    Bit {
        bits: u32,
    },
    /// ENUM: the 1-based index of the label in `pack` bytes (0 is MySQL's "invalid value" `''`).
    Enum {
        pack: u8,
        labels: Arc<[String]>,
    },
    /// SET: a bitmap of the members in `pack` bytes.
    Set {
        pack: u8,
        labels: Arc<[String]>,
    },
    /// VARCHAR, VARBINARY: a 1- or 2-byte length, then the bytes.
    VarString {
        length_bytes: u8,
        charset: Charset,
    },
    /// CHAR(n), BINARY(n): a 1- or 2-byte length, then the bytes without their padding;
    /// BINARY(n) is padded back with zero bytes to `max_bytes`, as a SELECT returns it.
    FixedString {
        length_bytes: u8,
        max_bytes: u16,
        charset: Charset,
    },
    /// BLOB, TEXT and their sizes: a 1- to 4-byte length, then the bytes.
    Blob {
        length_bytes: u8,
        charset: Charset,
    },
    /// MySQL JSON: a length, then MySQL's binary JSON (or, in a partial update, a list of diffs).
    Json {
        length_bytes: u8,
    },
    /// GEOMETRY and its subtypes: a length, then a 4-byte SRID and well-known binary.
    Geometry {
        length_bytes: u8,
    },
    /// VECTOR(n): a length, then little-endian f32s.
    Vector {
        length_bytes: u8,
    },
}

impl ColumnCodec {
    /// The codec's name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            ColumnCodec::Integer { width: 1, .. } => "TINYINT",
            ColumnCodec::Integer { width: 2, .. } => "SMALLINT",
            ColumnCodec::Integer { width: 3, .. } => "MEDIUMINT",
            ColumnCodec::Integer { width: 4, .. } => "INT",
            ColumnCodec::Integer { .. } => "BIGINT",
            ColumnCodec::Float => "FLOAT",
            ColumnCodec::Double => "DOUBLE",
            ColumnCodec::Decimal { .. } => "DECIMAL",
            ColumnCodec::Year => "YEAR",
            ColumnCodec::Date => "DATE",
            ColumnCodec::TimeOld | ColumnCodec::Time { .. } => "TIME",
            ColumnCodec::DateTimeOld | ColumnCodec::DateTime { .. } => "DATETIME",
            ColumnCodec::TimestampOld | ColumnCodec::Timestamp { .. } => "TIMESTAMP",
            ColumnCodec::Bit { .. } => "BIT",
            ColumnCodec::Enum { .. } => "ENUM",
            ColumnCodec::Set { .. } => "SET",
            ColumnCodec::VarString { .. } => "VARCHAR",
            ColumnCodec::FixedString { .. } => "CHAR",
            ColumnCodec::Blob { .. } => "BLOB",
            ColumnCodec::Json { .. } => "JSON",
            ColumnCodec::Geometry { .. } => "GEOMETRY",
            ColumnCodec::Vector { .. } => "VECTOR",
        }
    }
}

/// Reads one non-NULL value of a column.
pub fn decode_value(codec: &ColumnCodec, cursor: &mut ImageCursor<'_>) -> Result<Value, String> {
    match codec {
        ColumnCodec::Integer { width, unsigned } => integer(cursor, *width, *unsigned),
        ColumnCodec::Float => {
            let bits = cursor.uint_le(4, "a FLOAT")?;
            Ok(Value::Float32(f32::from_bits(bits as u32)))
        }
        ColumnCodec::Double => Ok(Value::Float64(f64::from_bits(cursor.uint_le(8, "a DOUBLE")?))),
        ColumnCodec::Decimal { precision, scale } => {
            packed_decimal::decode(cursor, *precision, *scale).map(crate::change::Numeric::Finite).map(Value::Numeric)
        }
        ColumnCodec::Year => {
            let year = cursor.take(1, "a YEAR")?[0];
            Ok(Value::Year(if year == 0 { 0 } else { 1900 + i16::from(year) }))
        }
        ColumnCodec::Date => {
            let packed = cursor.uint_le(3, "a DATE")?;
            let (year, month, day) = ((packed >> 9) as u16, ((packed >> 5) & 15) as u8, (packed & 31) as u8);
            Ok(Value::Date(date(year, month, day)))
        }
        ColumnCodec::TimeOld => {
            let raw = cursor.uint_le(3, "a TIME")? as u32;
            // A signed 24-bit HHMMSS.
            let signed = ((raw << 8) as i32) >> 8;
            let magnitude = i64::from(signed.unsigned_abs());
            let seconds = magnitude / 10_000 * 3600 + magnitude / 100 % 100 * 60 + magnitude % 100;
            Ok(Value::TimeDuration(if signed < 0 { -seconds } else { seconds } * 1_000_000))
        }
        ColumnCodec::Time { fsp } => time(cursor, *fsp),
        ColumnCodec::DateTimeOld => {
            let raw = cursor.uint_le(8, "a DATETIME")?;
            let (day_part, clock) = (raw / 1_000_000, raw % 1_000_000);
            let micros = ((clock / 10_000 * 3600 + clock / 100 % 100 * 60 + clock % 100) * 1_000_000) as i64;
            Ok(Value::Timestamp(timestamp(
                (day_part / 10_000) as u16,
                (day_part / 100 % 100) as u8,
                (day_part % 100) as u8,
                micros,
            )))
        }
        ColumnCodec::DateTime { fsp } => datetime(cursor, *fsp),
        ColumnCodec::TimestampOld => {
            let seconds = cursor.uint_le(4, "a TIMESTAMP")?;
            Ok(Value::TimestampTz(epoch_timestamp(seconds, 0)))
        }
        ColumnCodec::Timestamp { fsp } => {
            let seconds = cursor.uint_be(4, "a TIMESTAMP")?;
            let fraction = fraction_micros(cursor, *fsp, false)?;
            Ok(Value::TimestampTz(epoch_timestamp(seconds, fraction)))
        }
        ColumnCodec::Bit { bits } => {
            let bytes = cursor.take((*bits as usize).div_ceil(8), "a BIT")?;
            let mut text = String::with_capacity(*bits as usize);
            for bit in (0..*bits).rev() {
                let byte = bytes[bytes.len() - 1 - (bit / 8) as usize];
                text.push(if byte >> (bit % 8) & 1 == 1 { '1' } else { '0' });
            }
            Ok(Value::Bits(text))
        }
        ColumnCodec::Enum { pack, labels } => {
            let index = cursor.uint_le(usize::from(*pack), "an ENUM")?;
            match index {
                0 => Ok(Value::Enum(String::new())),
                _ => labels
                    .get(index as usize - 1)
                    .map(|label| Value::Enum(label.clone()))
                    .ok_or_else(|| format!("ENUM index {index}, but the table map lists {} labels", labels.len())),
            }
        }
        ColumnCodec::Set { pack, labels } => {
            let bits = cursor.uint_le(usize::from(*pack), "a SET")?;
            if labels.len() < 64 && bits >> labels.len() != 0 {
                return Err(format!("SET bitmap {bits:#x}, but the table map lists {} members", labels.len()));
            }
            Ok(Value::Set(
                labels
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| bits >> index & 1 == 1)
                    .map(|(_, label)| label.clone())
                    .collect(),
            ))
        }
        ColumnCodec::VarString { length_bytes, charset } | ColumnCodec::Blob { length_bytes, charset } => {
            let length = cursor.uint_le(usize::from(*length_bytes), "a length")? as usize;
            charset.decode(cursor.take(length, "a string")?)
        }
        ColumnCodec::FixedString { length_bytes, max_bytes, charset } => {
            let length = cursor.uint_le(usize::from(*length_bytes), "a length")? as usize;
            let bytes = cursor.take(length, "a string")?;
            if *charset == Charset::Binary && bytes.len() < usize::from(*max_bytes) {
                let mut padded = bytes.to_vec();
                padded.resize(usize::from(*max_bytes), 0);
                return Ok(Value::Bytes(padded));
            }
            charset.decode(bytes)
        }
        ColumnCodec::Json { length_bytes } => {
            let length = cursor.uint_le(usize::from(*length_bytes), "a length")? as usize;
            json::binary_to_text(cursor.take(length, "a JSON value")?).map(Value::Json)
        }
        ColumnCodec::Geometry { length_bytes } => {
            let length = cursor.uint_le(usize::from(*length_bytes), "a length")? as usize;
            let bytes = cursor.take(length, "a geometry")?;
            let Some((srid, wkb)) = bytes.split_first_chunk::<4>() else {
                return Err(format!("a geometry of {length} bytes has no 4-byte SRID"));
            };
            Ok(Value::Geometry { srid: u32::from_le_bytes(*srid), wkb: wkb.to_vec() })
        }
        ColumnCodec::Vector { length_bytes } => {
            let length = cursor.uint_le(usize::from(*length_bytes), "a length")? as usize;
            let bytes = cursor.take(length, "a vector")?;
            if !length.is_multiple_of(4) {
                return Err(format!("a vector of {length} bytes is not a whole number of 4-byte floats"));
            }
            Ok(Value::Vector(
                bytes
                    .chunks_exact(4)
                    .map(|float| f32::from_le_bytes([float[0], float[1], float[2], float[3]]))
                    .collect(),
            ))
        }
    }
}

fn integer(cursor: &mut ImageCursor<'_>, width: u8, unsigned: bool) -> Result<Value, String> {
    let raw = cursor.uint_le(usize::from(width), "an integer")?;
    let bits = u32::from(width) * 8;
    if unsigned {
        return Ok(match width {
            1 => Value::Int16(raw as i16),
            2 | 3 => Value::Int32(raw as i32),
            4 => Value::Int64(raw as i64),
            _ => Value::UInt64(raw),
        });
    }
    // Sign-extend from `bits`.
    let signed = ((raw << (64 - bits)) as i64) >> (64 - bits);
    Ok(match width {
        1 | 2 => Value::Int16(signed as i16),
        3 | 4 => Value::Int32(signed as i32),
        _ => Value::Int64(signed),
    })
}

/// The fractional seconds of TIME/DATETIME/TIMESTAMP(fsp), in microseconds: one byte for
/// fsp 1–2 (hundredths), two for 3–4 (1/10000), three for 5–6 (microseconds), big endian;
/// `signed` for TIME and DATETIME, whose packed form carries the fraction signed.
fn fraction_micros(cursor: &mut ImageCursor<'_>, fsp: u8, signed: bool) -> Result<i64, String> {
    let (width, unit) = match fsp {
        0 => return Ok(0),
        1 | 2 => (1, 10_000),
        3 | 4 => (2, 100),
        5 | 6 => (3, 1),
        other => return Err(format!("fractional second precision {other} is not 0..=6")),
    };
    let raw = cursor.uint_be(width, "fractional seconds")?;
    let value = if signed {
        let bits = width as u32 * 8;
        ((raw << (64 - bits)) as i64) >> (64 - bits)
    } else {
        raw as i64
    };
    Ok(value * unit)
}

/// TIME(fsp): a 3-byte big-endian `sign | hours:10 | minutes:6 | seconds:6` offset by
/// 0x800000, then the fraction; negative times borrow from the fraction.
fn time(cursor: &mut ImageCursor<'_>, fsp: u8) -> Result<Value, String> {
    const INT_OFFSET: i64 = 0x80_0000;
    let packed = if fsp >= 5 {
        // Six bytes hold the whole packed value, offset by 0x800000000000.
        cursor.uint_be(6, "a TIME")? as i64 - 0x8000_0000_0000
    } else {
        let mut integer = cursor.uint_be(3, "a TIME")? as i64 - INT_OFFSET;
        let mut fraction = fraction_micros(cursor, fsp, false)?;
        if integer < 0 && fraction != 0 {
            // MySQL stores negative fractions counted down from the next second:
            // `frac - 0x100` (or `- 0x10000`) in the stored unit.
            let span = if fsp <= 2 { 0x100 * 10_000 } else { 0x1_0000 * 100 };
            integer += 1;
            fraction -= span;
        }
        (integer << 24) + fraction
    };
    let negative = packed < 0;
    let magnitude = packed.unsigned_abs();
    let clock = magnitude >> 24;
    let micros = (magnitude % (1 << 24)) as i64;
    let (hours, minutes, seconds) = ((clock >> 12) % (1 << 10), (clock >> 6) % (1 << 6), clock % (1 << 6));
    let total = (hours * 3600 + minutes * 60 + seconds) as i64 * 1_000_000 + micros;
    Ok(Value::TimeDuration(if negative { -total } else { total }))
}

/// DATETIME(fsp): a 5-byte big-endian packed `sign | year*13+month:17 | day:5 | hour:5 |
/// minute:6 | second:6` offset by 0x8000000000, then the fraction.
fn datetime(cursor: &mut ImageCursor<'_>, fsp: u8) -> Result<Value, String> {
    let packed = cursor.uint_be(5, "a DATETIME")? as i64 - 0x80_0000_0000;
    let fraction = fraction_micros(cursor, fsp, true)?;
    if packed < 0 {
        return Err("a negative DATETIME".to_owned());
    }
    let packed = packed as u64;
    let (date_part, clock) = (packed >> 17, packed % (1 << 17));
    let (year_month, day) = (date_part >> 5, (date_part % (1 << 5)) as u8);
    let (year, month) = ((year_month / 13) as u16, (year_month % 13) as u8);
    let (hour, minute, second) = (clock >> 12, (clock >> 6) % (1 << 6), clock % (1 << 6));
    let micros = ((hour * 3600 + minute * 60 + second) * 1_000_000) as i64 + fraction;
    Ok(Value::Timestamp(timestamp(year, month, day, micros)))
}

/// A calendar date, or [`Date::Incomplete`] for MySQL's zero and partly zero dates and
/// days a month does not have (`ALLOW_INVALID_DATES`).
fn date(year: u16, month: u8, day: u8) -> Date {
    if (1..=12).contains(&month) && day >= 1 && i64::from(day) <= days_in_month(i64::from(year), i64::from(month)) {
        Date::Days(days_from_civil(i64::from(year), i64::from(month), i64::from(day)) as i32)
    } else {
        Date::Incomplete { year, month, day }
    }
}

fn timestamp(year: u16, month: u8, day: u8, micros_of_day: i64) -> Timestamp {
    match date(year, month, day) {
        Date::Days(days) => Timestamp::Micros(i128::from(days) * 86_400_000_000 + i128::from(micros_of_day)),
        _ => Timestamp::Incomplete { year, month, day, micros_of_day },
    }
}

/// TIMESTAMP: seconds since the epoch in UTC; 0 is MySQL's zero timestamp
/// `0000-00-00 00:00:00` (the range starts at 1970-01-01 00:00:01).
fn epoch_timestamp(seconds: u64, fraction_micros: i64) -> Timestamp {
    if seconds == 0 && fraction_micros == 0 {
        return Timestamp::Incomplete { year: 0, month: 0, day: 0, micros_of_day: 0 };
    }
    Timestamp::Micros(i128::from(seconds) * 1_000_000 + i128::from(fraction_micros))
}
