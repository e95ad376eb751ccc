//! The stored form of a checkpoint (a file's content, a Kafka record's value):
//! JSON with a format version and the pipeline's name.
//!
//! Format 2 is [`Checkpoint`] as it is. Format 1 (Wellhead before checkpoint
//! format 2) held PostgreSQL fields only; it is read and converted, so a
//! pipeline upgraded in place resumes where it stopped:
//!
//! ```text
//!  format 1: last_position {commit_lsn, lsn}  flush_lsn   sink_offset   pending_renames
//!               │                                 │           │              │
//!  format 2: last_written PostgresRecord     restart_point  sink.offset  sink.pending_renames
//! ```

use serde::{Deserialize, Serialize};
use wellhead_decoders::change::FormatOnePositions;

use super::{Checkpoint, CheckpointError, PendingRename, SinkState};

/// Format version written by this version.
const CHECKPOINT_FORMAT: u32 = 2;

#[derive(Serialize)]
struct CheckpointFile<'a> {
    format: u32,
    pipeline: &'a str,
    #[serde(flatten)]
    checkpoint: &'a Checkpoint,
}

#[derive(Deserialize)]
struct Envelope {
    format: u32,
    pipeline: String,
}

#[derive(Deserialize)]
struct FormatTwo {
    #[serde(flatten)]
    checkpoint: Checkpoint,
}

/// Format 1 as Wellhead wrote it (PostgreSQL only).
#[derive(Deserialize)]
struct FormatOne {
    #[serde(flatten)]
    positions: FormatOnePositions,
    sink_offset: u64,
    #[serde(default)]
    pending_renames: Vec<PendingRename>,
}

/// The stored form of `checkpoint` for `pipeline`.
pub fn encode(checkpoint: &Checkpoint, pipeline: &str) -> Vec<u8> {
    let file = CheckpointFile { format: CHECKPOINT_FORMAT, pipeline, checkpoint };
    // Serialising plain structs with string keys cannot fail.
    serde_json::to_vec_pretty(&file).unwrap_or_default()
}

/// Reads a stored checkpoint of format 1 or 2, checking the pipeline; `location` names where it came from.
pub fn decode(bytes: &[u8], pipeline: &str, location: &str) -> Result<Checkpoint, CheckpointError> {
    let corrupt = |reason: String| CheckpointError::Corrupt { location: location.to_owned(), reason };
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(|error| corrupt(error.to_string()))?;
    if envelope.pipeline != pipeline {
        return Err(CheckpointError::WrongPipeline {
            location: location.to_owned(),
            found: envelope.pipeline,
            expected: pipeline.to_owned(),
        });
    }
    match envelope.format {
        2 => {
            let file: FormatTwo = serde_json::from_slice(bytes).map_err(|error| corrupt(error.to_string()))?;
            Ok(file.checkpoint)
        }
        1 => {
            let file: FormatOne = serde_json::from_slice(bytes).map_err(|error| corrupt(error.to_string()))?;
            from_format_one(file).map_err(corrupt)
        }
        other => Err(corrupt(format!("format {other}; this version reads formats 1 and 2"))),
    }
}

fn from_format_one(file: FormatOne) -> Result<Checkpoint, String> {
    Ok(Checkpoint {
        restart_point: file.positions.restart_point(),
        last_written: file.positions.last_written()?,
        origin: None,
        tables: Vec::new(),
        sink: SinkState { offset: file.sink_offset, pending_renames: file.pending_renames },
    })
}
