//! Fuzzes the configuration reader: TOML text plus `WELLHEAD_*` overrides (the input's
//! lines after a `---` line, `NAME=value` each). Any input gives a config or an error,
//! never a panic; and no error shows the value of a password key that the input set.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wellhead::config::Config;

/// A password only the fuzzer's input can carry, to be looked for in errors.
const MARKER: &str = "Zq9secretMARK";

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else { return };
    let (toml, environment) = text.split_once("\n---\n").unwrap_or((text, ""));
    let environment: Vec<(String, String)> = environment
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let result = Config::from_text(toml, Path::new("fuzz.toml"), environment.clone());
    // A password set as `password = "<MARKER>"` (or by a *PASSWORD variable) never shows.
    let marked = toml.contains(&format!("password = \"{MARKER}\""))
        || environment.iter().any(|(name, value)| name.ends_with("PASSWORD") && value == MARKER);
    if marked && let Err(error) = &result {
        assert!(!error.to_string().contains(MARKER), "a configuration error shows a password: {error}");
    }
});
