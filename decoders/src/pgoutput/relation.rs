//! Schema messages: Relation (`R`) and Type (`Y`) (PostgreSQL docs, "Logical
//! Replication Message Formats").
//!
//! The server sends a Relation before the first change of a table in a
//! session and again after the table's definition changed; tuples that follow
//! have one column per [`RelationColumn`], in order.

use super::DecodeContext;
use super::cursor::MessageReader;
use super::error::{PgOutputError, Problem};

/// Flag bit of a Relation column: part of the replica identity (key).
const COLUMN_FLAG_KEY: u8 = 1;
/// Smallest encoded column: flags, empty name's NUL, type OID, type modifier.
const MIN_COLUMN_SIZE: usize = 1 + 1 + 4 + 4;

/// A table's `REPLICA IDENTITY` setting: what old-row data Update and Delete carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplicaIdentity {
    /// `d`: the primary key columns.
    Default,
    /// `n`: nothing.
    Nothing,
    /// `f`: all columns.
    Full,
    /// `i`: the columns of a chosen unique index.
    Index,
}

impl ReplicaIdentity {
    fn from_byte(setting: u8) -> Option<Self> {
        Some(match setting {
            b'd' => ReplicaIdentity::Default,
            b'n' => ReplicaIdentity::Nothing,
            b'f' => ReplicaIdentity::Full,
            b'i' => ReplicaIdentity::Index,
            _ => return None,
        })
    }
}

/// Relation (`R`), spec section "Relation".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Xid of the transaction; present only inside a streamed block (v2+).
    pub xid: Option<u32>,
    /// OID of the relation.
    pub relation_oid: u32,
    /// Namespace; empty means `pg_catalog`, as sent.
    pub namespace: String,
    /// Relation name.
    pub name: String,
    /// Replica identity setting for the relation.
    pub replica_identity: ReplicaIdentity,
    /// The published columns, in tuple order.
    pub columns: Vec<RelationColumn>,
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Flags bit 1: the column is part of the key (all columns under REPLICA IDENTITY FULL).
    pub is_key: bool,
    /// Name of the column.
    pub name: String,
    /// OID of the column's data type.
    pub type_oid: u32,
    /// Type modifier of the column (`atttypmod`; -1 when none).
    pub type_modifier: i32,
}

impl Relation {
    pub(super) fn decode(reader: &mut MessageReader<'_>, context: &DecodeContext) -> Result<Self, PgOutputError> {
        let xid = reader.read_xid_if(context.in_streamed_block)?;
        let relation_oid = reader.read_u32()?;
        let namespace = reader.read_cstring()?;
        let name = reader.read_cstring()?;
        let setting_offset = reader.offset();
        let setting = reader.read_u8()?;
        let replica_identity = ReplicaIdentity::from_byte(setting)
            .ok_or_else(|| reader.error_at(setting_offset, Problem::UnknownReplicaIdentity { setting }))?;
        let column_count = reader.read_u16()?;
        let capacity = reader.capacity_for(u64::from(column_count), MIN_COLUMN_SIZE, "columns")?;
        let mut columns = Vec::with_capacity(capacity);
        for _ in 0..column_count {
            let flags = reader.read_flags("column flags", COLUMN_FLAG_KEY)?;
            columns.push(RelationColumn {
                is_key: flags & COLUMN_FLAG_KEY != 0,
                name: reader.read_cstring()?,
                type_oid: reader.read_u32()?,
                type_modifier: reader.read_i32()?,
            });
        }
        Ok(Relation { xid, relation_oid, namespace, name, replica_identity, columns })
    }
}

/// Type (`Y`), spec section "Type": names a type that is not built in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMessage {
    /// Xid of the transaction; present only inside a streamed block (v2+).
    pub xid: Option<u32>,
    /// OID of the data type.
    pub type_oid: u32,
    /// Namespace; empty means `pg_catalog`, as sent.
    pub namespace: String,
    /// Name of the data type.
    pub name: String,
}

impl TypeMessage {
    pub(super) fn decode(reader: &mut MessageReader<'_>, context: &DecodeContext) -> Result<Self, PgOutputError> {
        Ok(TypeMessage {
            xid: reader.read_xid_if(context.in_streamed_block)?,
            type_oid: reader.read_u32()?,
            namespace: reader.read_cstring()?,
            name: reader.read_cstring()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::PgOutputMessage;
    use super::super::test_frame::{Frame, PLAIN, STREAMED, decode_strictly};
    use super::*;

    fn relation_frame(xid: Option<u32>, identity: u8, key_flags: u8) -> Frame {
        let frame = Frame::tag(b'R');
        let frame = match xid {
            Some(xid) => frame.u32(xid),
            None => frame,
        };
        frame
            .u32(16_384)
            .cstr("public")
            .cstr("orders")
            .u8(identity)
            .u16(2)
            .u8(key_flags)
            .cstr("id")
            .u32(23)
            .i32(-1)
            .u8(0)
            .cstr("note")
            .u32(1043)
            .i32(68)
    }

    fn expected_relation(xid: Option<u32>) -> Relation {
        Relation {
            xid,
            relation_oid: 16_384,
            namespace: "public".to_owned(),
            name: "orders".to_owned(),
            replica_identity: ReplicaIdentity::Default,
            columns: vec![
                RelationColumn { is_key: true, name: "id".to_owned(), type_oid: 23, type_modifier: -1 },
                RelationColumn { is_key: false, name: "note".to_owned(), type_oid: 1043, type_modifier: 68 },
            ],
        }
    }

    #[test]
    fn relation_outside_and_inside_a_streamed_block() -> Result<(), PgOutputError> {
        let plain = relation_frame(None, b'd', 1).build();
        let expected = PgOutputMessage::Relation(expected_relation(None));
        assert_eq!(decode_strictly(&plain, &PLAIN)?, expected);
        let streamed = relation_frame(Some(900), b'd', 1).build();
        let expected = PgOutputMessage::Relation(expected_relation(Some(900)));
        assert_eq!(decode_strictly(&streamed, &STREAMED)?, expected);
        assert!(PgOutputMessage::decode(&streamed, &PLAIN).is_err());
        Ok(())
    }

    #[test]
    fn replica_identities_and_unknown_bytes() {
        for (byte, identity) in [
            (b'd', ReplicaIdentity::Default),
            (b'n', ReplicaIdentity::Nothing),
            (b'f', ReplicaIdentity::Full),
            (b'i', ReplicaIdentity::Index),
        ] {
            let decoded = PgOutputMessage::decode(&relation_frame(None, byte, 1).build(), &PLAIN);
            assert!(matches!(decoded, Ok(PgOutputMessage::Relation(r)) if r.replica_identity == identity));
        }
        let error = PgOutputMessage::decode(&relation_frame(None, b'x', 1).build(), &PLAIN).err();
        assert_eq!(
            error.map(|e| e.to_string()),
            Some("pgoutput Relation message: at byte 19: unknown replica identity 0x78 ('x')".to_owned())
        );
        let unknown_flag = PgOutputMessage::decode(&relation_frame(None, b'd', 3).build(), &PLAIN);
        assert!(unknown_flag.is_err());
    }

    #[test]
    fn huge_column_count_is_refused_before_allocating() {
        let frame = Frame::tag(b'R').u32(1).cstr("").cstr("t").u8(b'f').u16(u16::MAX).build();
        let error = PgOutputMessage::decode(&frame, &PLAIN);
        assert!(matches!(
            error,
            Err(PgOutputError::Malformed { problem: Problem::CountTooLarge { count: 65_535, .. }, .. })
        ));
    }

    #[test]
    fn type_message() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'Y').u32(70_001).cstr("").cstr("mood").build();
        let expected = TypeMessage { xid: None, type_oid: 70_001, namespace: String::new(), name: "mood".to_owned() };
        assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::Type(expected));
        let frame = Frame::tag(b'Y').u32(5).u32(70_001).cstr("app").cstr("mood").build();
        let decoded = decode_strictly(&frame, &STREAMED)?;
        assert!(matches!(decoded, PgOutputMessage::Type(TypeMessage { xid: Some(5), .. })));
        Ok(())
    }
}
