//! Hand-built streams, every way of splitting them, and the round trip of
//! random tuples through the format.

use bytes::{BufMut, Bytes};
use proptest::prelude::*;

use super::*;

type Fields = Vec<Option<Vec<u8>>>;

/// The fixed header with `flags`, then `extension`.
fn header(flags: u32, extension: &[u8]) -> Vec<u8> {
    let mut bytes = SIGNATURE.to_vec();
    bytes.put_u32(flags);
    bytes.put_i32(i32::try_from(extension.len()).unwrap_or(i32::MAX));
    bytes.extend_from_slice(extension);
    bytes
}

/// One tuple as `COPY ... (FORMAT binary)` writes it.
fn tuple(fields: &[Option<Vec<u8>>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.put_i16(i16::try_from(fields.len()).unwrap_or(i16::MAX));
    for field in fields {
        match field {
            None => bytes.put_i32(NULL_LENGTH),
            Some(data) => {
                bytes.put_i32(i32::try_from(data.len()).unwrap_or(i32::MAX));
                bytes.extend_from_slice(data);
            }
        }
    }
    bytes
}

/// A whole stream: header (with `extension`), `tuples`, trailer.
fn stream(extension: &[u8], tuples: &[Fields]) -> Vec<u8> {
    let mut bytes = header(0, extension);
    for fields in tuples {
        bytes.extend(tuple(fields));
    }
    bytes.put_i16(TRAILER_FIELD_COUNT);
    bytes
}

fn field(data: &[u8]) -> Option<Vec<u8>> {
    Some(data.to_vec())
}

/// Pushes `chunks` one by one, taking every tuple after each, then finishes.
fn decode_chunks<'a>(
    expected_fields: usize,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<Fields>, CopyFormatError> {
    let mut decoder = CopyBinaryDecoder::new(expected_fields);
    let mut tuples = Vec::new();
    for chunk in chunks {
        decoder.push(chunk);
        while let Some(tuple) = decoder.next_tuple()? {
            let byte_len = tuple.byte_len();
            let fields: Fields = tuple.into_fields().into_iter().map(|field| field.map(|data| data.to_vec())).collect();
            assert_eq!(byte_len, fields.iter().flatten().map(Vec::len).sum::<usize>());
            tuples.push(fields);
        }
    }
    decoder.finish()?;
    assert!(decoder.is_finished());
    Ok(tuples)
}

/// The first error `next_tuple` gives on `bytes` in one chunk.
fn first_error(expected_fields: usize, bytes: &[u8]) -> Option<CopyFormatError> {
    let mut decoder = CopyBinaryDecoder::new(expected_fields);
    decoder.push(bytes);
    loop {
        match decoder.next_tuple() {
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(error) => return Some(error),
        }
    }
}

fn sample_tuples() -> Vec<Fields> {
    vec![
        vec![field(b"\x00\x00\x00\x2a"), field(b"hello"), None],
        vec![None, field(b""), field(&[0xff; 300])],
        vec![field(b"\x00\x00\x00\x07"), None, field(b"x")],
    ]
}

#[test]
fn one_chunk_stream() -> Result<(), CopyFormatError> {
    let bytes = stream(b"", &sample_tuples());
    assert_eq!(decode_chunks(3, [bytes.as_slice()])?, sample_tuples());
    Ok(())
}

#[test]
fn fields_are_slices_of_one_buffer() -> Result<(), CopyFormatError> {
    let mut decoder = CopyBinaryDecoder::new(2);
    decoder.push(&header(0, b""));
    decoder.push(&tuple(&[field(b"abc"), field(b"de")]));
    let Some(tuple) = decoder.next_tuple()? else { panic!("expected a tuple") };
    let fields: Vec<Option<&[u8]>> = tuple.fields().collect();
    let [Some(first), Some(second)] = fields[..] else { panic!("expected two values") };
    assert_eq!(second.as_ptr(), first.as_ptr().wrapping_add(first.len() + FIELD_LENGTH_LEN));
    assert_eq!(tuple.byte_len(), 5);
    Ok(())
}

#[test]
fn every_split_point_gives_the_same_tuples() -> Result<(), CopyFormatError> {
    let bytes = stream(b"ext\x00\x01", &sample_tuples());
    for split in 0..=bytes.len() {
        let (first, second) = bytes.split_at(split);
        assert_eq!(decode_chunks(3, [first, second])?, sample_tuples(), "split at {split}");
    }
    assert_eq!(decode_chunks(3, bytes.chunks(1))?, sample_tuples(), "byte by byte");
    Ok(())
}

#[test]
fn a_tuple_arriving_byte_by_byte_is_scanned_once() -> Result<(), CopyFormatError> {
    let mut decoder = CopyBinaryDecoder::new(2);
    decoder.push(&header(0, b""));
    let bytes = tuple(&[field(b"ab"), field(b"cd")]);
    let (last, rest) = bytes.split_last().map_or((0, &[][..]), |(&last, rest)| (last, rest));
    for &byte in rest {
        decoder.push(&[byte]);
        assert_eq!(decoder.next_tuple()?, None);
    }
    assert_eq!(decoder.stage, Stage::Tuples { scan: TupleScan { fields_buffered: 1, len: 8 } });
    decoder.push(&[last]);
    let fields = decoder.next_tuple()?.map(CopyTuple::into_fields);
    assert_eq!(fields, Some(vec![Some(Bytes::from_static(b"ab")), Some(Bytes::from_static(b"cd"))]));
    Ok(())
}

#[test]
fn null_and_empty_fields_differ() -> Result<(), CopyFormatError> {
    let tuples = vec![vec![None, field(b""), None], vec![field(b""), field(b""), field(b"")]];
    assert_eq!(decode_chunks(3, [stream(b"", &tuples).as_slice()])?, tuples);
    Ok(())
}

#[test]
fn zero_column_tuples() -> Result<(), CopyFormatError> {
    let tuples = vec![vec![], vec![]];
    assert_eq!(decode_chunks(0, [stream(b"", &tuples).as_slice()])?, tuples);
    Ok(())
}

#[test]
fn header_extension_is_skipped() -> Result<(), CopyFormatError> {
    let extension = vec![0x5a; 1000];
    let bytes = stream(&extension, &sample_tuples());
    assert_eq!(decode_chunks(3, bytes.chunks(7))?, sample_tuples());
    let mut negative = header(0, b"");
    negative.truncate(FIXED_HEADER_LEN - 4);
    negative.put_i32(-5);
    assert_eq!(first_error(3, &negative), Some(CopyFormatError::InvalidExtensionLength { offset: 15, length: -5 }));
    Ok(())
}

#[test]
fn wrong_signature() {
    let text_format = b"42\thello\n";
    assert_eq!(
        first_error(2, text_format),
        Some(CopyFormatError::BadSignature { offset: 0, found: b'4', expected: b'P' })
    );
    let mut seven_bit = header(0, b"");
    if let Some(byte) = seven_bit.get_mut(7) {
        *byte = 0x7f;
    }
    let error = first_error(2, seven_bit.get(..8).unwrap_or_default());
    assert_eq!(error, Some(CopyFormatError::BadSignature { offset: 7, found: 0x7f, expected: 0xff }));
    assert_eq!(
        error.map(|error| error.to_string()),
        Some("binary COPY stream: at byte 7: not the PGCOPY signature (found 0x7f, expected 0xff)".to_owned())
    );
}

#[test]
fn oid_flag_is_refused() {
    let bytes = header(FLAG_OIDS, b"");
    assert_eq!(first_error(1, &bytes), Some(CopyFormatError::OidsIncluded { offset: 11 }));
    let flags_only = bytes.get(..15).unwrap_or_default();
    assert_eq!(first_error(1, flags_only), Some(CopyFormatError::OidsIncluded { offset: 11 }));
}

#[test]
fn critical_flags_are_refused_and_the_others_ignored() -> Result<(), CopyFormatError> {
    assert_eq!(
        first_error(1, &header(0x0002_0002, b"")),
        Some(CopyFormatError::UnknownCriticalFlags { offset: 11, bits: 2 })
    );
    let mut bytes = header(0xfffe_0000, b"");
    bytes.extend(tuple(&[field(b"a")]));
    bytes.put_i16(TRAILER_FIELD_COUNT);
    assert_eq!(decode_chunks(1, [bytes.as_slice()])?, vec![vec![field(b"a")]]);
    Ok(())
}

#[test]
fn wrong_field_count_names_both() {
    let bytes = stream(b"", &sample_tuples());
    let error = first_error(4, &bytes);
    assert_eq!(error, Some(CopyFormatError::FieldCountMismatch { offset: 19, found: 3, expected: 4 }));
    assert_eq!(
        error.map(|error| error.to_string()),
        Some("binary COPY stream: at byte 19: tuple has 3 fields, expected 4".to_owned())
    );
    let mut negative = header(0, b"");
    negative.put_i16(-2);
    assert_eq!(first_error(3, &negative), Some(CopyFormatError::InvalidFieldCount { offset: 19, count: -2 }));
}

#[test]
fn negative_field_length_other_than_null() {
    let mut bytes = header(0, b"");
    bytes.put_i16(2);
    bytes.put_i32(NULL_LENGTH);
    bytes.put_i32(-2);
    let expected = CopyFormatError::InvalidFieldLength { offset: 25, field: 2, length: -2 };
    let mut decoder = CopyBinaryDecoder::new(2);
    decoder.push(&bytes);
    assert_eq!(decoder.next_tuple(), Err(expected.clone()));
    assert_eq!(decoder.next_tuple(), Err(expected), "an error consumes nothing and repeats");
}

#[test]
fn a_huge_length_waits_for_its_bytes_without_allocating() -> Result<(), CopyFormatError> {
    let mut decoder = CopyBinaryDecoder::new(1);
    decoder.push(&header(0, b""));
    decoder.push(&[0, 1]);
    decoder.push(&i32::MAX.to_be_bytes());
    decoder.push(b"only a few bytes");
    assert_eq!(decoder.next_tuple()?, None);
    assert!(decoder.buffer.capacity() <= 2 * BUFFER_BLOCK_LEN);
    assert_eq!(decoder.finish(), Err(CopyFormatError::Truncated { offset: 41, part: "tuple" }));
    Ok(())
}

#[test]
fn truncated_stream_fails_finish() {
    let bytes = stream(b"xy", &sample_tuples());
    assert_eq!(bytes.len(), 379);
    for length in 0..bytes.len() {
        let prefix = bytes.get(..length).unwrap_or_default();
        assert!(decode_chunks(3, [prefix]).is_err(), "prefix {length}");
    }
    let cut = |length: usize| decode_chunks(3, [bytes.get(..length).unwrap_or_default()]).err();
    assert_eq!(cut(0), Some(CopyFormatError::Truncated { offset: 0, part: "header" }));
    assert_eq!(cut(20), Some(CopyFormatError::Truncated { offset: 20, part: "header extension" }));
    assert_eq!(cut(21), Some(CopyFormatError::MissingTrailer { offset: 21 }));
    assert_eq!(cut(30), Some(CopyFormatError::Truncated { offset: 30, part: "tuple" }));
    assert_eq!(cut(377), Some(CopyFormatError::MissingTrailer { offset: 377 }));
    assert_eq!(cut(378), Some(CopyFormatError::Truncated { offset: 378, part: "tuple" }));
    assert_eq!(
        cut(1).map(|error| error.to_string()),
        Some("binary COPY stream: ends at byte 1, inside the header".to_owned())
    );
}

#[test]
fn data_after_the_trailer() -> Result<(), CopyFormatError> {
    let mut bytes = stream(b"", &sample_tuples());
    let trailer_end = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    bytes.extend_from_slice(b"junk");
    let expected = CopyFormatError::DataAfterTrailer { offset: trailer_end, count: 4 };
    assert_eq!(decode_chunks(3, [bytes.as_slice()]), Err(expected.clone()));

    let mut decoder = CopyBinaryDecoder::new(3);
    decoder.push(bytes.get(..bytes.len() - 4).unwrap_or_default());
    while decoder.next_tuple()?.is_some() {}
    assert!(decoder.is_finished());
    decoder.finish()?;
    decoder.push(b"junk");
    assert_eq!(decoder.next_tuple(), Err(expected.clone()));
    assert_eq!(decoder.finish(), Err(expected));
    Ok(())
}

/// Tuples of `field_count` fields each: random bytes or NULL.
fn tuples_strategy() -> impl Strategy<Value = (usize, Vec<Fields>)> {
    (0usize..6).prop_flat_map(|field_count| {
        let field = proptest::option::weighted(0.8, proptest::collection::vec(any::<u8>(), 0..40));
        let fields = proptest::collection::vec(field, field_count);
        (Just(field_count), proptest::collection::vec(fields, 0..20))
    })
}

/// `bytes` cut at the positions `splits` pick, in order.
fn chunked(bytes: &[u8], splits: &[prop::sample::Index]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = splits.iter().map(|split| split.index(bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for point in points.into_iter().chain([bytes.len()]) {
        chunks.push(bytes.get(start..point).unwrap_or_default().to_vec());
        start = point;
    }
    chunks
}

proptest! {
    #[test]
    fn random_tuples_round_trip_in_random_chunks(
        (field_count, tuples) in tuples_strategy(),
        extension in proptest::collection::vec(any::<u8>(), 0..8),
        splits in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let bytes = stream(&extension, &tuples);
        let chunks = chunked(&bytes, &splits);
        prop_assert_eq!(decode_chunks(field_count, chunks.iter().map(Vec::as_slice)), Ok(tuples));
    }

    #[test]
    fn random_bytes_after_a_header_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        expected_fields in 0usize..4,
        splits in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let mut bytes = header(0, b"");
        bytes.extend(body);
        let chunks = chunked(&bytes, &splits);
        let mut decoder = CopyBinaryDecoder::new(expected_fields);
        for chunk in &chunks {
            decoder.push(chunk);
            while let Ok(Some(_)) = decoder.next_tuple() {}
        }
        let _ = decoder.finish();
    }
}
