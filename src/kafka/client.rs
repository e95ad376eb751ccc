//! librdkafka as every Wellhead client uses it: the connection settings they
//! share, its log routed to `tracing`, and its errors sorted into "retry" and
//! "stop".

use std::collections::BTreeMap;
use std::fmt;

use rdkafka::client::{Client, ClientContext};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use serde::Deserialize;

/// How long a committed transaction's records may wait for their COMMIT marker before a
/// read-back gives up: Kafka's coordinator writes the markers after it answered the commit.
pub const COMMIT_MARKER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a failed Kafka call means for its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// Nothing unrecoverable: start again from the last committed state.
    Retriable,
    /// Another instance took over this client's transactional.id.
    Fenced,
    /// A problem a retry cannot fix (authorization, a record too large, configuration).
    Fatal,
}

/// A Kafka cluster as every Wellhead client reaches it: its bootstrap brokers and the
/// configured librdkafka properties (of which every client takes the security ones).
#[derive(Debug, Clone)]
pub struct KafkaCluster {
    /// Bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    pub properties: ProducerProperties,
}

/// librdkafka properties; values of keys that name a secret never show.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct ProducerProperties(pub BTreeMap<String, String>);

impl ProducerProperties {
    /// True for keys whose values are credentials.
    pub fn is_secret(key: &str) -> bool {
        ["password", "secret", "sasl.oauthbearer.config", "ssl.key.pem", "ssl.keystore"]
            .iter()
            .any(|part| key.contains(part))
    }
}

impl fmt::Debug for ProducerProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(key, value)| (key, if Self::is_secret(key) { "***" } else { value.as_str() })))
            .finish()
    }
}

/// The client settings every Kafka client of `cluster` shares (brokers, security).
pub fn client_config(cluster: &KafkaCluster) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &cluster.brokers);
    for (key, value) in &cluster.properties.0 {
        if key.starts_with("security.") || key.starts_with("sasl.") || key.starts_with("ssl.") {
            client.set(key, value);
        }
    }
    client
}

/// Routes one librdkafka log line to `tracing` at its level (for `ClientContext::log`).
pub fn log_to_tracing(level: RDKafkaLogLevel, facility: &str, message: &str) {
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

/// The client's fatal error, when librdkafka has raised one (it reports fencing this way).
pub fn fatal_error<C: ClientContext>(client: &Client<C>) -> Option<(FailureKind, String)> {
    client.fatal_error().map(|(code, text)| {
        let kind = if is_fencing(code) { FailureKind::Fenced } else { FailureKind::Fatal };
        (kind, format!("{code:?}: {text}"))
    })
}

/// Waits until every record produced so far is acknowledged (or failed), like
/// `Producer::flush` but without its cost: rust-rdkafka's flush (which
/// `commit_transaction` calls first) polls the event queue in 100 ms steps, and
/// with a `ThreadedProducer` the events go to its own thread, so every flush
/// with anything in flight took 100 ms, every commit with it. Returns
/// `Flush(OperationTimedOut)`, as flush does, when `timeout` passes first.
pub fn wait_for_deliveries<C, P>(producer: &P, timeout: std::time::Duration) -> Result<(), KafkaError>
where
    C: rdkafka::producer::ProducerContext,
    P: rdkafka::producer::Producer<C>,
{
    let deadline = std::time::Instant::now() + timeout;
    while producer.in_flight_count() > 0 {
        if std::time::Instant::now() >= deadline {
            return Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Ok(())
}
