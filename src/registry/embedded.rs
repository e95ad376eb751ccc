//! The embedded registry: `wellhead_schema`'s store, made durable by an
//! append-only event log, shared by every pipeline and the HTTP API. The log is
//! a file (`<dir>/registry.events.jsonl`, one event per line, fsynced before the
//! store changes) or, when the pipelines stream to Kafka, a compacted topic on
//! their cluster (see [`super::kafka_log`]), so that an instance restarted
//! elsewhere serves the same ids.
//!
//! Invariant: an event is durable before it is applied, so the log replayed at
//! start gives exactly the ids and versions clients were told.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use wellhead_schema::compatibility::CompatibilityLevel;
use wellhead_schema::registry::{ApplyError, Change, Registration, RegistryError, RegistryEvent, RegistryStore};

use super::kafka_log::{KafkaRegistryLog, KafkaRegistryLogError, WriteFailure};
use crate::kafka::client::KafkaCluster;
use crate::kafka::topics::TopicLayout;

/// The event log's file name inside the registry directory.
pub const LOG_FILE: &str = "registry.events.jsonl";

/// Where the embedded registry keeps its log.
#[derive(Debug, Clone)]
pub enum RegistryStorage {
    /// The file `LOG_FILE` in this directory.
    File { dir: PathBuf },
    /// A compacted topic on the cluster of this Kafka sink; `dir` holds a file log
    /// from before, copied into an empty topic once.
    Kafka { dir: PathBuf, cluster: KafkaCluster, layout: TopicLayout, topic: String },
}

/// The embedded registry failed (a client error is `Registry`; the rest are storage).
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
    #[error(transparent)]
    Kafka(#[from] KafkaRegistryLogError),
}

impl From<WriteFailure> for EmbeddedRegistryError {
    fn from(failure: WriteFailure) -> Self {
        match failure {
            WriteFailure::Refused(error) => EmbeddedRegistryError::Registry(error),
            WriteFailure::Log(error) => EmbeddedRegistryError::Kafka(error),
        }
    }
}

/// The log the store's events go to.
#[derive(Debug)]
enum RegistryLog {
    File { path: PathBuf, file: File },
    Kafka(Box<KafkaRegistryLog>),
}

#[derive(Debug)]
struct Inner {
    store: RegistryStore,
    log: RegistryLog,
}

/// The store plus its log, behind one lock (registrations are rare: once per table shape).
#[derive(Debug)]
pub struct EmbeddedRegistry {
    inner: Mutex<Inner>,
}

impl EmbeddedRegistry {
    /// Opens (creating) the registry in `dir` and replays its log.
    pub fn open(dir: &Path) -> Result<EmbeddedRegistry, EmbeddedRegistryError> {
        let (path, file, events) = open_file_log(dir)?;
        let store = RegistryStore::from_events(&events)
            .map_err(|source| EmbeddedRegistryError::Replay { path: path.clone(), source })?;
        Ok(EmbeddedRegistry { inner: Mutex::new(Inner { store, log: RegistryLog::File { path, file } }) })
    }

    /// Opens the registry where `storage` says. Kafka storage blocks on the
    /// network: call it outside async code (e.g. in `spawn_blocking`).
    pub fn open_storage(storage: &RegistryStorage) -> Result<EmbeddedRegistry, EmbeddedRegistryError> {
        match storage {
            RegistryStorage::File { dir } => Self::open(dir),
            RegistryStorage::Kafka { dir, cluster, layout, topic } => {
                let (log, store) = KafkaRegistryLog::open(cluster, layout, topic)?;
                let registry =
                    EmbeddedRegistry { inner: Mutex::new(Inner { store, log: RegistryLog::Kafka(Box::new(log)) }) };
                registry.bring_file_log_along(dir, topic)?;
                Ok(registry)
            }
        }
    }

    /// An instance that kept its registry in a file before streaming to Kafka
    /// brings those ids along, so the records already written keep resolving: into an
    /// empty topic they are copied; a topic that gives one of them to another schema is
    /// reported (the topic wins, and records written with the file's id need the file).
    fn bring_file_log_along(&self, dir: &Path, topic: &str) -> Result<(), EmbeddedRegistryError> {
        let path = dir.join(LOG_FILE);
        if !path.exists() {
            return Ok(());
        }
        let (_, _, events) = open_file_log(dir)?;
        if events.is_empty() {
            return Ok(());
        }
        if self.read(RegistryStore::is_empty) {
            // Nothing is copied when another instance filled the topic in the meantime.
            self.mutate(|store| {
                Ok(Change { outcome: (), events: if store.is_empty() { events.clone() } else { Vec::new() } })
            })?;
            tracing::info!(%topic, file = %path.display(), events = events.len(), "Copied the registry's file log into its Kafka topic; the topic is its log from now on.");
        }
        let file_store = RegistryStore::from_events(&events)
            .map_err(|source| EmbeddedRegistryError::Replay { path: path.clone(), source })?;
        // Ids the file still serves (a permanently deleted one is no loss).
        let differing: Vec<u32> = events
            .iter()
            .filter_map(|event| match event {
                RegistryEvent::SchemaCreated { id, .. } => {
                    file_store.schema_by_id(*id).ok().map(|schema| (*id, schema))
                }
                _ => None,
            })
            .filter(|(id, schema)| self.read(|store| store.schema_by_id(*id).ok() != Some(*schema)))
            .map(|(id, _)| id)
            .collect();
        if !differing.is_empty() {
            tracing::warn!(%topic, file = %path.display(), ids = ?differing, "The registry's file log gives these ids to schemas the Kafka topic does not (the topic was filled by another instance first); records written with them before the move do not decode with this registry.");
        }
        Ok(())
    }

    /// Runs a read-only query on the store.
    pub fn read<T>(&self, query: impl FnOnce(&RegistryStore) -> T) -> T {
        let inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        query(&inner.store)
    }

    /// Applies what other writers added to the log since it was last read (a Kafka topic
    /// shared by several processes); a file log has no other writers.
    pub fn catch_up(&self) -> Result<(), EmbeddedRegistryError> {
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Inner { store, log } = &mut *inner;
        match log {
            RegistryLog::File { .. } => Ok(()),
            RegistryLog::Kafka(kafka) => Ok(kafka.catch_up(store).map(|_| ())?),
        }
    }

    /// Plans a change on the store, persists its events, then applies them. The
    /// plan may run twice: again on a store that caught up with its Kafka topic.
    pub fn mutate<T>(
        &self,
        plan: impl Fn(&RegistryStore) -> Result<Change<T>, RegistryError>,
    ) -> Result<T, EmbeddedRegistryError> {
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Inner { store, log } = &mut *inner;
        let change = plan(store)?;
        if change.events.is_empty() {
            return Ok(change.outcome);
        }
        match log {
            RegistryLog::File { path, file } => {
                append_to_file(path, file, &change.events)?;
                store.commit(change).map_err(|source| EmbeddedRegistryError::Replay { path: path.clone(), source })
            }
            RegistryLog::Kafka(kafka) => Ok(kafka.write(store, &plan)?),
        }
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
        self.mutate(|store| {
            Ok(if store.subject_level(subject, false).is_err() {
                store.set_level(Some(subject), level)
            } else {
                Change { outcome: level, events: Vec::new() }
            })
        })?;
        Ok(())
    }

    /// The level that applies to `subject`.
    pub fn effective_level(&self, subject: &str) -> CompatibilityLevel {
        self.read(|store| store.effective_level(subject))
    }
}

/// Opens (creating) the file log in `dir` and reads its events.
fn open_file_log(dir: &Path) -> Result<(PathBuf, File, Vec<RegistryEvent>), EmbeddedRegistryError> {
    let path = dir.join(LOG_FILE);
    let io = |source| EmbeddedRegistryError::Io { path: path.clone(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    let file = OpenOptions::new().create(true).read(true).append(true).open(&path).map_err(io)?;
    let mut events = Vec::new();
    for (index, line) in BufReader::new(&file).lines().enumerate() {
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
    Ok((path, file, events))
}

/// Appends `events` to the file log, one JSON line each, and syncs.
fn append_to_file(path: &Path, file: &mut File, events: &[RegistryEvent]) -> Result<(), EmbeddedRegistryError> {
    let mut text = String::new();
    for event in events {
        let line = serde_json::to_string(event).map_err(|error| EmbeddedRegistryError::Corrupt {
            path: path.to_owned(),
            line: 0,
            reason: error.to_string(),
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    let io = |source| EmbeddedRegistryError::Io { path: path.to_owned(), source };
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_data().map_err(io)
}
