//! What can be wrong with a pgoutput or replication-envelope message.
//!
//! Every error names the protocol, the message (as the PostgreSQL
//! documentation titles it), the byte offset within the message (the tag byte
//! is offset 0) and what was wrong, so an operator can find the frame in a
//! capture: `pgoutput Update message: at byte 17: expected 4 more bytes, 2 left`.

use std::fmt;

/// A message could not be decoded. Decoding never panics; it returns this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PgOutputError {
    /// The message had no bytes at all, not even a tag.
    #[error("empty {protocol} message: no tag byte")]
    Empty {
        /// `pgoutput` or `replication`.
        protocol: &'static str,
    },
    /// The first byte is not a tag this protocol defines.
    #[error("{protocol}: unknown message tag {}", ByteRepr(*tag))]
    UnknownTag {
        /// `pgoutput` or `replication`.
        protocol: &'static str,
        /// The tag byte as received.
        tag: u8,
    },
    /// The [`DecodeContext`](super::DecodeContext) is not one a server can produce.
    #[error("invalid pgoutput decode context: {reason}")]
    InvalidContext {
        /// Which combination of settings is impossible.
        reason: &'static str,
    },
    /// The message exists, but not in the protocol version the stream was started with.
    #[error(
        "pgoutput {message} message: needs protocol version {required}, the stream uses version {protocol_version}"
    )]
    UnsupportedByVersion {
        /// The message's name in the specification.
        message: &'static str,
        /// The first protocol version that has this message.
        required: u32,
        /// The version the stream was started with.
        protocol_version: u32,
    },
    /// The message's bytes do not follow its format.
    #[error("{protocol} {message} message: at byte {offset}: {problem}")]
    Malformed {
        /// `pgoutput` or `replication`.
        protocol: &'static str,
        /// The message's name in the specification.
        message: &'static str,
        /// Offset of the offending field from the start of the message (the tag is byte 0).
        offset: usize,
        /// What is wrong there.
        problem: Problem,
    },
}

/// What is wrong at one position of a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The message ends before a field does.
    #[error("expected {needed} more bytes, {left} left")]
    Truncated {
        /// Bytes the field needs.
        needed: usize,
        /// Bytes the message still has.
        left: usize,
    },
    /// A String field has no NUL terminator before the end of the message.
    #[error("string has no terminating NUL byte")]
    UnterminatedString,
    /// A String field is not UTF-8 (Wellhead requires a UTF-8 server encoding).
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A count claims more items than the remaining bytes could hold.
    #[error("{count} {items} claimed, but only {left} bytes left")]
    CountTooLarge {
        /// The count as received.
        count: u64,
        /// What is counted.
        items: &'static str,
        /// Bytes the message still has.
        left: usize,
    },
    /// A tuple column kind other than `n`, `u`, `t`, `b`.
    #[error("unknown tuple column kind {}", ByteRepr(*kind))]
    UnknownColumnKind {
        /// The kind byte as received.
        kind: u8,
    },
    /// A replica identity other than `d`, `n`, `f`, `i`.
    #[error("unknown replica identity {}", ByteRepr(*setting))]
    UnknownReplicaIdentity {
        /// The byte as received.
        setting: u8,
    },
    /// A tuple marker (`N`, `K`, `O`) other than the ones allowed here.
    #[error("expected tuple marker {expected}, found {}", ByteRepr(*found))]
    UnexpectedTupleMarker {
        /// The markers allowed at this position.
        expected: &'static str,
        /// The byte as received.
        found: u8,
    },
    /// A flags field has bits the specification does not define.
    #[error("unknown bits {bits:#04x} in {field}")]
    UnknownFlags {
        /// The field's name.
        field: &'static str,
        /// The undefined bits that were set.
        bits: u8,
    },
    /// A one-byte boolean other than 0 or 1.
    #[error("{field} must be 0 or 1, found {value}")]
    InvalidBoolean {
        /// The field's name.
        field: &'static str,
        /// The byte as received.
        value: u8,
    },
    /// The message continues after its last field.
    #[error("{count} trailing bytes after the last field")]
    TrailingBytes {
        /// How many bytes are left over.
        count: usize,
    },
}

/// Shows a protocol byte as hex, with its character when it is printable ASCII.
struct ByteRepr(u8);

impl fmt::Display for ByteRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "{:#04x} ('{}')", self.0, char::from(self.0))
        } else {
            write!(f, "{:#04x}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_place_and_problem() {
        let error = PgOutputError::Malformed {
            protocol: "pgoutput",
            message: "Update",
            offset: 17,
            problem: Problem::Truncated { needed: 4, left: 2 },
        };
        assert_eq!(error.to_string(), "pgoutput Update message: at byte 17: expected 4 more bytes, 2 left");
        let error = PgOutputError::UnknownTag { protocol: "pgoutput", tag: 0x5a };
        assert_eq!(error.to_string(), "pgoutput: unknown message tag 0x5a ('Z')");
        let problem = Problem::UnknownColumnKind { kind: 0 };
        assert_eq!(problem.to_string(), "unknown tuple column kind 0x00");
    }
}
