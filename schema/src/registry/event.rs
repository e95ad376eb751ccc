//! The registry's persistence format: every mutation is a list of
//! [`RegistryEvent`]s, and the state is whatever applying them in order gives.
//!
//! ```text
//!  request ──plan (RegistryStore, &self)──► Change{outcome, events}
//!                                              │ append events durably (HTTP layer)
//!                                              ▼
//!                                  RegistryStore::commit / apply ──► new state
//!  restart: RegistryStore::from_events(log) ──► same state
//! ```
//!
//! Invariants:
//! - The JSON is stable: externally tagged by `"event"`, snake_case names,
//!   fields named as below. Changing it needs a migration.
//! - Events carry state, not deltas: applying an event twice leaves the same
//!   state (idempotent), so a log that repeats an entry after a crash between
//!   append and acknowledgement still replays correctly.
//! - Compaction-ready: [`RegistryEvent::key`] is the key of a compacted topic;
//!   the newest event per key is enough to rebuild the state, because each
//!   event holds the whole state of its key (`VersionRemoved` is the tombstone
//!   of its version key; schema keys are never removed, so ids are never reused).

use serde::{Deserialize, Serialize};

use super::{SchemaId, Version};
use crate::compatibility::CompatibilityLevel;

/// One persisted fact about the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum RegistryEvent {
    /// A schema received its global id. Emitted once per distinct canonical
    /// schema, before the first version that uses it.
    SchemaCreated {
        /// The global id, from 1, never reused.
        id: SchemaId,
        /// The schema text as first submitted.
        schema: String,
    },
    /// The whole state of one version of a subject: registered, or soft-deleted.
    VersionSet {
        subject: String,
        /// From 1, increasing within the subject; soft-deleted versions keep their number.
        version: Version,
        /// A schema id introduced by an earlier `SchemaCreated`.
        id: SchemaId,
        /// Soft-deleted: hidden unless a request asks for deleted versions.
        deleted: bool,
    },
    /// A version permanently deleted (only ever after it was soft-deleted).
    VersionRemoved { subject: String, version: Version },
    /// The compatibility level of one subject (`subject` set) or the global
    /// one; `compatibility: null` removes a subject's level, or resets the
    /// global one to the default (BACKWARD).
    ConfigSet { subject: Option<String>, compatibility: Option<CompatibilityLevel> },
}

impl RegistryEvent {
    /// The compaction key: the newest event per key carries that key's whole state.
    pub fn key(&self) -> String {
        match self {
            Self::SchemaCreated { id, .. } => format!("schema/{id}"),
            Self::VersionSet { subject, version, .. } | Self::VersionRemoved { subject, version } => {
                format!("version/{version}/{subject}")
            }
            Self::ConfigSet { subject: Some(subject), .. } => format!("config/subject/{subject}"),
            Self::ConfigSet { subject: None, .. } => "config/global".to_owned(),
        }
    }
}
