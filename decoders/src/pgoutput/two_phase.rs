//! Two-phase commit (protocol version 3+, `two_phase = true`; PostgreSQL docs,
//! "Logical Replication Message Formats").
//!
//! ```text
//!  Begin Prepare ─ changes ─ Prepare ... later: Commit Prepared | Rollback Prepared
//!  (streamed: Stream Start ... Stream Stop ─ Stream Prepare ─ ... the same ending)
//! ```
//!
//! The `gid` ties the later Commit/Rollback Prepared to its Prepare.

use super::cursor::MessageReader;
use super::error::PgOutputError;
use crate::change::Lsn;

/// Begin Prepare (`b`), spec section "Begin Prepare".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeginPrepare {
    /// The LSN of the prepare.
    pub prepare_lsn: Lsn,
    /// The end LSN of the prepared transaction.
    pub end_lsn: Lsn,
    /// Prepare timestamp, microseconds since 2000-01-01, as sent.
    pub prepare_time: i64,
    /// Xid of the transaction.
    pub xid: u32,
    /// The user-defined GID of the prepared transaction.
    pub gid: String,
}

impl BeginPrepare {
    pub(super) fn decode(reader: &mut MessageReader<'_>) -> Result<Self, PgOutputError> {
        Ok(BeginPrepare {
            prepare_lsn: reader.read_lsn()?,
            end_lsn: reader.read_lsn()?,
            prepare_time: reader.read_i64()?,
            xid: reader.read_u32()?,
            gid: reader.read_cstring()?,
        })
    }
}

/// Prepare (`P`), spec section "Prepare".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepare {
    /// Flags; currently unused (0). Kept as sent.
    pub flags: u8,
    /// The LSN of the prepare.
    pub prepare_lsn: Lsn,
    /// The end LSN of the prepared transaction.
    pub end_lsn: Lsn,
    /// Prepare timestamp, microseconds since 2000-01-01, as sent.
    pub prepare_time: i64,
    /// Xid of the transaction.
    pub xid: u32,
    /// The user-defined GID of the prepared transaction.
    pub gid: String,
}

impl Prepare {
    pub(super) fn decode(reader: &mut MessageReader<'_>) -> Result<Self, PgOutputError> {
        Ok(Prepare {
            flags: reader.read_u8()?,
            prepare_lsn: reader.read_lsn()?,
            end_lsn: reader.read_lsn()?,
            prepare_time: reader.read_i64()?,
            xid: reader.read_u32()?,
            gid: reader.read_cstring()?,
        })
    }
}

/// Commit Prepared (`K`), spec section "Commit Prepared".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPrepared {
    /// Flags; currently unused (0). Kept as sent.
    pub flags: u8,
    /// The LSN of the commit of the prepared transaction.
    pub commit_lsn: Lsn,
    /// The end LSN of the commit of the prepared transaction.
    pub end_lsn: Lsn,
    /// Commit timestamp, microseconds since 2000-01-01, as sent.
    pub commit_time: i64,
    /// Xid of the transaction.
    pub xid: u32,
    /// The user-defined GID of the prepared transaction.
    pub gid: String,
}

impl CommitPrepared {
    pub(super) fn decode(reader: &mut MessageReader<'_>) -> Result<Self, PgOutputError> {
        Ok(CommitPrepared {
            flags: reader.read_u8()?,
            commit_lsn: reader.read_lsn()?,
            end_lsn: reader.read_lsn()?,
            commit_time: reader.read_i64()?,
            xid: reader.read_u32()?,
            gid: reader.read_cstring()?,
        })
    }
}

/// Rollback Prepared (`r`), spec section "Rollback Prepared".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackPrepared {
    /// Flags; currently unused (0). Kept as sent.
    pub flags: u8,
    /// The end LSN of the prepared transaction.
    pub prepare_end_lsn: Lsn,
    /// The end LSN of the rollback of the prepared transaction.
    pub rollback_end_lsn: Lsn,
    /// Prepare timestamp, microseconds since 2000-01-01, as sent.
    pub prepare_time: i64,
    /// Rollback timestamp, microseconds since 2000-01-01, as sent.
    pub rollback_time: i64,
    /// Xid of the transaction.
    pub xid: u32,
    /// The user-defined GID of the prepared transaction.
    pub gid: String,
}

impl RollbackPrepared {
    pub(super) fn decode(reader: &mut MessageReader<'_>) -> Result<Self, PgOutputError> {
        Ok(RollbackPrepared {
            flags: reader.read_u8()?,
            prepare_end_lsn: reader.read_lsn()?,
            rollback_end_lsn: reader.read_lsn()?,
            prepare_time: reader.read_i64()?,
            rollback_time: reader.read_i64()?,
            xid: reader.read_u32()?,
            gid: reader.read_cstring()?,
        })
    }
}

/// Stream Prepare (`p`), spec section "Stream Prepare": a streamed transaction was prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPrepare {
    /// Flags; currently unused (0). Kept as sent.
    pub flags: u8,
    /// The LSN of the prepare.
    pub prepare_lsn: Lsn,
    /// The end LSN of the prepared transaction.
    pub end_lsn: Lsn,
    /// Prepare timestamp, microseconds since 2000-01-01, as sent.
    pub prepare_time: i64,
    /// Xid of the transaction.
    pub xid: u32,
    /// The user-defined GID of the prepared transaction.
    pub gid: String,
}

impl StreamPrepare {
    pub(super) fn decode(reader: &mut MessageReader<'_>) -> Result<Self, PgOutputError> {
        let Prepare { flags, prepare_lsn, end_lsn, prepare_time, xid, gid } = Prepare::decode(reader)?;
        Ok(StreamPrepare { flags, prepare_lsn, end_lsn, prepare_time, xid, gid })
    }
}

#[cfg(test)]
mod tests;
