//! Fuzzes the binary COPY decoder. The first input byte picks where the rest
//! is split into two chunks (as a fraction of its length), the second the
//! field count every tuple must have; the rest is the stream. Any panic is a
//! bug: a malformed stream must come back as an error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wellhead_decoders::pgcopy::CopyBinaryDecoder;

fuzz_target!(|input: &[u8]| {
    let [split, expected_fields, stream @ ..] = input else {
        return;
    };
    let split = stream.len() * usize::from(*split) / usize::from(u8::MAX);
    let (first, second) = stream.split_at(split.min(stream.len()));
    let mut decoder = CopyBinaryDecoder::new(usize::from(*expected_fields));
    for chunk in [first, second] {
        decoder.push(chunk);
        while let Ok(Some(tuple)) = decoder.next_tuple() {
            let _ = tuple.byte_len();
        }
    }
    let _ = decoder.finish();
});
