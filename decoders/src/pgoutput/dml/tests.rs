use bytes::Bytes;

use super::super::PgOutputMessage;
use super::super::test_frame::{Frame, PLAIN, STREAMED, decode_strictly};
use super::super::tuple::TupleColumn;
use super::*;

/// A one-column tuple holding the text `value`.
fn tuple(frame: Frame, value: &'static str) -> Frame {
    let length = u32::try_from(value.len()).unwrap_or(u32::MAX);
    frame.u16(1).u8(b't').u32(length).raw(value.as_bytes())
}

fn tuple_data(value: &'static str) -> TupleData {
    TupleData { columns: vec![TupleColumn::Text(Bytes::from_static(value.as_bytes()))] }
}

#[test]
fn insert_plain_and_streamed() -> Result<(), PgOutputError> {
    let frame = tuple(Frame::tag(b'I').u32(16_384).u8(b'N'), "1").build();
    let expected = Insert { xid: None, relation_oid: 16_384, new: tuple_data("1") };
    assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::Insert(expected));

    let frame = tuple(Frame::tag(b'I').u32(77).u32(16_384).u8(b'N'), "1").build();
    let expected = Insert { xid: Some(77), relation_oid: 16_384, new: tuple_data("1") };
    assert_eq!(decode_strictly(&frame, &STREAMED)?, PgOutputMessage::Insert(expected));
    Ok(())
}

#[test]
fn insert_needs_new_tuple_marker() {
    let frame = tuple(Frame::tag(b'I').u32(16_384).u8(b'K'), "1").build();
    let error = PgOutputMessage::decode(&frame, &PLAIN).err();
    assert_eq!(
        error.map(|e| e.to_string()),
        Some("pgoutput Insert message: at byte 5: expected tuple marker 'N', found 0x4b ('K')".to_owned())
    );
}

#[test]
fn update_without_old_tuple() -> Result<(), PgOutputError> {
    let frame = tuple(Frame::tag(b'U').u32(1).u8(b'N'), "new").build();
    let expected = Update { xid: None, relation_oid: 1, old: None, new: tuple_data("new") };
    assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::Update(expected));
    Ok(())
}

#[test]
fn update_with_old_key_and_old_row() -> Result<(), PgOutputError> {
    for (marker, old) in [(b'K', OldTuple::Key(tuple_data("old"))), (b'O', OldTuple::Full(tuple_data("old")))] {
        let frame = tuple(Frame::tag(b'U').u32(9).u32(1).u8(marker), "old").u8(b'N');
        let frame = tuple(frame, "new").build();
        let expected = Update { xid: Some(9), relation_oid: 1, old: Some(old), new: tuple_data("new") };
        assert_eq!(decode_strictly(&frame, &STREAMED)?, PgOutputMessage::Update(expected));
    }
    Ok(())
}

#[test]
fn update_rejects_bad_markers() {
    let no_new = tuple(Frame::tag(b'U').u32(1).u8(b'K'), "old").u8(b'K');
    assert!(PgOutputMessage::decode(&tuple(no_new, "x").build(), &PLAIN).is_err());
    let unknown = tuple(Frame::tag(b'U').u32(1).u8(b'X'), "new").build();
    assert!(PgOutputMessage::decode(&unknown, &PLAIN).is_err());
}

#[test]
fn delete_key_and_full() -> Result<(), PgOutputError> {
    let frame = tuple(Frame::tag(b'D').u32(1).u8(b'K'), "7").build();
    let expected = Delete { xid: None, relation_oid: 1, old: OldTuple::Key(tuple_data("7")) };
    assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::Delete(expected));

    let frame = tuple(Frame::tag(b'D').u32(3).u32(1).u8(b'O'), "7").build();
    let expected = Delete { xid: Some(3), relation_oid: 1, old: OldTuple::Full(tuple_data("7")) };
    assert_eq!(decode_strictly(&frame, &STREAMED)?, PgOutputMessage::Delete(expected));

    let new_marker = tuple(Frame::tag(b'D').u32(1).u8(b'N'), "7").build();
    assert!(PgOutputMessage::decode(&new_marker, &PLAIN).is_err());
    Ok(())
}

#[test]
fn truncate_options_and_relations() -> Result<(), PgOutputError> {
    let frame = Frame::tag(b'T').u32(2).u8(3).u32(16_384).u32(16_390).build();
    let expected = Truncate { xid: None, cascade: true, restart_identity: true, relation_oids: vec![16_384, 16_390] };
    assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::Truncate(expected));

    let frame = Frame::tag(b'T').u32(12).u32(1).u8(0).u32(5).build();
    let expected = Truncate { xid: Some(12), cascade: false, restart_identity: false, relation_oids: vec![5] };
    assert_eq!(decode_strictly(&frame, &STREAMED)?, PgOutputMessage::Truncate(expected));
    Ok(())
}

#[test]
fn truncate_rejects_unknown_options_and_huge_counts() {
    let unknown_option = Frame::tag(b'T').u32(1).u8(4).u32(5).build();
    assert!(PgOutputMessage::decode(&unknown_option, &PLAIN).is_err());
    let huge = Frame::tag(b'T').u32(u32::MAX).u8(0).u32(5).build();
    assert!(matches!(
        PgOutputMessage::decode(&huge, &PLAIN),
        Err(PgOutputError::Malformed { problem: Problem::CountTooLarge { .. }, offset: 6, .. })
    ));
}
