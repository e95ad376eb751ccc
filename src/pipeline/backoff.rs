//! The one backoff of Wellhead: how long to wait before trying again after a
//! transient failure (a source reconnecting, a pipeline restarting, the
//! embedded registry waiting for its Kafka topic).
//!
//! 250 ms doubling per failure up to [`MAX_DELAY`], minus up to a quarter at
//! random (instances restarted together do not stampede a server); a run that
//! lasted [`HEALTHY_RUN`], or one that made progress, starts the count again.

use std::time::{Duration, Instant};

/// First delay.
const FIRST_DELAY: Duration = Duration::from_millis(250);
/// Longest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// A run this long resets the delay to its minimum.
pub const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Consecutive failures and the delay they call for.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// Records a failure of a run that started at `started`; returns how long to wait.
    pub fn failed(&mut self, started: Instant) -> Duration {
        self.failures = if started.elapsed() >= HEALTHY_RUN { 1 } else { self.failures.saturating_add(1) };
        delay_after(self.failures)
    }

    /// The run made progress before it failed (a source handed over changes its last
    /// run had not): the next failure waits the first delay again, since the server
    /// was not refusing but working. Repeated failures at one place still back off.
    pub fn progressed(&mut self) {
        self.failures = 0;
    }

    /// Failures counted so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// The delay after `failures` consecutive failures (1 or more).
pub fn delay_after(failures: u32) -> Duration {
    let base = FIRST_DELAY.saturating_mul(1 << failures.saturating_sub(1).min(10)).min(MAX_DELAY);
    base.mul_f64(1.0 - rand::random::<f64>() * 0.25)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_up_to_its_cap_and_a_healthy_run_resets_it() {
        assert!(delay_after(1) <= FIRST_DELAY && delay_after(1) >= FIRST_DELAY.mul_f64(0.75));
        assert!(delay_after(3) >= FIRST_DELAY.mul_f64(4.0 * 0.75));
        assert!(delay_after(40) <= MAX_DELAY);
        let mut backoff = Backoff::default();
        backoff.failed(Instant::now());
        backoff.failed(Instant::now());
        assert_eq!(backoff.failures(), 2);
        let long_ago = Instant::now().checked_sub(HEALTHY_RUN).expect("clock");
        backoff.failed(long_ago);
        assert_eq!(backoff.failures(), 1);
        backoff.failed(Instant::now());
        backoff.progressed();
        assert!(backoff.failed(Instant::now()) <= FIRST_DELAY);
    }
}
