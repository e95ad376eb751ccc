//! TupleData (PostgreSQL docs, "Logical Replication Message Formats"): the
//! column values of one row image inside Insert, Update and Delete.
//!
//! Values stay as the server sent them (text output or binary send format);
//! turning them into typed values needs the column types of the Relation and
//! is `pgvalue`'s job. Value bytes are zero-copy slices of the message.

use bytes::Bytes;

use super::cursor::MessageReader;
use super::error::{PgOutputError, Problem};

/// The smallest encoded column: its kind byte alone (`n` or `u`).
const MIN_COLUMN_SIZE: usize = 1;

/// TupleData, spec section "TupleData": one entry per column of the relation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TupleData {
    /// The columns, in the order of the relation's columns.
    pub columns: Vec<TupleColumn>,
}

/// One column of a [`TupleData`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleColumn {
    /// `n`: the value is NULL.
    Null,
    /// `u`: an unchanged TOASTed value; the server did not send it.
    UnchangedToast,
    /// `t`: the value in the type's text output format.
    Text(Bytes),
    /// `b`: the value in the type's binary send format (`binary = true`).
    Binary(Bytes),
}

impl TupleData {
    pub(super) fn decode(reader: &mut MessageReader<'_>) -> Result<Self, PgOutputError> {
        let column_count = reader.read_u16()?;
        let capacity = reader.capacity_for(u64::from(column_count), MIN_COLUMN_SIZE, "columns")?;
        let mut columns = Vec::with_capacity(capacity);
        for _ in 0..column_count {
            columns.push(TupleColumn::decode(reader)?);
        }
        Ok(TupleData { columns })
    }
}

impl TupleColumn {
    fn decode(reader: &mut MessageReader<'_>) -> Result<Self, PgOutputError> {
        let kind_offset = reader.offset();
        match reader.read_u8()? {
            b'n' => Ok(TupleColumn::Null),
            b'u' => Ok(TupleColumn::UnchangedToast),
            b't' => Ok(TupleColumn::Text(read_value(reader)?)),
            b'b' => Ok(TupleColumn::Binary(read_value(reader)?)),
            kind => Err(reader.error_at(kind_offset, Problem::UnknownColumnKind { kind })),
        }
    }
}

/// `Int32` length, then that many bytes.
fn read_value(reader: &mut MessageReader<'_>) -> Result<Bytes, PgOutputError> {
    let length = reader.read_u32()?;
    // On a 16-bit target a length beyond usize cannot fit in the message either.
    reader.read_bytes(usize::try_from(length).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::super::test_frame::Frame;
    use super::*;

    fn decode(frame: &Bytes) -> Result<TupleData, PgOutputError> {
        let mut reader = MessageReader::new(frame, 1, "pgoutput", "Insert");
        let tuple = TupleData::decode(&mut reader)?;
        reader.finish()?;
        Ok(tuple)
    }

    #[test]
    fn every_column_kind() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'N')
            .u16(4)
            .u8(b'n')
            .u8(b'u')
            .u8(b't')
            .u32(2)
            .raw(b"42")
            .u8(b'b')
            .u32(4)
            .raw(&[0, 0, 0, 42])
            .build();
        let tuple = decode(&frame)?;
        assert_eq!(
            tuple.columns,
            vec![
                TupleColumn::Null,
                TupleColumn::UnchangedToast,
                TupleColumn::Text(Bytes::from_static(b"42")),
                TupleColumn::Binary(Bytes::from_static(&[0, 0, 0, 42])),
            ]
        );
        for length in 1..frame.len() {
            assert!(decode(&frame.slice(..length)).is_err(), "prefix {length}");
        }
        Ok(())
    }

    #[test]
    fn values_are_slices_of_the_message() -> Result<(), PgOutputError> {
        let frame = Frame::tag(b'N').u16(1).u8(b't').u32(5).raw(b"hello").build();
        let tuple = decode(&frame)?;
        let Some(TupleColumn::Text(text)) = tuple.columns.first() else {
            panic!("expected one text column, got {tuple:?}");
        };
        assert_eq!(Some(text.as_ptr()), frame.get(8..).map(<[u8]>::as_ptr));
        Ok(())
    }

    #[test]
    fn empty_tuple_and_empty_value() -> Result<(), PgOutputError> {
        assert_eq!(decode(&Frame::tag(b'N').u16(0).build())?, TupleData::default());
        let tuple = decode(&Frame::tag(b'N').u16(1).u8(b't').u32(0).build())?;
        assert_eq!(tuple.columns, vec![TupleColumn::Text(Bytes::new())]);
        Ok(())
    }

    #[test]
    fn malformed_columns() {
        let error = decode(&Frame::tag(b'N').u16(1).u8(b'x').build()).err();
        assert_eq!(
            error.map(|e| e.to_string()),
            Some("pgoutput Insert message: at byte 3: unknown tuple column kind 0x78 ('x')".to_owned())
        );
        let huge_length = Frame::tag(b'N').u16(1).u8(b'b').u32(u32::MAX).raw(b"ab").build();
        assert!(decode(&huge_length).is_err());
        let huge_count = Frame::tag(b'N').u16(u16::MAX).u8(b'n').build();
        assert!(matches!(
            decode(&huge_count),
            Err(PgOutputError::Malformed { problem: Problem::CountTooLarge { .. }, .. })
        ));
    }
}
