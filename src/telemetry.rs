//! Logging setup. Logs go to standard error (standard output may carry data),
//! filtered by `WELLHEAD_LOG` (tracing's env-filter syntax; default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Environment variable that sets the log filter.
pub const LOG_FILTER_VARIABLE: &str = "WELLHEAD_LOG";

/// Installs the global subscriber.
pub fn init_logging() {
    let filter = EnvFilter::try_from_env(LOG_FILTER_VARIABLE).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
