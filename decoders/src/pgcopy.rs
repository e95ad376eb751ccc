//! PostgreSQL's binary COPY format, as `COPY ... TO STDOUT (FORMAT binary)`
//! streams it: the PostgreSQL documentation, `COPY`, section "Binary Format"
//! (<https://www.postgresql.org/docs/current/sql-copy.html>).
//!
//! ```text
//!   CopyData payloads ──push──► buffer ──next_tuple──► CopyTuple (one Option<Bytes> per column)
//!   (split anywhere)                                        │  binary field bytes
//!                                                           ▼
//!                                                       pgvalue::decode_binary
//!
//!   stream:  "PGCOPY\n\xff\r\n\0"  flags:u32  extension_len:i32  extension bytes
//!            tuple*:  field_count:i16  (length:i32  data[length])*    length -1 = NULL
//!            trailer: field_count = -1
//! ```
//!
//! Invariants: chunk boundaries carry no meaning (a header, tuple or length
//! may be split anywhere, several tuples may share a chunk); a header or tuple
//! is consumed only once all its bytes are buffered (the header extension is
//! skipped as it arrives), so no length read off the wire sizes an allocation;
//! the lengths of a tuple that arrives in pieces are read once, not on every
//! call; fields are reference-counted slices of the buffer, never copies; an
//! error consumes nothing, so calling again returns it again; no input panics.

use bytes::{Buf, Bytes, BytesMut};

/// `PGCOPY\n\377\r\n\0`: the `\n`, `\r\n` and NUL catch newline translation
/// and `\377` catches 7-bit stripping on the way.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// The signature, the flags field and the header extension length.
const FIXED_HEADER_LEN: usize = SIGNATURE.len() + 4 + 4;
/// Flags bit 16: every tuple carries an OID before its fields.
const FLAG_OIDS: u32 = 1 << 16;
/// Flags bits 0-15 mark incompatible format changes; a reader must refuse the
/// ones it does not know (none are defined). Bits 17-31 may be ignored.
const CRITICAL_FLAGS: u32 = 0xffff;
/// The field count that marks the end of the data.
const TRAILER_FIELD_COUNT: i16 = -1;
/// The field length that marks a NULL.
const NULL_LENGTH: i32 = -1;
/// Size of a tuple's field count.
const FIELD_COUNT_LEN: usize = 2;
/// Size of a field's length.
const FIELD_LENGTH_LEN: usize = 4;
/// Initial buffer capacity. Consumed tuples keep slices of the buffer, so
/// `BytesMut` allocates a fresh block of at least this size when it runs out
/// instead of growing in place: one allocation per block, not per chunk.
const BUFFER_BLOCK_LEN: usize = 64 * 1024;

/// Decodes one binary COPY stream into tuples, from CopyData payloads pushed
/// as they arrive.
///
/// Use: [`push`](Self::push) each chunk, then call
/// [`next_tuple`](Self::next_tuple) until it returns `Ok(None)`; after the
/// last chunk, [`finish`](Self::finish) tells a complete stream from a cut one.
#[derive(Debug)]
pub struct CopyBinaryDecoder {
    /// Bytes pushed and not yet consumed.
    buffer: BytesMut,
    stage: Stage,
    /// Bytes of the stream consumed so far: the stream offset of `buffer[0]`.
    offset: u64,
    /// The field count every tuple must have.
    expected_fields: usize,
}

/// How far into the stream the decoder is. Held in memory only: a COPY that
/// fails is restarted from its beginning, with a new decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Set by [`CopyBinaryDecoder::new`]: the fixed header is not all buffered yet.
    Header,
    /// Set once the fixed header is consumed: `remaining` bytes of the header
    /// extension are still to be skipped.
    HeaderExtension { remaining: usize },
    /// Set when the header is behind: `scan` is how much of the tuple at the
    /// front of the buffer has been checked to be buffered.
    Tuples { scan: TupleScan },
    /// Set when the trailer is consumed; only the end of the stream may follow.
    Finished,
}

/// Progress through the tuple at the front of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TupleScan {
    /// Leading fields whose length and data are all buffered.
    fields_buffered: usize,
    /// Bytes of the tuple those fields end at, its field count included.
    len: usize,
}

impl TupleScan {
    /// Nothing checked beyond the field count.
    const START: TupleScan = TupleScan { fields_buffered: 0, len: FIELD_COUNT_LEN };
}

/// One tuple of the stream: its fields in column order, `None` for NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyTuple {
    /// The tuple's bytes, field count included.
    data: Bytes,
    /// Where each field's data lies in `data`; `None` for NULL.
    fields: Vec<Option<std::ops::Range<usize>>>,
    byte_len: usize,
}

impl CopyTuple {
    /// The fields in column order; each is the column's binary (send) form,
    /// or `None` for NULL. Slices of the tuple: no copy, no reference count.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = Option<&[u8]>> {
        self.fields.iter().map(|range| range.clone().and_then(|range| self.data.get(range)))
    }

    /// Field `index` (from 0): `None` past the last field, `Some(None)` for NULL.
    pub fn field(&self, index: usize) -> Option<Option<&[u8]>> {
        let range = self.fields.get(index)?;
        Some(range.clone().and_then(|range| self.data.get(range)))
    }

    /// The fields as shared slices of the stream's buffer.
    pub fn into_fields(self) -> Vec<Option<Bytes>> {
        self.fields.iter().map(|range| range.clone().map(|range| self.data.slice(range))).collect()
    }

    /// Bytes of field data, all fields together (lengths and NULLs count 0).
    /// The fields share larger buffer blocks, which may stay allocated as long
    /// as any slice of them lives.
    pub fn byte_len(&self) -> usize {
        self.byte_len
    }
}

/// The stream does not follow the binary COPY format. Every variant names
/// the offset from the first byte of the stream (the signature is byte 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyFormatError {
    /// The stream does not start with `PGCOPY\n\377\r\n\0`.
    #[error(
        "binary COPY stream: at byte {offset}: not the PGCOPY signature (found {found:#04x}, expected {expected:#04x})"
    )]
    BadSignature {
        /// Offset of the first byte that differs.
        offset: u64,
        /// The byte as received.
        found: u8,
        /// The signature's byte there.
        expected: u8,
    },
    /// Flags bit 16 is set: tuples carry OIDs, which Wellhead never asks for.
    #[error("binary COPY stream: at byte {offset}: the flags say OIDs are included, which was not requested")]
    OidsIncluded {
        /// Offset of the flags field.
        offset: u64,
    },
    /// Flags bits 0-15, which mark incompatible format changes, are set.
    #[error("binary COPY stream: at byte {offset}: unknown critical flag bits {bits:#06x} (bits 0-15) are set")]
    UnknownCriticalFlags {
        /// Offset of the flags field.
        offset: u64,
        /// The bits 0-15 that were set.
        bits: u32,
    },
    /// The header extension length is negative.
    #[error("binary COPY stream: at byte {offset}: header extension length {length} is negative")]
    InvalidExtensionLength {
        /// Offset of the length field.
        offset: u64,
        /// The length as received.
        length: i32,
    },
    /// A tuple has a different number of fields than the copied columns.
    #[error("binary COPY stream: at byte {offset}: tuple has {found} fields, expected {expected}")]
    FieldCountMismatch {
        /// Offset of the tuple (its field count).
        offset: u64,
        /// The field count as received.
        found: i16,
        /// The field count the decoder was made for.
        expected: usize,
    },
    /// A field count is negative but not the trailer's -1.
    #[error("binary COPY stream: at byte {offset}: field count {count} is negative and not the trailer (-1)")]
    InvalidFieldCount {
        /// Offset of the tuple (its field count).
        offset: u64,
        /// The field count as received.
        count: i16,
    },
    /// A field length is negative but not NULL's -1.
    #[error("binary COPY stream: at byte {offset}: field {field} has length {length}; only -1 (NULL) may be negative")]
    InvalidFieldLength {
        /// Offset of the field (its length).
        offset: u64,
        /// The field's position in the tuple, from 1.
        field: usize,
        /// The length as received.
        length: i32,
    },
    /// Bytes follow the trailer.
    #[error("binary COPY stream: at byte {offset}: {count} bytes after the trailer")]
    DataAfterTrailer {
        /// Offset of the first byte after the trailer.
        offset: u64,
        /// How many bytes follow it (so far).
        count: usize,
    },
    /// The stream ends inside the header or a tuple.
    #[error("binary COPY stream: ends at byte {offset}, inside the {part}")]
    Truncated {
        /// Where the stream ends: its length.
        offset: u64,
        /// `header`, `header extension` or `tuple`.
        part: &'static str,
    },
    /// The stream ends between tuples, without the trailer.
    #[error("binary COPY stream: ends at byte {offset} without the trailer (field count -1)")]
    MissingTrailer {
        /// Where the stream ends: its length.
        offset: u64,
    },
}

impl CopyBinaryDecoder {
    /// A decoder for a stream whose every tuple has `expected_fields` fields
    /// (the number of columns copied).
    pub fn new(expected_fields: usize) -> Self {
        CopyBinaryDecoder {
            buffer: BytesMut::with_capacity(BUFFER_BLOCK_LEN),
            stage: Stage::Header,
            offset: 0,
            expected_fields,
        }
    }

    /// Appends the next bytes of the stream (a CopyData payload, or any part
    /// of the stream: boundaries carry no meaning).
    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
    }

    /// The next complete tuple, or `Ok(None)` when the buffered bytes hold
    /// none: more bytes are needed, or the trailer was consumed
    /// ([`is_finished`](Self::is_finished)). Tuples come in stream order; an
    /// error consumes nothing, so it repeats until the decoder is dropped.
    pub fn next_tuple(&mut self) -> Result<Option<CopyTuple>, CopyFormatError> {
        loop {
            match self.stage {
                Stage::Header => {
                    let Some(extension_len) = self.read_header()? else { return Ok(None) };
                    self.stage = Stage::HeaderExtension { remaining: extension_len };
                }
                Stage::HeaderExtension { remaining } => {
                    let skipped = remaining.min(self.buffer.len());
                    self.consume(skipped);
                    let remaining = remaining.saturating_sub(skipped);
                    if remaining > 0 {
                        self.stage = Stage::HeaderExtension { remaining };
                        return Ok(None);
                    }
                    self.stage = Stage::Tuples { scan: TupleScan::START };
                }
                Stage::Tuples { scan } => return self.read_tuple(scan),
                Stage::Finished => return self.nothing_after_trailer().map(|()| None),
            }
        }
    }

    /// Whether the trailer has been consumed.
    pub fn is_finished(&self) -> bool {
        self.stage == Stage::Finished
    }

    /// Checks the stream is complete: the trailer was consumed and nothing
    /// follows it. Call once, after the last chunk was pushed and
    /// [`next_tuple`](Self::next_tuple) returned `Ok(None)`; tuples still
    /// buffered then count as a stream cut inside a tuple.
    pub fn finish(&self) -> Result<(), CopyFormatError> {
        let part = match self.stage {
            Stage::Finished => return self.nothing_after_trailer(),
            Stage::Tuples { .. } if self.buffer.is_empty() => {
                return Err(CopyFormatError::MissingTrailer { offset: self.offset });
            }
            Stage::Header => "header",
            Stage::HeaderExtension { .. } => "header extension",
            Stage::Tuples { .. } => "tuple",
        };
        Err(CopyFormatError::Truncated { offset: self.offset_at(self.buffer.len()), part })
    }

    /// Checks and consumes the fixed header; returns the header extension's
    /// length, or `None` until all of the fixed header is buffered. Each
    /// field is checked as soon as it is buffered.
    fn read_header(&mut self) -> Result<Option<usize>, CopyFormatError> {
        let buffered: &[u8] = &self.buffer;
        let mismatch = buffered.iter().zip(SIGNATURE).enumerate().find(|(_, (found, expected))| found != expected);
        if let Some((at, (&found, &expected))) = mismatch {
            return Err(CopyFormatError::BadSignature { offset: self.offset_at(at), found, expected });
        }
        let flags_at = SIGNATURE.len();
        let Some(flags) = peek(buffered, flags_at).map(u32::from_be_bytes) else { return Ok(None) };
        if flags & FLAG_OIDS != 0 {
            return Err(CopyFormatError::OidsIncluded { offset: self.offset_at(flags_at) });
        }
        if flags & CRITICAL_FLAGS != 0 {
            let bits = flags & CRITICAL_FLAGS;
            return Err(CopyFormatError::UnknownCriticalFlags { offset: self.offset_at(flags_at), bits });
        }
        let length_at = flags_at + 4;
        let Some(length) = peek(buffered, length_at).map(i32::from_be_bytes) else { return Ok(None) };
        let extension_len = usize::try_from(length)
            .map_err(|_| CopyFormatError::InvalidExtensionLength { offset: self.offset_at(length_at), length })?;
        self.consume(FIXED_HEADER_LEN);
        Ok(Some(extension_len))
    }

    /// The tuple at the front of the buffer once all of it is buffered,
    /// continuing the length checks where `scan` left them; consumes the
    /// trailer instead if that is what comes.
    fn read_tuple(&mut self, mut scan: TupleScan) -> Result<Option<CopyTuple>, CopyFormatError> {
        let Some(field_count) = peek(&self.buffer, 0).map(i16::from_be_bytes) else { return Ok(None) };
        if field_count == TRAILER_FIELD_COUNT {
            self.consume(FIELD_COUNT_LEN);
            self.stage = Stage::Finished;
            return self.nothing_after_trailer().map(|()| None);
        }
        if usize::try_from(field_count).ok() != Some(self.expected_fields) {
            let offset = self.offset;
            return Err(if field_count < 0 {
                CopyFormatError::InvalidFieldCount { offset, count: field_count }
            } else {
                CopyFormatError::FieldCountMismatch { offset, found: field_count, expected: self.expected_fields }
            });
        }
        while scan.fields_buffered < self.expected_fields {
            let Some(length) = peek(&self.buffer, scan.len).map(i32::from_be_bytes) else { break };
            let data_len = field_data_len(length).ok_or_else(|| CopyFormatError::InvalidFieldLength {
                offset: self.offset_at(scan.len),
                field: scan.fields_buffered + 1,
                length,
            })?;
            let field_end = scan.len.saturating_add(FIELD_LENGTH_LEN).saturating_add(data_len);
            if field_end > self.buffer.len() {
                break;
            }
            scan = TupleScan { fields_buffered: scan.fields_buffered + 1, len: field_end };
        }
        if scan.fields_buffered < self.expected_fields || scan.len > self.buffer.len() {
            self.stage = Stage::Tuples { scan };
            return Ok(None);
        }
        let tuple_offset = self.offset;
        let tuple = self.buffer.split_to(scan.len).freeze();
        self.offset = self.offset_at(scan.len);
        self.stage = Stage::Tuples { scan: TupleScan::START };
        // Cannot fail: the scan checked every length against these very bytes.
        let tuple = split_fields(tuple, self.expected_fields)
            .ok_or(CopyFormatError::Truncated { offset: tuple_offset, part: "tuple" })?;
        Ok(Some(tuple))
    }

    fn nothing_after_trailer(&self) -> Result<(), CopyFormatError> {
        match self.buffer.len() {
            0 => Ok(()),
            count => Err(CopyFormatError::DataAfterTrailer { offset: self.offset, count }),
        }
    }

    /// Drops `count` bytes (at most all buffered) from the front of the buffer.
    fn consume(&mut self, count: usize) {
        let count = count.min(self.buffer.len());
        self.buffer.advance(count);
        self.offset = self.offset_at(count);
    }

    /// The stream offset of `position` in the buffer.
    fn offset_at(&self, position: usize) -> u64 {
        self.offset.saturating_add(u64::try_from(position).unwrap_or(u64::MAX))
    }
}

/// The `N` bytes at `at`, if buffered.
fn peek<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Bytes of data behind a field length: none for NULL, `None` if invalid.
fn field_data_len(length: i32) -> Option<usize> {
    if length == NULL_LENGTH { Some(0) } else { usize::try_from(length).ok() }
}

/// Cuts a complete tuple (field count included) into its fields' ranges;
/// `None` if its lengths do not fit it.
fn split_fields(tuple: Bytes, field_count: usize) -> Option<CopyTuple> {
    let mut at = FIELD_COUNT_LEN;
    let mut fields = Vec::with_capacity(field_count);
    let mut byte_len = 0usize;
    for _ in 0..field_count {
        let length = peek(&tuple, at).map(i32::from_be_bytes)?;
        at = at.checked_add(FIELD_LENGTH_LEN)?;
        if length == NULL_LENGTH {
            fields.push(None);
            continue;
        }
        let end = at.checked_add(usize::try_from(length).ok()?).filter(|&end| end <= tuple.len())?;
        byte_len = byte_len.saturating_add(end - at);
        fields.push(Some(at..end));
        at = end;
    }
    (at == tuple.len()).then_some(CopyTuple { data: tuple, fields, byte_len })
}

#[cfg(test)]
#[path = "pgcopy_tests.rs"]
mod tests;
