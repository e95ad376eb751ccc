//! Transaction boundaries of the non-streamed protocol: Begin, Commit, Origin
//! (PostgreSQL docs, "Logical Replication Message Formats").
//!
//! A transaction is `Begin, [Origin], changes..., Commit`; its changes carry
//! no xid, the Begin's applies to them.

use super::cursor::MessageReader;
use super::error::PgOutputError;
use crate::change::Lsn;

/// Begin (`B`), spec section "Begin".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// The final LSN of the transaction (its commit record).
    pub final_lsn: Lsn,
    /// Commit timestamp, microseconds since 2000-01-01 (PostgreSQL epoch), as sent.
    pub commit_time: i64,
    /// Xid of the transaction.
    pub xid: u32,
}

impl Begin {
    pub(super) fn decode(reader: &mut MessageReader<'_>) -> Result<Self, PgOutputError> {
        Ok(Begin { final_lsn: reader.read_lsn()?, commit_time: reader.read_i64()?, xid: reader.read_u32()? })
    }
}

/// Commit (`C`), spec section "Commit".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Flags; currently unused (0). Kept as sent.
    pub flags: u8,
    /// The LSN of the commit.
    pub commit_lsn: Lsn,
    /// The end LSN of the transaction.
    pub end_lsn: Lsn,
    /// Commit timestamp, microseconds since 2000-01-01, as sent.
    pub commit_time: i64,
}

impl Commit {
    pub(super) fn decode(reader: &mut MessageReader<'_>) -> Result<Self, PgOutputError> {
        Ok(Commit {
            flags: reader.read_u8()?,
            commit_lsn: reader.read_lsn()?,
            end_lsn: reader.read_lsn()?,
            commit_time: reader.read_i64()?,
        })
    }
}

/// Origin (`O`), spec section "Origin": the transaction was replicated from another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The LSN of the commit on the origin server.
    pub commit_lsn: Lsn,
    /// Name of the origin.
    pub name: String,
}

impl Origin {
    pub(super) fn decode(reader: &mut MessageReader<'_>) -> Result<Self, PgOutputError> {
        Ok(Origin { commit_lsn: reader.read_lsn()?, name: reader.read_cstring()? })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_frame::{Frame, PLAIN, STREAMED, decode_strictly};
    use super::super::{DecodeContext, PgOutputMessage};
    use super::*;

    #[test]
    fn begin() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'B').u64(0x16_B374_D848).i64(-5).u32(742).build();
        let expected = Begin { final_lsn: Lsn(0x16_B374_D848), commit_time: -5, xid: 742 };
        assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::Begin(expected));
        assert!(PgOutputMessage::decode(&frame, &DecodeContext::new(1)).is_ok());
        Ok(())
    }

    #[test]
    fn commit() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'C').u8(0).u64(100).u64(148).i64(7_000_000).build();
        let expected = Commit { flags: 0, commit_lsn: Lsn(100), end_lsn: Lsn(148), commit_time: 7_000_000 };
        assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::Commit(expected.clone()));
        // Transaction boundaries never carry a streamed xid field.
        assert_eq!(PgOutputMessage::decode(&frame, &STREAMED)?, PgOutputMessage::Commit(expected));
        Ok(())
    }

    #[test]
    fn origin() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'O').u64(9).cstr("node_a").build();
        let expected = Origin { commit_lsn: Lsn(9), name: "node_a".to_owned() };
        assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::Origin(expected));
        Ok(())
    }
}
