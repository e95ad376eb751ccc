//! JSON lines in `<dir>/<pipeline>.jsonl`, exactly once across crashes: the
//! checkpoint records the file length it covers, and the file is truncated back
//! to that length, dropping lines written after the last checkpoint (the source
//! sends them again).
//!
//! The truncation waits for the first write or commit, which come only after
//! the source accepted the checkpoint: a start the source refuses (an older
//! checkpoint restored, a slot gone) leaves the file as it was, so restoring
//! the right checkpoint still works.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use wellhead_decoders::change::ChangeEvent;

use super::SinkError;
use super::json::{SourceInfo, write_envelope};

/// Appends envelopes to one file per pipeline.
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
    writer: BufWriter<File>,
    source: SourceInfo,
    line: String,
    length: u64,
    /// True while bytes after the checkpoint are still to be cut off before anything is written.
    truncate_pending: bool,
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
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        use std::io::Seek;
        writer.seek(std::io::SeekFrom::Start(checkpointed_length)).map_err(io_error)?;
        Ok(JsonlSink {
            path,
            writer,
            source,
            line: String::with_capacity(4096),
            length: checkpointed_length,
            truncate_pending: found > checkpointed_length,
        })
    }

    /// Cuts the file back to the checkpoint's length, once, before the first write.
    fn truncate_if_pending(&mut self) -> Result<(), SinkError> {
        if !self.truncate_pending {
            return Ok(());
        }
        let file = self.writer.get_ref();
        let found = file.metadata().map_err(|source| self.io_error(source))?.len();
        tracing::info!(path = %self.path.display(), dropped_bytes = found.saturating_sub(self.length), "Truncating output written after the last checkpoint.");
        file.set_len(self.length).map_err(|source| self.io_error(source))?;
        file.sync_all().map_err(|source| self.io_error(source))?;
        self.truncate_pending = false;
        Ok(())
    }

    pub fn write_event(&mut self, event: &ChangeEvent, now_ms: i64) -> Result<(), SinkError> {
        self.truncate_if_pending()?;
        self.line.clear();
        write_envelope(&mut self.line, event, &self.source, now_ms);
        self.line.push('\n');
        self.writer.write_all(self.line.as_bytes()).map_err(|source| self.io_error(source))?;
        self.length += self.line.len() as u64;
        Ok(())
    }

    pub fn make_durable(&mut self) -> Result<u64, SinkError> {
        self.truncate_if_pending()?;
        self.writer.flush().map_err(|source| self.io_error(source))?;
        self.writer.get_ref().sync_data().map_err(|source| self.io_error(source))?;
        Ok(self.length)
    }

    fn io_error(&self, source: std::io::Error) -> SinkError {
        SinkError::Io { path: self.path.display().to_string(), source }
    }
}
