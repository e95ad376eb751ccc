//! The registry's state, how events change it, and the read-only lookups.
//!
//! Invariants (kept by [`RegistryStore::apply`], relied on by every lookup):
//! - `schemas` only grows: an id, once bound to a canonical schema, keeps it;
//!   `ids_by_canonical` is its exact inverse.
//! - Every version refers to an id in `schemas`.
//! - A subject in `subjects` has at least one version (live or soft-deleted);
//!   removing its last version removes the subject.
//! - A subject is *live* when it has a version not soft-deleted, *soft-deleted*
//!   when all its versions are.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};

use apache_avro::Schema;

use super::canonical::canonical_form;
use super::schema_text::check_schema_json;
use super::{
    ApplyError, Change, RegisteredSchema, RegistryError, RegistryEvent, SchemaId, SchemaType, SubjectVersion, Version,
    VersionSelector,
};
use crate::compatibility::CompatibilityLevel;

/// A schema as stored under its id.
#[derive(Debug, Clone)]
pub(super) struct StoredSchema {
    /// As first submitted.
    pub(super) text: String,
    /// The registry's identity of the schema (see `canonical`).
    pub(super) canonical: String,
    /// Parsed once, for compatibility checks.
    pub(super) parsed: Schema,
}

/// One version of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct VersionState {
    pub(super) id: SchemaId,
    pub(super) deleted: bool,
}

/// The embedded registry's whole state. See the module documentation of
/// `registry` for how it changes.
#[derive(Debug, Clone, Default)]
pub struct RegistryStore {
    pub(super) schemas: BTreeMap<SchemaId, StoredSchema>,
    pub(super) ids_by_canonical: HashMap<String, SchemaId>,
    pub(super) subjects: BTreeMap<String, BTreeMap<Version, VersionState>>,
    /// `None`: the default, BACKWARD.
    pub(super) global_level: Option<CompatibilityLevel>,
    pub(super) subject_levels: BTreeMap<String, CompatibilityLevel>,
}

/// Equal state: the same ids, texts, versions and levels (parsed schemas follow from the texts).
impl PartialEq for RegistryStore {
    fn eq(&self, other: &Self) -> bool {
        self.schemas.len() == other.schemas.len()
            && self.schemas.iter().zip(&other.schemas).all(|((id, schema), (other_id, other_schema))| {
                id == other_id && schema.text == other_schema.text && schema.canonical == other_schema.canonical
            })
            && self.ids_by_canonical == other.ids_by_canonical
            && self.subjects == other.subjects
            && self.global_level == other.global_level
            && self.subject_levels == other.subject_levels
    }
}

impl Eq for RegistryStore {}

/// Parses an Avro schema and computes its canonical form, as 42201 on failure.
pub(super) fn parse_schema(text: &str) -> Result<(Schema, String), RegistryError> {
    let invalid = |reason: String| RegistryError::InvalidSchema { reason };
    let json: serde_json::Value = serde_json::from_str(text).map_err(|error| invalid(error.to_string()))?;
    check_schema_json(&json).map_err(invalid)?;
    // The check above covers every unwrap of apache-avro's parser known today; should a
    // newer one panic on other input, the client still gets 42201, not a dropped connection.
    let parse = std::panic::AssertUnwindSafe(|| Schema::parse(&json));
    let parsed = std::panic::catch_unwind(parse)
        .map_err(|_| invalid("apache-avro could not parse this schema".into()))?
        .map_err(|error| invalid(error.to_string()))?;
    let canonical = canonical_form(&parsed).map_err(|error| invalid(error.to_string()))?;
    Ok((parsed, canonical))
}

impl RegistryStore {
    /// An empty registry: no subjects, global level BACKWARD.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when no event was ever applied that left a trace: no schema, subject or level.
    pub fn is_empty(&self) -> bool {
        self.schemas.is_empty()
            && self.subjects.is_empty()
            && self.global_level.is_none()
            && self.subject_levels.is_empty()
    }

    /// Rebuilds a store from its log, in order.
    pub fn from_events<E: Borrow<RegistryEvent>>(events: impl IntoIterator<Item = E>) -> Result<Self, ApplyError> {
        let mut store = Self::new();
        for event in events {
            store.apply(event.borrow())?;
        }
        Ok(store)
    }

    /// Applies the events of a change (after they were persisted) and returns its outcome.
    pub fn commit<T>(&mut self, change: Change<T>) -> Result<T, ApplyError> {
        for event in &change.events {
            self.apply(event)?;
        }
        Ok(change.outcome)
    }

    /// Changes the state by one event; the only way the state changes.
    /// Idempotent. On error the state is unchanged.
    pub fn apply(&mut self, event: &RegistryEvent) -> Result<(), ApplyError> {
        match event {
            RegistryEvent::SchemaCreated { id, schema } => self.apply_schema_created(*id, schema),
            RegistryEvent::VersionSet { subject, version, id, deleted } => {
                if !self.schemas.contains_key(id) {
                    return Err(ApplyError::UnknownSchemaId { subject: subject.clone(), version: *version, id: *id });
                }
                let state = VersionState { id: *id, deleted: *deleted };
                self.subjects.entry(subject.clone()).or_default().insert(*version, state);
                Ok(())
            }
            RegistryEvent::VersionRemoved { subject, version } => {
                if let Some(versions) = self.subjects.get_mut(subject) {
                    versions.remove(version);
                    if versions.is_empty() {
                        self.subjects.remove(subject);
                    }
                }
                Ok(())
            }
            RegistryEvent::ConfigSet { subject: None, compatibility } => {
                self.global_level = *compatibility;
                Ok(())
            }
            RegistryEvent::ConfigSet { subject: Some(subject), compatibility } => {
                match compatibility {
                    Some(level) => self.subject_levels.insert(subject.clone(), *level),
                    None => self.subject_levels.remove(subject),
                };
                Ok(())
            }
        }
    }

    fn apply_schema_created(&mut self, id: SchemaId, text: &str) -> Result<(), ApplyError> {
        let (parsed, canonical) =
            parse_schema(text).map_err(|error| ApplyError::UnparsableSchema { id, reason: error.to_string() })?;
        if let Some(&existing) = self.ids_by_canonical.get(&canonical) {
            return if existing == id { Ok(()) } else { Err(ApplyError::ConflictingSchema { id, existing }) };
        }
        if self.schemas.contains_key(&id) {
            return Err(ApplyError::ConflictingSchema { id, existing: id });
        }
        self.ids_by_canonical.insert(canonical.clone(), id);
        self.schemas.insert(id, StoredSchema { text: text.to_owned(), canonical, parsed });
        Ok(())
    }

    /// The schema text under `id` (`GET /schemas/ids/{id}`). Soft-deleted
    /// versions still serve their schema (consumers need it); an id no version
    /// refers to any more (permanently deleted everywhere) is 40403.
    pub fn schema_by_id(&self, id: SchemaId) -> Result<&str, RegistryError> {
        match self.schemas.get(&id) {
            Some(schema) if self.is_referenced(id) => Ok(&schema.text),
            _ => Err(RegistryError::SchemaIdNotFound { id }),
        }
    }

    fn is_referenced(&self, id: SchemaId) -> bool {
        self.subjects.values().flat_map(BTreeMap::values).any(|state| state.id == id)
    }

    /// The (subject, version) pairs using `id` (`GET /schemas/ids/{id}/versions`),
    /// soft-deleted ones only when `include_deleted`.
    pub fn versions_of_id(&self, id: SchemaId, include_deleted: bool) -> Result<Vec<SubjectVersion>, RegistryError> {
        self.schema_by_id(id)?;
        Ok(self
            .subjects
            .iter()
            .flat_map(|(subject, versions)| versions.iter().map(move |(version, state)| (subject, version, state)))
            .filter(|(_, _, state)| state.id == id && (include_deleted || !state.deleted))
            .map(|(subject, version, _)| SubjectVersion { subject: subject.clone(), version: *version })
            .collect())
    }

    /// Subject names, sorted (`GET /subjects`); soft-deleted subjects only when `include_deleted`.
    pub fn subjects(&self, include_deleted: bool) -> Vec<&str> {
        self.subjects
            .iter()
            .filter(|(_, versions)| include_deleted || versions.values().any(|state| !state.deleted))
            .map(|(subject, _)| subject.as_str())
            .collect()
    }

    /// Version numbers of a subject, ascending (`GET /subjects/{s}/versions`).
    /// 40401 when the subject has none visible.
    pub fn versions(&self, subject: &str, include_deleted: bool) -> Result<Vec<Version>, RegistryError> {
        let versions: Vec<Version> = self
            .subjects
            .get(subject)
            .into_iter()
            .flatten()
            .filter(|(_, state)| include_deleted || !state.deleted)
            .map(|(version, _)| *version)
            .collect();
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound { subject: subject.to_owned() });
        }
        Ok(versions)
    }

    /// One version of a subject (`GET /subjects/{s}/versions/{v}`). `latest`
    /// is the newest visible version. 40401 when the subject has no visible
    /// version, 40402 when the version does not exist or is hidden.
    pub fn version(
        &self,
        subject: &str,
        selector: VersionSelector,
        include_deleted: bool,
    ) -> Result<RegisteredSchema, RegistryError> {
        let (version, state) = self.select(subject, selector, include_deleted)?;
        self.registered(subject, version, state.id)
    }

    /// Resolves a selector to a visible version (see [`Self::version`] for the errors).
    pub(super) fn select(
        &self,
        subject: &str,
        selector: VersionSelector,
        include_deleted: bool,
    ) -> Result<(Version, VersionState), RegistryError> {
        let visible = |state: &&VersionState| include_deleted || !state.deleted;
        let versions = self
            .subjects
            .get(subject)
            .filter(|versions| versions.values().any(|state| visible(&state)))
            .ok_or_else(|| RegistryError::SubjectNotFound { subject: subject.to_owned() })?;
        let found = match selector {
            VersionSelector::Latest => versions.iter().rev().find(|(_, state)| visible(state)),
            VersionSelector::Number(number) => versions.get_key_value(&number).filter(|(_, state)| visible(state)),
        };
        found.map(|(version, state)| (*version, *state)).ok_or_else(|| RegistryError::VersionNotFound {
            subject: subject.to_owned(),
            version: selector.to_string(),
        })
    }

    pub(super) fn registered(
        &self,
        subject: &str,
        version: Version,
        id: SchemaId,
    ) -> Result<RegisteredSchema, RegistryError> {
        let schema = self.schemas.get(&id).ok_or(RegistryError::SchemaIdNotFound { id })?;
        Ok(RegisteredSchema {
            subject: subject.to_owned(),
            version,
            id,
            schema: schema.text.clone(),
            schema_type: SchemaType::Avro,
        })
    }

    /// Whether `schema_text` is registered under `subject` (`POST /subjects/{s}`):
    /// the newest visible version with the same canonical schema. 40401 when
    /// the subject has no visible version, 42201 for an invalid schema, 40403
    /// when no visible version matches.
    pub fn lookup(
        &self,
        subject: &str,
        schema_text: &str,
        include_deleted: bool,
    ) -> Result<RegisteredSchema, RegistryError> {
        let versions = self.versions(subject, include_deleted)?;
        let (_, canonical) = parse_schema(schema_text)?;
        let not_registered = || RegistryError::SchemaNotRegistered { subject: subject.to_owned() };
        let id = *self.ids_by_canonical.get(&canonical).ok_or_else(not_registered)?;
        let subject_versions = self.subjects.get(subject).ok_or_else(not_registered)?;
        let version = versions
            .iter()
            .rev()
            .find(|version| subject_versions.get(version).is_some_and(|state| state.id == id))
            .ok_or_else(not_registered)?;
        self.registered(subject, *version, id)
    }

    /// The global level (`GET /config`).
    pub fn global_level(&self) -> CompatibilityLevel {
        self.global_level.unwrap_or_default()
    }

    /// A subject's own level (`GET /config/{subject}`); without one, the global
    /// level when `default_to_global`, else 40408.
    pub fn subject_level(&self, subject: &str, default_to_global: bool) -> Result<CompatibilityLevel, RegistryError> {
        match self.subject_levels.get(subject) {
            Some(level) => Ok(*level),
            None if default_to_global => Ok(self.global_level()),
            None => Err(RegistryError::SubjectConfigNotFound { subject: subject.to_owned() }),
        }
    }

    /// The level that governs registrations under `subject`.
    pub fn effective_level(&self, subject: &str) -> CompatibilityLevel {
        self.subject_levels.get(subject).copied().unwrap_or_else(|| self.global_level())
    }
}
