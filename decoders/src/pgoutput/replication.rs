//! The CopyData envelope of a physical/logical replication stream (PostgreSQL
//! docs, "Streaming Replication Protocol"): what the server sends in COPY
//! BOTH mode after START_REPLICATION, and the status update the client sends.
//!
//! ```text
//!  server ── XLogData 'w' (data = one pgoutput message) ──► client
//!         ── Primary keepalive 'k' (reply_requested?) ───►
//!         ◄── Standby status update 'r' (written/flushed/applied LSNs) ──
//! ```
//!
//! Keepalives matter: if the client does not answer one that requests a reply
//! within `wal_sender_timeout`, the server drops the connection; and the
//! flushed LSN the client reports is what lets the server recycle WAL, so it
//! must only advance once changes are durable downstream.

use bytes::{BufMut, Bytes, BytesMut};

use super::cursor::MessageReader;
use super::error::PgOutputError;
use crate::change::Lsn;

/// 2000-01-01 00:00:00 UTC (PostgreSQL's epoch) in microseconds since the Unix epoch.
pub const POSTGRES_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// Converts a PostgreSQL `TimestampTz` (µs since 2000-01-01) to µs since 1970-01-01, saturating.
pub fn postgres_time_to_unix_micros(postgres_time: i64) -> i64 {
    postgres_time.saturating_add(POSTGRES_EPOCH_UNIX_MICROS)
}

/// Converts µs since 1970-01-01 to a PostgreSQL `TimestampTz` (µs since 2000-01-01), saturating.
pub fn unix_micros_to_postgres_time(unix_micros: i64) -> i64 {
    unix_micros.saturating_sub(POSTGRES_EPOCH_UNIX_MICROS)
}

/// One CopyData message from the server during streaming replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationMessage {
    /// `w`: a piece of the (decoded) WAL stream.
    XLogData(XLogData),
    /// `k`: a heartbeat, possibly asking for a [`StandbyStatusUpdate`].
    PrimaryKeepalive(PrimaryKeepalive),
}

/// XLogData (`w`), spec section "Streaming Replication Protocol", "XLogData".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XLogData {
    /// The starting point of the WAL data in this message.
    pub wal_start: Lsn,
    /// The current end of WAL on the server.
    pub wal_end: Lsn,
    /// The server's system clock at the time of transmission, µs since 2000-01-01.
    pub server_time: i64,
    /// The payload: with pgoutput, exactly one logical replication message (zero-copy).
    pub data: Bytes,
}

/// Primary keepalive message (`k`), spec section "Streaming Replication Protocol".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryKeepalive {
    /// The current end of WAL on the server.
    pub wal_end: Lsn,
    /// The server's system clock at the time of transmission, µs since 2000-01-01.
    pub server_time: i64,
    /// 1 on the wire: the client should reply as soon as possible, to avoid a timeout disconnect.
    pub reply_requested: bool,
}

impl ReplicationMessage {
    /// Decodes one CopyData payload; an XLogData's `data` is a slice of `copy_data`.
    pub fn decode(copy_data: &Bytes) -> Result<ReplicationMessage, PgOutputError> {
        let protocol = "replication";
        let &tag = copy_data.first().ok_or(PgOutputError::Empty { protocol })?;
        let message = match tag {
            b'w' => {
                let mut reader = MessageReader::new(copy_data, 1, protocol, "XLogData");
                ReplicationMessage::XLogData(XLogData {
                    wal_start: reader.read_lsn()?,
                    wal_end: reader.read_lsn()?,
                    server_time: reader.read_i64()?,
                    data: reader.read_rest(),
                })
            }
            b'k' => {
                let mut reader = MessageReader::new(copy_data, 1, protocol, "Primary keepalive");
                let keepalive = PrimaryKeepalive {
                    wal_end: reader.read_lsn()?,
                    server_time: reader.read_i64()?,
                    reply_requested: reader.read_bool("reply requested")?,
                };
                reader.finish()?;
                ReplicationMessage::PrimaryKeepalive(keepalive)
            }
            _ => return Err(PgOutputError::UnknownTag { protocol, tag }),
        };
        Ok(message)
    }
}

/// Standby status update (`r`), spec section "Streaming Replication Protocol":
/// the client's progress, sent in a CopyData message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandbyStatusUpdate {
    /// The location of the last WAL byte + 1 received and written to disk.
    pub written: Lsn,
    /// The location of the last WAL byte + 1 flushed to disk; the server may
    /// discard WAL before it, so it must only cover durably delivered changes.
    pub flushed: Lsn,
    /// The location of the last WAL byte + 1 applied.
    pub applied: Lsn,
    /// The client's system clock at the time of transmission, µs since 2000-01-01.
    pub client_time: i64,
    /// Ask the server to reply to this message immediately.
    pub reply_requested: bool,
}

impl StandbyStatusUpdate {
    /// Encoded size: tag, three LSNs, a timestamp and a flag byte.
    pub const ENCODED_LEN: usize = 1 + 8 + 8 + 8 + 8 + 1;

    /// The CopyData payload: `'r'` and the fields, big-endian.
    pub fn encode(&self) -> Bytes {
        let mut bytes = BytesMut::with_capacity(Self::ENCODED_LEN);
        bytes.put_u8(b'r');
        bytes.put_u64(self.written.0);
        bytes.put_u64(self.flushed.0);
        bytes.put_u64(self.applied.0);
        bytes.put_i64(self.client_time);
        bytes.put_u8(u8::from(self.reply_requested));
        bytes.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::Problem;
    use super::super::test_frame::Frame;
    use super::*;

    #[test]
    fn xlog_data_payload_is_a_zero_copy_slice() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'w').u64(0x100).u64(0x200).i64(77).raw(b"E").build();
        let ReplicationMessage::XLogData(xlog) = ReplicationMessage::decode(&frame)? else {
            panic!("expected XLogData");
        };
        assert_eq!((xlog.wal_start, xlog.wal_end, xlog.server_time), (Lsn(0x100), Lsn(0x200), 77));
        assert_eq!(xlog.data, Bytes::from_static(b"E"));
        assert_eq!(Some(xlog.data.as_ptr()), frame.get(25..).map(<[u8]>::as_ptr));
        let header_only = frame.slice(..25);
        assert!(matches!(
            ReplicationMessage::decode(&header_only)?,
            ReplicationMessage::XLogData(XLogData { data, .. }) if data.is_empty()
        ));
        for length in 0..25 {
            assert!(ReplicationMessage::decode(&frame.slice(..length)).is_err(), "prefix {length}");
        }
        Ok(())
    }

    #[test]
    fn primary_keepalive() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'k').u64(0x300).i64(-1).u8(1).build();
        let expected = PrimaryKeepalive { wal_end: Lsn(0x300), server_time: -1, reply_requested: true };
        assert_eq!(ReplicationMessage::decode(&frame)?, ReplicationMessage::PrimaryKeepalive(expected));
        for length in 0..frame.len() {
            assert!(ReplicationMessage::decode(&frame.slice(..length)).is_err(), "prefix {length}");
        }
        let trailing = Frame::tag(b'k').u64(0x300).i64(-1).u8(0).u8(0).build();
        assert!(matches!(
            ReplicationMessage::decode(&trailing),
            Err(PgOutputError::Malformed { problem: Problem::TrailingBytes { count: 1 }, .. })
        ));
        let bad_flag = Frame::tag(b'k').u64(0x300).i64(-1).u8(7).build();
        assert!(ReplicationMessage::decode(&bad_flag).is_err());
        Ok(())
    }

    #[test]
    fn unknown_envelope_tag() {
        let error = ReplicationMessage::decode(&Bytes::from_static(b"h")).err();
        assert_eq!(error.map(|e| e.to_string()), Some("replication: unknown message tag 0x68 ('h')".to_owned()));
    }

    #[test]
    fn standby_status_update_layout() {
        let update = StandbyStatusUpdate {
            written: Lsn(0x0102_0304_0506_0708),
            flushed: Lsn(0x10),
            applied: Lsn(0x20),
            client_time: 0x7f,
            reply_requested: true,
        };
        let expected = Frame::tag(b'r')
            .raw(&[1, 2, 3, 4, 5, 6, 7, 8])
            .raw(&[0, 0, 0, 0, 0, 0, 0, 0x10])
            .raw(&[0, 0, 0, 0, 0, 0, 0, 0x20])
            .raw(&[0, 0, 0, 0, 0, 0, 0, 0x7f])
            .u8(1)
            .build();
        assert_eq!(update.encode(), expected);
        assert_eq!(update.encode().len(), StandbyStatusUpdate::ENCODED_LEN);
    }

    #[test]
    fn epoch_conversion_saturates() {
        assert_eq!(postgres_time_to_unix_micros(0), POSTGRES_EPOCH_UNIX_MICROS);
        assert_eq!(postgres_time_to_unix_micros(i64::MAX), i64::MAX);
        assert_eq!(unix_micros_to_postgres_time(POSTGRES_EPOCH_UNIX_MICROS), 0);
        assert_eq!(unix_micros_to_postgres_time(i64::MIN), i64::MIN);
    }
}
