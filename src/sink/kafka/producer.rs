//! The librdkafka producer as the Kafka sink uses it: Wellhead's defaults under
//! the user's properties, delivery failures remembered for the commit to
//! report, librdkafka's log routed to `tracing`, and Kafka errors sorted into
//! "retry from the checkpoint" and "stop".

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use crate::config::{KafkaDelivery, KafkaSinkConfig};

/// Producer properties Wellhead sets unless the config does: throughput with a
/// bounded queue (flat memory), Java-compatible key partitioning, and timeouts
/// that ride out a broker restart.
const DEFAULT_PROPERTIES: &[(&str, &str)] = &[
    ("linger.ms", "10"),
    ("batch.size", "1000000"),
    ("compression.type", "lz4"),
    // librdkafka's default (crc32) puts keys elsewhere than Java clients do; murmur2 matches them.
    ("partitioner", "murmur2_random"),
    // The queue of unsent records is part of Wellhead's memory; its default is 1 GiB.
    ("queue.buffering.max.kbytes", "32768"),
    ("transaction.timeout.ms", "60000"),
    ("message.timeout.ms", "60000"),
    ("socket.keepalive.enable", "true"),
    ("reconnect.backoff.max.ms", "5000"),
];

/// What a failed Kafka call means for the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// Nothing unrecoverable: start again from the last committed checkpoint.
    Retriable,
    /// Another instance took over this pipeline's transactional.id.
    Fenced,
    /// A problem a retry cannot fix (authorization, a record too large, configuration).
    Fatal,
}

/// The first record that failed to arrive since the last commit.
#[derive(Debug, Clone)]
pub struct DeliveryFailure {
    pub topic: String,
    pub error: KafkaError,
}

/// Receives librdkafka's callbacks on its own threads.
#[derive(Debug, Default)]
pub struct SinkProducerContext {
    first_failure: Mutex<Option<DeliveryFailure>>,
}

impl SinkProducerContext {
    /// Takes the remembered failure, if any.
    pub fn take_failure(&self) -> Option<DeliveryFailure> {
        self.first_failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

impl ClientContext for SinkProducerContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility, "{message}")
            }
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility, "{message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Connection trouble shows up here first; the commit path decides what it means.
        tracing::warn!(target: "librdkafka", %error, "Kafka client: {reason}");
    }
}

impl ProducerContext for SinkProducerContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, message)) = result {
            let mut failure = self.first_failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if failure.is_none() {
                use rdkafka::message::Message;
                *failure = Some(DeliveryFailure { topic: message.topic().to_owned(), error: error.clone() });
            }
        }
    }
}

/// The sink's producer.
pub type SinkProducer = ThreadedProducer<SinkProducerContext>;

/// The client settings every Kafka client of the pipeline shares (brokers, security).
pub fn client_config(config: &KafkaSinkConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.brokers);
    for (key, value) in &config.properties.0 {
        if key.starts_with("security.") || key.starts_with("sasl.") || key.starts_with("ssl.") {
            client.set(key, value);
        }
    }
    client
}

/// Builds the producer: defaults, then the config's properties, then what Wellhead fixes.
pub fn create_producer(config: &KafkaSinkConfig, pipeline: &str) -> Result<SinkProducer, KafkaError> {
    let mut client = ClientConfig::new();
    for (key, value) in DEFAULT_PROPERTIES {
        client.set(*key, *value);
    }
    for (key, value) in &config.properties.0 {
        client.set(key, value);
    }
    client.set("bootstrap.servers", &config.brokers).set("enable.idempotence", "true").set("acks", "all");
    if config.delivery == KafkaDelivery::ExactlyOnce {
        client.set("transactional.id", pipeline);
    }
    client.create_with_context(SinkProducerContext::default())
}

/// Queues one record, waiting while librdkafka's queue is full (backpressure:
/// the source waits with it). Returns the error of a record refused outright.
pub fn send(producer: &SinkProducer, mut record: BaseRecord<'_, [u8], [u8]>) -> Result<(), KafkaError> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((error, _)) => return Err(error),
        }
    }
}

/// Sorts a Kafka error.
pub fn classify(error: &KafkaError) -> FailureKind {
    let code = match error {
        KafkaError::Transaction(transaction) => {
            if is_fencing(transaction.code()) {
                return FailureKind::Fenced;
            }
            if transaction.is_fatal() {
                return FailureKind::Fatal;
            }
            transaction.code()
        }
        other => match other.rdkafka_error_code() {
            Some(code) => code,
            None => return FailureKind::Retriable,
        },
    };
    if is_fencing(code) {
        return FailureKind::Fenced;
    }
    match code {
        RDKafkaErrorCode::MessageSizeTooLarge
        | RDKafkaErrorCode::InvalidMessageSize
        | RDKafkaErrorCode::TopicAuthorizationFailed
        | RDKafkaErrorCode::ClusterAuthorizationFailed
        | RDKafkaErrorCode::GroupAuthorizationFailed
        | RDKafkaErrorCode::TransactionalIdAuthorizationFailed
        | RDKafkaErrorCode::SaslAuthenticationFailed
        | RDKafkaErrorCode::Authentication
        | RDKafkaErrorCode::InvalidConfig
        | RDKafkaErrorCode::InvalidArgument
        | RDKafkaErrorCode::InvalidRecord
        | RDKafkaErrorCode::InvalidTopic
        | RDKafkaErrorCode::UnsupportedVersion
        | RDKafkaErrorCode::UnsupportedForMessageFormat
        | RDKafkaErrorCode::InvalidTransactionTimeout
        | RDKafkaErrorCode::UnsupportedCompressionType
        | RDKafkaErrorCode::PolicyViolation
        | RDKafkaErrorCode::Fatal => FailureKind::Fatal,
        _ => FailureKind::Retriable,
    }
}

fn is_fencing(code: RDKafkaErrorCode) -> bool {
    matches!(code, RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::InvalidProducerEpoch | RDKafkaErrorCode::Fenced)
}

/// The producer's fatal error, when librdkafka has raised one (it reports fencing this way).
pub fn fatal_error(producer: &SinkProducer) -> Option<(FailureKind, String)> {
    producer.client().fatal_error().map(|(code, text)| {
        let kind = if is_fencing(code) { FailureKind::Fenced } else { FailureKind::Fatal };
        (kind, format!("{code:?}: {text}"))
    })
}
