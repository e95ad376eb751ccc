//! Avro mapping of the change model; filled by the Avro/registry work.
