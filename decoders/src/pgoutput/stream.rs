//! Streaming of in-progress transactions (protocol version 2+; PostgreSQL
//! docs, "Logical Replication Message Formats").
//!
//! ```text
//!  Stream Start(xid) ─ changes carrying xid ─ Stream Stop   (repeated, interleaved
//!  ...                                                        with other transactions)
//!  Stream Commit(xid) | Stream Abort(xid, subxid) | Stream Prepare (v3)
//! ```
//!
//! Between Stream Start and Stream Stop the caller decodes with
//! `DecodeContext::in_streamed_block` set. Stream Stop has no fields and is a
//! unit variant of `PgOutputMessage`.

use super::DecodeContext;
use super::cursor::MessageReader;
use super::error::PgOutputError;
use crate::change::Lsn;

/// Stream Start (`S`), spec section "Stream Start".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStart {
    /// Xid of the transaction.
    pub xid: u32,
    /// 1 on the wire: the first stream segment for this xid.
    pub first_segment: bool,
}

impl StreamStart {
    pub(super) fn decode(reader: &mut MessageReader<'_>) -> Result<Self, PgOutputError> {
        Ok(StreamStart { xid: reader.read_u32()?, first_segment: reader.read_bool("first segment")? })
    }
}

/// Stream Commit (`c`), spec section "Stream Commit".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCommit {
    /// Xid of the transaction.
    pub xid: u32,
    /// Flags; currently unused (0). Kept as sent.
    pub flags: u8,
    /// The LSN of the commit.
    pub commit_lsn: Lsn,
    /// The end LSN of the transaction.
    pub end_lsn: Lsn,
    /// Commit timestamp, microseconds since 2000-01-01, as sent.
    pub commit_time: i64,
}

impl StreamCommit {
    pub(super) fn decode(reader: &mut MessageReader<'_>) -> Result<Self, PgOutputError> {
        Ok(StreamCommit {
            xid: reader.read_u32()?,
            flags: reader.read_u8()?,
            commit_lsn: reader.read_lsn()?,
            end_lsn: reader.read_lsn()?,
            commit_time: reader.read_i64()?,
        })
    }
}

/// Stream Abort (`A`), spec section "Stream Abort".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAbort {
    /// Xid of the transaction.
    pub xid: u32,
    /// Xid of the subtransaction; equal to `xid` when the whole transaction aborts.
    pub subxid: u32,
    /// The LSN of the abort; present only with `streaming = parallel` (v4+).
    pub abort_lsn: Option<Lsn>,
    /// Abort timestamp, microseconds since 2000-01-01; present only with `streaming = parallel` (v4+).
    pub abort_time: Option<i64>,
}

impl StreamAbort {
    pub(super) fn decode(reader: &mut MessageReader<'_>, context: &DecodeContext) -> Result<Self, PgOutputError> {
        let xid = reader.read_u32()?;
        let subxid = reader.read_u32()?;
        let (abort_lsn, abort_time) = if context.parallel_streaming {
            (Some(reader.read_lsn()?), Some(reader.read_i64()?))
        } else {
            (None, None)
        };
        Ok(StreamAbort { xid, subxid, abort_lsn, abort_time })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_frame::{Frame, PLAIN, STREAMED, decode_strictly};
    use super::super::{PgOutputMessage, error::PgOutputError};
    use super::*;

    const PARALLEL: DecodeContext =
        DecodeContext { protocol_version: 4, in_streamed_block: false, parallel_streaming: true };

    #[test]
    fn stream_start_and_stop() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'S').u32(600).u8(1).build();
        let expected = StreamStart { xid: 600, first_segment: true };
        assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::StreamStart(expected));
        let later = Frame::tag(b'S').u32(600).u8(0).build();
        assert!(matches!(
            PgOutputMessage::decode(&later, &PLAIN)?,
            PgOutputMessage::StreamStart(StreamStart { first_segment: false, .. })
        ));
        assert!(PgOutputMessage::decode(&Frame::tag(b'S').u32(600).u8(2).build(), &PLAIN).is_err());

        let stop = Frame::tag(b'E').build();
        assert_eq!(decode_strictly(&stop, &STREAMED)?, PgOutputMessage::StreamStop);
        Ok(())
    }

    #[test]
    fn stream_commit() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'c').u32(600).u8(0).u64(0x500).u64(0x530).i64(99).build();
        let expected =
            StreamCommit { xid: 600, flags: 0, commit_lsn: Lsn(0x500), end_lsn: Lsn(0x530), commit_time: 99 };
        assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::StreamCommit(expected));
        Ok(())
    }

    #[test]
    fn stream_abort_without_parallel_streaming() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'A').u32(600).u32(601).build();
        let expected = StreamAbort { xid: 600, subxid: 601, abort_lsn: None, abort_time: None };
        assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::StreamAbort(expected.clone()));
        let v2 = DecodeContext::new(2);
        assert_eq!(PgOutputMessage::decode(&frame, &v2)?, PgOutputMessage::StreamAbort(expected));
        // The same bytes under streaming = parallel lack the abort LSN and time.
        assert!(PgOutputMessage::decode(&frame, &PARALLEL).is_err());
        Ok(())
    }

    #[test]
    fn stream_abort_with_parallel_streaming() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'A').u32(600).u32(600).u64(0x700).i64(12_345).build();
        let expected = StreamAbort { xid: 600, subxid: 600, abort_lsn: Some(Lsn(0x700)), abort_time: Some(12_345) };
        assert_eq!(decode_strictly(&frame, &PARALLEL)?, PgOutputMessage::StreamAbort(expected));
        assert!(PgOutputMessage::decode(&frame, &PLAIN).is_err(), "trailing abort info without parallel");
        Ok(())
    }

    #[test]
    fn streaming_messages_need_version_2() {
        let frame = Frame::tag(b'E').build();
        let error = PgOutputMessage::decode(&frame, &DecodeContext::new(1)).err();
        assert_eq!(
            error.map(|e| e.to_string()),
            Some("pgoutput Stream Stop message: needs protocol version 2, the stream uses version 1".to_owned())
        );
    }
}
