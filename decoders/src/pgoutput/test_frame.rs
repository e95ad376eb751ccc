//! Test-only: builds frames field by field the way the server writes them, and
//! checks the "every truncation is an error" property for a valid frame.

use bytes::{BufMut, Bytes, BytesMut};

use super::{DecodeContext, PgOutputError, PgOutputMessage};

/// A frame under construction.
pub(super) struct Frame(BytesMut);

impl Frame {
    pub(super) fn tag(tag: u8) -> Self {
        let mut bytes = BytesMut::new();
        bytes.put_u8(tag);
        Frame(bytes)
    }

    pub(super) fn u8(mut self, value: u8) -> Self {
        self.0.put_u8(value);
        self
    }

    pub(super) fn u16(mut self, value: u16) -> Self {
        self.0.put_u16(value);
        self
    }

    pub(super) fn u32(mut self, value: u32) -> Self {
        self.0.put_u32(value);
        self
    }

    pub(super) fn i32(mut self, value: i32) -> Self {
        self.0.put_i32(value);
        self
    }

    pub(super) fn i64(mut self, value: i64) -> Self {
        self.0.put_i64(value);
        self
    }

    pub(super) fn u64(mut self, value: u64) -> Self {
        self.0.put_u64(value);
        self
    }

    pub(super) fn cstr(mut self, text: &str) -> Self {
        self.0.put_slice(text.as_bytes());
        self.0.put_u8(0);
        self
    }

    pub(super) fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.put_slice(bytes);
        self
    }

    pub(super) fn build(self) -> Bytes {
        self.0.freeze()
    }
}

/// Protocol version 4, outside a streamed block, no parallel streaming.
pub(super) const PLAIN: DecodeContext =
    DecodeContext { protocol_version: 4, in_streamed_block: false, parallel_streaming: false };

/// Protocol version 4, inside a streamed block.
pub(super) const STREAMED: DecodeContext =
    DecodeContext { protocol_version: 4, in_streamed_block: true, parallel_streaming: false };

/// Decodes `frame`, which must be valid, after checking that every strict
/// prefix of it and the frame with one extra byte are errors.
pub(super) fn decode_strictly(frame: &Bytes, context: &DecodeContext) -> Result<PgOutputMessage, PgOutputError> {
    for length in 0..frame.len() {
        let prefix = frame.slice(..length);
        let result = PgOutputMessage::decode(&prefix, context);
        assert!(result.is_err(), "prefix of {length} bytes decoded: {result:?}");
    }
    let mut longer = BytesMut::from(frame.as_ref());
    longer.put_u8(0);
    let result = PgOutputMessage::decode(&longer.freeze(), context);
    assert!(result.is_err(), "trailing byte accepted: {result:?}");
    PgOutputMessage::decode(frame, context)
}
