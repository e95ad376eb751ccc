//! Fuzzes the binary COPY decoder. The first input byte picks where the stream
//! is split into two chunks (as a fraction of its length), the second the field
//! count every tuple must have, the third whether a valid header is put in front
//! of the rest (so that most inputs reach the tuples, not only the signature);
//! the rest is the stream. Any panic is a bug: a malformed stream must come back
//! as an error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wellhead_decoders::pgcopy::CopyBinaryDecoder;

/// Signature, flags 0, header extension length 0.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

fuzz_target!(|input: &[u8]| {
    let [split, expected_fields, with_header, rest @ ..] = input else {
        return;
    };
    let stream: Vec<u8> =
        if with_header & 1 == 1 { HEADER.iter().chain(rest).copied().collect() } else { rest.to_vec() };
    let split = stream.len() * usize::from(*split) / usize::from(u8::MAX);
    let (first, second) = stream.split_at(split.min(stream.len()));
    let expected_fields = usize::from(*expected_fields % 8);
    let mut decoder = CopyBinaryDecoder::new(expected_fields);
    for chunk in [first, second] {
        decoder.push(chunk);
        while let Ok(Some(tuple)) = decoder.next_tuple() {
            let data: usize = tuple.fields().map(|field| field.map_or(0, <[u8]>::len)).sum();
            assert_eq!(data, tuple.byte_len(), "byte_len counts the fields' data");
            assert!(tuple.field(expected_fields).is_none(), "no field past the last");
            assert_eq!(tuple.into_fields().len(), expected_fields);
        }
    }
    let _ = decoder.finish();
});
