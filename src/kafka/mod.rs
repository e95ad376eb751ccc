//! Kafka plumbing shared by everything that talks to a broker: the Kafka sink,
//! the embedded registry kept in a topic, and `wellhead check`.
//!
//! ```text
//!  client      ─ librdkafka settings (brokers, security), its log routed to tracing, errors sorted
//!  topics      ─ creates missing topics (partitions, replication, configs)
//!  committed_log ─ a topic partition's committed view read from the raw log
//!  transactions  ─ which raw records are committed (markers applied; pure)
//! ```

pub mod client;
pub mod committed_log;
pub mod topics;
mod transactions;
