//! The Avro files sink: `<dir>/<topic>/<first position>.avro`, object container
//! files with the table's envelope schema, finalised atomically.
//!
//! ```text
//!  event ─► table shape changed? ─► register key/value schemas (drift check, policy)
//!        ─► encode envelope ─► append to <topic>/.<name>.avro.tmp
//!  roll (size, age, shape change, stop):
//!        finish + fsync every open file ─► save checkpoint {position, pending renames}
//!        ─► rename every .tmp to its final name ─► fsync directories ─► ack source
//! ```
//!
//! Invariants: a final `.avro` file is complete and covered by a saved
//! checkpoint; a `.tmp` file is not, and is deleted at start (the source sends
//! its records again). All open files roll together, so one checkpoint position
//! describes every topic: after a crash no record is in two files and none is
//! missing. The source is acknowledged only for records in final files.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wellhead_decoders::change::{ChangeEvent, Position, TableName};
use wellhead_schema::avro::{SourceFields, SourceKind};
use wellhead_schema::container::{Codec, ContainerWriter};

use super::SinkError;
use super::avro_table::TableOutput;
use super::dead_letter::{DEAD_LETTER_DIR, DEAD_LETTER_SCHEMA, announce_dead_letter, letter_for};
use super::json::SourceInfo;
use crate::checkpoint::{Checkpoint, CheckpointStore, PendingRename, SinkState};
use crate::config::{FileCodec, RegistryConfig, UnencodablePolicy};
use crate::durable::sync_parent_dir;
use crate::registry::SchemaRegistry;
use crate::telemetry::Metrics;

/// Suffix of files being written.
const TEMPORARY_SUFFIX: &str = ".avro.tmp";

/// Settings of a files sink.
#[derive(Debug, Clone)]
pub struct FilesSettings {
    pub dir: PathBuf,
    pub topic_prefix: String,
    pub roll_bytes: u64,
    pub roll_age: Duration,
    pub codec: FileCodec,
    pub source_kind: SourceKind,
    pub source_fields: SourceFields,
    pub registry_config: RegistryConfig,
    pub pipeline: String,
    /// The source block of dead letters' JSON envelopes.
    pub source_info: SourceInfo,
    pub on_unencodable: UnencodablePolicy,
}

/// A file being written.
#[derive(Debug)]
struct OpenFile {
    temporary: PathBuf,
    final_path: PathBuf,
    writer: ContainerWriter<BufWriter<File>>,
}

/// Writes Avro container files per topic.
#[derive(Debug)]
pub struct FilesSink {
    settings: FilesSettings,
    registry: SchemaRegistry,
    metrics: Metrics,
    tables: HashMap<TableName, TableOutput>,
    files: HashMap<TableName, OpenFile>,
    /// Dead-letter files, one per table that had rows refused (see `dead_letter`).
    dead_letters: HashMap<TableName, OpenFile>,
    /// Held while the sink is open: the topics of its prefix in its directory are its own.
    _lock: File,
    oldest_open: Option<Instant>,
    datum: Vec<u8>,
}

impl FilesSink {
    /// Completes renames a crash interrupted, deletes unfinished files, and opens the sink.
    pub fn open(
        settings: FilesSettings,
        resume_from: &Checkpoint,
        registry: SchemaRegistry,
        metrics: Metrics,
    ) -> Result<FilesSink, SinkError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| SinkError::Io { path, source }
        };
        fs::create_dir_all(&settings.dir).map_err(io(&settings.dir))?;
        let lock = lock_prefix(&settings)?;
        for rename in &resume_from.sink.pending_renames {
            if rename.from.exists() {
                fs::rename(&rename.from, &rename.to).map_err(io(&rename.from))?;
                sync_parent(&rename.to)?;
            } else if !rename.to.exists() {
                return Err(SinkError::MissingFile { path: rename.to.display().to_string() });
            }
        }
        delete_unfinished_files(&settings.dir, &settings.topic_prefix)?;
        let dead_letter_dir = settings.dir.join(DEAD_LETTER_DIR);
        if dead_letter_dir.is_dir() {
            delete_unfinished_files(&dead_letter_dir, &settings.topic_prefix)?;
        }
        Ok(FilesSink {
            settings,
            registry,
            metrics,
            tables: HashMap::new(),
            files: HashMap::new(),
            dead_letters: HashMap::new(),
            _lock: lock,
            oldest_open: None,
            datum: Vec::with_capacity(4096),
        })
    }

    /// Appends one change; a table whose shape changed first rolls every file, with
    /// `covered` (the checkpoint of everything written before this change).
    pub fn write_event(
        &mut self,
        event: &ChangeEvent,
        now_ms: i64,
        covered: &Checkpoint,
        store: &mut CheckpointStore,
    ) -> Result<(), SinkError> {
        self.prepare_table(event, covered, store)?;
        self.append(event, now_ms)
    }

    /// Rolls when a file is big or old enough; with no open file, checkpoints what
    /// advanced (transactions that wrote nothing here). `None` when nothing became durable.
    pub fn commit(
        &mut self,
        covered: &Checkpoint,
        store: &mut CheckpointStore,
    ) -> Result<Option<Checkpoint>, SinkError> {
        if self.files.is_empty() {
            if store.current().is_some_and(|saved| !covered.advanced_beyond(saved)) {
                return Ok(None);
            }
            return self.roll(covered, store).map(Some);
        }
        let due = self.oldest_open.is_some_and(|opened| opened.elapsed() >= self.settings.roll_age)
            || self.files.values().any(|file| file.writer.approximate_size() >= self.settings.roll_bytes);
        if due { self.roll(covered, store).map(Some) } else { Ok(None) }
    }

    /// Finalises everything (a clean stop).
    pub fn close(&mut self, covered: &Checkpoint, store: &mut CheckpointStore) -> Result<Checkpoint, SinkError> {
        self.roll(covered, store)
    }

    fn prepare_table(
        &mut self,
        event: &ChangeEvent,
        covered: &Checkpoint,
        store: &mut CheckpointStore,
    ) -> Result<(), SinkError> {
        let table = &event.schema.table;
        if self.tables.get(table).is_some_and(|output| output.serves(&event.schema)) {
            return Ok(());
        }
        let output = TableOutput::new(&event.schema, &self.settings.topic_prefix, self.settings.source_kind)?;
        let registered = output.register(&self.registry, &self.settings.registry_config);
        if self.files.contains_key(table) || registered.is_err() {
            // Records of the old shape become final before anything of the new shape is written.
            self.roll(covered, store)?;
        }
        let versions = registered?;
        output.announce(&versions, &self.settings.pipeline, &self.metrics);
        self.tables.insert(table.clone(), output);
        Ok(())
    }

    fn append(&mut self, event: &ChangeEvent, now_ms: i64) -> Result<(), SinkError> {
        let table = &event.schema.table;
        let output = self.tables.get(table).ok_or_else(|| SinkError::Internal("table output missing".into()))?;
        self.datum.clear();
        if let Err(error) = output.encode(event, &self.settings.source_fields, now_ms, &mut self.datum) {
            let topic = output.topic().to_owned();
            return self.dead_letter_or(error, event, &topic, now_ms);
        }
        let file = match self.files.entry(table.clone()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let dir = self.settings.dir.join(output.topic());
                let file = open_file(&self.settings, &dir, output.writer_schema(), &event.position)?;
                self.oldest_open.get_or_insert_with(Instant::now);
                entry.insert(file)
            }
        };
        let path = file.temporary.display().to_string();
        file.writer.append(&self.datum).map_err(|source| SinkError::Io { path, source })
    }

    /// Writes `event`, which could not be encoded, to its table's dead-letter file when the
    /// policy says so and the failure is about a value; otherwise returns `error`.
    fn dead_letter_or(
        &mut self,
        error: SinkError,
        event: &ChangeEvent,
        topic: &str,
        now_ms: i64,
    ) -> Result<(), SinkError> {
        let policy = self.settings.on_unencodable;
        let Some(letter) = letter_for(policy, &error, event, topic, &self.settings.source_info, now_ms) else {
            return Err(error);
        };
        let file = match self.dead_letters.entry(event.schema.table.clone()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let dir = self.settings.dir.join(DEAD_LETTER_DIR).join(topic);
                let file = open_file(&self.settings, &dir, DEAD_LETTER_SCHEMA, &event.position)?;
                self.oldest_open.get_or_insert_with(Instant::now);
                entry.insert(file)
            }
        };
        self.datum.clear();
        letter.to_avro(&mut self.datum);
        let path = file.temporary.display().to_string();
        file.writer.append(&self.datum).map_err(|source| SinkError::Io { path, source })?;
        announce_dead_letter(&self.settings.pipeline, &letter, &self.metrics);
        Ok(())
    }

    /// Finishes and fsyncs every open file, saves `covered` with the renames it implies,
    /// then renames; returns the checkpoint saved.
    fn roll(&mut self, covered: &Checkpoint, store: &mut CheckpointStore) -> Result<Checkpoint, SinkError> {
        let mut renames = Vec::with_capacity(self.files.len() + self.dead_letters.len());
        for (_, file) in self.files.drain().chain(self.dead_letters.drain()) {
            let path = file.temporary.display().to_string();
            let io = |source| SinkError::Io { path: path.clone(), source };
            let buffered = file.writer.finish().map_err(io)?;
            let handle = buffered.into_inner().map_err(|error| io(error.into_error()))?;
            handle.sync_all().map_err(io)?;
            renames.push(PendingRename { from: file.temporary, to: file.final_path });
        }
        self.oldest_open = None;
        let checkpoint = Checkpoint { sink: SinkState { offset: 0, pending_renames: renames }, ..covered.clone() };
        store.save(checkpoint.clone())?;
        for rename in &checkpoint.sink.pending_renames {
            fs::rename(&rename.from, &rename.to)
                .map_err(|source| SinkError::Io { path: rename.from.display().to_string(), source })?;
            sync_parent(&rename.to)?;
        }
        Ok(checkpoint)
    }
}

/// Takes `<dir>/.<topic_prefix>.lock` for as long as the sink is open: another pipeline, in
/// this process or another, that writes topics of the same prefix into the same directory
/// would delete this one's unfinished files at its start and mix their names.
fn lock_prefix(settings: &FilesSettings) -> Result<File, SinkError> {
    let path = settings.dir.join(format!(".{}.lock", settings.topic_prefix));
    let io = |source| SinkError::Io { path: path.display().to_string(), source };
    let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(SinkError::DirectoryInUse {
            dir: settings.dir.display().to_string(),
            topic_prefix: settings.topic_prefix.clone(),
        }),
        Err(fs::TryLockError::Error(source)) => Err(io(source)),
    }
}

/// Deletes the unfinished (`.tmp`) files in the directories of `topic_prefix`'s topics
/// under `dir` (their changes come again from the source); other prefixes' are not this
/// sink's.
fn delete_unfinished_files(dir: &Path, topic_prefix: &str) -> Result<(), SinkError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| SinkError::Io { path, source }
    };
    let own_topic = format!("{topic_prefix}.");
    for topic in fs::read_dir(dir).map_err(io(dir))? {
        let topic = topic.map_err(io(dir))?.path();
        let is_own = topic.file_name().and_then(|name| name.to_str()).is_some_and(|name| {
            // Table parts have no dots: `<prefix>.<part>.<part>` belongs to this prefix only.
            name.strip_prefix(&own_topic).is_some_and(|parts| parts.matches('.').count() == 1)
        });
        if !topic.is_dir() || !is_own {
            continue;
        }
        for file in fs::read_dir(&topic).map_err(io(&topic))? {
            let file = file.map_err(io(&topic))?.path();
            if file.to_string_lossy().ends_with(TEMPORARY_SUFFIX) {
                tracing::info!(path = %file.display(), "Deleting an unfinished file; its changes will be read again.");
                fs::remove_file(&file).map_err(io(&file))?;
            }
        }
    }
    Ok(())
}

/// Opens a container file in `dir` with `schema`, named after its first change.
fn open_file(settings: &FilesSettings, dir: &Path, schema: &str, first: &Position) -> Result<OpenFile, SinkError> {
    let dir = dir.to_path_buf();
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| SinkError::Io { path, source }
    };
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    // Unique: a position names one change, and a file's first change is in no other file.
    let name = first.sortable_name();
    let final_path = dir.join(format!("{name}.avro"));
    let temporary = dir.join(format!(".{name}{TEMPORARY_SUFFIX}"));
    let handle = File::create(&temporary).map_err(io(&temporary))?;
    let codec = match settings.codec {
        FileCodec::Deflate => Codec::Deflate,
        FileCodec::Null => Codec::Null,
    };
    let writer = ContainerWriter::new(BufWriter::with_capacity(1 << 20, handle), schema, codec, rand::random())
        .map_err(io(&temporary))?;
    Ok(OpenFile { temporary, final_path, writer })
}

fn sync_parent(path: &Path) -> Result<(), SinkError> {
    sync_parent_dir(path).map_err(|source| SinkError::Io { path: path.display().to_string(), source })
}
