//! The one wall clock Wellhead reads: for `ts_ms` in envelopes and the client
//! time in PostgreSQL's status updates. Timers and timeouts use `Instant`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch (zero when the system clock is set before 1970).
fn since_epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis_now() -> i64 {
    i64::try_from(since_epoch().as_millis()).unwrap_or(i64::MAX)
}

/// Microseconds since the Unix epoch.
pub fn unix_micros_now() -> i64 {
    i64::try_from(since_epoch().as_micros()).unwrap_or(i64::MAX)
}
