//! Avro schemas and datums for the change model.
//!
//! ```text
//!  TableSchema ──key_schema / envelope_schema──► .avsc JSON (registered once per shape)
//!  TableSchema ──EnvelopeEncoder::new──► per-column plans ──encode_key / encode_envelope──► Avro binary
//! ```
//!
//! Every value keeps its exact meaning, as in the JSON sink; where Avro has a
//! standard logical type it is used, so any Avro reader understands the value.
//! A column's type `T` appears as `["null", T]` (default null) unless the column
//! is a key column; a union `T` is flattened into that union.
//!
//! | column type | Avro type | datum |
//! |---|---|---|
//! | bool | `boolean` | |
//! | int2, int4, MySQL YEAR | `int` | |
//! | int8, oid | `long` | |
//! | MySQL BIGINT UNSIGNED | `bytes` decimal(20, 0) | never wraps |
//! | float4 / float8 | `float` / `double` | NaN, ±Infinity, -0 as IEEE 754 |
//! | numeric(p, s), 1 ≤ p, s ≤ p | `[decimal(p, s), wellhead.NumericSpecial]` | a smaller value scale is rescaled exactly; a larger one, or more than p digits, is an error |
//! | numeric, numeric(p, s > p) | `[wellhead.VariableScaleDecimal, wellhead.NumericSpecial]` | `{scale: int, value: bytes}`: the unscaled integer, big-endian two's complement |
//! | NaN, Infinity, -Infinity | `wellhead.NumericSpecial` | symbols `NaN`, `Infinity`, `NegativeInfinity` |
//! | money | `bytes` decimal(19, 2) | minor units are the unscaled value |
//! | text family, xml, bit, varbit, tsvector, other types | `string` | the database's text; bits as `'0'`/`'1'` |
//! | inet, cidr | `string` | `address/prefix` (`192.168.0.1/32`) |
//! | macaddr, macaddr8 | `string` | `08:00:2b:01:02:03` |
//! | enum | `string` with `"wellhead.enum.labels": [..]` | the label (labels are any text, and adding one stays compatible) |
//! | json, jsonb | `string` with `"wellhead.type": "json"` | the document as the database rendered it |
//! | uuid | `string`, logicalType `uuid` | canonical lowercase |
//! | bytea, binary family | `bytes` | |
//! | date | `[int date, wellhead.Infinity]` | days since 1970-01-01; symbols `Infinity`, `NegativeInfinity` |
//! | timestamp, MySQL DATETIME | `[long local-timestamp-micros, wellhead.Infinity]` | a wall-clock reading |
//! | timestamptz, MySQL TIMESTAMP | `[long timestamp-micros, wellhead.Infinity]` | an instant |
//! | time | `long` time-micros | 24:00:00 is 86 400 000 000 |
//! | timetz | `wellhead.TimeTz {micros: time-micros, utc_offset_seconds: int}` | offset east of UTC |
//! | MySQL TIME | `long` with `"wellhead.type": "duration-micros"` | signed, may exceed 24 h |
//! | interval | `wellhead.Interval {months: int, days: int, micros: long}` | PostgreSQL's three fields; infinity is all at max/min |
//! | array | record `<scope>.<field>_Array {dimensions: array<wellhead.ArrayDimension {lower_bound, length}>, elements: array<["null", T]>}` | row-major; no dimensions when empty |
//! | composite | record `wellhead.composite.<type>` of `["null", T]` fields | |
//! | range | record `wellhead.range.<type> {empty, lower: ["null", T], lower_inclusive, upper: ["null", T], upper_inclusive}` | an unbounded end is null and not inclusive |
//! | MySQL SET | `array<string>` | members in definition order |
//! | geometry | `wellhead.Geometry {srid: long, wkb: bytes}` | |
//! | vector | `array<float>` | |
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
