//! The Kafka sink: each commit is one Kafka transaction holding the batch's
//! records and the pipeline's checkpoint, so a change is in Kafka exactly when
//! the checkpoint after it is.
//!
//! ```text
//!  open: init_transactions (fences an older instance, aborts its open transaction)
//!        ─► checkpoint = last committed record of <pipeline> in the checkpoint topic
//!  write: table shape new? ─► register key/value schemas, create topic
//!         ─► begin_transaction (once) ─► produce key + value (+ tombstone after a delete)
//!  commit: produce checkpoint record ─► commit_transaction ─► ack source up to it
//! ```
//!
//! Invariants: the source is acknowledged only up to a checkpoint whose
//! transaction committed; after any failure that a retry may fix, the pipeline
//! starts over from the last committed checkpoint (the open transaction is
//! aborted, by us or by the next `init_transactions`), so nothing is lost and,
//! in exactly-once mode, nothing repeats. A source transaction larger than one
//! batch spans several Kafka transactions; each commits whole batches with the
//! position inside the source transaction, and a restart resumes after it.
//!
//! In `at_least_once` mode (brokers without transactions) the checkpoint record
//! is written after every record before it was acknowledged; a crash between
//! the two repeats those records.

mod producer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer};
use wellhead_decoders::change::{ChangeEvent, ColumnValue, Operation, Row, TableName};
use wellhead_schema::avro::{SourceFields, SourceKind};
use wellhead_schema::wire::write_header;

use self::producer::SinkProducer;
use super::SinkError;
use super::avro_table::TableOutput;
use super::dead_letter::{announce_dead_letter, letter_for};
use super::json::SourceInfo;
use crate::checkpoint::{self, Checkpoint};
use crate::config::{KafkaDelivery, KafkaSinkConfig, RegistryConfig};
use crate::failure::ErrorClass;
use crate::kafka::client::{self, FailureKind};
use crate::kafka::committed_log::{CommittedLogError, CommittedLogReader};
use crate::kafka::topics::{self, TopicCreator, TopicKind};
use crate::registry::SchemaRegistry;
use crate::telemetry::Metrics;

/// How long `init_transactions` may wait for the transaction coordinator.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one `commit_transaction` call waits before it is tried again.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long aborting may take; after that the next `init_transactions` aborts instead.
const ABORT_TIMEOUT: Duration = Duration::from_secs(10);
/// Offsets of the checkpoint topic read at start before looking further back.
const CHECKPOINT_TAIL: i64 = 10_000;
/// Offsets of the checkpoint topic read after a commit: its record and marker, and room
/// for other pipelines sharing the topic.
const VERIFY_TAIL: i64 = 256;

/// Settings of a Kafka sink.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    pub config: KafkaSinkConfig,
    pub pipeline: String,
    pub topic_prefix: String,
    pub source_kind: SourceKind,
    pub source_fields: SourceFields,
    pub registry_config: RegistryConfig,
    /// The source block of dead letters' JSON envelopes.
    pub source_info: SourceInfo,
}

impl KafkaSettings {
    /// Where rows that cannot be encoded go under `on_unencodable = "dead_letter"`.
    fn dead_letter_topic(&self) -> String {
        self.config.dead_letter_topic.clone().unwrap_or_else(|| format!("{}.dead-letter", self.topic_prefix))
    }
}

/// A table shape's output with its registered schema ids.
#[derive(Debug)]
struct KafkaTable {
    output: TableOutput,
    key_id: Option<u32>,
    value_id: u32,
}

/// Writes change events to Kafka topics, checkpoint included.
pub struct KafkaSink {
    settings: KafkaSettings,
    registry: SchemaRegistry,
    metrics: Metrics,
    producer: SinkProducer,
    topics: TopicCreator,
    /// Reads the checkpoint back: at start, and after each commit (see [`KafkaSink::verify_committed`]).
    checkpoint_log: CommittedLogReader,
    tables: HashMap<TableName, KafkaTable>,
    /// What the last commit covered.
    committed: Checkpoint,
    transaction_open: bool,
    /// When the transaction not yet committed began (kept through an abort, for
    /// [`reclassify_fencing`]).
    transaction_began: Option<std::time::Instant>,
    /// The producer's `transaction.timeout.ms`.
    transaction_timeout: Duration,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("pipeline", &self.settings.pipeline)
            .field("committed", &self.committed)
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// Starts the producer (fencing any older instance) and reads the checkpoint back.
    pub fn open(
        settings: KafkaSettings,
        registry: SchemaRegistry,
        metrics: Metrics,
    ) -> Result<(KafkaSink, Checkpoint), SinkError> {
        let config = &settings.config;
        let pipeline = settings.pipeline.clone();
        let producer = producer::create_producer(config, &pipeline).map_err(|error| SinkError::KafkaFatal {
            what: "creating the producer".into(),
            reason: error.to_string(),
        })?;
        match config.delivery {
            KafkaDelivery::ExactlyOnce => producer
                .init_transactions(INIT_TIMEOUT)
                .map_err(|error| kafka_error(&producer, "starting the transactional producer", &error, &pipeline))?,
            KafkaDelivery::AtLeastOnce => tracing::warn!(
                %pipeline,
                "Kafka sink in at_least_once mode: after a crash, changes written since the last checkpoint are written again."
            ),
        }
        let mut topics = TopicCreator::new(&config.cluster(), config.topic_layout()).map_err(topic_error)?;
        topics.ensure(&config.checkpoint_topic, TopicKind::Compacted).map_err(topic_error)?;
        let mut checkpoint_log = CommittedLogReader::connect(&config.brokers).map_err(|error| {
            SinkError::KafkaRetriable { what: "connecting to read the checkpoint".into(), reason: error.to_string() }
        })?;
        let checkpoint = read_checkpoint(&mut checkpoint_log, config, &pipeline)?;
        match &checkpoint {
            Some(found) => {
                tracing::info!(%pipeline, topic = %config.checkpoint_topic, last_written = ?found.last_written, "Resuming after the checkpoint committed in Kafka.")
            }
            None => {
                tracing::info!(%pipeline, topic = %config.checkpoint_topic, "No checkpoint in Kafka yet: starting at the slot's position.")
            }
        }
        let checkpoint = checkpoint.unwrap_or_default();
        let transaction_timeout = producer::transaction_timeout(&settings.config);
        let sink = KafkaSink {
            settings,
            registry,
            metrics,
            producer,
            topics,
            checkpoint_log,
            tables: HashMap::new(),
            committed: checkpoint.clone(),
            transaction_open: false,
            transaction_began: None,
            transaction_timeout,
            key: Vec::with_capacity(256),
            value: Vec::with_capacity(4096),
        };
        Ok((sink, checkpoint))
    }

    /// Produces one change's records into the open transaction.
    pub fn write_event(&mut self, event: &ChangeEvent, now_ms: i64) -> Result<(), SinkError> {
        self.prepare_table(event)
            .and_then(|()| self.produce_event(event, now_ms))
            .or_else(|error| self.dead_letter_or(error, event, now_ms))
            .map_err(|error| self.reclassify(error))
    }

    /// Produces `event`, which could not be encoded, to the dead-letter topic (in the open
    /// transaction) when the policy says so and the failure is about a value; otherwise
    /// returns `error`.
    fn dead_letter_or(&mut self, error: SinkError, event: &ChangeEvent, now_ms: i64) -> Result<(), SinkError> {
        let Some(table_topic) = self.tables.get(&event.schema.table).map(|table| table.output.topic().to_owned())
        else {
            return Err(error);
        };
        let policy = self.settings.config.on_unencodable;
        let Some(letter) = letter_for(policy, &error, event, &table_topic, &self.settings.source_info, now_ms) else {
            return Err(error);
        };
        let topic = self.settings.dead_letter_topic();
        self.topics.ensure(&topic, TopicKind::Table { keyed: false }).map_err(topic_error)?;
        self.begin_if_needed()?;
        let value = letter.to_json();
        let record =
            BaseRecord::<[u8], [u8]>::to(&topic).key(table_topic.as_bytes()).payload(value.as_bytes()).partition(0);
        producer::send(&self.producer, record).map_err(|error| {
            let what = format!("writing to dead-letter topic {topic}");
            kafka_error(&self.producer, &what, &error, &self.settings.pipeline)
        })?;
        announce_dead_letter(&self.settings.pipeline, &letter, &self.metrics);
        Ok(())
    }

    fn reclassify(&self, error: SinkError) -> SinkError {
        reclassify_fencing(error, self.transaction_began.map(|began| began.elapsed()), self.transaction_timeout)
    }

    /// Commits everything produced with `covered` as the checkpoint; `None` when nothing advanced.
    pub fn commit(&mut self, covered: &Checkpoint) -> Result<Option<Checkpoint>, SinkError> {
        self.commit_covered(covered).map_err(|error| self.reclassify(error))
    }

    fn commit_covered(&mut self, covered: &Checkpoint) -> Result<Option<Checkpoint>, SinkError> {
        if !covered.advanced_beyond(&self.committed) {
            return Ok(None);
        }
        let record = checkpoint::encode(covered, &self.settings.pipeline);
        match self.settings.config.delivery {
            KafkaDelivery::ExactlyOnce => {
                let started = std::time::Instant::now();
                self.begin_if_needed()?;
                self.send_checkpoint(&record)?;
                self.commit_transaction()?;
                let committed = started.elapsed();
                self.verify_committed(&record)?;
                tracing::debug!(pipeline = %self.settings.pipeline, commit_ms = committed.as_millis(), verify_ms = (started.elapsed() - committed).as_millis(), "Kafka transaction committed.");
            }
            KafkaDelivery::AtLeastOnce => {
                self.flush_all("writing changes")?;
                self.send_checkpoint(&record)?;
                self.flush_all("writing the checkpoint")?;
            }
        }
        self.committed = covered.clone();
        Ok(Some(self.committed.clone()))
    }

    fn begin_if_needed(&mut self) -> Result<(), SinkError> {
        if self.settings.config.delivery == KafkaDelivery::ExactlyOnce && !self.transaction_open {
            self.producer.begin_transaction().map_err(|error| {
                kafka_error(&self.producer, "beginning a transaction", &error, &self.settings.pipeline)
            })?;
            self.transaction_open = true;
            self.transaction_began = Some(std::time::Instant::now());
        }
        Ok(())
    }

    fn send_checkpoint(&mut self, record: &[u8]) -> Result<(), SinkError> {
        let topic = &self.settings.config.checkpoint_topic;
        let message =
            BaseRecord::<[u8], [u8]>::to(topic).key(self.settings.pipeline.as_bytes()).payload(record).partition(0);
        producer::send(&self.producer, message)
            .map_err(|error| kafka_error(&self.producer, "writing the checkpoint", &error, &self.settings.pipeline))
    }

    /// Commits the open transaction, retrying while Kafka says a retry can succeed
    /// (a broker away for a while); otherwise aborts and reports.
    fn commit_transaction(&mut self) -> Result<(), SinkError> {
        let mut attempt = 0u32;
        loop {
            let committed = client::wait_for_deliveries(&self.producer, COMMIT_TIMEOUT)
                .and_then(|()| self.producer.commit_transaction(COMMIT_TIMEOUT));
            match committed {
                Ok(()) => {
                    self.transaction_open = false;
                    self.transaction_began = None;
                    if attempt > 0 {
                        tracing::info!(pipeline = %self.settings.pipeline, attempts = attempt + 1, "Kafka transaction committed after retrying.");
                    }
                    return Ok(());
                }
                // Records not acknowledged in time (ours, or rdkafka's flush before committing): retried.
                Err(error @ KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {
                    attempt += 1;
                    tracing::warn!(pipeline = %self.settings.pipeline, attempt, %error, "Kafka has not acknowledged every record yet; retrying the commit.");
                }
                Err(KafkaError::Transaction(error)) if error.is_retriable() => {
                    attempt += 1;
                    tracing::warn!(pipeline = %self.settings.pipeline, attempt, %error, "Kafka transaction not committed yet; retrying.");
                }
                Err(error) => {
                    let failure = self.delivery_failure();
                    self.abort_open_transaction();
                    return Err(failure.unwrap_or_else(|| {
                        kafka_error(&self.producer, "committing", &error, &self.settings.pipeline)
                    }));
                }
            }
        }
    }

    /// Reads the checkpoint back before the source is acknowledged: the last committed
    /// checkpoint of this pipeline must be the one just committed. Kafka refuses the commit of
    /// a fenced producer, so there this only costs a small read; a broker that reports such a
    /// commit as done (nisshi 0.7 does, when a second instance aborted the transaction first)
    /// would otherwise make this instance acknowledge changes that are not in Kafka.
    fn verify_committed(&mut self, record: &[u8]) -> Result<(), SinkError> {
        let topic = &self.settings.config.checkpoint_topic;
        // Kafka's coordinator writes the COMMIT markers after it answered the commit:
        // while records wait for theirs, the checkpoint may still be on its way.
        let deadline = std::time::Instant::now() + client::COMMIT_MARKER_WAIT;
        loop {
            let log = self.checkpoint_log.read_partition_tail(topic, 0, Some(VERIFY_TAIL)).map_err(|error| {
                SinkError::KafkaRetriable {
                    what: format!("reading the checkpoint back from {topic}"),
                    reason: error.to_string(),
                }
            })?;
            let latest = log.latest_with_key(self.settings.pipeline.as_bytes());
            if latest.and_then(|found| found.value.as_deref()) == Some(record) {
                return Ok(());
            }
            if log.pending == 0 || std::time::Instant::now() >= deadline {
                return Err(SinkError::KafkaFenced {
                    pipeline: self.settings.pipeline.clone(),
                    reason: format!(
                        "the broker reported the commit, but topic {topic} does not hold its checkpoint as committed"
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Aborts what is open, best effort: if this fails too, the next
    /// `init_transactions` (the pipeline's restart) aborts it.
    fn abort_open_transaction(&mut self) {
        if self.transaction_open {
            if let Err(error) = self.producer.abort_transaction(ABORT_TIMEOUT) {
                tracing::warn!(pipeline = %self.settings.pipeline, %error, "Could not abort the Kafka transaction; the restart will.");
            }
            self.transaction_open = false;
        }
    }

    /// Waits until every record produced so far is acknowledged (at-least-once mode).
    fn flush_all(&mut self, what: &str) -> Result<(), SinkError> {
        loop {
            match client::wait_for_deliveries(&self.producer, COMMIT_TIMEOUT) {
                Ok(()) => break,
                Err(error)
                    if client::classify(&error) == FailureKind::Retriable && self.producer.in_flight_count() > 0 =>
                {
                    tracing::warn!(pipeline = %self.settings.pipeline, %error, in_flight = self.producer.in_flight_count(), "Kafka has not acknowledged every record yet; waiting.");
                }
                Err(error) => return Err(kafka_error(&self.producer, what, &error, &self.settings.pipeline)),
            }
        }
        match self.delivery_failure() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// The first failed delivery since the last commit, naming its table.
    fn delivery_failure(&self) -> Option<SinkError> {
        let failure = self.producer.context().take_failure()?;
        let what = match self.tables.values().find(|table| table.output.topic() == failure.topic) {
            Some(table) => format!("table {} (topic {})", table.output.schema().table, failure.topic),
            None => format!("writing to topic {}", failure.topic),
        };
        Some(kafka_error(&self.producer, &what, &failure.error, &self.settings.pipeline))
    }

    /// Commits what is open at a clean stop.
    pub fn close(&mut self, covered: &Checkpoint) -> Result<Option<Checkpoint>, SinkError> {
        let committed = self.commit(covered)?;
        if let Err(error) = self.producer.flush(COMMIT_TIMEOUT) {
            tracing::warn!(pipeline = %self.settings.pipeline, %error, "Kafka producer did not drain at stop.");
        }
        Ok(committed)
    }

    fn prepare_table(&mut self, event: &ChangeEvent) -> Result<(), SinkError> {
        let table = &event.schema.table;
        if self.tables.get(table).is_some_and(|known| known.output.serves(&event.schema)) {
            return Ok(());
        }
        let output = TableOutput::new(&event.schema, &self.settings.topic_prefix, self.settings.source_kind)?;
        let known = self.tables.values().map(|known| known.output.topic());
        if let Some(other) = topics::colliding_topic(output.topic(), known) {
            return Err(SinkError::Name {
                table: table.to_string(),
                reason: format!(
                    "its topic {} collides with topic {other} of another table (Kafka takes '.' and '_' as one in topic names); capture only one of them, or rename one",
                    output.topic()
                ),
            });
        }
        // Registering comes first: a refused shape stops the pipeline before anything of it is written.
        let versions = output.register(&self.registry, &self.settings.registry_config)?;
        self.topics.ensure(output.topic(), TopicKind::Table { keyed: output.has_key() }).map_err(topic_error)?;
        output.announce(&versions, &self.settings.pipeline, &self.metrics);
        let entry = KafkaTable { output, key_id: versions.key.map(|key| key.id), value_id: versions.value.id };
        self.tables.insert(table.clone(), entry);
        Ok(())
    }

    fn produce_event(&mut self, event: &ChangeEvent, now_ms: i64) -> Result<(), SinkError> {
        self.begin_if_needed()?;
        let table = self.tables.get(&event.schema.table).ok_or_else(|| SinkError::Internal("table missing".into()))?;
        let key_row = match event.operation {
            Operation::Delete => event.before.as_ref(),
            Operation::Truncate => None,
            Operation::Insert | Operation::Update | Operation::Read => event.after.as_ref(),
        };
        if event.operation == Operation::Update
            && let (Some(before), Some(after)) = (&event.before, &event.after)
            && table.key_id.is_some()
            && key_changed(table.output.schema(), before, after)
        {
            // As Debezium does: the old key gets a delete (and its tombstone), the new key a create,
            // so that compaction and per-key consumers never keep a row under its old key.
            let delete = ChangeEvent { operation: Operation::Delete, after: None, ..event.clone() };
            let create = ChangeEvent { operation: Operation::Insert, before: None, ..event.clone() };
            self.produce_one(&delete, Some(before), now_ms)?;
            return self.produce_one(&create, Some(after), now_ms);
        }
        self.produce_one(event, key_row, now_ms)
    }

    /// Produces `event` under the key of `key_row` (no key for keyless tables and truncates).
    fn produce_one(&mut self, event: &ChangeEvent, key_row: Option<&Row>, now_ms: i64) -> Result<(), SinkError> {
        let table = self.tables.get(&event.schema.table).ok_or_else(|| SinkError::Internal("table missing".into()))?;
        let has_key = match (table.key_id, key_row) {
            (Some(key_id), Some(row)) => {
                self.key.clear();
                write_header(&mut self.key, key_id);
                table.output.encode_key(row, &event.position, &mut self.key)?;
                true
            }
            _ => false,
        };
        self.value.clear();
        write_header(&mut self.value, table.value_id);
        table.output.encode(event, &self.settings.source_fields, now_ms, &mut self.value)?;
        let topic = table.output.topic();
        let mut record = BaseRecord::<[u8], [u8]>::to(topic).payload(&self.value);
        if has_key {
            record = record.key(&self.key);
        } else if event.operation == Operation::Truncate {
            // One place for a keyless event that concerns the whole table.
            record = record.partition(0);
        }
        let send = |record| {
            producer::send(&self.producer, record).map_err(|error| {
                let table = table.output.schema().table.to_string();
                record_error(&self.producer, &table, topic, &error, &self.settings.pipeline)
            })
        };
        send(record)?;
        if has_key && event.operation == Operation::Delete && self.settings.config.tombstones {
            send(BaseRecord::<[u8], [u8]>::to(topic).key(&self.key))?;
        }
        Ok(())
    }
}

/// True when an update moved the row to another key.
fn key_changed(schema: &Arc<wellhead_decoders::change::TableSchema>, before: &Row, after: &Row) -> bool {
    schema
        .columns
        .iter()
        .zip(before.iter().zip(after))
        .any(|(column, (old, new))| column.is_key && !matches!(old, ColumnValue::UnchangedToast) && old != new)
}

/// Reads the pipeline's last committed checkpoint from the checkpoint topic.
fn read_checkpoint(
    reader: &mut CommittedLogReader,
    config: &KafkaSinkConfig,
    pipeline: &str,
) -> Result<Option<Checkpoint>, SinkError> {
    let topic = &config.checkpoint_topic;
    let unreachable = |error: CommittedLogError| SinkError::KafkaRetriable {
        what: format!("reading the checkpoint from topic {topic}"),
        reason: error.to_string(),
    };
    let mut tail = Some(CHECKPOINT_TAIL);
    loop {
        let log = reader.read_partition_tail(topic, 0, tail).map_err(unreachable)?;
        let latest = log.latest_with_key(pipeline.as_bytes());
        match (latest, tail) {
            // A tombstone resets the pipeline: it starts over at the slot's position.
            (Some(record), _) => {
                return match &record.value {
                    None => Ok(None),
                    Some(value) => {
                        let location = format!("in Kafka topic {topic} at offset {}", record.offset);
                        Ok(Some(checkpoint::decode(value, pipeline, &location)?))
                    }
                };
            }
            (None, Some(_)) if log.end_offset > CHECKPOINT_TAIL => tail = None,
            (None, _) => return Ok(None),
        }
    }
}

/// Kafka reports a transaction it aborted for running past `transaction.timeout.ms` (a
/// broker away longer than that, a sink stuck) the way it reports fencing: the producer's
/// epoch was bumped. A "fenced" error on a transaction open that long is taken for that
/// timeout and retried from the committed checkpoint; a fence that comes sooner is another
/// instance's, and stops this one.
fn reclassify_fencing(error: SinkError, open_for: Option<Duration>, timeout: Duration) -> SinkError {
    match error {
        SinkError::KafkaFenced { reason, .. } if open_for.is_some_and(|open_for| open_for >= timeout) => {
            SinkError::KafkaRetriable {
                what: format!(
                    "the transaction stayed open {} s, past transaction.timeout.ms ({} ms), and the broker aborted it",
                    open_for.unwrap_or_default().as_secs(),
                    timeout.as_millis()
                ),
                reason,
            }
        }
        other => other,
    }
}

/// A Kafka call failed: retry from the checkpoint, stop as fenced, or stop for good.
/// A producer in a fatal state says why itself (fencing arrives this way).
fn kafka_error(producer: &SinkProducer, what: &str, error: &KafkaError, pipeline: &str) -> SinkError {
    if let Some((kind, reason)) = client::fatal_error(producer.client()) {
        return match kind {
            FailureKind::Fenced => SinkError::KafkaFenced { pipeline: pipeline.to_owned(), reason },
            _ => SinkError::KafkaFatal { what: what.to_owned(), reason },
        };
    }
    match client::classify(error) {
        FailureKind::Retriable => SinkError::KafkaRetriable { what: what.to_owned(), reason: error.to_string() },
        FailureKind::Fenced => SinkError::KafkaFenced { pipeline: pipeline.to_owned(), reason: error.to_string() },
        FailureKind::Fatal => SinkError::KafkaFatal { what: what.to_owned(), reason: error.to_string() },
    }
}

/// A record of `table` was refused or failed to arrive.
fn record_error(producer: &SinkProducer, table: &str, topic: &str, error: &KafkaError, pipeline: &str) -> SinkError {
    kafka_error(producer, &format!("table {table} (topic {topic})"), error, pipeline)
}

fn topic_error(error: topics::TopicError) -> SinkError {
    let what = format!("creating topic {}", error.topic);
    match error.class {
        ErrorClass::Transient => SinkError::KafkaRetriable { what, reason: error.reason },
        ErrorClass::Definite => SinkError::KafkaFatal { what, reason: error.reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fenced() -> SinkError {
        SinkError::KafkaFenced { pipeline: "p".into(), reason: "InvalidProducerEpoch".into() }
    }

    #[test]
    fn a_fence_after_the_transaction_timeout_is_the_timeout_and_earlier_is_another_instance() {
        let timeout = Duration::from_secs(60);
        let timed_out = reclassify_fencing(fenced(), Some(Duration::from_secs(61)), timeout);
        assert!(
            matches!(&timed_out, SinkError::KafkaRetriable { what, .. } if what.contains("past transaction.timeout.ms"))
        );
        assert!(matches!(
            reclassify_fencing(fenced(), Some(Duration::from_secs(5)), timeout),
            SinkError::KafkaFenced { .. }
        ));
        assert!(matches!(reclassify_fencing(fenced(), None, timeout), SinkError::KafkaFenced { .. }));
        let other = SinkError::KafkaFatal { what: "w".into(), reason: "r".into() };
        assert!(matches!(
            reclassify_fencing(other, Some(Duration::from_secs(99)), timeout),
            SinkError::KafkaFatal { .. }
        ));
    }
}
