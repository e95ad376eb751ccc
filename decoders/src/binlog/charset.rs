//! Text columns in their declared character set: the collation id a TABLE_MAP's
//! optional metadata gives each column, to the encoding its bytes are in.

use mysql_common::collations::{Collation, CollationId};

use crate::change::Value;

/// The character set of a string column, as far as decoding its bytes is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// utf8mb4, utf8mb3 (`utf8`) and ascii, which is a subset.
    Utf8,
    /// MySQL's `latin1`, which is Windows-1252 with the five undefined bytes kept as C1 controls.
    Latin1,
    /// `binary`: BINARY, VARBINARY and the BLOBs carry bytes, not text.
    Binary,
    /// `ucs2` and `utf16`: big-endian UTF-16.
    Utf16,
    /// `utf16le`.
    Utf16Le,
    /// `utf32`: big-endian.
    Utf32,
    /// A character set Wellhead does not decode yet (its collation id): values are refused, never guessed.
    Unsupported(u16),
    /// No charset in the table map (`binlog_row_metadata=MINIMAL`): the column's bytes are
    /// carried as bytes until the schema history names its charset.
    NotGiven,
}

impl Charset {
    /// The charset of a collation id.
    pub fn from_collation(collation_id: u16) -> Charset {
        let collation = Collation::from(CollationId::from(collation_id));
        match collation.charset() {
            "utf8mb4" | "utf8mb3" | "utf8" | "ascii" => Charset::Utf8,
            "latin1" => Charset::Latin1,
            "binary" => Charset::Binary,
            "ucs2" | "utf16" => Charset::Utf16,
            "utf16le" => Charset::Utf16Le,
            "utf32" => Charset::Utf32,
            _ => Charset::Unsupported(collation_id),
        }
    }

    /// Whether values of this charset are text (a Text column) rather than bytes.
    pub fn is_text(self) -> bool {
        !matches!(self, Charset::Binary | Charset::NotGiven)
    }

    /// A column value in this charset: text for character sets, bytes for `binary`.
    pub fn decode(self, bytes: &[u8]) -> Result<Value, String> {
        match self {
            Charset::Binary | Charset::NotGiven => Ok(Value::Bytes(bytes.to_vec())),
            Charset::Utf8 => match std::str::from_utf8(bytes) {
                Ok(text) => Ok(Value::Text(text.to_owned())),
                Err(error) => Err(format!("not valid UTF-8 at byte {}", error.valid_up_to())),
            },
            Charset::Latin1 => Ok(Value::Text(bytes.iter().map(|byte| latin1_char(*byte)).collect())),
            Charset::Utf16 | Charset::Utf16Le => {
                if !bytes.len().is_multiple_of(2) {
                    return Err(format!("{} bytes are not whole UTF-16 code units", bytes.len()));
                }
                let units = bytes.chunks_exact(2).map(|unit| match self {
                    Charset::Utf16Le => u16::from_le_bytes([unit[0], unit[1]]),
                    _ => u16::from_be_bytes([unit[0], unit[1]]),
                });
                char::decode_utf16(units).collect::<Result<String, _>>().map(Value::Text).map_err(|error| {
                    format!("not valid UTF-16: unpaired surrogate {:#06x}", error.unpaired_surrogate())
                })
            }
            Charset::Utf32 => {
                if !bytes.len().is_multiple_of(4) {
                    return Err(format!("{} bytes are not whole UTF-32 code units", bytes.len()));
                }
                bytes
                    .chunks_exact(4)
                    .map(|unit| {
                        let code = u32::from_be_bytes([unit[0], unit[1], unit[2], unit[3]]);
                        char::from_u32(code).ok_or_else(|| format!("not valid UTF-32: {code:#x}"))
                    })
                    .collect::<Result<String, _>>()
                    .map(Value::Text)
            }
            Charset::Unsupported(collation_id) => Err(format!(
                "collation id {collation_id} ({}) is in a character set Wellhead does not decode yet",
                Collation::from(CollationId::from(collation_id)).charset()
            )),
        }
    }
}

/// Windows-1252's 0x80–0x9F; MySQL's latin1 keeps 0x81, 0x8D, 0x8F, 0x90 and 0x9D as the C1 controls.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}', '\u{02C6}',
    '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}', '\u{0090}', '\u{2018}',
    '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}',
    '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

fn latin1_char(byte: u8) -> char {
    match byte {
        0x80..=0x9f => CP1252_HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}
