//! Avro names from database names (in progress).
