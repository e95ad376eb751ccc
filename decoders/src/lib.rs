//! Wellhead's leaf crate: the change model and the pure decoders that produce it.
//!
//! ```text
//!   CopyData bytes ──► pgoutput::replication (XLogData, keepalive)
//!                          │
//!                          ▼
//!                      pgoutput (Begin, Relation, Insert, ... as the protocol spells them)
//!                          │  tuple columns (text / binary bytes)
//!                          ▼
//!                      pgvalue (bytes + ColumnType → Value)  ──►  change (ChangeEvent, Row, Value)
//!   COPY (FORMAT binary) bytes ──► pgcopy (snapshot tuples: binary field bytes, for pgvalue)
//!
//!   binlog event bytes ──► binlog (header, table maps, rows, GTIDs, MariaDB events)
//!                              │  row images + table map codecs
//!                              ▼
//!                          binlog::value (binary → Value)  ──►  change (Row, Value)
//! ```
//!
//! No I/O, no async, no panics on input: every decoder returns an error that
//! names what was malformed and where.

pub mod binlog;
pub mod change;
pub mod pgcopy;
pub mod pgoutput;
pub mod pgvalue;
pub mod position;
