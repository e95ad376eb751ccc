//! A reader over event bytes that never reads past their end: every take is checked and
//! an overrun is an error naming what was being read.

/// Reads from a row image, never past its end.
#[derive(Debug)]
pub struct ImageCursor<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> ImageCursor<'a> {
    pub fn new(bytes: &'a [u8]) -> ImageCursor<'a> {
        ImageCursor { bytes, offset: 0 }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn is_empty(&self) -> bool {
        self.offset >= self.bytes.len()
    }

    /// The next `count` bytes.
    pub fn take(&mut self, count: usize, what: &str) -> Result<&'a [u8], String> {
        let left = self.bytes.len() - self.offset;
        if count > left {
            return Err(format!("{count} bytes needed for {what}, {left} left"));
        }
        let taken = &self.bytes[self.offset..self.offset + count];
        self.offset += count;
        Ok(taken)
    }

    /// A little-endian unsigned integer of `width` (1..=8) bytes.
    pub fn uint_le(&mut self, width: usize, what: &str) -> Result<u64, String> {
        let bytes = self.take(width, what)?;
        Ok(bytes.iter().rev().fold(0_u64, |value, byte| (value << 8) | u64::from(*byte)))
    }

    /// A big-endian unsigned integer of `width` (1..=8) bytes.
    pub fn uint_be(&mut self, width: usize, what: &str) -> Result<u64, String> {
        let bytes = self.take(width, what)?;
        Ok(bytes.iter().fold(0_u64, |value, byte| (value << 8) | u64::from(*byte)))
    }

    /// MySQL's length-encoded integer.
    pub fn length_encoded(&mut self, what: &str) -> Result<u64, String> {
        match self.take(1, what)?[0] {
            first @ 0..=0xfa => Ok(u64::from(first)),
            0xfc => self.uint_le(2, what),
            0xfd => self.uint_le(3, what),
            0xfe => self.uint_le(8, what),
            other => Err(format!("{what}: {other:#04x} does not start a length-encoded integer")),
        }
    }
}
