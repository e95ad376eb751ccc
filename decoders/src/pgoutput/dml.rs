//! Row changes: Insert (`I`), Update (`U`), Delete (`D`) and Truncate (`T`)
//! (PostgreSQL docs, "Logical Replication Message Formats").
//!
//! Which old-row image Update and Delete carry depends on the relation's
//! replica identity: the key columns (`K`), the whole old row (`O`, REPLICA
//! IDENTITY FULL) or, for an Update that did not change the key, nothing.

use super::DecodeContext;
use super::cursor::MessageReader;
use super::error::{PgOutputError, Problem};
use super::tuple::TupleData;

/// Truncate option bit: `CASCADE`.
const TRUNCATE_CASCADE: u8 = 1;
/// Truncate option bit: `RESTART IDENTITY`.
const TRUNCATE_RESTART_IDENTITY: u8 = 2;

/// The old-row image of an Update or Delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTuple {
    /// `K`: the replica identity key columns; the other columns are Null.
    Key(TupleData),
    /// `O`: the whole old row (REPLICA IDENTITY FULL).
    Full(TupleData),
}

/// Insert (`I`), spec section "Insert".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    /// Xid of the transaction; present only inside a streamed block (v2+).
    pub xid: Option<u32>,
    /// OID of the relation, as in its Relation message.
    pub relation_oid: u32,
    /// The new tuple (`N`).
    pub new: TupleData,
}

impl Insert {
    pub(super) fn decode(reader: &mut MessageReader<'_>, context: &DecodeContext) -> Result<Self, PgOutputError> {
        let xid = reader.read_xid_if(context.in_streamed_block)?;
        let relation_oid = reader.read_u32()?;
        read_marker(reader, b"N", "'N'")?;
        Ok(Insert { xid, relation_oid, new: TupleData::decode(reader)? })
    }
}

/// Update (`U`), spec section "Update".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// Xid of the transaction; present only inside a streamed block (v2+).
    pub xid: Option<u32>,
    /// OID of the relation, as in its Relation message.
    pub relation_oid: u32,
    /// The old key (`K`) or old row (`O`), when the server sent one.
    pub old: Option<OldTuple>,
    /// The new tuple (`N`).
    pub new: TupleData,
}

impl Update {
    pub(super) fn decode(reader: &mut MessageReader<'_>, context: &DecodeContext) -> Result<Self, PgOutputError> {
        let xid = reader.read_xid_if(context.in_streamed_block)?;
        let relation_oid = reader.read_u32()?;
        let old = match read_marker(reader, b"KON", "'K', 'O' or 'N'")? {
            b'K' => Some(OldTuple::Key(TupleData::decode(reader)?)),
            b'O' => Some(OldTuple::Full(TupleData::decode(reader)?)),
            _ => None,
        };
        if old.is_some() {
            read_marker(reader, b"N", "'N'")?;
        }
        Ok(Update { xid, relation_oid, old, new: TupleData::decode(reader)? })
    }
}

/// Delete (`D`), spec section "Delete".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// Xid of the transaction; present only inside a streamed block (v2+).
    pub xid: Option<u32>,
    /// OID of the relation, as in its Relation message.
    pub relation_oid: u32,
    /// The old key (`K`) or old row (`O`).
    pub old: OldTuple,
}

impl Delete {
    pub(super) fn decode(reader: &mut MessageReader<'_>, context: &DecodeContext) -> Result<Self, PgOutputError> {
        let xid = reader.read_xid_if(context.in_streamed_block)?;
        let relation_oid = reader.read_u32()?;
        let old = match read_marker(reader, b"KO", "'K' or 'O'")? {
            b'K' => OldTuple::Key(TupleData::decode(reader)?),
            _ => OldTuple::Full(TupleData::decode(reader)?),
        };
        Ok(Delete { xid, relation_oid, old })
    }
}

/// Truncate (`T`), spec section "Truncate".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    /// Xid of the transaction; present only inside a streamed block (v2+).
    pub xid: Option<u32>,
    /// Option bit 1: `CASCADE`.
    pub cascade: bool,
    /// Option bit 2: `RESTART IDENTITY`.
    pub restart_identity: bool,
    /// OIDs of the truncated relations.
    pub relation_oids: Vec<u32>,
}

impl Truncate {
    pub(super) fn decode(reader: &mut MessageReader<'_>, context: &DecodeContext) -> Result<Self, PgOutputError> {
        let xid = reader.read_xid_if(context.in_streamed_block)?;
        let relation_count = reader.read_u32()?;
        let options = reader.read_flags("option bits", TRUNCATE_CASCADE | TRUNCATE_RESTART_IDENTITY)?;
        let capacity = reader.capacity_for(u64::from(relation_count), 4, "relations")?;
        let mut relation_oids = Vec::with_capacity(capacity);
        for _ in 0..relation_count {
            relation_oids.push(reader.read_u32()?);
        }
        Ok(Truncate {
            xid,
            cascade: options & TRUNCATE_CASCADE != 0,
            restart_identity: options & TRUNCATE_RESTART_IDENTITY != 0,
            relation_oids,
        })
    }
}

/// Reads a tuple marker byte, which must be one of `allowed`.
fn read_marker(reader: &mut MessageReader<'_>, allowed: &[u8], expected: &'static str) -> Result<u8, PgOutputError> {
    let offset = reader.offset();
    let found = reader.read_u8()?;
    if allowed.contains(&found) {
        Ok(found)
    } else {
        Err(reader.error_at(offset, Problem::UnexpectedTupleMarker { expected, found }))
    }
}

#[cfg(test)]
mod tests;
