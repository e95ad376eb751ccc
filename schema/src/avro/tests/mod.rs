//! Round trips through apache-avro as the independent reader, and unit cases.

pub(crate) mod reader;
mod roundtrip;
mod strategy;
mod units;
