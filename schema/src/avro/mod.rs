//! Avro schemas and datums for the change model (in progress).
