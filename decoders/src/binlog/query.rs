//! QUERY events (and MariaDB's QUERY_COMPRESSED): transaction control and DDL in a
//! row-based binlog (MySQL source, `libbinlogevents` "Query_event").
//!
//! ```text
//!   post-header: thread_id:u32  exec_time:u32  schema_length:u8  error_code:u16  status_vars_length:u16
//!   body:        status_vars  schema  NUL  statement (compressed in QUERY_COMPRESSED)
//! ```

use super::cursor::ImageCursor;
use super::error::Problem;

/// A statement the server logged as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryEvent {
    pub thread_id: u32,
    /// The default database the statement ran in (may be empty).
    pub database: String,
    pub statement: String,
    pub kind: StatementKind,
}

/// What a logged statement means for the transaction stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// `BEGIN`: a transaction's row events follow.
    Begin,
    /// `COMMIT` (non-transactional engines end their groups so, where InnoDB writes an XID).
    Commit,
    /// `ROLLBACK` (a group of non-transactional changes that partly failed).
    Rollback,
    /// `SAVEPOINT` or `ROLLBACK TO`: inside a transaction, changes nothing by itself.
    Savepoint,
    /// Anything else: DDL (CREATE, ALTER, DROP, TRUNCATE, RENAME, ...) and other statements.
    Other,
}

/// Parses a QUERY event body; `compressed` for MariaDB's QUERY_COMPRESSED.
pub fn parse_query(body: &[u8], compressed: bool) -> Result<QueryEvent, Problem> {
    let mut cursor = ImageCursor::new(body);
    let malformed = Problem::Malformed;
    let thread_id = cursor.uint_le(4, "the thread id").map_err(malformed)? as u32;
    cursor.take(4, "the execution time").map_err(malformed)?;
    let schema_length = cursor.take(1, "the schema length").map_err(malformed)?[0];
    cursor.take(2, "the error code").map_err(malformed)?;
    let status_length = cursor.uint_le(2, "the status variables length").map_err(malformed)? as usize;
    cursor.take(status_length, "the status variables").map_err(malformed)?;
    let database = cursor.take(usize::from(schema_length), "the schema").map_err(malformed)?;
    cursor.take(1, "the schema's NUL").map_err(malformed)?;
    let rest = &body[cursor.offset()..];
    let statement = if compressed { super::mariadb::uncompress(rest)? } else { rest.to_vec() };
    let statement =
        String::from_utf8(statement).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned());
    let kind = statement_kind(&statement);
    Ok(QueryEvent { thread_id, database: String::from_utf8_lossy(database).into_owned(), statement, kind })
}

fn statement_kind(statement: &str) -> StatementKind {
    let words: Vec<&str> = statement.split_whitespace().take(2).collect();
    let first = words.first().map(|word| word.to_ascii_uppercase());
    let second = words.get(1).map(|word| word.to_ascii_uppercase());
    match (first.as_deref(), second.as_deref()) {
        (Some("BEGIN"), _) | (Some("START"), Some("TRANSACTION")) => StatementKind::Begin,
        (Some("COMMIT"), _) => StatementKind::Commit,
        (Some("ROLLBACK"), Some("TO")) | (Some("SAVEPOINT"), _) | (Some("RELEASE"), Some("SAVEPOINT")) => {
            StatementKind::Savepoint
        }
        (Some("ROLLBACK"), _) => StatementKind::Rollback,
        _ => StatementKind::Other,
    }
}
