//! A pipeline's checkpoint in a local file, `<dir>/<pipeline>.checkpoint.json`.
//!
//! ```text
//!  save: refuse to go back ─► encode ─► temp file, fsync, rename, fsync dir
//! ```
//!
//! The file is replaced atomically, so a reader sees the old or the new
//! checkpoint, never a mix.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Checkpoint, CheckpointError, decode, encode};
use crate::durable::write_atomically;

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
            checkpoint.check_follows(current)?;
        }
        let bytes = encode(&checkpoint, &self.pipeline);
        write_atomically(&self.path, &bytes)
            .map_err(|source| CheckpointError::Io { path: self.path.clone(), source })?;
        self.current = Some(checkpoint);
        Ok(())
    }
}
