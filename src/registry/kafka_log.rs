//! The embedded registry's log kept in a compacted Kafka topic (one partition,
//! key = [`RegistryEvent::key`], value = the event's JSON), so that an instance
//! restarted on another machine, or a second process on the same cluster,
//! serves the same ids.
//!
//! ```text
//!  open:  create the topic if missing ─► read it whole ─► store
//!  write: (transactional producer, transactional.id = wellhead-registry-<topic>)
//!         catch up with the topic ─► plan on the caught-up store
//!         ─► one transaction with the plan's events ─► commit
//!         ─► catch up again: the events must come back committed ─► outcome
//! ```
//!
//! Why a transaction: ids are sequential, so two writers must not plan on the
//! same state. Every writer uses the same transactional.id; initialising it
//! fences the previous writer, whose commit then fails, and a writer that
//! commits caught up after its own initialisation, so it planned on every
//! event committed before its own. The read-back covers brokers that report a
//! fenced commit as done (nisshi 0.7): the store only ever holds what the topic
//! holds as committed, and an event that did not come back is planned again.

use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use wellhead_schema::registry::{Change, RegistryError, RegistryEvent, RegistryStore};

use crate::failure::{Classify, ErrorClass};
use crate::kafka::client::{COMMIT_MARKER_WAIT, KafkaCluster, client_config, log_to_tracing, wait_for_deliveries};
use crate::kafka::committed_log::{CommittedLogReader, CommittedRecord};
use crate::kafka::topics::{TopicCreator, TopicKind, TopicLayout};

/// Default topic of the embedded registry when its pipelines stream to Kafka.
pub const DEFAULT_REGISTRY_TOPIC: &str = "_wellhead_schemas";
/// How long one Kafka call of a registry write may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts at one registry write before its error is returned (another writer
/// taking over costs one; a broker away, the rest).
const WRITE_ATTEMPTS: u32 = 6;
/// The pause before the second attempt, doubled before each further one (50 ms … 0.8 s).
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// The registry's topic could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KafkaRegistryLogError {
    #[error("registry topic {topic}: {reason}")]
    Unavailable { topic: String, reason: String },
    #[error(
        "registry topic {topic}, offset {offset}: {reason}; the topic holds records not written by Wellhead's registry (or by two writers a broker failed to fence): point control.registry_topic at a topic of its own"
    )]
    Corrupt { topic: String, offset: i64, reason: String },
    #[error("registry topic {topic}: {reason}")]
    Write { topic: String, reason: String },
}

impl Classify for KafkaRegistryLogError {
    /// Transient: Kafka was away or busy; definite: the topic holds something the
    /// registry cannot apply.
    fn class(&self) -> ErrorClass {
        match self {
            KafkaRegistryLogError::Unavailable { .. } | KafkaRegistryLogError::Write { .. } => ErrorClass::Transient,
            KafkaRegistryLogError::Corrupt { .. } => ErrorClass::Definite,
        }
    }
}

/// Routes the producer's log to tracing.
#[derive(Debug, Default)]
struct RegistryProducerContext;

impl ClientContext for RegistryProducerContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_to_tracing(level, facility, message);
    }
}

impl ProducerContext for RegistryProducerContext {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &DeliveryResult<'_>, _: ()) {}
}

type RegistryProducer = ThreadedProducer<RegistryProducerContext>;

/// An event as a Kafka record: its compaction key and its JSON.
type EventRecord = (Vec<u8>, Vec<u8>);

/// The registry's topic: a reader that follows it and a transactional writer.
pub struct KafkaRegistryLog {
    topic: String,
    producer_config: ClientConfig,
    /// Created at the first write; dropped after a failed one, so the next starts afresh.
    producer: Option<RegistryProducer>,
    reader: CommittedLogReader,
    /// Where reading the topic goes on: everything before is in the store.
    next_offset: i64,
}

impl std::fmt::Debug for KafkaRegistryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaRegistryLog")
            .field("topic", &self.topic)
            .field("next_offset", &self.next_offset)
            .finish_non_exhaustive()
    }
}

impl KafkaRegistryLog {
    /// Creates the topic when missing and reads it into a store. Blocks on the
    /// network (topic creation needs a tokio runtime around it).
    pub fn open(
        cluster: &KafkaCluster,
        layout: &TopicLayout,
        topic: &str,
    ) -> Result<(KafkaRegistryLog, RegistryStore), KafkaRegistryLogError> {
        let unavailable = |reason: String| KafkaRegistryLogError::Unavailable { topic: topic.to_owned(), reason };
        // Connecting first fails at once when the cluster is away (creating the topic would wait 30 s).
        let reader = CommittedLogReader::connect(&cluster.brokers).map_err(|error| unavailable(error.to_string()))?;
        let mut topics = TopicCreator::new(cluster, layout.clone()).map_err(|error| unavailable(error.to_string()))?;
        topics.ensure(topic, TopicKind::Compacted).map_err(|error| unavailable(error.to_string()))?;
        let mut producer_config = client_config(cluster);
        producer_config
            .set("transactional.id", format!("wellhead-registry-{topic}"))
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0");
        let mut log =
            KafkaRegistryLog { topic: topic.to_owned(), producer_config, producer: None, reader, next_offset: 0 };
        let mut store = RegistryStore::new();
        let events = log.catch_up(&mut store)?;
        tracing::info!(%topic, events = events.len(), "Embedded schema registry read from its Kafka topic.");
        Ok((log, store))
    }

    /// Persists the events `plan` makes on the caught-up store and applies them;
    /// retried while Kafka fails or another writer got there first.
    pub fn write<T>(
        &mut self,
        store: &mut RegistryStore,
        plan: &dyn Fn(&RegistryStore) -> Result<Change<T>, RegistryError>,
    ) -> Result<T, WriteFailure> {
        let mut attempt = 1;
        loop {
            match self.write_once(store, plan) {
                Ok(outcome) => return Ok(outcome),
                Err(refused @ WriteFailure::Refused(_)) => return Err(refused),
                Err(WriteFailure::Log(error @ KafkaRegistryLogError::Corrupt { .. })) => {
                    return Err(WriteFailure::Log(error));
                }
                Err(WriteFailure::Log(error)) => {
                    // A failed write leaves no trace but an aborted transaction; the next starts afresh.
                    self.producer = None;
                    if attempt >= WRITE_ATTEMPTS {
                        return Err(WriteFailure::Log(error));
                    }
                    tracing::warn!(topic = %self.topic, attempt, %error, "Registry write to Kafka failed; retrying.");
                    std::thread::sleep(RETRY_PAUSE * 2u32.pow(attempt - 1));
                    attempt += 1;
                }
            }
        }
    }

    fn write_once<T>(
        &mut self,
        store: &mut RegistryStore,
        plan: &dyn Fn(&RegistryStore) -> Result<Change<T>, RegistryError>,
    ) -> Result<T, WriteFailure> {
        self.start_producer()?;
        self.catch_up(store)?;
        let change = plan(store).map_err(WriteFailure::Refused)?;
        if change.events.is_empty() {
            return Ok(change.outcome);
        }
        let records = self.encode(&change.events)?;
        let producer = self.producer.take().ok_or_else(|| self.write_error("no producer".into()))?;
        self.commit_records(&producer, &records)?;
        self.producer = Some(producer);
        self.confirm_committed(store, &records)?;
        Ok(change.outcome)
    }

    /// Writes `records` in one transaction.
    fn commit_records(
        &self,
        producer: &RegistryProducer,
        records: &[EventRecord],
    ) -> Result<(), KafkaRegistryLogError> {
        let failed = |what: &str, error: KafkaError| self.write_error(format!("{what}: {error}"));
        producer.begin_transaction().map_err(|error| failed("beginning a transaction", error))?;
        for (key, value) in records {
            let record = BaseRecord::<[u8], [u8]>::to(&self.topic).key(key).payload(value).partition(0);
            if let Err((error, _)) = producer.send(record) {
                let _ = producer.abort_transaction(CALL_TIMEOUT);
                return Err(failed("writing an event", error));
            }
        }
        wait_for_deliveries(producer, CALL_TIMEOUT).and_then(|()| producer.commit_transaction(CALL_TIMEOUT)).map_err(
            |error| {
                let _ = producer.abort_transaction(CALL_TIMEOUT);
                failed("committing", error)
            },
        )
    }

    /// Catches up until `records` show up committed, in order and together.
    fn confirm_committed(&mut self, store: &mut RegistryStore, records: &[EventRecord]) -> Result<(), WriteFailure> {
        let deadline = std::time::Instant::now() + COMMIT_MARKER_WAIT;
        let mut seen = Vec::new();
        loop {
            seen.extend(self.catch_up(store)?);
            let found = seen.windows(records.len()).any(|window| {
                window.iter().zip(records).all(|(record, (key, value))| {
                    record.key.as_deref() == Some(key.as_slice()) && record.value.as_deref() == Some(value.as_slice())
                })
            });
            if found {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(self
                    .write_error(
                        "the broker reported the commit, but the events are not committed in the topic (another Wellhead process took over the registry topic)"
                            .into(),
                    )
                    .into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Applies what the topic committed since the last read; returns those records.
    pub fn catch_up(&mut self, store: &mut RegistryStore) -> Result<Vec<CommittedRecord>, KafkaRegistryLogError> {
        let read = self.reader.read_settled_from(&self.topic, 0, self.next_offset).map_err(|error| {
            KafkaRegistryLogError::Unavailable { topic: self.topic.clone(), reason: error.to_string() }
        })?;
        for record in &read.committed {
            // A null value is a tombstone someone wrote by hand: nothing to apply.
            let Some(value) = &record.value else { continue };
            let corrupt = |reason: String| KafkaRegistryLogError::Corrupt {
                topic: self.topic.clone(),
                offset: record.offset,
                reason,
            };
            let event: RegistryEvent = serde_json::from_slice(value).map_err(|error| corrupt(error.to_string()))?;
            store.apply(&event).map_err(|error| corrupt(error.to_string()))?;
        }
        self.next_offset = read.next_offset;
        Ok(read.committed)
    }

    /// Creates and initialises the transactional producer (fencing the previous writer) when missing.
    fn start_producer(&mut self) -> Result<(), KafkaRegistryLogError> {
        if self.producer.is_none() {
            let producer: RegistryProducer = self
                .producer_config
                .create_with_context(RegistryProducerContext)
                .map_err(|error| self.write_error(format!("creating the producer: {error}")))?;
            producer
                .init_transactions(CALL_TIMEOUT)
                .map_err(|error| self.write_error(format!("starting the transactional producer: {error}")))?;
            self.producer = Some(producer);
        }
        Ok(())
    }

    /// Each event as its Kafka key and value.
    fn encode(&self, events: &[RegistryEvent]) -> Result<Vec<EventRecord>, KafkaRegistryLogError> {
        events
            .iter()
            .map(|event| {
                let value = serde_json::to_vec(event)
                    .map_err(|error| self.write_error(format!("encoding a registry event: {error}")))?;
                Ok((event.key().into_bytes(), value))
            })
            .collect()
    }

    fn write_error(&self, reason: String) -> KafkaRegistryLogError {
        KafkaRegistryLogError::Write { topic: self.topic.clone(), reason }
    }
}

/// Why a write (or one attempt of it) failed.
#[derive(Debug)]
pub enum WriteFailure {
    /// The registry refused the change (a client error): final.
    Refused(RegistryError),
    /// Kafka failed or the write did not come back: worth another attempt.
    Log(KafkaRegistryLogError),
}

impl From<KafkaRegistryLogError> for WriteFailure {
    fn from(error: KafkaRegistryLogError) -> Self {
        WriteFailure::Log(error)
    }
}
