//! What a failed compatibility check reports: where in the schema, which
//! resolution rule, and (for [`super::check`]) against which existing schema
//! in which direction.
//!
//! Invariant: `path` is a JSON-pointer-like location in the *reader* schema
//! (`/fields/amount/type`, `/items`, `/values`, `/fields/after/type/1` for the
//! second branch of a reader union); the empty string is the root.

use std::fmt;

/// A reason the reader schema cannot read data written with the writer schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{context}{path}: {rule}", context = DisplayContext(self.context.as_ref()), path = DisplayPath(&self.path))]
pub struct Incompatibility {
    /// Location in the reader schema; empty for the root.
    pub path: String,
    /// The schema-resolution rule that is broken.
    pub rule: Rule,
    /// Set by [`super::check`]: which existing schema and which direction failed.
    pub context: Option<CheckContext>,
}

impl Incompatibility {
    pub(crate) fn new(path: &str, rule: Rule) -> Self {
        Self { path: path.to_owned(), rule, context: None }
    }
}

/// The schema-resolution rules of the Avro specification, each as it is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rule {
    /// Two primitive types that are neither equal nor a permitted promotion.
    #[error("writer type {writer} cannot be promoted to reader type {reader}")]
    NotPromotable { writer: String, reader: String },
    /// Two types of different kinds (record vs array, enum vs string, ...).
    #[error("writer type {writer} cannot be read as reader type {reader}")]
    TypeMismatch { writer: String, reader: String },
    /// Named types (record, enum, fixed) whose names do not match, aliases included.
    #[error("writer {kind} name `{writer}` does not match reader {kind} name `{reader}` or its aliases")]
    NameMismatch { kind: &'static str, writer: String, reader: String },
    /// A reader record field absent from the writer record, with no default to fill it.
    #[error("reader field `{field}` has no default and is missing in the writer")]
    MissingFieldWithoutDefault { field: String },
    /// A writer enum symbol the reader cannot represent.
    #[error("writer enum symbol `{symbol}` is missing in the reader and the reader enum has no default")]
    MissingEnumSymbol { symbol: String },
    /// Fixed types of different sizes.
    #[error("writer fixed size {writer} != reader fixed size {reader}")]
    FixedSizeMismatch { writer: usize, reader: usize },
    /// A branch of a writer union that no branch of the reader union can read.
    #[error("writer union branch {writer} has no match in reader union")]
    UnmatchedWriterUnionBranch { writer: String },
    /// A non-union writer type that no branch of the reader union can read.
    #[error("writer type {writer} has no match in reader union")]
    NoMatchingReaderBranch { writer: String },
    /// Two decimals whose scale or precision differ (the specification's only logical-type rule).
    #[error(
        "writer decimal({writer_precision},{writer_scale}) does not match reader decimal({reader_precision},{reader_scale}): scale and precision must be equal"
    )]
    DecimalMismatch { writer_precision: usize, writer_scale: usize, reader_precision: usize, reader_scale: usize },
    /// A named reference that does not resolve inside its own schema (only for hand-built schemas).
    #[error("named type `{name}` is not defined in the {side} schema")]
    UnresolvedReference { name: String, side: &'static str },
}

/// Which existing schema a [`super::check`] failed against, and in which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckContext {
    /// Index into `existing_newest_first`: 0 is the newest existing schema.
    pub existing_index: usize,
    /// Who was reading whom.
    pub direction: Direction,
}

/// The direction of one resolution check inside a compatibility level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The new schema reads data written with an existing schema (BACKWARD).
    NewReadsExisting,
    /// An existing schema reads data written with the new schema (FORWARD).
    ExistingReadsNew,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NewReadsExisting => "the new schema cannot read data written with",
            Self::ExistingReadsNew => "data written with the new schema cannot be read by",
        })
    }
}

struct DisplayContext<'a>(Option<&'a CheckContext>);

impl fmt::Display for DisplayContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => Ok(()),
            Some(CheckContext { existing_index: 0, direction }) => {
                write!(f, "{direction} the newest existing schema: ")
            }
            Some(CheckContext { existing_index, direction }) => {
                write!(f, "{direction} the existing schema {existing_index} versions before the newest: ")
            }
        }
    }
}

struct DisplayPath<'a>(&'a str);

impl fmt::Display for DisplayPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { f.write_str("/") } else { f.write_str(self.0) }
    }
}
