//! The checkpoint: the position of the last change the sink holds durably, and
//! what the sink needs to line its output up with it after a crash.
//!
//! ```text
//!  sink: write batch ─► fsync ─► CheckpointStore::save (temp, fsync, rename, fsync dir) ─► ack source
//! ```
//!
//! Invariants: a saved checkpoint only moves forward (`save` refuses to go
//! back); the file is replaced atomically, so a reader sees the old or the new
//! checkpoint, never a mix. On restart, everything at or before
//! `last_position` is dropped by the source.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wellhead_decoders::change::{Lsn, Position};

/// Format version of the checkpoint file.
const CHECKPOINT_FORMAT: u32 = 1;

/// What a pipeline has durably written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Position of the last event the sink holds; `None` before the first.
    pub last_position: Option<Position>,
    /// PostgreSQL: end LSN of the last transaction the sink holds whole; the slot
    /// may be confirmed up to here.
    pub flush_lsn: Lsn,
    /// Bytes of output the sink had written at this checkpoint (file sinks truncate back to it).
    pub sink_offset: u64,
    /// Files the sink finalises by renaming them after this checkpoint is saved; a
    /// restart completes any rename a crash interrupted (a redo log of one step).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_renames: Vec<PendingRename>,
}

/// A finished, fsynced temporary file and the name it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRename {
    pub from: PathBuf,
    pub to: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct CheckpointFile {
    format: u32,
    pipeline: String,
    #[serde(flatten)]
    checkpoint: Checkpoint,
}

/// Checkpoint persistence failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "checkpoint {location} is corrupt or from another version ({reason}); restore it from a backup or remove it to start over"
    )]
    Corrupt { location: String, reason: String },
    #[error("checkpoint {location} belongs to pipeline {found:?}, not {expected:?}")]
    WrongPipeline { location: String, found: String, expected: String },
    #[error("refusing to move checkpoint back from {current} to {proposed}")]
    Backwards { current: String, proposed: String },
}

/// A pipeline's checkpoint on local disk.
#[derive(Debug)]
pub struct CheckpointStore {
    pipeline: String,
    path: PathBuf,
    current: Option<Checkpoint>,
}

impl CheckpointStore {
    /// Opens (creating the directory) and reads the pipeline's checkpoint, if any.
    pub fn open(dir: &Path, pipeline: &str) -> Result<CheckpointStore, CheckpointError> {
        let io_error = |source| CheckpointError::Io { path: dir.to_owned(), source };
        fs::create_dir_all(dir).map_err(io_error)?;
        let path = dir.join(format!("{pipeline}.checkpoint.json"));
        let current = match fs::read(&path) {
            Ok(bytes) => Some(decode(&bytes, pipeline, &path.display().to_string())?),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(CheckpointError::Io { path, source }),
        };
        Ok(CheckpointStore { pipeline: pipeline.to_owned(), path, current })
    }

    /// The stored checkpoint, if one was ever saved.
    pub fn current(&self) -> Option<&Checkpoint> {
        self.current.as_ref()
    }

    /// Durably replaces the checkpoint with `checkpoint`, which must not be behind the current one.
    pub fn save(&mut self, checkpoint: Checkpoint) -> Result<(), CheckpointError> {
        if let Some(current) = &self.current {
            let backwards = match (&current.last_position, &checkpoint.last_position) {
                (Some(old), Some(new)) => old.compare(new).map(|o| o.is_gt()).unwrap_or(true),
                (Some(_), None) => true,
                _ => false,
            } || checkpoint.flush_lsn < current.flush_lsn;
            if backwards {
                return Err(CheckpointError::Backwards {
                    current: format!("{current:?}"),
                    proposed: format!("{checkpoint:?}"),
                });
            }
        }
        let bytes = encode(&checkpoint, &self.pipeline);
        write_atomically(&self.path, &bytes)
            .map_err(|source| CheckpointError::Io { path: self.path.clone(), source })?;
        self.current = Some(checkpoint);
        Ok(())
    }
}

/// The stored form of a checkpoint (a file's content, a Kafka record's value):
/// JSON with a format version and the pipeline's name.
pub fn encode(checkpoint: &Checkpoint, pipeline: &str) -> Vec<u8> {
    let file =
        CheckpointFile { format: CHECKPOINT_FORMAT, pipeline: pipeline.to_owned(), checkpoint: checkpoint.clone() };
    // Serialising plain structs with string keys cannot fail.
    serde_json::to_vec_pretty(&file).unwrap_or_default()
}

/// Reads [`encode`]'s output back, checking format and pipeline; `location` names where it came from.
pub fn decode(bytes: &[u8], pipeline: &str, location: &str) -> Result<Checkpoint, CheckpointError> {
    let corrupt = |reason: String| CheckpointError::Corrupt { location: location.to_owned(), reason };
    let file: CheckpointFile = serde_json::from_slice(bytes).map_err(|error| corrupt(error.to_string()))?;
    if file.format != CHECKPOINT_FORMAT {
        return Err(corrupt(format!("format {}", file.format)));
    }
    if file.pipeline != pipeline {
        return Err(CheckpointError::WrongPipeline {
            location: location.to_owned(),
            found: file.pipeline,
            expected: pipeline.to_owned(),
        });
    }
    Ok(file.checkpoint)
}

/// Writes `bytes` to `path` so that readers see either the old or the new content:
/// temporary file, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wellhead_decoders::change::PgPosition;

    fn position(commit: u64, lsn: u64) -> Option<Position> {
        Some(Position::Postgres(PgPosition { commit_lsn: Lsn(commit), lsn: Lsn(lsn) }))
    }

    #[test]
    fn saves_reloads_and_refuses_to_go_back() {
        let dir = std::env::temp_dir().join(format!("wellhead-checkpoint-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut store = CheckpointStore::open(&dir, "shop").expect("open");
        assert!(store.current().is_none());
        let first =
            Checkpoint { last_position: position(10, 5), flush_lsn: Lsn(9), sink_offset: 100, ..Checkpoint::default() };
        store.save(first.clone()).expect("save");
        let reopened = CheckpointStore::open(&dir, "shop").expect("reopen");
        assert_eq!(reopened.current(), Some(&first));
        let behind =
            Checkpoint { last_position: position(10, 4), flush_lsn: Lsn(9), sink_offset: 120, ..Checkpoint::default() };
        assert!(matches!(store.save(behind), Err(CheckpointError::Backwards { .. })));
        assert!(CheckpointStore::open(&dir, "other").is_ok());
        fs::write(dir.join("bad.checkpoint.json"), b"{not json").expect("write");
        assert!(matches!(CheckpointStore::open(&dir, "bad"), Err(CheckpointError::Corrupt { .. })));
        let _ = fs::remove_dir_all(&dir);
    }
}
