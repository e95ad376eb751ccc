//! Encodes every envelope in full and throws it away: the whole pipeline's cost
//! without a sink's I/O, for benchmarks and dry runs. Checkpoints still advance.

use super::json::{SourceInfo, write_envelope};
use super::{SinkError, now_millis};
use crate::pipeline::batch::Batch;

/// Discards encoded envelopes, counting their bytes.
#[derive(Debug)]
pub struct NullSink {
    source: SourceInfo,
    line: String,
    encoded: u64,
}

impl NullSink {
    pub fn new(source: SourceInfo) -> NullSink {
        NullSink { source, line: String::with_capacity(4096), encoded: 0 }
    }

    pub fn write(&mut self, batch: &Batch) -> Result<(), SinkError> {
        let now = now_millis();
        for event in &batch.events {
            self.line.clear();
            write_envelope(&mut self.line, event, &self.source, now);
            self.encoded += self.line.len() as u64 + 1;
        }
        Ok(())
    }

    /// Bytes encoded so far (the checkpoint's `sink_offset`).
    pub fn encoded_bytes(&self) -> u64 {
        self.encoded
    }
}
