//! JSON lines in `<dir>/<pipeline>.jsonl`, exactly once across crashes: the
//! checkpoint records the file length it covers, and on start the file is
//! truncated back to that length, dropping lines written after the last
//! checkpoint (the source sends them again).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::json::{SourceInfo, write_envelope};
use super::{SinkError, now_millis};
use crate::pipeline::batch::Batch;

/// Appends envelopes to one file per pipeline.
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
    writer: BufWriter<File>,
    source: SourceInfo,
    line: String,
    length: u64,
}

impl JsonlSink {
    /// Opens the pipeline's file, truncated back to `checkpointed_length`.
    pub fn open(
        dir: &Path,
        pipeline: &str,
        source: SourceInfo,
        checkpointed_length: u64,
        has_checkpoint: bool,
    ) -> Result<JsonlSink, SinkError> {
        let path = dir.join(format!("{pipeline}.jsonl"));
        let io_error = |source| SinkError::Io { path: path.display().to_string(), source };
        std::fs::create_dir_all(dir).map_err(io_error)?;
        let file =
            OpenOptions::new().create(true).read(true).write(true).truncate(false).open(&path).map_err(io_error)?;
        let found = file.metadata().map_err(io_error)?.len();
        if !has_checkpoint && found > 0 {
            return Err(SinkError::OrphanOutput { path: path.display().to_string(), found });
        }
        if found < checkpointed_length {
            return Err(SinkError::Shortened {
                path: path.display().to_string(),
                found,
                expected: checkpointed_length,
            });
        }
        if found > checkpointed_length {
            tracing::info!(path = %path.display(), dropped_bytes = found - checkpointed_length, "Truncating output written after the last checkpoint.");
            file.set_len(checkpointed_length).map_err(io_error)?;
            file.sync_all().map_err(io_error)?;
        }
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        use std::io::Seek;
        writer.seek(std::io::SeekFrom::Start(checkpointed_length)).map_err(io_error)?;
        Ok(JsonlSink { path, writer, source, line: String::with_capacity(4096), length: checkpointed_length })
    }

    pub fn write(&mut self, batch: &Batch) -> Result<(), SinkError> {
        let now = now_millis();
        for event in &batch.events {
            self.line.clear();
            write_envelope(&mut self.line, event, &self.source, now);
            self.line.push('\n');
            self.writer.write_all(self.line.as_bytes()).map_err(|source| self.io_error(source))?;
            self.length += self.line.len() as u64;
        }
        Ok(())
    }

    pub fn make_durable(&mut self) -> Result<u64, SinkError> {
        self.writer.flush().map_err(|source| self.io_error(source))?;
        self.writer.get_ref().sync_data().map_err(|source| self.io_error(source))?;
        Ok(self.length)
    }

    fn io_error(&self, source: std::io::Error) -> SinkError {
        SinkError::Io { path: self.path.display().to_string(), source }
    }
}
