//! Fuzzes the top-level pgoutput decoders: the CopyData envelope, and one
//! pgoutput message under the decode context picked by the first input byte.
//! Any panic is a bug: decoders must return errors on malformed input.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use wellhead_decoders::pgoutput::{DecodeContext, PgOutputMessage, ReplicationMessage};

fuzz_target!(|input: &[u8]| {
    let Some((&selector, message)) = input.split_first() else {
        return;
    };
    let whole = Bytes::copy_from_slice(input);
    if let Ok(ReplicationMessage::XLogData(xlog)) = ReplicationMessage::decode(&whole) {
        for context in contexts(selector) {
            let _ = PgOutputMessage::decode(&xlog.data, &context);
        }
    }
    let message = Bytes::copy_from_slice(message);
    for context in contexts(selector) {
        let _ = PgOutputMessage::decode(&message, &context);
    }
});

/// The context the selector byte names (bits 0-1: version 1-4, bit 2: streamed
/// block, bit 3: parallel streaming; impossible combinations included, they
/// must be refused cleanly), plus a plain version 4 context.
fn contexts(selector: u8) -> [DecodeContext; 2] {
    let picked = DecodeContext {
        protocol_version: u32::from(selector & 0b11) + 1,
        in_streamed_block: selector & 0b100 != 0,
        parallel_streaming: selector & 0b1000 != 0,
    };
    [picked, DecodeContext::new(4)]
}
