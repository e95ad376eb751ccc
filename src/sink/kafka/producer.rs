//! The librdkafka producer as the Kafka sink uses it: Wellhead's defaults under
//! the user's properties, delivery failures remembered for the commit to
//! report, librdkafka's log routed to `tracing`.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};

use crate::config::{KafkaDelivery, KafkaSinkConfig};
use crate::kafka::client::log_to_tracing;

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
        log_to_tracing(level, facility, message);
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

/// The producer's `transaction.timeout.ms`: the config's, or Wellhead's default.
pub fn transaction_timeout(config: &KafkaSinkConfig) -> std::time::Duration {
    let default = DEFAULT_PROPERTIES.iter().find(|(key, _)| *key == "transaction.timeout.ms").map(|(_, value)| *value);
    let milliseconds = config.properties.0.get("transaction.timeout.ms").map(String::as_str).or(default);
    std::time::Duration::from_millis(milliseconds.and_then(|ms| ms.parse().ok()).unwrap_or(60_000))
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
    // librdkafka refuses a message timeout longer than the transaction timeout: one set
    // shorter brings the default message timeout down with it.
    if let Some(transaction_timeout) = config.properties.0.get("transaction.timeout.ms")
        && !config.properties.0.contains_key("message.timeout.ms")
        && transaction_timeout.parse::<u64>().is_ok_and(|ms| ms < 60_000)
    {
        client.set("message.timeout.ms", transaction_timeout);
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
