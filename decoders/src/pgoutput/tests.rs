//! Dispatch, context and version checks, and the never-panic property.

use bytes::Bytes;
use proptest::prelude::*;

use super::test_frame::{Frame, PLAIN};
use super::*;

const TAGS: &[u8] = b"BCORYIUDTMSEcAbPKrp";

#[test]
fn every_tag_has_a_spec_entry() {
    for &tag in TAGS {
        assert!(message_spec(tag).is_some(), "tag {}", char::from(tag));
    }
    assert_eq!(message_spec(b'U'), Some(("Update", 1)));
    assert_eq!(message_spec(b'p'), Some(("Stream Prepare", 3)));
}

#[test]
fn unknown_and_missing_tags() {
    let error = PgOutputMessage::decode(&Bytes::from_static(b"Z"), &PLAIN).err();
    assert_eq!(error.map(|e| e.to_string()), Some("pgoutput: unknown message tag 0x5a ('Z')".to_owned()));
    for tag in (0..=u8::MAX).filter(|tag| !TAGS.contains(tag)) {
        let frame = Frame::tag(tag).u64(0).build();
        assert_eq!(
            PgOutputMessage::decode(&frame, &PLAIN),
            Err(PgOutputError::UnknownTag { protocol: "pgoutput", tag })
        );
    }
    assert_eq!(PgOutputMessage::decode(&Bytes::new(), &PLAIN), Err(PgOutputError::Empty { protocol: "pgoutput" }));
}

#[test]
fn impossible_contexts_are_refused() {
    let stop = Frame::tag(b'E').build();
    let contexts = [
        DecodeContext::new(0),
        DecodeContext::new(5),
        DecodeContext { protocol_version: 1, in_streamed_block: true, parallel_streaming: false },
        DecodeContext { protocol_version: 3, in_streamed_block: false, parallel_streaming: true },
    ];
    for context in contexts {
        assert!(
            matches!(PgOutputMessage::decode(&stop, &context), Err(PgOutputError::InvalidContext { .. })),
            "{context:?}"
        );
    }
}

#[test]
fn version_1_decodes_the_original_messages() -> Result<(), PgOutputError> {
    let v1 = DecodeContext::new(1);
    let insert = Frame::tag(b'I').u32(1).u8(b'N').u16(1).u8(b'n').build();
    assert!(matches!(PgOutputMessage::decode(&insert, &v1)?, PgOutputMessage::Insert(_)));
    for tag in *b"SEcAbPKrp" {
        assert!(matches!(
            PgOutputMessage::decode(&Frame::tag(tag).build(), &v1),
            Err(PgOutputError::UnsupportedByVersion { .. })
        ));
    }
    Ok(())
}

#[test]
fn errors_name_message_offset_and_problem() {
    // Update, relation 1, 'N', one text column claiming 4 bytes with 2 left.
    let frame = Frame::tag(b'U').u32(1).u8(b'N').u16(1).u8(b't').u32(4).raw(b"ab").build();
    let error = PgOutputMessage::decode(&frame, &PLAIN).err();
    assert_eq!(
        error.map(|e| e.to_string()),
        Some("pgoutput Update message: at byte 13: expected 4 more bytes, 2 left".to_owned())
    );
}

fn any_context() -> impl Strategy<Value = DecodeContext> {
    (1u32..=4, any::<bool>(), any::<bool>()).prop_map(|(protocol_version, streamed, parallel)| DecodeContext {
        protocol_version,
        in_streamed_block: streamed && protocol_version >= 2,
        parallel_streaming: parallel && protocol_version >= 4,
    })
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let bytes = Bytes::from(bytes);
        let _ = ReplicationMessage::decode(&bytes);
        for context in [PLAIN, DecodeContext { in_streamed_block: true, ..PLAIN }] {
            let _ = PgOutputMessage::decode(&bytes, &context);
        }
    }

    #[test]
    fn random_bodies_behind_valid_tags_never_panic(
        tag in proptest::sample::select(TAGS),
        body in proptest::collection::vec(any::<u8>(), 0..128),
        context in any_context(),
    ) {
        let frame = Frame::tag(tag).raw(&body).build();
        let _ = PgOutputMessage::decode(&frame, &context);
    }
}
