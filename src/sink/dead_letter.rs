//! Rows an Avro sink cannot encode: a value its column's Avro type cannot hold (a
//! timestamp after 294247 AD, a decimal beyond the column's precision, a NULL key).
//! The sink's `on_unencodable` policy decides:
//!
//! - `stop` (default): the pipeline stops with the table, column and position, the
//!   checkpoint before the row; the error says how to let such rows pass;
//! - `dead_letter`: the row goes, as its JSON envelope with the reason, to the sink's
//!   dead-letter place — files: Avro files of [`DEAD_LETTER_SCHEMA`] under
//!   `<dir>/dead-letter/<topic>/`, finalised with the other files; kafka: the dead-letter
//!   topic, in the same transaction as the data — so it is written exactly once like
//!   every other output, and the stream goes on.
//!
//! Logs and errors name the table, column and position, never the value.

use wellhead_decoders::change::ChangeEvent;
use wellhead_schema::avro::{EncodeError, Problem};

use super::SinkError;
use super::json::{SourceInfo, write_envelope, write_string};
use crate::config::UnencodablePolicy;
use crate::telemetry::{Metrics, TableLabels};

/// The Avro schema of the files sink's dead-letter files.
pub const DEAD_LETTER_SCHEMA: &str = r#"{"type":"record","name":"DeadLetter","namespace":"io.wellhead","fields":[
{"name":"table","type":"string","doc":"schema.table, as SQL quotes it"},
{"name":"topic","type":"string","doc":"the table's topic"},
{"name":"position","type":"string","doc":"the change's source position"},
{"name":"reason","type":"string","doc":"why the change could not be encoded"},
{"name":"change","type":"string","doc":"the change as Wellhead's JSON envelope (the jsonl sink's line)"}]}"#;

/// The directory of the files sink's dead-letter files, under its `dir`.
pub const DEAD_LETTER_DIR: &str = "dead-letter";

/// A change that could not be encoded, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub table: String,
    pub topic: String,
    pub position: String,
    pub reason: String,
    /// The change as its JSON envelope.
    pub change: String,
}

impl DeadLetter {
    /// The dead letter of `event`, refused for `reason`.
    pub fn new(event: &ChangeEvent, topic: &str, reason: &EncodeError, source: &SourceInfo, now_ms: i64) -> DeadLetter {
        let mut change = String::new();
        write_envelope(&mut change, event, source, now_ms);
        DeadLetter {
            table: event.schema.table.to_string(),
            topic: topic.to_owned(),
            position: event.position.to_string(),
            reason: reason.to_string(),
            change,
        }
    }

    /// The dead letter as one JSON object (the Kafka dead-letter topic's value).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.change.len() + 256);
        for (index, (key, value)) in
            [("table", &self.table), ("topic", &self.topic), ("position", &self.position), ("reason", &self.reason)]
                .into_iter()
                .enumerate()
        {
            out.push(if index == 0 { '{' } else { ',' });
            write_string(&mut out, key);
            out.push(':');
            write_string(&mut out, value);
        }
        out.push_str(",\"change\":");
        out.push_str(&self.change);
        out.push('}');
        out
    }

    /// The dead letter as an Avro datum of [`DEAD_LETTER_SCHEMA`].
    pub fn to_avro(&self, out: &mut Vec<u8>) {
        for field in [&self.table, &self.topic, &self.position, &self.reason, &self.change] {
            wellhead_schema::avro::write_string_datum(out, field);
        }
    }
}

/// The dead letter of `event` when `policy` routes such failures aside and `error` is about
/// a value the row carries; `None`: the sink returns `error` (the pipeline stops).
pub fn letter_for(
    policy: UnencodablePolicy,
    error: &SinkError,
    event: &ChangeEvent,
    topic: &str,
    source: &SourceInfo,
    now_ms: i64,
) -> Option<DeadLetter> {
    if policy != UnencodablePolicy::DeadLetter {
        return None;
    }
    value_problem(error).map(|reason| DeadLetter::new(event, topic, reason, source, now_ms))
}

/// The encoding failure of `error` when it is about a value the row carries (which the
/// dead-letter policy may route aside), not a mismatch between Wellhead's own schema
/// and its row (a bug, which always stops the pipeline).
fn value_problem(error: &SinkError) -> Option<&EncodeError> {
    let SinkError::Encode { source, .. } = error else { return None };
    match source.as_ref() {
        EncodeError::Column { problem, .. } => match problem {
            Problem::TypeMismatch { .. } | Problem::CompositeArity { .. } => None,
            Problem::NullKey
            | Problem::UnchangedKey
            | Problem::ScaleTooLarge { .. }
            | Problem::PrecisionExceeded { .. }
            | Problem::MalformedDecimal
            | Problem::OutOfRange { .. }
            | Problem::Special { .. } => Some(source.as_ref()),
        },
        EncodeError::RowLength { .. }
        | EncodeError::NoKey { .. }
        | EncodeError::PositionMismatch { .. }
        | EncodeError::OutOfRange { .. } => None,
    }
}

/// Logs a dead-lettered row (table, position and reason, never the value) and counts it.
pub fn announce_dead_letter(pipeline: &str, letter: &DeadLetter, metrics: &Metrics) {
    let labels = TableLabels { pipeline: pipeline.to_owned(), table: letter.table.clone() };
    metrics.dead_letters.get_or_create(&labels).inc();
    tracing::warn!(
        pipeline = %pipeline, table = %letter.table, position = %letter.position, reason = %letter.reason,
        "A row that cannot be encoded went to the dead-letter output (on_unencodable = \"dead_letter\")."
    );
}
