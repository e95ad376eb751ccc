//! The embedded registry: `wellhead_schema`'s store, made durable by an
//! append-only event log (`<dir>/registry.events.jsonl`, one event per line,
//! fsynced before the store changes), shared by every pipeline and the HTTP API.
//!
//! Invariant: an event is on disk before it is applied, so the log replayed at
//! start gives exactly the ids and versions clients were told.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use wellhead_schema::compatibility::CompatibilityLevel;
use wellhead_schema::registry::{ApplyError, Change, Registration, RegistryError, RegistryEvent, RegistryStore};

/// The event log's file name inside the registry directory.
pub const LOG_FILE: &str = "registry.events.jsonl";

/// The embedded registry failed (a client error is `Registry`; the rest are local I/O).
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedRegistryError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("registry log {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("registry log {path}, line {line}: {reason}; restore the file from a backup")]
    Corrupt { path: PathBuf, line: usize, reason: String },
    #[error("registry log {path}: {source}")]
    Replay { path: PathBuf, source: ApplyError },
}

#[derive(Debug)]
struct Inner {
    store: RegistryStore,
    log: File,
}

/// The store plus its log, behind one lock (registrations are rare: once per table shape).
#[derive(Debug)]
pub struct EmbeddedRegistry {
    path: PathBuf,
    inner: Mutex<Inner>,
}

impl EmbeddedRegistry {
    /// Opens (creating) the registry in `dir` and replays its log.
    pub fn open(dir: &Path) -> Result<EmbeddedRegistry, EmbeddedRegistryError> {
        let path = dir.join(LOG_FILE);
        let io = |source| EmbeddedRegistryError::Io { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let log = OpenOptions::new().create(true).read(true).append(true).open(&path).map_err(io)?;
        let mut events = Vec::new();
        for (index, line) in BufReader::new(&log).lines().enumerate() {
            let line = line.map_err(io)?;
            if line.trim().is_empty() {
                continue;
            }
            let event: RegistryEvent = serde_json::from_str(&line).map_err(|error| EmbeddedRegistryError::Corrupt {
                path: path.clone(),
                line: index + 1,
                reason: error.to_string(),
            })?;
            events.push(event);
        }
        let store = RegistryStore::from_events(&events)
            .map_err(|source| EmbeddedRegistryError::Replay { path: path.clone(), source })?;
        Ok(EmbeddedRegistry { path, inner: Mutex::new(Inner { store, log }) })
    }

    /// Runs a read-only query on the store.
    pub fn read<T>(&self, query: impl FnOnce(&RegistryStore) -> T) -> T {
        let inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        query(&inner.store)
    }

    /// Plans a change on the store, persists its events, then applies them.
    pub fn mutate<T>(
        &self,
        plan: impl FnOnce(&RegistryStore) -> Result<Change<T>, RegistryError>,
    ) -> Result<T, EmbeddedRegistryError> {
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let change = plan(&inner.store)?;
        if !change.events.is_empty() {
            let mut text = String::new();
            for event in &change.events {
                let line = serde_json::to_string(event).map_err(|error| EmbeddedRegistryError::Corrupt {
                    path: self.path.clone(),
                    line: 0,
                    reason: error.to_string(),
                })?;
                text.push_str(&line);
                text.push('\n');
            }
            let io = |source| EmbeddedRegistryError::Io { path: self.path.clone(), source };
            inner.log.write_all(text.as_bytes()).map_err(io)?;
            inner.log.sync_data().map_err(io)?;
        }
        inner.store.commit(change).map_err(|source| EmbeddedRegistryError::Replay { path: self.path.clone(), source })
    }

    /// Registers `schema` under `subject`, checked against the subject's level.
    pub fn register(&self, subject: &str, schema: &str) -> Result<Registration, EmbeddedRegistryError> {
        self.mutate(|store| store.register(subject, schema))
    }

    /// Registers `schema` even though the subject's level rejects it: the level is
    /// set to NONE for this one registration and restored afterwards.
    pub fn register_ignoring_level(&self, subject: &str, schema: &str) -> Result<Registration, EmbeddedRegistryError> {
        let own_level = self.read(|store| store.subject_level(subject, false).ok());
        self.mutate(|store| Ok(store.set_level(Some(subject), CompatibilityLevel::None)))?;
        let registered = self.register(subject, schema);
        match own_level {
            Some(level) => self.mutate(|store| Ok(store.set_level(Some(subject), level)))?,
            None => self.mutate(|store| store.delete_level(Some(subject)))?,
        };
        registered
    }

    /// Sets a subject's own level when it has none yet.
    pub fn set_level_if_unset(&self, subject: &str, level: CompatibilityLevel) -> Result<(), EmbeddedRegistryError> {
        if self.read(|store| store.subject_level(subject, false).is_err()) {
            self.mutate(|store| Ok(store.set_level(Some(subject), level)))?;
        }
        Ok(())
    }

    /// The level that applies to `subject`.
    pub fn effective_level(&self, subject: &str) -> CompatibilityLevel {
        self.read(|store| store.effective_level(subject))
    }
}
