//! Wellhead: change data capture from PostgreSQL (and, later, MySQL/MariaDB)
//! into files and Kafka.
//!
//! ```text
//!  database ─► source ─► decoders ─► pipeline (bounded batches) ─► sink ─► checkpoint ─► ack
//! ```

pub mod batch;
pub mod check;
pub mod checkpoint;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod durable;
pub mod failure;
pub mod health;
pub mod kafka;
pub mod pipeline;
pub mod registry;
pub mod run;
pub mod secret;
pub mod sink;
pub mod source;
pub mod telemetry;
