//! The registry's rules: what each mutating request decides, as events.
//!
//! Every function here takes `&self` and returns a [`Change`]: the events to
//! persist and the outcome to answer with. Nothing changes until the caller
//! commits the change (see the `registry` module documentation).
//!
//! Confluent behaviours followed:
//! - Registering a schema that is already a live version of the subject
//!   returns that version's id and changes nothing, whatever the level.
//! - Otherwise the schema is checked against the subject's live versions
//!   (newest, or all for transitive levels); soft-deleted versions are not
//!   checked. Incompatible is 409.
//! - The new version is one more than the highest version the subject still
//!   stores (soft-deleted ones included); the id is the schema's existing
//!   global id if any subject ever registered the same canonical schema,
//!   else one more than the highest id.
//! - Soft-deleting a subject also removes its subject-level compatibility.

use apache_avro::Schema;

use super::store::{VersionState, parse_schema};
use super::{
    Change, CompatibilityReport, Registration, RegistryError, RegistryEvent, RegistryStore, Version, VersionSelector,
};
use crate::compatibility::{self, CompatibilityLevel, Incompatibility};

impl RegistryStore {
    /// `POST /subjects/{subject}/versions`. Errors: 42201 invalid schema, 409 incompatible.
    pub fn register(&self, subject: &str, schema_text: &str) -> Result<Change<Registration>, RegistryError> {
        let (parsed, canonical) = parse_schema(schema_text)?;
        let existing_id = self.ids_by_canonical.get(&canonical).copied();
        let live = self.live_versions(subject);
        if let Some(id) = existing_id
            && let Some((version, _)) = live.iter().rev().find(|(_, state)| state.id == id)
        {
            return Ok(Change { outcome: Registration { id, version: *version, created: false }, events: Vec::new() });
        }

        let level = self.effective_level(subject);
        let existing: Vec<(Version, &Schema)> = self.newest_first(&live);
        if let Err(incompatibility) = self.check(level, &parsed, &existing) {
            return Err(RegistryError::Incompatible {
                subject: subject.to_owned(),
                details: vec![describe(&incompatibility, &existing)],
            });
        }

        let mut events = Vec::new();
        let id = match existing_id {
            Some(id) => id,
            None => {
                let id = self.schemas.keys().next_back().map_or(1, |highest| highest.saturating_add(1));
                events.push(RegistryEvent::SchemaCreated { id, schema: schema_text.to_owned() });
                id
            }
        };
        let version = self
            .subjects
            .get(subject)
            .and_then(|versions| versions.keys().next_back())
            .map_or(1, |highest| highest.saturating_add(1));
        events.push(RegistryEvent::VersionSet { subject: subject.to_owned(), version, id, deleted: false });
        Ok(Change { outcome: Registration { id, version, created: true }, events })
    }

    /// `POST /compatibility/subjects/{subject}/versions[/{version}]`: `against`
    /// `None` checks as a registration would (per the subject's level);
    /// `Some(selector)` checks against that one live version in the level's
    /// directions. A subject with no live version is compatible with anything
    /// unless a version number was named (then 40401/40402, as for reads).
    pub fn test_compatibility(
        &self,
        subject: &str,
        schema_text: &str,
        against: Option<VersionSelector>,
    ) -> Result<CompatibilityReport, RegistryError> {
        let (parsed, _) = parse_schema(schema_text)?;
        let live = self.live_versions(subject);
        let existing: Vec<(Version, &Schema)> = match against {
            None => self.newest_first(&live),
            Some(VersionSelector::Latest) if live.is_empty() => Vec::new(),
            Some(selector) => {
                let (version, state) = self.select(subject, selector, false)?;
                self.newest_first(&[(version, state)])
            }
        };
        let level = self.effective_level(subject);
        let level = if against.is_some() { non_transitive(level) } else { level };
        Ok(match self.check(level, &parsed, &existing) {
            Ok(()) => CompatibilityReport { is_compatible: true, messages: Vec::new() },
            Err(incompatibility) => {
                CompatibilityReport { is_compatible: false, messages: vec![describe(&incompatibility, &existing)] }
            }
        })
    }

    /// `DELETE /subjects/{subject}/versions/{version}[?permanent=true]`;
    /// the outcome is the deleted version number. Soft: 40401 when the subject
    /// has no live version, 40402 unknown version, 40406 already soft-deleted.
    /// Permanent: 40401 unknown subject, 40402 unknown version, 40407 not
    /// soft-deleted first.
    pub fn delete_version(
        &self,
        subject: &str,
        selector: VersionSelector,
        permanent: bool,
    ) -> Result<Change<Version>, RegistryError> {
        let has_live = self.subjects.get(subject).is_some_and(|versions| versions.values().any(|state| !state.deleted));
        if !permanent && !has_live {
            return Err(RegistryError::SubjectNotFound { subject: subject.to_owned() });
        }
        // A soft delete of `latest` means the newest live version; a number may
        // name a soft-deleted version, to answer 40406 rather than 40402.
        let include_deleted = permanent || matches!(selector, VersionSelector::Number(_));
        let (version, state) = self.select(subject, selector, include_deleted)?;
        let subject = subject.to_owned();
        let event = match (permanent, state.deleted) {
            (false, true) => return Err(RegistryError::VersionSoftDeleted { subject, version }),
            (true, false) => return Err(RegistryError::VersionNotSoftDeleted { subject, version }),
            (false, false) => RegistryEvent::VersionSet { subject, version, id: state.id, deleted: true },
            (true, true) => RegistryEvent::VersionRemoved { subject, version },
        };
        Ok(Change { outcome: version, events: vec![event] })
    }

    /// `DELETE /subjects/{subject}[?permanent=true]`; the outcome is the
    /// deleted version numbers, ascending. Soft: 40401 unknown subject, 40404
    /// already soft-deleted; also drops the subject's level. Permanent: 40401
    /// unknown subject, 40405 not soft-deleted first.
    pub fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Change<Vec<Version>>, RegistryError> {
        let versions =
            self.subjects.get(subject).ok_or_else(|| RegistryError::SubjectNotFound { subject: subject.to_owned() })?;
        let has_live = versions.values().any(|state| !state.deleted);
        let mut events: Vec<RegistryEvent> = match (permanent, has_live) {
            (false, false) => return Err(RegistryError::SubjectSoftDeleted { subject: subject.to_owned() }),
            (true, true) => return Err(RegistryError::SubjectNotSoftDeleted { subject: subject.to_owned() }),
            (false, true) => versions
                .iter()
                .filter(|(_, state)| !state.deleted)
                .map(|(version, state)| RegistryEvent::VersionSet {
                    subject: subject.to_owned(),
                    version: *version,
                    id: state.id,
                    deleted: true,
                })
                .collect(),
            (true, false) => versions
                .keys()
                .map(|version| RegistryEvent::VersionRemoved { subject: subject.to_owned(), version: *version })
                .collect(),
        };
        let deleted: Vec<Version> = events
            .iter()
            .filter_map(|event| match event {
                RegistryEvent::VersionSet { version, .. } | RegistryEvent::VersionRemoved { version, .. } => {
                    Some(*version)
                }
                _ => None,
            })
            .collect();
        if self.subject_levels.contains_key(subject) {
            events.push(RegistryEvent::ConfigSet { subject: Some(subject.to_owned()), compatibility: None });
        }
        Ok(Change { outcome: deleted, events })
    }

    /// `PUT /config` (`subject` `None`) or `PUT /config/{subject}`; the
    /// outcome is the level set. A subject need not exist yet.
    pub fn set_level(&self, subject: Option<&str>, level: CompatibilityLevel) -> Change<CompatibilityLevel> {
        let event = RegistryEvent::ConfigSet { subject: subject.map(str::to_owned), compatibility: Some(level) };
        Change { outcome: level, events: vec![event] }
    }

    /// `DELETE /config` (back to the default, BACKWARD) or `DELETE
    /// /config/{subject}` (back to the global level); the outcome is the
    /// level that was set. 40401 for a subject that neither exists nor has a level.
    pub fn delete_level(&self, subject: Option<&str>) -> Result<Change<CompatibilityLevel>, RegistryError> {
        let previous = match subject {
            None => self.global_level(),
            Some(name) => match self.subject_levels.get(name) {
                Some(level) => *level,
                None if self.subjects.contains_key(name) => {
                    return Ok(Change { outcome: self.global_level(), events: Vec::new() });
                }
                None => return Err(RegistryError::SubjectNotFound { subject: name.to_owned() }),
            },
        };
        let event = RegistryEvent::ConfigSet { subject: subject.map(str::to_owned), compatibility: None };
        Ok(Change { outcome: previous, events: vec![event] })
    }

    /// Live versions of a subject, ascending.
    fn live_versions(&self, subject: &str) -> Vec<(Version, VersionState)> {
        self.subjects
            .get(subject)
            .into_iter()
            .flatten()
            .filter(|(_, state)| !state.deleted)
            .map(|(version, state)| (*version, *state))
            .collect()
    }

    /// The parsed schemas of ascending versions, newest first.
    fn newest_first(&self, versions: &[(Version, VersionState)]) -> Vec<(Version, &Schema)> {
        versions
            .iter()
            .rev()
            .filter_map(|(version, state)| self.schemas.get(&state.id).map(|schema| (*version, &schema.parsed)))
            .collect()
    }

    fn check(
        &self,
        level: CompatibilityLevel,
        new: &Schema,
        existing: &[(Version, &Schema)],
    ) -> Result<(), Incompatibility> {
        let schemas: Vec<Schema> = existing.iter().map(|(_, schema)| (*schema).clone()).collect();
        compatibility::check(level, new, &schemas)
    }
}

/// The same directions against a single version.
fn non_transitive(level: CompatibilityLevel) -> CompatibilityLevel {
    match level {
        CompatibilityLevel::BackwardTransitive => CompatibilityLevel::Backward,
        CompatibilityLevel::ForwardTransitive => CompatibilityLevel::Forward,
        CompatibilityLevel::FullTransitive => CompatibilityLevel::Full,
        other => other,
    }
}

/// An incompatibility in registry terms: which version, which direction, where, which rule.
fn describe(incompatibility: &Incompatibility, existing: &[(Version, &Schema)]) -> String {
    let location_and_rule = Incompatibility { context: None, ..incompatibility.clone() }.to_string();
    let Some(context) = incompatibility.context else { return location_and_rule };
    let version = existing.get(context.existing_index).map_or(0, |(version, _)| *version);
    format!("{} version {version}: {location_and_rule}", context.direction)
}
