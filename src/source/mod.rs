//! Sources: connections to databases that turn their logs into change events.

pub mod postgres;
