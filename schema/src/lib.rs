//! Wellhead's Avro side, on top of the change model of `wellhead-decoders`.
//!
//! ```text
//!  TableSchema ──avro::schema──► key / envelope Avro schemas ──registry──► schema ids
//!  ChangeEvent ──avro::encode──► Avro binary ──wire──► Confluent framing (magic 0, id, datum)
//!  Value ──json──► JSON text (the JSON sinks; special values in Avro envelopes)
//!  new schema vs registered ──compatibility──► compatible, or which rule broke
//! ```
//!
//! Pure code: no I/O. The registry here is the embedded registry's store and
//! rules; its HTTP API and persistence live in the `wellhead` crate.

pub mod avro;
pub mod compatibility;
pub mod container;
pub mod json;
pub mod naming;
pub mod registry;
pub mod wire;
