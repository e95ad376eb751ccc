//! The embedded schema registry's store and rules: Confluent Schema Registry
//! semantics without HTTP and without files.
//!
//! ```text
//!  HTTP layer (wellhead crate)                       this module
//!  POST /subjects/s/versions ──► store.register(s, text)? ──► Change{outcome, events}
//!                                 append events to the log ──► store.commit(change)
//!  GET  /schemas/ids/7       ──► store.schema_by_id(7)
//!  startup                   ──► RegistryStore::from_events(log)
//! ```
//!
//! Invariants:
//! - Subjects map versions (1, 2, ...) to global schema ids; the same
//!   canonical schema (see [`canonical`]) has the same id in every subject, ids
//!   start at 1 and are never reused, even after a permanent delete.
//! - State changes only through [`RegistryStore::apply`]: mutations take
//!   `&self`, return the events to persist and the outcome, and
//!   [`RegistryStore::commit`] applies them. Persist first, then commit: a
//!   failed append leaves memory untouched. Replaying the log gives the state
//!   the live store had.
//! - Soft delete hides a version (or every version of a subject) unless the
//!   request asks for deleted ones; permanent delete needs a soft delete first;
//!   a soft-deleted subject can be registered again, and its version numbers
//!   continue after the deleted ones, as Confluent's do.
//! - Errors are Confluent's ([`RegistryError`]): the HTTP layer serialises them.

pub mod canonical;
mod error;
mod event;
mod mutation;
mod schema_text;
mod store;

use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use error::{ApplyError, ErrorBody, RegistryError};
pub use event::RegistryEvent;
pub use store::RegistryStore;

use crate::compatibility::CompatibilityLevel;

/// A global schema id, as written in the Confluent wire format.
pub type SchemaId = u32;

/// A version number within a subject, from 1.
pub type Version = u32;

/// The largest version number Confluent accepts (2^31 - 1).
const MAX_VERSION: Version = 2_147_483_647;

/// The schema types of Confluent's API; the embedded registry stores Avro only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SchemaType {
    #[default]
    #[serde(rename = "AVRO")]
    Avro,
}

impl FromStr for SchemaType {
    type Err = RegistryError;

    /// `AVRO` (Confluent's default when the request names none); JSON and
    /// PROTOBUF are refused as invalid schemas.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("AVRO") {
            Ok(Self::Avro)
        } else {
            Err(RegistryError::InvalidSchema { reason: format!("schema type {text} is not supported; only AVRO is") })
        }
    }
}

/// A version of a subject, as `GET /subjects/{subject}/versions/{version}` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredSchema {
    pub subject: String,
    pub version: Version,
    pub id: SchemaId,
    /// The schema text as first registered under this id.
    pub schema: String,
    #[serde(rename = "schemaType")]
    pub schema_type: SchemaType,
}

/// A (subject, version) pair, as `GET /schemas/ids/{id}/versions` returns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: Version,
}

/// The outcome of a registration: the id (what `POST /subjects/{s}/versions`
/// returns) and the version it has in the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration {
    pub id: SchemaId,
    pub version: Version,
    /// False when the schema was already a live version of the subject and nothing changed.
    pub created: bool,
}

/// Which version a request names: a number, or `latest` (also spelled `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    Latest,
    Number(Version),
}

impl FromStr for VersionSelector {
    type Err = RegistryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "latest" || text == "-1" {
            return Ok(Self::Latest);
        }
        match text.parse::<Version>() {
            Ok(number) if (1..=MAX_VERSION).contains(&number) => Ok(Self::Number(number)),
            _ => Err(RegistryError::InvalidVersion { version: text.to_owned() }),
        }
    }
}

impl std::fmt::Display for VersionSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::Number(number) => write!(f, "{number}"),
        }
    }
}

/// The answer of `POST /compatibility/subjects/{s}/versions[/{v}]`; `messages`
/// is filled when incompatible (Confluent sends them with `?verbose=true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompatibilityReport {
    pub is_compatible: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
}

/// The answer of `GET /config` and `GET /config/{subject}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigView {
    #[serde(rename = "compatibilityLevel")]
    pub compatibility_level: CompatibilityLevel,
}

/// The body of `PUT /config[/{subject}]`. The level stays text so that an
/// unknown one is a 42203, not a JSON error; any letter case is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigRequest {
    pub compatibility: String,
}

impl ConfigRequest {
    /// The requested level, or 42203.
    pub fn level(&self) -> Result<CompatibilityLevel, RegistryError> {
        Ok(self.compatibility.parse::<CompatibilityLevel>()?)
    }
}

/// The answer of `PUT /config[/{subject}]` and `DELETE /config[/{subject}]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigUpdate {
    pub compatibility: CompatibilityLevel,
}

/// What a mutation decided: the outcome to answer with once `events` are
/// durable and committed. Dropping it changes nothing.
#[must_use = "a Change does nothing until its events are persisted and committed"]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<T> {
    pub outcome: T,
    /// In order; empty when the request changed nothing (e.g. re-registering the latest schema).
    pub events: Vec<RegistryEvent>,
}

#[cfg(test)]
mod replay_tests;
#[cfg(test)]
mod tests;
