//! The pgoutput logical replication protocol, mapped literally: one struct per
//! message of PostgreSQL's "Logical Replication Message Formats", fields named
//! as the specification names them. Conversion into [`crate::change`] lives
//! elsewhere.
//!
//! ```text
//!  CopyData ──► replication::ReplicationMessage ──XLogData.data──► PgOutputMessage::decode
//!                 (XLogData 'w', keepalive 'k')                      (with a DecodeContext)
//! ```
//!
//! Decoding is stateless: the caller tracks what the byte format depends on
//! (the protocol version it asked for, whether it is between Stream Start and
//! Stream Stop, whether it asked for `streaming = parallel`) in a
//! [`DecodeContext`]. Decoders never panic and are strict: a message must be
//! consumed exactly, undefined flag bits and enum bytes are errors.

mod cursor;
mod dml;
mod error;
mod message;
mod relation;
mod replication;
mod stream;
#[cfg(test)]
mod test_frame;
mod transaction;
mod tuple;
mod two_phase;

use bytes::Bytes;

use cursor::MessageReader;
pub use dml::{Delete, Insert, OldTuple, Truncate, Update};
pub use error::{PgOutputError, Problem};
pub use message::LogicalMessage;
pub use relation::{Relation, RelationColumn, ReplicaIdentity, TypeMessage};
pub use replication::{
    POSTGRES_EPOCH_UNIX_MICROS, PrimaryKeepalive, ReplicationMessage, StandbyStatusUpdate, XLogData,
    postgres_time_to_unix_micros, unix_micros_to_postgres_time,
};
pub use stream::{StreamAbort, StreamCommit, StreamStart};
pub use transaction::{Begin, Commit, Origin};
pub use tuple::{TupleColumn, TupleData};
pub use two_phase::{BeginPrepare, CommitPrepared, Prepare, RollbackPrepared, StreamPrepare};

/// The highest pgoutput protocol version this decoder knows (PostgreSQL 16+).
pub const MAX_PROTOCOL_VERSION: u32 = 4;

/// What the byte format of a message depends on, tracked by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeContext {
    /// `proto_version` given to START_REPLICATION, 1 to [`MAX_PROTOCOL_VERSION`].
    pub protocol_version: u32,
    /// Between a Stream Start and its Stream Stop: Relation, Type, Insert,
    /// Update, Delete, Truncate and Message then carry the streamed xid.
    pub in_streamed_block: bool,
    /// START_REPLICATION asked for `streaming = parallel` (version 4+): Stream
    /// Abort then carries the abort LSN and time.
    pub parallel_streaming: bool,
}

impl DecodeContext {
    /// Outside any streamed block, without parallel streaming.
    pub fn new(protocol_version: u32) -> Self {
        DecodeContext { protocol_version, in_streamed_block: false, parallel_streaming: false }
    }

    fn validate(&self) -> Result<(), PgOutputError> {
        let reason = if !(1..=MAX_PROTOCOL_VERSION).contains(&self.protocol_version) {
            "protocol_version must be between 1 and 4"
        } else if self.in_streamed_block && self.protocol_version < 2 {
            "streamed blocks need protocol version 2 or later"
        } else if self.parallel_streaming && self.protocol_version < 4 {
            "parallel streaming needs protocol version 4 or later"
        } else {
            return Ok(());
        };
        Err(PgOutputError::InvalidContext { reason })
    }
}

/// One pgoutput message: the `data` of an XLogData frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgOutputMessage {
    /// `B`: a transaction starts.
    Begin(Begin),
    /// `C`: the transaction started by the last Begin commits.
    Commit(Commit),
    /// `O`: the transaction came from another node by replication.
    Origin(Origin),
    /// `R`: a table's description, sent before its first change (and after DDL).
    Relation(Relation),
    /// `Y`: a non-built-in type a following Relation refers to.
    Type(TypeMessage),
    /// `I`: a row was inserted.
    Insert(Insert),
    /// `U`: a row was updated.
    Update(Update),
    /// `D`: a row was deleted.
    Delete(Delete),
    /// `T`: tables were truncated.
    Truncate(Truncate),
    /// `M`: a logical decoding message (`pg_logical_emit_message`).
    Message(LogicalMessage),
    /// `S`: a block of changes of an in-progress transaction starts (v2).
    StreamStart(StreamStart),
    /// `E`: the end of a block of streamed changes; the message has no fields.
    StreamStop,
    /// `c`: a streamed transaction commits (v2).
    StreamCommit(StreamCommit),
    /// `A`: a streamed transaction or subtransaction aborts (v2).
    StreamAbort(StreamAbort),
    /// `b`: a two-phase transaction's changes start (v3).
    BeginPrepare(BeginPrepare),
    /// `P`: a two-phase transaction was prepared (v3).
    Prepare(Prepare),
    /// `K`: a prepared transaction commits (v3).
    CommitPrepared(CommitPrepared),
    /// `r`: a prepared transaction rolls back (v3).
    RollbackPrepared(RollbackPrepared),
    /// `p`: a streamed transaction was prepared (v3).
    StreamPrepare(StreamPrepare),
}

/// The specification's name and first protocol version of the message with `tag`.
pub fn message_spec(tag: u8) -> Option<(&'static str, u32)> {
    Some(match tag {
        b'B' => ("Begin", 1),
        b'C' => ("Commit", 1),
        b'O' => ("Origin", 1),
        b'R' => ("Relation", 1),
        b'Y' => ("Type", 1),
        b'I' => ("Insert", 1),
        b'U' => ("Update", 1),
        b'D' => ("Delete", 1),
        b'T' => ("Truncate", 1),
        b'M' => ("Message", 1),
        b'S' => ("Stream Start", 2),
        b'E' => ("Stream Stop", 2),
        b'c' => ("Stream Commit", 2),
        b'A' => ("Stream Abort", 2),
        b'b' => ("Begin Prepare", 3),
        b'P' => ("Prepare", 3),
        b'K' => ("Commit Prepared", 3),
        b'r' => ("Rollback Prepared", 3),
        b'p' => ("Stream Prepare", 3),
        _ => return None,
    })
}

impl PgOutputMessage {
    /// Decodes one whole message, tag byte first. Text and binary column data
    /// and message contents are zero-copy slices of `bytes`.
    pub fn decode(bytes: &Bytes, context: &DecodeContext) -> Result<PgOutputMessage, PgOutputError> {
        context.validate()?;
        let &tag = bytes.first().ok_or(PgOutputError::Empty { protocol: "pgoutput" })?;
        let (name, required) = message_spec(tag).ok_or(PgOutputError::UnknownTag { protocol: "pgoutput", tag })?;
        if context.protocol_version < required {
            return Err(PgOutputError::UnsupportedByVersion {
                message: name,
                required,
                protocol_version: context.protocol_version,
            });
        }
        let mut reader = MessageReader::new(bytes, 1, "pgoutput", name);
        let message = decode_fields(tag, &mut reader, context)?;
        reader.finish()?;
        Ok(message)
    }
}

/// Decodes the fields after the tag byte of a message known to exist in `context`'s version.
fn decode_fields(
    tag: u8,
    reader: &mut MessageReader<'_>,
    context: &DecodeContext,
) -> Result<PgOutputMessage, PgOutputError> {
    Ok(match tag {
        b'B' => PgOutputMessage::Begin(Begin::decode(reader)?),
        b'C' => PgOutputMessage::Commit(Commit::decode(reader)?),
        b'O' => PgOutputMessage::Origin(Origin::decode(reader)?),
        b'R' => PgOutputMessage::Relation(Relation::decode(reader, context)?),
        b'Y' => PgOutputMessage::Type(TypeMessage::decode(reader, context)?),
        b'I' => PgOutputMessage::Insert(Insert::decode(reader, context)?),
        b'U' => PgOutputMessage::Update(Update::decode(reader, context)?),
        b'D' => PgOutputMessage::Delete(Delete::decode(reader, context)?),
        b'T' => PgOutputMessage::Truncate(Truncate::decode(reader, context)?),
        b'M' => PgOutputMessage::Message(LogicalMessage::decode(reader, context)?),
        b'S' => PgOutputMessage::StreamStart(StreamStart::decode(reader)?),
        b'E' => PgOutputMessage::StreamStop,
        b'c' => PgOutputMessage::StreamCommit(StreamCommit::decode(reader)?),
        b'A' => PgOutputMessage::StreamAbort(StreamAbort::decode(reader, context)?),
        b'b' => PgOutputMessage::BeginPrepare(BeginPrepare::decode(reader)?),
        b'P' => PgOutputMessage::Prepare(Prepare::decode(reader)?),
        b'K' => PgOutputMessage::CommitPrepared(CommitPrepared::decode(reader)?),
        b'r' => PgOutputMessage::RollbackPrepared(RollbackPrepared::decode(reader)?),
        b'p' => PgOutputMessage::StreamPrepare(StreamPrepare::decode(reader)?),
        _ => {
            return Err(PgOutputError::UnknownTag { protocol: "pgoutput", tag });
        }
    })
}

#[cfg(test)]
mod tests;
