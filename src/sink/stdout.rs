//! JSON lines on standard output. Durable means flushed to the pipe; a reader
//! that crashes with Wellhead may see the last batch again after a restart
//! (standard output cannot be truncated back to a checkpoint).

use std::io::Write;

use wellhead_decoders::change::ChangeEvent;

use super::SinkError;
use super::json::{SourceInfo, write_envelope};

/// Writes envelopes to standard output.
#[derive(Debug)]
pub struct StdoutSink {
    source: SourceInfo,
    line: String,
    written: u64,
}

impl StdoutSink {
    pub fn new(source: SourceInfo) -> StdoutSink {
        StdoutSink { source, line: String::with_capacity(4096), written: 0 }
    }

    pub fn write_event(&mut self, event: &ChangeEvent, now_ms: i64) -> Result<(), SinkError> {
        self.line.clear();
        write_envelope(&mut self.line, event, &self.source, now_ms);
        self.line.push('\n');
        std::io::stdout().lock().write_all(self.line.as_bytes()).map_err(io_error)?;
        self.written += self.line.len() as u64;
        Ok(())
    }

    pub fn make_durable(&mut self) -> Result<u64, SinkError> {
        std::io::stdout().flush().map_err(io_error)?;
        Ok(self.written)
    }
}

fn io_error(source: std::io::Error) -> SinkError {
    SinkError::Io { path: "standard output".into(), source }
}
