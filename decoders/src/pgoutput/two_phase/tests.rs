use super::super::test_frame::{Frame, PLAIN, decode_strictly};
use super::super::{DecodeContext, PgOutputMessage};
use super::*;

#[test]
fn begin_prepare() -> Result<(), PgOutputError> {
    let frame = Frame::tag(b'b').u64(10).u64(20).i64(30).u32(40).cstr("tx-1").build();
    let expected =
        BeginPrepare { prepare_lsn: Lsn(10), end_lsn: Lsn(20), prepare_time: 30, xid: 40, gid: "tx-1".to_owned() };
    assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::BeginPrepare(expected));
    Ok(())
}

#[test]
fn prepare_and_stream_prepare_share_a_layout() -> Result<(), PgOutputError> {
    let fields = |tag| Frame::tag(tag).u8(0).u64(10).u64(20).i64(30).u32(40).cstr("tx-1").build();
    let expected =
        Prepare { flags: 0, prepare_lsn: Lsn(10), end_lsn: Lsn(20), prepare_time: 30, xid: 40, gid: "tx-1".to_owned() };
    assert_eq!(decode_strictly(&fields(b'P'), &PLAIN)?, PgOutputMessage::Prepare(expected.clone()));
    let Prepare { flags, prepare_lsn, end_lsn, prepare_time, xid, gid } = expected;
    let expected = StreamPrepare { flags, prepare_lsn, end_lsn, prepare_time, xid, gid };
    assert_eq!(decode_strictly(&fields(b'p'), &PLAIN)?, PgOutputMessage::StreamPrepare(expected));
    Ok(())
}

#[test]
fn commit_prepared() -> Result<(), PgOutputError> {
    let frame = Frame::tag(b'K').u8(0).u64(11).u64(21).i64(31).u32(41).cstr("tx-2").build();
    let expected = CommitPrepared {
        flags: 0,
        commit_lsn: Lsn(11),
        end_lsn: Lsn(21),
        commit_time: 31,
        xid: 41,
        gid: "tx-2".to_owned(),
    };
    assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::CommitPrepared(expected));
    Ok(())
}

#[test]
fn rollback_prepared() -> Result<(), PgOutputError> {
    let frame = Frame::tag(b'r').u8(0).u64(12).u64(22).i64(32).i64(33).u32(42).cstr("tx-3").build();
    let expected = RollbackPrepared {
        flags: 0,
        prepare_end_lsn: Lsn(12),
        rollback_end_lsn: Lsn(22),
        prepare_time: 32,
        rollback_time: 33,
        xid: 42,
        gid: "tx-3".to_owned(),
    };
    assert_eq!(decode_strictly(&frame, &PLAIN)?, PgOutputMessage::RollbackPrepared(expected));
    Ok(())
}

#[test]
fn two_phase_messages_need_version_3() {
    let frame = Frame::tag(b'b').u64(10).u64(20).i64(30).u32(40).cstr("tx-1").build();
    assert!(matches!(
        PgOutputMessage::decode(&frame, &DecodeContext::new(2)),
        Err(PgOutputError::UnsupportedByVersion { required: 3, protocol_version: 2, .. })
    ));
}
