//! Logical decoding messages (`M`), written by `pg_logical_emit_message` and
//! sent when START_REPLICATION asks for `messages = true` (PostgreSQL docs,
//! "Logical Replication Message Formats", section "Message").
//!
//! A transactional message sits inside its transaction's Begin/Commit; a
//! non-transactional one is sent on its own, at once, even if its transaction
//! later aborts.

use bytes::Bytes;

use super::DecodeContext;
use super::cursor::MessageReader;
use super::error::PgOutputError;

/// Flags bit: the message is transactional.
const FLAG_TRANSACTIONAL: u8 = 1;

/// Message (`M`), spec section "Message".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalMessage {
    /// Xid of the transaction; present only inside a streamed block (v2+).
    pub xid: Option<u32>,
    /// Flags bit 1: the message is transactional.
    pub transactional: bool,
    /// The LSN of the logical decoding message.
    pub lsn: crate::change::Lsn,
    /// The prefix of the logical decoding message.
    pub prefix: String,
    /// The content, as a zero-copy slice of the frame.
    pub content: Bytes,
}

impl LogicalMessage {
    pub(super) fn decode(reader: &mut MessageReader<'_>, context: &DecodeContext) -> Result<Self, PgOutputError> {
        let xid = reader.read_xid_if(context.in_streamed_block)?;
        let flags = reader.read_flags("flags", FLAG_TRANSACTIONAL)?;
        let lsn = reader.read_lsn()?;
        let prefix = reader.read_cstring()?;
        let length = reader.read_u32()?;
        let content = reader.read_bytes(usize::try_from(length).unwrap_or(usize::MAX))?;
        Ok(LogicalMessage { xid, transactional: flags & FLAG_TRANSACTIONAL != 0, lsn, prefix, content })
    }
}

#[cfg(test)]
mod tests {
    use super::super::PgOutputMessage;
    use super::super::test_frame::{Frame, PLAIN, STREAMED, decode_strictly};
    use super::*;
    use crate::change::Lsn;

    #[test]
    fn transactional_message() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'M').u8(1).u64(0x10).cstr("wellhead").u32(3).raw(b"hey").build();
        let expected = LogicalMessage {
            xid: None,
            transactional: true,
            lsn: Lsn(0x10),
            prefix: "wellhead".to_owned(),
            content: Bytes::from_static(b"hey"),
        };
        assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::Message(expected));
        Ok(())
    }

    #[test]
    fn streamed_non_transactional_empty_message() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'M').u32(44).u8(0).u64(0x20).cstr("").u32(0).build();
        let expected = LogicalMessage {
            xid: Some(44),
            transactional: false,
            lsn: Lsn(0x20),
            prefix: String::new(),
            content: Bytes::new(),
        };
        assert_eq!(decode_strictly(&frame, &STREAMED)?, PgOutputMessage::Message(expected));
        Ok(())
    }

    #[test]
    fn rejects_unknown_flags_and_overlong_content() {
        let flags = Frame::tag(b'M').u8(2).u64(1).cstr("p").u32(0).build();
        assert!(PgOutputMessage::decode(&flags, &PLAIN).is_err());
        let overlong = Frame::tag(b'M').u8(0).u64(1).cstr("p").u32(10).raw(b"short").build();
        assert!(PgOutputMessage::decode(&overlong, &PLAIN).is_err());
    }
}
