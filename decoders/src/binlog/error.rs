//! What can be wrong with binlog bytes, and where.

use std::fmt;

/// A binlog event that could not be decoded: which event, where, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("binlog {event} event at offset {offset}: {problem}")]
pub struct BinlogError {
    /// The event's type name (`WRITE_ROWS`, `TABLE_MAP`, ...) or `event header`.
    pub event: EventName,
    /// The event's start offset in its binlog file (0 when unknown).
    pub offset: u64,
    pub problem: Problem,
}

/// An event type's name as MySQL and MariaDB spell it, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventName(pub u8);

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match super::event_type::name(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "unknown (type {})", self.0),
        }
    }
}

/// What was wrong with an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{needed} bytes needed for {what}, {left} left")]
    Truncated { what: &'static str, needed: usize, left: usize },
    #[error("the header says {claimed} bytes, but {actual} bytes were given")]
    SizeMismatch { claimed: u64, actual: usize },
    #[error("checksum mismatch: the event carries {carried:#010x}, its bytes give {computed:#010x}")]
    Checksum { carried: u32, computed: u32 },
    #[error("{0}")]
    Malformed(String),
    #[error("rows for table id {table_id}, which no TABLE_MAP event described")]
    UnknownTable { table_id: u64 },
    #[error("column {column} ({type_name}): {problem}")]
    Column { column: String, type_name: &'static str, problem: String },
    #[error("{0} is not supported: {1}")]
    Unsupported(&'static str, &'static str),
}

impl Problem {
    /// A [`Problem::Malformed`] from any message.
    pub(crate) fn malformed(message: impl fmt::Display) -> Problem {
        Problem::Malformed(message.to_string())
    }
}
