//! A bounds-checked reader over one message's bytes.
//!
//! Invariants: the offset never passes the end of the message; every read
//! either returns a value and advances, or returns an error naming the message
//! and the offset where the field starts, and leaves the offset unchanged.
//! Byte ranges are returned as [`Bytes::slice`]s of the message: no copy.

use bytes::Bytes;

use super::error::{PgOutputError, Problem};
use crate::change::Lsn;

/// Reads the big-endian fields of one message, front to back.
#[derive(Debug)]
pub(crate) struct MessageReader<'a> {
    bytes: &'a Bytes,
    offset: usize,
    protocol: &'static str,
    message: &'static str,
}

impl<'a> MessageReader<'a> {
    /// A reader positioned at `offset` (1 to skip the tag byte).
    pub(crate) fn new(bytes: &'a Bytes, offset: usize, protocol: &'static str, message: &'static str) -> Self {
        MessageReader { bytes, offset: offset.min(bytes.len()), protocol, message }
    }

    /// The error for `problem` at the current offset.
    pub(crate) fn error(&self, problem: Problem) -> PgOutputError {
        self.error_at(self.offset, problem)
    }

    /// The error for `problem` in the field that started at `offset`.
    pub(crate) fn error_at(&self, offset: usize, problem: Problem) -> PgOutputError {
        PgOutputError::Malformed { protocol: self.protocol, message: self.message, offset, problem }
    }

    /// Offset of the next field from the start of the message.
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.offset)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], PgOutputError> {
        let truncated = || Problem::Truncated { needed: N, left: self.remaining() };
        let end = self.offset.checked_add(N).ok_or_else(|| self.error(truncated()))?;
        let field = self.bytes.get(self.offset..end).ok_or_else(|| self.error(truncated()))?;
        let array = <[u8; N]>::try_from(field).map_err(|_| self.error(truncated()))?;
        self.offset = end;
        Ok(array)
    }

    /// `Byte1` / `Int8`.
    pub(crate) fn read_u8(&mut self) -> Result<u8, PgOutputError> {
        self.take::<1>().map(|[byte]| byte)
    }

    /// `Int16`, read unsigned as PostgreSQL's `pq_getmsgint(in, 2)` does.
    pub(crate) fn read_u16(&mut self) -> Result<u16, PgOutputError> {
        self.take().map(u16::from_be_bytes)
    }

    /// `Int32` holding an OID, an xid, a count or a length.
    pub(crate) fn read_u32(&mut self) -> Result<u32, PgOutputError> {
        self.take().map(u32::from_be_bytes)
    }

    /// `Int32` holding a signed value (a type modifier).
    pub(crate) fn read_i32(&mut self) -> Result<i32, PgOutputError> {
        self.take().map(i32::from_be_bytes)
    }

    /// `Int64` holding a signed value (a `TimestampTz`).
    pub(crate) fn read_i64(&mut self) -> Result<i64, PgOutputError> {
        self.take().map(i64::from_be_bytes)
    }

    /// `Int64 (XLogRecPtr)`.
    pub(crate) fn read_lsn(&mut self) -> Result<Lsn, PgOutputError> {
        self.take().map(u64::from_be_bytes).map(Lsn)
    }

    /// `Int32 (TransactionId)` when `present` (inside a streamed block), else nothing.
    pub(crate) fn read_xid_if(&mut self, present: bool) -> Result<Option<u32>, PgOutputError> {
        if present { self.read_u32().map(Some) } else { Ok(None) }
    }

    /// A one-byte boolean that must be 0 or 1.
    pub(crate) fn read_bool(&mut self, field: &'static str) -> Result<bool, PgOutputError> {
        let start = self.offset;
        match self.read_u8()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(self.error_at(start, Problem::InvalidBoolean { field, value })),
        }
    }

    /// A flags byte whose bits outside `known` must be clear.
    pub(crate) fn read_flags(&mut self, field: &'static str, known: u8) -> Result<u8, PgOutputError> {
        let start = self.offset;
        let flags = self.read_u8()?;
        match flags & !known {
            0 => Ok(flags),
            bits => Err(self.error_at(start, Problem::UnknownFlags { field, bits })),
        }
    }

    /// `String`: NUL-terminated, which must be UTF-8.
    pub(crate) fn read_cstring(&mut self) -> Result<String, PgOutputError> {
        let rest = self.bytes.get(self.offset..).unwrap_or_default();
        let length = rest.iter().position(|&byte| byte == 0).ok_or_else(|| self.error(Problem::UnterminatedString))?;
        let text = rest.get(..length).unwrap_or_default();
        let text = std::str::from_utf8(text).map_err(|_| self.error(Problem::InvalidUtf8))?;
        let text = text.to_owned();
        self.offset = self.offset.saturating_add(length).saturating_add(1);
        Ok(text)
    }

    /// `Byten`: the next `length` bytes, as a zero-copy slice of the message.
    pub(crate) fn read_bytes(&mut self, length: usize) -> Result<Bytes, PgOutputError> {
        let truncated = || Problem::Truncated { needed: length, left: self.remaining() };
        let end = self.offset.checked_add(length).ok_or_else(|| self.error(truncated()))?;
        if end > self.bytes.len() {
            return Err(self.error(truncated()));
        }
        let slice = self.bytes.slice(self.offset..end);
        self.offset = end;
        Ok(slice)
    }

    /// All bytes up to the end of the message, as a zero-copy slice.
    pub(crate) fn read_rest(&mut self) -> Bytes {
        let slice = self.bytes.slice(self.offset..);
        self.offset = self.bytes.len();
        slice
    }

    /// Room for `count` items of at least `min_item_size` bytes each, or an
    /// error if the rest of the message cannot hold them: bounds allocations
    /// driven by counts that malformed input could inflate.
    pub(crate) fn capacity_for(
        &self,
        count: u64,
        min_item_size: usize,
        items: &'static str,
    ) -> Result<usize, PgOutputError> {
        let left = self.remaining();
        let too_large = || self.error(Problem::CountTooLarge { count, items, left });
        let capacity = usize::try_from(count).map_err(|_| too_large())?;
        match capacity.checked_mul(min_item_size) {
            Some(needed) if needed <= left => Ok(capacity),
            _ => Err(too_large()),
        }
    }

    /// Succeeds only if every byte of the message was read.
    pub(crate) fn finish(self) -> Result<(), PgOutputError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(self.error(Problem::TrailingBytes { count })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &Bytes) -> MessageReader<'_> {
        MessageReader::new(bytes, 0, "pgoutput", "Test")
    }

    #[test]
    fn reads_big_endian_fields() -> Result<(), PgOutputError> {
        let bytes = Bytes::from_static(b"\x01\x00\x02\xff\xff\xff\xfe\x00\x00\x00\x00\x00\x00\x01\x00ab\0");
        let mut reader = reader(&bytes);
        assert_eq!(reader.read_u8()?, 1);
        assert_eq!(reader.read_u16()?, 2);
        assert_eq!(reader.read_i32()?, -2);
        assert_eq!(reader.read_lsn()?, Lsn(256));
        assert_eq!(reader.read_cstring()?, "ab");
        reader.finish()
    }

    #[test]
    fn short_read_names_offset_and_sizes() {
        let bytes = Bytes::from_static(b"\x00\x01\x02");
        let mut reader = reader(&bytes);
        assert!(reader.read_u8().is_ok());
        let error = reader.read_u32().err();
        assert_eq!(
            error.map(|error| error.to_string()),
            Some("pgoutput Test message: at byte 1: expected 4 more bytes, 2 left".to_owned())
        );
        assert_eq!(reader.remaining(), 2, "a failed read does not advance");
    }

    #[test]
    fn strings_must_be_terminated_utf8() {
        let unterminated = Bytes::from_static(b"abc");
        assert!(reader(&unterminated).read_cstring().is_err());
        let invalid = Bytes::from_static(b"\xff\xfe\0");
        assert!(reader(&invalid).read_cstring().is_err());
    }

    #[test]
    fn byte_ranges_share_the_message_buffer() -> Result<(), PgOutputError> {
        let bytes = Bytes::from(b"xhello".to_vec());
        let mut reader = MessageReader::new(&bytes, 1, "pgoutput", "Test");
        let slice = reader.read_bytes(5)?;
        assert_eq!(slice.as_ptr(), bytes.get(1..).map_or(std::ptr::null(), <[u8]>::as_ptr));
        assert!(reader.read_bytes(usize::MAX).is_err());
        Ok(())
    }

    #[test]
    fn counts_beyond_the_remaining_bytes_are_refused() {
        let bytes = Bytes::from_static(&[0; 10]);
        let reader = reader(&bytes);
        assert_eq!(reader.capacity_for(5, 2, "columns").ok(), Some(5));
        assert!(reader.capacity_for(6, 2, "columns").is_err());
        assert!(reader.capacity_for(u64::MAX, 4, "relations").is_err());
    }
}
