//! Avro's binary encoding of primitive values, appended to a byte buffer.
//!
//! | Avro | bytes |
//! |---|---|
//! | int, long, enum index, union branch, array block count | zig-zag varint |
//! | float, double | IEEE 754, little-endian |
//! | boolean | one byte, 0 or 1 |
//! | bytes, string | length (long), then the bytes (UTF-8 for strings) |
//! | array | blocks of `count, items...`, ended by a block of count 0 |

/// Appends a long (also int, enum index, union branch) as a zig-zag varint.
#[inline]
pub(crate) fn write_long(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

/// Appends an int (the same varint as a long).
#[inline]
pub(crate) fn write_int(out: &mut Vec<u8>, value: i32) {
    write_long(out, i64::from(value));
}

/// Appends a length, block count, enum index or union branch.
#[inline]
pub(crate) fn write_count(out: &mut Vec<u8>, count: usize) {
    // A count beyond i64::MAX cannot exist in memory.
    write_long(out, i64::try_from(count).unwrap_or(i64::MAX));
}

#[inline]
pub(crate) fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.push(u8::from(value));
}

#[inline]
pub(crate) fn write_float(out: &mut Vec<u8>, value: f32) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[inline]
pub(crate) fn write_double(out: &mut Vec<u8>, value: f64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends length-prefixed bytes.
#[inline]
pub(crate) fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_count(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Appends a length-prefixed UTF-8 string.
#[inline]
pub fn write_string(out: &mut Vec<u8>, text: &str) {
    write_bytes(out, text.as_bytes());
}

/// Appends the array block header for `count` items (nothing for an empty array);
/// the caller writes the items and then [`end_array`].
#[inline]
pub(crate) fn begin_array(out: &mut Vec<u8>, count: usize) {
    if count > 0 {
        write_count(out, count);
    }
}

/// Ends an array (or map) with the empty block.
#[inline]
pub(crate) fn end_array(out: &mut Vec<u8>) {
    out.push(0);
}

/// A fixed-capacity text buffer for short renderings (addresses, UUIDs) written without allocating.
#[derive(Debug)]
pub(crate) struct ShortText {
    bytes: [u8; 64],
    len: usize,
}

impl ShortText {
    pub(crate) fn new() -> Self {
        ShortText { bytes: [0; 64], len: 0 }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl std::fmt::Write for ShortText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_follow_the_specification() {
        let cases: [(i64, &[u8]); 7] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (i64::MAX, &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            (i64::MIN, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ];
        for (value, expected) in cases {
            let mut out = Vec::new();
            write_long(&mut out, value);
            assert_eq!(out, expected, "{value}");
        }
    }

    #[test]
    fn short_text_refuses_overflow() {
        use std::fmt::Write as _;
        let mut text = ShortText::new();
        assert!(write!(text, "{}", "x".repeat(64)).is_ok());
        assert!(text.write_str("y").is_err());
        assert_eq!(text.as_bytes().len(), 64);
    }
}
