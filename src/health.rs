//! What each pipeline is doing, as `/health/ready` reports it: a pipeline is ready
//! while its source streams; starting, reconnecting, restarting from its checkpoint or
//! stopped, it is not, and the reason says why.
//!
//! ```text
//!  run (starting) ─► source (streaming) ─► pipeline (reconnecting | restarting | stopped)
//!                                  └─────────► Health ◄── GET /health/ready
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

/// One pipeline's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PipelineState {
    Starting,
    /// Copying the existing rows of its tables (ready: it is making progress).
    Snapshotting,
    Streaming,
    /// The source lost its connection and connects again (a transient failure).
    Reconnecting {
        reason: String,
    },
    /// The sink failed transiently; the pipeline starts again from its last checkpoint.
    Restarting {
        reason: String,
    },
    /// Ended: stopped on request, or failed for good.
    Stopped {
        reason: String,
    },
}

/// Every pipeline's state; cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct Health {
    states: Arc<Mutex<BTreeMap<String, PipelineState>>>,
}

/// The answer of `/health/ready`.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// `UP` when every pipeline streams.
    pub status: &'static str,
    pub pipelines: BTreeMap<String, PipelineState>,
}

impl Health {
    pub fn set(&self, pipeline: &str, state: PipelineState) {
        self.states.lock().unwrap_or_else(PoisonError::into_inner).insert(pipeline.to_owned(), state);
    }

    /// Whether every pipeline streams, with each one's state.
    pub fn readiness(&self) -> Readiness {
        let pipelines = self.states.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let ready = !pipelines.is_empty()
            && pipelines.values().all(|state| matches!(state, PipelineState::Streaming | PipelineState::Snapshotting));
        Readiness { status: if ready { "UP" } else { "DOWN" }, pipelines }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_while_every_pipeline_streams() {
        let health = Health::default();
        assert_eq!(health.readiness().status, "DOWN", "no pipeline yet");
        health.set("a", PipelineState::Streaming);
        health.set("b", PipelineState::Reconnecting { reason: "connection refused".into() });
        let readiness = health.readiness();
        assert_eq!(readiness.status, "DOWN");
        let body = serde_json::to_value(&readiness).expect("JSON");
        assert_eq!(
            body["pipelines"]["b"],
            serde_json::json!({"state": "reconnecting", "reason": "connection refused"})
        );
        health.set("b", PipelineState::Streaming);
        assert_eq!(health.readiness().status, "UP");
    }
}
