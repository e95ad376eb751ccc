//! Avro schemas and datums for the change model.
//!
//! ```text
//!  TableSchema ──key_schema / envelope_schema──► .avsc JSON (registered once per shape)
//!  TableSchema ──EnvelopeEncoder::new──► per-column plans ──encode_key / encode_envelope──► Avro binary
//! ```
//!
//! Every value keeps its exact meaning, as in the JSON sink. Every column type
//! is plain — `T`, or `["null", T]` (default null) outside the key — so Kafka
//! Connect's `AvroConverter`, ClickHouse and Parquet writers see one type, never
//! a union struct: standard logical types where Avro has them, and the Kafka
//! Connect semantic name Debezium uses as `connect.name`. A value `T` cannot
//! carry is null in the row and kept exactly, as text, in the envelope's
//! `special_values` (see the `envelope` module): a reader that does not know
//! the field sees a null, never a wrong number or a fake date. In a key column,
//! which cannot be null, such a value is an encoding error naming the column.
//!
//! | column type | Avro type (`connect.name`) | datum | special values |
//! |---|---|---|---|
//! | bool | `boolean` | | |
//! | int2, int4, MySQL integers up to INT | `int` | | |
//! | int8, oid, MySQL INT UNSIGNED, BIGINT | `long` | | |
//! | MySQL BIGINT UNSIGNED | `bytes` decimal(20, 0) | never wraps | |
//! | float4 / float8 | `float` / `double` | NaN, ±Infinity, -0 as IEEE 754 | |
//! | numeric(p, s), 1 ≤ p, s ≤ p; MySQL DECIMAL | `bytes` decimal(p, s) | a smaller value scale is rescaled exactly; a larger one, or more than p digits, is an error | NaN, ±Infinity |
//! | numeric, numeric(p, s > p) | `wellhead.VariableScaleDecimal {scale: int, value: bytes}` (`io.debezium.data.VariableScaleDecimal`) | the unscaled integer, big-endian two's complement | NaN, ±Infinity |
//! | money | `bytes` decimal(19, 2) | minor units are the unscaled value | |
//! | text family, bit, varbit, tsvector, other types | `string` | the database's text; bits as `'0'`/`'1'` | |
//! | xml | `string` (`io.debezium.data.Xml`) | | |
//! | inet, cidr | `string` | as PostgreSQL prints it (`192.168.0.1`, `10.0.0.0/8`) | |
//! | macaddr, macaddr8 | `string` | `08:00:2b:01:02:03` | |
//! | enum, MySQL ENUM | `string` with `"wellhead.enum.labels": [..]` (`io.debezium.data.Enum`, parameter `allowed`) | the label | |
//! | json, jsonb, MySQL JSON | `string` with `"wellhead.type": "json"` (`io.debezium.data.Json`) | the document as the database rendered it | |
//! | uuid | `string`, logicalType `uuid` (`io.debezium.data.Uuid`) | canonical lowercase | |
//! | bytea, binary family | `bytes` | | |
//! | date, MySQL DATE | `int` date (Connect's own `Date`) | days since 1970-01-01 | ±infinity, MySQL zero dates |
//! | timestamp, MySQL DATETIME | `long` local-timestamp-micros (`io.debezium.time.MicroTimestamp`) | a wall-clock reading | ±infinity, zero dates, beyond Avro's range |
//! | timestamptz, MySQL TIMESTAMP | `long` timestamp-micros | an instant | as timestamp |
//! | time | `long` time-micros (`io.debezium.time.MicroTime`) | 24:00:00 is 86 400 000 000 | |
//! | timetz | `string` (`io.debezium.time.ZonedTime`) | ISO 8601 `HH:MM:SS[.ffffff]±HH:MM[:SS]` | |
//! | MySQL TIME | `long` with `"wellhead.type": "duration-micros"` (`io.debezium.time.MicroTime`) | signed, may exceed 24 h | |
//! | MySQL YEAR | `int` (`io.debezium.time.Year`) | | |
//! | interval | `string` (`io.debezium.time.Interval`) | ISO 8601 duration (`P1Y2M3DT4H5M6.5S`), PostgreSQL's `iso_8601` style | |
//! | array | `array<["null", T]>` | one dimension from 1; `{}` is `[]` | more dimensions, another lower bound, or a special element |
//! | composite | record `wellhead.composite.<type>` of `["null", T]` fields | | a special field |
//! | range | record `wellhead.range.<type> {empty, lower: ["null", T], lower_inclusive, upper: ["null", T], upper_inclusive}` | an unbounded end is null and not inclusive | a special bound (`[2024-01-01,infinity)`) |
//! | MySQL SET | `array<string>` | members in definition order | |
//! | geometry | `wellhead.Geometry {srid: long, wkb: bytes}` | | |
//! | vector | `array<float>` | | |
//!
//! A special value's text is the JSON sink's rendering of it, a JSON string given as its
//! text: `NaN`, `-Infinity`, `infinity`, `0000-00-00`, `[[1,2],[3,4]]`,
//! `{"lower_bounds":[0],"elements":[1,2]}`.
//!
//! Names are in [`crate::naming`] (fields, namespaces) and the `types` module (named types).

pub(crate) mod binary;
mod decimal;
mod encode;
mod envelope;
mod error;
mod plan;
mod types;

#[cfg(test)]
mod avsc_tests;
#[cfg(test)]
mod tests;

pub use binary::write_string as write_string_datum;
pub use encode::{EnvelopeEncoder, SourceFields};
pub use envelope::{SourceKind, column_field_names, envelope_schema, key_schema};
pub use error::{EncodeError, Problem};
pub use types::{ENUM_LABELS_ATTRIBUTE, TYPE_ATTRIBUTE, WELLHEAD_NAMESPACE};
