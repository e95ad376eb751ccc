//! The shared vocabulary of Wellhead: what a row change is, independent of the
//! database it came from and of the sink it goes to.
//!
//! ```text
//!  pgoutput / binlog bytes ──decoders──► ChangeEvent { table, op, before, after, position }
//!                                                 │
//!                      schema/ (Avro) ◄───────────┴──────────► sinks (JSON, Avro, Kafka)
//! ```
//!
//! Invariants:
//! - A [`Value`] keeps the exact meaning the database gave it: no float for a
//!   decimal, no local time for an instant, no invented value for a column the
//!   database did not send ([`ColumnValue::UnchangedToast`]).
//! - [`Position`]s of one source are totally ordered; positions of two
//!   different kinds of source cannot be compared (that is an error, not `false`).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::position::{
    BinlogPosition, FormatOnePositions, Lsn, LsnParseError, PgPosition, PgRecordPosition, Position, PositionMismatch,
    RestartPoint, SnapshotPosition, SourceOrigin,
};

/// A table's identity: PostgreSQL schema (or MySQL database) and table name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TableName {
    /// PostgreSQL schema, or MySQL database.
    pub namespace: String,
    /// Table name.
    pub name: String,
}

impl TableName {
    /// `namespace.name` exactly as the database spells them, the form table globs match.
    /// Not injective (`public."a.b"` and `"public.a".b` give the same text): never a key.
    pub fn dotted(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }
}

/// `schema.table` for people: each part as SQL would quote it (`public."a.b"`,
/// `"public.a".b`), so that distinct tables read distinctly, with control
/// characters escaped so that a name cannot forge a log line.
impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", Identifier(&self.namespace), Identifier(&self.name))
    }
}

/// Line and paragraph separators and bidirectional controls: not `char::is_control`,
/// yet able to split or reorder what a log viewer shows.
fn is_invisible_layout(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// An identifier (table, schema, column name) for messages and logs: kept when it is
/// a plain lower-case SQL identifier, otherwise double-quoted with `"` doubled and
/// control characters written as `\u{..}` escapes.
#[derive(Debug)]
pub struct Identifier<'a>(pub &'a str);

impl fmt::Display for Identifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.0;
        let mut bytes = name.bytes();
        let plain = bytes.next().is_some_and(|first| first.is_ascii_lowercase() || first == b'_')
            && bytes.all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'$');
        if plain {
            return f.write_str(name);
        }
        f.write_str("\"")?;
        for character in name.chars() {
            match character {
                '"' => f.write_str("\"\"")?,
                c if c.is_control() || is_invisible_layout(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

/// The type of a column, resolved far enough to decode its values exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// `numeric(precision, scale)`; both `None` for unconstrained numeric.
    Numeric {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    /// Character data of any length limit: text, varchar, char(n), name, "char".
    Text,
    Bytes,
    Date,
    /// Time of day without zone, microsecond resolution.
    Time,
    /// Time of day with a UTC offset.
    TimeTz,
    /// Date and time without zone (a wall-clock reading, not an instant).
    Timestamp,
    /// An instant.
    TimestampTz,
    Interval,
    Uuid,
    Json,
    Jsonb,
    Xml,
    Inet,
    Cidr,
    MacAddr,
    MacAddr8,
    /// PostgreSQL money, in minor units (1/100 with `lc_monetary=C`).
    Money,
    /// `bit(n)`; `length` is `None` when the modifier is unknown.
    Bit {
        length: Option<u32>,
    },
    VarBit,
    Oid,
    TsVector,
    /// A user-defined enum, with its labels in sort order.
    Enum {
        type_name: String,
        labels: Vec<String>,
    },
    Array {
        element: Box<ColumnType>,
    },
    Composite {
        type_name: String,
        fields: Vec<CompositeField>,
    },
    Range {
        type_name: String,
        subtype: Box<ColumnType>,
    },
    /// MySQL `BIGINT UNSIGNED` (smaller unsigned integers widen to a signed type that holds them).
    UInt64,
    /// MySQL `TIME`: a signed duration of up to ±838:59:59.999999, not a time of day.
    TimeDuration,
    /// MySQL `YEAR`.
    Year,
    /// MySQL `SET`: any subset of `labels`.
    Set {
        labels: Vec<String>,
    },
    /// MySQL spatial types: well-known binary with its SRID.
    Geometry,
    /// MySQL 9 / MariaDB 11.7 `VECTOR(n)`: `n` single-precision floats.
    Vector {
        dimensions: Option<u32>,
    },
    /// Any type Wellhead has no specific decoder for (extension types,
    /// multiranges, geometric types...): carried as the database's text.
    Other {
        type_name: String,
    },
}

/// One attribute of a composite type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositeField {
    pub name: String,
    pub column_type: ColumnType,
}

/// A column of a table as the source describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSchema {
    pub name: String,
    pub column_type: ColumnType,
    /// PostgreSQL type OID (0 for sources without OIDs).
    pub type_oid: u32,
    /// PostgreSQL `atttypmod` (-1 when none).
    pub type_modifier: i32,
    /// Part of the primary key, or of the replica identity when there is no key.
    pub is_key: bool,
}

/// A table's shape at one point of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    pub table: TableName,
    pub columns: Vec<ColumnSchema>,
}

/// One column's content in a row image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ColumnValue {
    Null,
    /// An unchanged TOASTed value the database did not send; never guessed.
    UnchangedToast,
    Value(Value),
}

/// A row image: one [`ColumnValue`] per column of its [`TableSchema`], in order.
pub type Row = Vec<ColumnValue>;

/// A typed value that keeps its exact meaning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Bool(bool),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Numeric(Numeric),
    Text(String),
    Bytes(Vec<u8>),
    Date(Date),
    /// Microseconds since midnight (0 ..= 86_400_000_000; 24:00:00 is valid).
    Time(i64),
    TimeTz(TimeTz),
    /// A wall-clock reading, microseconds since 1970-01-01 00:00:00 (no zone).
    Timestamp(Timestamp),
    /// An instant, microseconds since 1970-01-01 00:00:00 UTC.
    TimestampTz(Timestamp),
    Interval(Interval),
    Uuid([u8; 16]),
    /// JSON text exactly as the database rendered it (json keeps its input text; jsonb is normalised).
    Json(String),
    Xml(String),
    Inet(Inet),
    MacAddr([u8; 6]),
    MacAddr8([u8; 8]),
    /// Money in minor units (cents).
    Money(i64),
    /// A bit string, one `'0'`/`'1'` character per bit.
    Bits(String),
    Oid(u32),
    Enum(String),
    Array(ArrayValue),
    Composite(Vec<(String, Option<Value>)>),
    Range(Box<RangeValue>),
    /// MySQL `BIGINT UNSIGNED`.
    UInt64(u64),
    /// MySQL `TIME`: signed microseconds (may be negative or beyond 24 hours).
    TimeDuration(i64),
    /// MySQL `YEAR` (0 or 1901..=2155).
    Year(i16),
    /// MySQL `SET`: the members present, in definition order.
    Set(Vec<String>),
    /// A spatial value: SRID and well-known binary.
    Geometry {
        srid: u32,
        wkb: Vec<u8>,
    },
    /// A vector of single-precision floats.
    Vector(Vec<f32>),
    /// The database's text for a type without a specific decoder (tsvector, extension types...).
    Other(String),
}

/// An exact decimal, or one of PostgreSQL's special numeric values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Numeric {
    Finite(Decimal),
    NaN,
    PositiveInfinity,
    NegativeInfinity,
}

/// An exact decimal number: `(-1)^negative × digits × 10^-scale`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Decimal {
    pub negative: bool,
    /// The unscaled magnitude in ASCII decimal digits, no leading zeros ("0" for zero).
    pub digits: String,
    /// Digits after the decimal point (trailing zeros count: 1.50 has scale 2).
    pub scale: u32,
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = self.scale as usize;
        if self.negative {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&self.digits);
        }
        if self.digits.len() > scale {
            let (whole, fraction) = self.digits.split_at(self.digits.len() - scale);
            write!(f, "{whole}.{fraction}")
        } else {
            write!(f, "0.{}{}", "0".repeat(scale - self.digits.len()), self.digits)
        }
    }
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Numeric::Finite(decimal) => decimal.fmt(f),
            Numeric::NaN => f.write_str("NaN"),
            Numeric::PositiveInfinity => f.write_str("Infinity"),
            Numeric::NegativeInfinity => f.write_str("-Infinity"),
        }
    }
}

/// A calendar date, or one of PostgreSQL's infinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Date {
    /// Days since 1970-01-01 (proleptic Gregorian; negative before).
    Days(i32),
    PositiveInfinity,
    NegativeInfinity,
    /// MySQL's zero date and dates with a zero or out-of-calendar part (`0000-00-00`,
    /// `2024-00-10`, `2024-02-30` under `ALLOW_INVALID_DATES`): they name no day, so
    /// they keep the server's parts rather than becoming a fake date.
    Incomplete {
        year: u16,
        month: u8,
        day: u8,
    },
}

/// A timestamp (with or without zone, see [`Value`]), or one of PostgreSQL's infinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Timestamp {
    /// Microseconds since 1970-01-01 00:00:00 (proleptic Gregorian). Wider than 64 bits:
    /// PostgreSQL's range (to 294276 AD) passes `i64` in these units, and a value the
    /// database accepts is never an error here; a sink that cannot hold it says so.
    Micros(i128),
    PositiveInfinity,
    NegativeInfinity,
    /// A MySQL DATETIME or TIMESTAMP on an [`Date::Incomplete`] date (the zero
    /// timestamp `0000-00-00 00:00:00` among them), with its time of day in microseconds.
    Incomplete {
        year: u16,
        month: u8,
        day: u8,
        micros_of_day: i64,
    },
}

/// A time of day with its UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeTz {
    /// Microseconds since midnight, local to the offset.
    pub micros: i64,
    /// Offset east of UTC, in seconds (`+05:30` is 19800).
    pub utc_offset_seconds: i32,
}

/// PostgreSQL's interval: three independent fields, as the database keeps them.
/// `infinity` (PostgreSQL 17+) is all fields at their maximum, `-infinity` all at their minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

/// An IP address with its network prefix length (inet and cidr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Inet {
    pub address: IpAddr,
    pub prefix_length: u8,
    /// A `cidr` value, whose text always shows the prefix; an `inet` shows it only when it
    /// is shorter than the address (PostgreSQL's `inet_out`).
    #[serde(default)]
    pub cidr: bool,
}

impl fmt::Display for Inet {
    /// As PostgreSQL prints it: `'::1'::inet` is `::1`, `'::1'::cidr` is `::1/128`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = match self.address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if self.cidr || self.prefix_length != width {
            write!(f, "{}/{}", self.address, self.prefix_length)
        } else {
            write!(f, "{}", self.address)
        }
    }
}

/// A possibly multi-dimensional array with its bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrayValue {
    /// One entry per dimension, outermost first; empty for an empty array.
    pub dimensions: Vec<ArrayDimension>,
    /// Elements in row-major order; `None` is an SQL NULL element.
    pub elements: Vec<Option<Value>>,
}

/// One dimension of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArrayDimension {
    pub lower_bound: i32,
    pub length: u32,
}

/// A range value: empty, or two bounds each of which may be unbounded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RangeValue {
    Empty,
    Bounded {
        /// `None` when unbounded below.
        lower: Option<RangeBound>,
        /// `None` when unbounded above.
        upper: Option<RangeBound>,
    },
}

/// One end of a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeBound {
    pub value: Value,
    pub inclusive: bool,
}

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operation {
    /// `c`: a row was inserted.
    Insert,
    /// `u`: a row was updated.
    Update,
    /// `d`: a row was deleted.
    Delete,
    /// `r`: a row was read by a snapshot.
    Read,
    /// `t`: the table was truncated.
    Truncate,
}

impl Operation {
    /// The one-letter code of the Debezium-shaped envelope.
    pub fn code(self) -> &'static str {
        match self {
            Operation::Insert => "c",
            Operation::Update => "u",
            Operation::Delete => "d",
            Operation::Read => "r",
            Operation::Truncate => "t",
        }
    }
}

/// The source transaction an event belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TransactionInfo {
    /// The source's transaction id (PostgreSQL xid, MySQL GTID).
    pub id: String,
    /// Order of the event within its transaction, from 1.
    pub total_order: u64,
    /// Order of the event among its table's events within the transaction, from 1.
    pub data_collection_order: u64,
}

/// One row change, ready for a sink.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    /// The table's shape when the change was made; `before`/`after` follow its columns.
    pub schema: Arc<TableSchema>,
    pub operation: Operation,
    /// Row before the change: the old key or old row for updates and deletes,
    /// when the source sent it.
    pub before: Option<Row>,
    /// Row after the change, for inserts, updates and snapshot reads.
    pub after: Option<Row>,
    pub position: Position,
    /// Commit time of the source transaction, microseconds since the Unix epoch.
    pub commit_time_micros: i64,
    pub transaction: Option<TransactionInfo>,
    /// Whether a snapshot took it rather than the log, and if it is the snapshot's last row.
    pub snapshot: SnapshotFlag,
}

/// Debezium's `source.snapshot`: whether an event was taken by a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SnapshotFlag {
    /// Read from the log.
    #[default]
    False,
    /// A row of a snapshot.
    True,
    /// The last row of a snapshot.
    Last,
}

impl SnapshotFlag {
    /// The value of Debezium's `io.debezium.data.Enum` field `source.snapshot`.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotFlag::False => "false",
            SnapshotFlag::True => "true",
            SnapshotFlag::Last => "last",
        }
    }

    /// Taken by a snapshot (either kind of row).
    pub fn is_snapshot(self) -> bool {
        self != SnapshotFlag::False
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(namespace: &str, name: &str) -> TableName {
        TableName { namespace: namespace.to_owned(), name: name.to_owned() }
    }

    #[test]
    fn table_names_display_distinctly_and_cannot_forge_lines() {
        assert_eq!(table("public", "orders").to_string(), "public.orders");
        assert_eq!(table("public", "a.b").to_string(), "public.\"a.b\"");
        assert_eq!(table("public.a", "b").to_string(), "\"public.a\".b");
        assert_eq!(table("public", "Orders").to_string(), "public.\"Orders\"");
        assert_eq!(table("public", "say \"hi\"").to_string(), "public.\"say \"\"hi\"\"\"");
        let forged = table("public", "x\nERROR fake line\u{2028}\u{202e}").to_string();
        assert_eq!(forged, "public.\"x\\u{a}ERROR fake line\\u{2028}\\u{202e}\"");
        assert!(!forged.contains('\n'));
        assert_eq!(table("public", "a.b").dotted(), "public.a.b");
    }
}
