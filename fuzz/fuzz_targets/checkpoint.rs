//! Fuzzes the checkpoint reader (formats 1 and 2, as stored in files and in the Kafka
//! checkpoint topic): any bytes give a checkpoint or an error, never a panic. A
//! checkpoint that decodes must encode and decode again to the same checkpoint.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wellhead::checkpoint::{decode, encode};

fuzz_target!(|input: &[u8]| {
    for pipeline in ["p", "shop"] {
        if let Ok(checkpoint) = decode(input, pipeline, "fuzz input") {
            let again = decode(&encode(&checkpoint, pipeline), pipeline, "re-encoded")
                .expect("a checkpoint Wellhead wrote reads back");
            assert_eq!(again, checkpoint, "encode and decode round-trip");
        }
    }
});
