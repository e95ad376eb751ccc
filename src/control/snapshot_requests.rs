//! Requests to copy a table again while its pipeline runs: the control plane adds
//! them (`POST /pipelines/{pipeline}/snapshots`, `wellhead snapshot`), the
//! pipeline's source takes them between two sessions. A reloaded config's table
//! list (SIGHUP, see [`super::reload`]) reaches the source the same way: the
//! tables it adds are new to the pipeline, so the next session copies them.
//!
//! ```text
//!  HTTP ─► SnapshotRequests::request(pipeline, table) ─► generation + 1 (watch)
//!        ─► the pipeline's stream session ends ─► take(pipeline) ─► tables Queued ─► copied
//!  SIGHUP ─► capture(pipeline, patterns) ─► ... ─► take_capture(pipeline) ─► source.tables
//! ```
//!
//! Not persisted: a request the source has not taken when the process stops is
//! lost (the operator sees no "Snapshot requested" line in the log, and asks
//! again). Once taken, the table's state is in the checkpoint.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use wellhead_decoders::change::TableName;

/// Pending requests, by pipeline; cheap to clone and share.
#[derive(Debug, Clone)]
pub struct SnapshotRequests {
    pending: Arc<Mutex<BTreeMap<String, BTreeSet<TableName>>>>,
    /// A reloaded config's `source.tables`, by pipeline, not yet taken.
    captures: Arc<Mutex<BTreeMap<String, Vec<String>>>>,
    /// Bumped with every request, so that sources wake up.
    generation: Arc<watch::Sender<u64>>,
}

impl Default for SnapshotRequests {
    fn default() -> Self {
        SnapshotRequests {
            pending: Arc::default(),
            captures: Arc::default(),
            generation: Arc::new(watch::channel(0).0),
        }
    }
}

impl SnapshotRequests {
    /// Asks `pipeline` to copy `table` again.
    pub fn request(&self, pipeline: &str, table: TableName) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.entry(pipeline.to_owned()).or_default().insert(table);
        }
        self.generation.send_modify(|generation| *generation += 1);
    }

    /// Asks `pipeline` to capture the tables `patterns` name from now on (a config reload).
    pub fn capture(&self, pipeline: &str, patterns: Vec<String>) {
        if let Ok(mut captures) = self.captures.lock() {
            captures.insert(pipeline.to_owned(), patterns);
        }
        self.generation.send_modify(|generation| *generation += 1);
    }

    /// Takes `pipeline`'s new table patterns, if a reload gave it some.
    pub fn take_capture(&self, pipeline: &str) -> Option<Vec<String>> {
        self.captures.lock().ok().and_then(|mut captures| captures.remove(pipeline))
    }

    /// True when `pipeline` has requests waiting.
    pub fn pending_for(&self, pipeline: &str) -> bool {
        self.pending.lock().is_ok_and(|pending| pending.get(pipeline).is_some_and(|tables| !tables.is_empty()))
            || self.captures.lock().is_ok_and(|captures| captures.contains_key(pipeline))
    }

    /// Takes `pipeline`'s requests.
    pub fn take(&self, pipeline: &str) -> Vec<TableName> {
        self.pending
            .lock()
            .ok()
            .and_then(|mut pending| pending.remove(pipeline))
            .map(|tables| tables.into_iter().collect())
            .unwrap_or_default()
    }

    /// A receiver that changes with every request (of any pipeline).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}

/// `wellhead snapshot` could not hand its request over.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("control.http is not set in the config: the running instance serves snapshot requests there")]
    NoControlAddress,
    #[error("the config has pipelines {0:?}: say which one with --pipeline")]
    WhichPipeline(Vec<String>),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("no answer from the running instance at {address} ({reason}); is `wellhead run` running with this config?")]
    Unreachable { address: String, reason: String },
    #[error("the running instance refused the request ({status}): {body}")]
    Refused { status: u16, body: String },
}

/// Sends a request to copy `table` again to the instance running `config`, with the
/// operator's credentials when it has them; returns the instance's answer.
pub fn send_request(config: &crate::config::Config, pipeline: Option<&str>, table: &str) -> Result<String, SendError> {
    let address = config.control.http.as_deref().ok_or(SendError::NoControlAddress)?;
    let pipeline = match pipeline {
        Some(pipeline) => pipeline.to_owned(),
        None => match config.pipelines.as_slice() {
            [only] => only.name.clone(),
            several => return Err(SendError::WhichPipeline(several.iter().map(|p| p.name.clone()).collect())),
        },
    };
    let url = format!("http://{address}/pipelines/{}/snapshots", percent_encode(&pipeline));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent.post(&url).header("Content-Type", "application/json");
    if let Some(password) = config.control.resolve_registry_password()? {
        use base64::Engine;
        let credentials = format!("{}:{}", config.control.registry_user, password.expose());
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        request = request.header("Authorization", &format!("Basic {encoded}"));
    }
    let body = serde_json::json!({ "table": table }).to_string();
    let mut response = request
        .send(body.as_bytes())
        .map_err(|error| SendError::Unreachable { address: address.to_owned(), reason: error.to_string() })?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    if status == 202 { Ok(text) } else { Err(SendError::Refused { status, body: text }) }
}

/// A path segment with everything but unreserved characters percent-encoded.
fn percent_encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(byte).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_wakes_subscribers_and_is_taken_once() {
        let requests = SnapshotRequests::default();
        let mut woken = requests.subscribe();
        let table = TableName { namespace: "public".into(), name: "t".into() };
        requests.request("p", table.clone());
        requests.request("p", table.clone());
        assert!(woken.has_changed().expect("open"));
        woken.borrow_and_update();
        assert!(requests.pending_for("p"));
        assert!(!requests.pending_for("q"));
        assert_eq!(requests.take("p"), vec![table]);
        assert!(requests.take("p").is_empty());
    }
}
