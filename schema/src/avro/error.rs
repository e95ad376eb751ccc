//! Why a change cannot be encoded: always names the table, and the column when one is at fault.

use wellhead_decoders::change::TableName;

/// What is wrong with one column's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("a {found} value does not match the column type (expected {expected})")]
    TypeMismatch { expected: &'static str, found: &'static str },
    #[error("a key column is NULL, but key columns are not nullable in the Avro schema")]
    NullKey,
    #[error("a key column is an unchanged TOAST value the database did not send")]
    UnchangedKey,
    #[error("a decimal of scale {scale} does not fit the column's scale {column_scale} (Wellhead never rounds)")]
    ScaleTooLarge { scale: u32, column_scale: u32 },
    #[error("a decimal of {digits} significant digits exceeds the column's precision {precision}")]
    PrecisionExceeded { digits: usize, precision: u32 },
    #[error("a decimal's digits are not a decimal number")]
    MalformedDecimal,
    #[error("the {what} does not fit an Avro {avro}")]
    OutOfRange { what: &'static str, avro: &'static str },
    /// Outside a key column this is not an error: the column is null and the value goes to
    /// the envelope's `special_values`.
    #[error(
        "the value is {what}, which its Avro type cannot carry; outside the key it would be null \
         with its text in special_values, but a key column is never null"
    )]
    Special { what: &'static str },
    #[error("a composite value has {found} fields but its type has {expected}")]
    CompositeArity { expected: usize, found: usize },
}

/// A change that cannot be written as an Avro datum of its table's schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("cannot encode table {table}, column {column:?}: {problem}")]
    Column { table: TableName, column: String, problem: Problem },
    #[error("cannot encode table {table}: a row has {found} values but the table has {expected} columns")]
    RowLength { table: TableName, expected: usize, found: usize },
    #[error("cannot encode a key for table {table}: it has no primary key or replica identity column")]
    NoKey { table: TableName },
    #[error("cannot encode table {table}: a {position} position does not belong in a {source_kind} envelope")]
    PositionMismatch { table: TableName, position: &'static str, source_kind: &'static str },
    #[error("cannot encode table {table}: the {what} does not fit an Avro long")]
    OutOfRange { table: TableName, what: &'static str },
}
