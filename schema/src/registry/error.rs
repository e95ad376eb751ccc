//! Errors as Confluent Schema Registry's REST API reports them: an HTTP
//! status, a numeric `error_code` and a message. The HTTP layer serialises
//! [`RegistryError::body`] with [`RegistryError::http_status`] and adds nothing.
//!
//! Invariant: every variant's `error_code` is the one Confluent clients branch
//! on (e.g. `confluent_kafka` raises on 40401 / 409), and its HTTP status is
//! the first three digits of that code.

use serde::{Deserialize, Serialize};

use super::{SchemaId, Version};

/// A request the registry refuses. `Display` is the message Confluent sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// 40401: the subject does not exist (or exists only soft-deleted and the request did not ask for deleted).
    #[error("Subject '{subject}' not found.")]
    SubjectNotFound { subject: String },
    /// 40402: the subject has no such version (visible to this request).
    #[error("Version {version} not found.")]
    VersionNotFound { subject: String, version: String },
    /// 40403: no schema has this id.
    #[error("Schema {id} not found")]
    SchemaIdNotFound { id: SchemaId },
    /// 40403: the schema is not registered under the subject.
    #[error("Schema not found")]
    SchemaNotRegistered { subject: String },
    /// 40404: soft delete of a subject that is already soft-deleted.
    #[error("Subject '{subject}' was soft deleted. Set permanent=true to delete permanently")]
    SubjectSoftDeleted { subject: String },
    /// 40405: permanent delete of a subject that still has versions not soft-deleted.
    #[error("Subject '{subject}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted { subject: String },
    /// 40406: soft delete of a version that is already soft-deleted.
    #[error("Subject '{subject}' Version {version} was soft deleted. Set permanent=true to delete permanently")]
    VersionSoftDeleted { subject: String, version: Version },
    /// 40407: permanent delete of a version that is not soft-deleted.
    #[error("Subject '{subject}' Version {version} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted { subject: String, version: Version },
    /// 40408: the subject has no subject-level compatibility and the request did not ask for the global fallback.
    #[error("Subject '{subject}' does not have subject-level compatibility configured")]
    SubjectConfigNotFound { subject: String },
    /// 42201: the schema text is not a valid Avro schema (or not an Avro schema at all).
    #[error("Invalid schema: {reason}")]
    InvalidSchema { reason: String },
    /// 42202: a version that is neither `latest`, `-1` nor an integer in 1..=2^31-1.
    #[error(
        "The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
    )]
    InvalidVersion { version: String },
    /// 42203: a compatibility level name that is none of Confluent's seven.
    #[error(
        "Invalid compatibility level '{level}'. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"
    )]
    InvalidCompatibilityLevel { level: String },
    /// 409: registering a schema the subject's compatibility level rejects.
    #[error(
        "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
        details.join(", ")
    )]
    Incompatible { subject: String, details: Vec<String> },
}

impl RegistryError {
    /// Confluent's `error_code`.
    pub fn error_code(&self) -> u32 {
        match self {
            Self::SubjectNotFound { .. } => 40401,
            Self::VersionNotFound { .. } => 40402,
            Self::SchemaIdNotFound { .. } | Self::SchemaNotRegistered { .. } => 40403,
            Self::SubjectSoftDeleted { .. } => 40404,
            Self::SubjectNotSoftDeleted { .. } => 40405,
            Self::VersionSoftDeleted { .. } => 40406,
            Self::VersionNotSoftDeleted { .. } => 40407,
            Self::SubjectConfigNotFound { .. } => 40408,
            Self::InvalidSchema { .. } => 42201,
            Self::InvalidVersion { .. } => 42202,
            Self::InvalidCompatibilityLevel { .. } => 42203,
            Self::Incompatible { .. } => 409,
        }
    }

    /// The HTTP status the REST API answers with: 404, 422 or 409.
    pub fn http_status(&self) -> u16 {
        match self.error_code() {
            40400..=40499 => 404,
            42200..=42299 => 422,
            _ => 409,
        }
    }

    /// The JSON body Confluent sends: `{"error_code": 40401, "message": "..."}`.
    pub fn body(&self) -> ErrorBody {
        ErrorBody { error_code: self.error_code(), message: self.to_string() }
    }
}

impl From<crate::compatibility::UnknownCompatibilityLevel> for RegistryError {
    fn from(unknown: crate::compatibility::UnknownCompatibilityLevel) -> Self {
        Self::InvalidCompatibilityLevel { level: unknown.0 }
    }
}

/// The error body of Confluent's REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error_code: u32,
    pub message: String,
}

/// An event that does not follow from the store's state: a corrupted,
/// reordered or foreign log. Events a store emitted itself always apply to
/// the state they were planned against.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The schema text of a `SchemaCreated` event does not parse.
    #[error("schema {id} in the registry log does not parse: {reason}")]
    UnparsableSchema { id: SchemaId, reason: String },
    /// An id already bound to a different schema, or a schema already bound to another id.
    #[error("schema {id} in the registry log conflicts with schema {existing} already stored")]
    ConflictingSchema { id: SchemaId, existing: SchemaId },
    /// A version that refers to an id no `SchemaCreated` event introduced.
    #[error("subject '{subject}' version {version} in the registry log refers to unknown schema {id}")]
    UnknownSchemaId { subject: String, version: Version, id: SchemaId },
}
