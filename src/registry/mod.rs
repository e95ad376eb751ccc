//! Schema registries as a pipeline uses them: the embedded one (in this
//! process, durable in an event log — a file, or a compacted Kafka topic when its
//! pipelines stream to Kafka — served on the control address) and an external
//! Confluent-compatible one over HTTP.
//!
//! ```text
//!  sink ─► SchemaRegistry::register(subject, schema, policy)
//!            ├─ compatible ─► id (one call per new table shape, never per record)
//!            └─ incompatible ─► policy stop: error naming table and change | allow: register anyway
//! ```

pub mod client;
pub mod embedded;
pub mod kafka_log;

use std::sync::Arc;

use wellhead_schema::compatibility::CompatibilityLevel;
use wellhead_schema::registry::{Registration, RegistryError, VersionSelector};

use self::client::{ClientError, RegistryClient};
use self::embedded::{EmbeddedRegistry, EmbeddedRegistryError};
use crate::failure::{Classify, ErrorClass};

/// What a pipeline does with a schema its subject's compatibility level rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnIncompatible {
    /// Stop the pipeline with the error; the checkpoint stays before the change.
    #[default]
    Stop,
    /// Register the schema anyway (the subject's level is relaxed for that one registration).
    Allow,
}

/// Registering a schema failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("schema for subject {subject} is incompatible with its registered versions under {level}: {details}")]
    Incompatible { subject: String, level: CompatibilityLevel, details: String },
    #[error("schema registry: {0}")]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Embedded(#[from] EmbeddedRegistryError),
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl Classify for RegisterError {
    /// Transient: the registry could not be reached (its Kafka topic, an external
    /// registry's address, or a 5xx); the pipeline retries from its checkpoint.
    fn class(&self) -> ErrorClass {
        match self {
            RegisterError::Embedded(EmbeddedRegistryError::Kafka(error)) => error.class(),
            RegisterError::Client(ClientError::Unreachable { .. }) => ErrorClass::Transient,
            RegisterError::Client(ClientError::Answer { status, .. }) if *status >= 500 => ErrorClass::Transient,
            RegisterError::Incompatible { .. }
            | RegisterError::Registry(_)
            | RegisterError::Embedded(_)
            | RegisterError::Client(_) => ErrorClass::Definite,
        }
    }
}

/// The registry a pipeline registers its schemas with.
#[derive(Debug, Clone)]
pub enum SchemaRegistry {
    Embedded(Arc<EmbeddedRegistry>),
    External(Arc<RegistryClient>),
}

impl SchemaRegistry {
    /// Sets `level` for `subject` unless the subject already has a level of its own.
    pub fn default_level(&self, subject: &str, level: CompatibilityLevel) -> Result<(), RegisterError> {
        match self {
            SchemaRegistry::Embedded(registry) => Ok(registry.set_level_if_unset(subject, level)?),
            SchemaRegistry::External(client) => {
                if client.subject_level(subject)?.is_none() {
                    client.set_level(subject, level)?;
                }
                Ok(())
            }
        }
    }

    /// The text of `subject`'s newest version, if it has one (to explain a refused
    /// change; `None` from an external registry, whose client does not fetch versions yet).
    pub fn latest_schema(&self, subject: &str) -> Option<String> {
        match self {
            SchemaRegistry::Embedded(registry) => registry
                .read(|store| store.version(subject, VersionSelector::Latest, false).ok().map(|found| found.schema)),
            SchemaRegistry::External(_) => None,
        }
    }

    /// Checks `schema` against `subject`'s level and registers it; returns its id and version.
    pub fn register(&self, subject: &str, schema: &str, policy: OnIncompatible) -> Result<Registration, RegisterError> {
        match self {
            SchemaRegistry::Embedded(registry) => match registry.register(subject, schema) {
                Ok(registration) => Ok(registration),
                Err(EmbeddedRegistryError::Registry(RegistryError::Incompatible { details, .. })) => {
                    let level = registry.effective_level(subject);
                    match policy {
                        OnIncompatible::Stop => Err(RegisterError::Incompatible {
                            subject: subject.to_owned(),
                            level,
                            details: details.join("; "),
                        }),
                        OnIncompatible::Allow => {
                            tracing::warn!(%subject, %level, details = %details.join("; "), "Registering an incompatible schema (on_incompatible = allow).");
                            Ok(registry.register_ignoring_level(subject, schema)?)
                        }
                    }
                }
                Err(error) => Err(error.into()),
            },
            SchemaRegistry::External(client) => match client.register(subject, schema) {
                Ok(registration) => Ok(registration),
                Err(error) if error.error_code() == Some(409) => {
                    let level = client.effective_level(subject)?;
                    match policy {
                        OnIncompatible::Stop => Err(RegisterError::Incompatible {
                            subject: subject.to_owned(),
                            level,
                            details: error.to_string(),
                        }),
                        OnIncompatible::Allow => {
                            tracing::warn!(%subject, %level, details = %error, "Registering an incompatible schema (on_incompatible = allow).");
                            let own_level = client.subject_level(subject)?;
                            client.set_level(subject, CompatibilityLevel::None)?;
                            let registered = client.register(subject, schema);
                            match own_level {
                                Some(level) => client.set_level(subject, level)?,
                                None => client.delete_level(subject)?,
                            }
                            Ok(registered?)
                        }
                    }
                }
                Err(error) => Err(error.into()),
            },
        }
    }
}
