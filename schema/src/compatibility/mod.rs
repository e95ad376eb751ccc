//! Avro schema compatibility by the specification's resolution rules (in progress).
