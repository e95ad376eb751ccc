//! `[pipelines.sink] type = "kafka"`: brokers, delivery guarantee, topics and
//! producer settings, with defaults chosen for exactly-once CDC.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::UnencodablePolicy;
use crate::kafka::client::KafkaCluster;
pub use crate::kafka::client::ProducerProperties;
use crate::kafka::topics::{TOPIC_NAME_RULE, TopicLayout, is_valid_topic};

/// Default topic holding each pipeline's checkpoint (compacted, keyed by pipeline name).
pub const DEFAULT_CHECKPOINT_TOPIC: &str = "_wellhead_checkpoints";

/// Delivery guarantee of the Kafka sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaDelivery {
    /// Data and checkpoint in one Kafka transaction (needs a broker with transactions).
    #[default]
    ExactlyOnce,
    /// Idempotent producer, checkpoint written after the data: a crash may repeat
    /// the changes since the last checkpoint. For brokers without transactions.
    AtLeastOnce,
}

/// The Kafka sink's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    /// Bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    /// Topic prefix (default: the pipeline name).
    pub topic_prefix: Option<String>,
    /// `exactly_once` (default) or `at_least_once`.
    #[serde(default)]
    pub delivery: KafkaDelivery,
    /// Partitions of topics Wellhead creates.
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// Replication factor of topics Wellhead creates (default: the broker's default).
    pub replication_factor: Option<i16>,
    /// Topic configs of topics Wellhead creates; keyed topics get
    /// `cleanup.policy = "compact"` unless this sets a policy.
    #[serde(default)]
    pub topic_config: BTreeMap<String, String>,
    /// Write a tombstone (null value) after each delete, for compaction.
    #[serde(default = "default_true")]
    pub tombstones: bool,
    /// Compacted topic of checkpoints, keyed by pipeline name.
    #[serde(default = "default_checkpoint_topic")]
    pub checkpoint_topic: String,
    /// librdkafka producer properties (`linger.ms`, `compression.type`,
    /// `security.protocol`, …), over Wellhead's defaults.
    #[serde(default)]
    pub properties: ProducerProperties,
    /// A row whose value the Avro schema cannot hold: `stop` (default) or `dead_letter`.
    #[serde(default)]
    pub on_unencodable: UnencodablePolicy,
    /// Where `dead_letter` puts such rows (default: `<topic_prefix>.dead-letter`).
    pub dead_letter_topic: Option<String>,
}

fn default_partitions() -> i32 {
    1
}
fn default_true() -> bool {
    true
}
fn default_checkpoint_topic() -> String {
    DEFAULT_CHECKPOINT_TOPIC.to_owned()
}

/// Properties Wellhead sets itself; a config that sets them is refused.
const RESERVED_PROPERTIES: &[(&str, &str)] = &[
    ("transactional.id", "it is the pipeline's name, so that a second instance fences the first"),
    ("enable.idempotence", "it is always on: retries must not duplicate records"),
    ("acks", "it is always \"all\": a record counts as written only once every in-sync replica has it"),
    ("bootstrap.servers", "set brokers instead"),
];

/// Security protocols the checkpoint reader speaks (it reads the raw log itself).
const READABLE_SECURITY_PROTOCOLS: &[&str] = &["plaintext"];

impl KafkaSinkConfig {
    /// The cluster every Kafka client of this sink (producer, topic creation, checkpoint
    /// read-back, the registry's log) connects to.
    pub fn cluster(&self) -> KafkaCluster {
        KafkaCluster { brokers: self.brokers.clone(), properties: self.properties.clone() }
    }

    /// How the topics Wellhead creates for this sink are laid out.
    pub fn topic_layout(&self) -> TopicLayout {
        TopicLayout {
            partitions: self.partitions,
            replication_factor: self.replication_factor,
            topic_config: self.topic_config.clone(),
        }
    }

    /// Names the first rule the settings break: `(key, rule)`.
    pub fn problem(&self) -> Option<(String, String)> {
        if self.brokers.split(',').all(|broker| broker.trim().is_empty()) {
            return Some(("sink.brokers".into(), "list at least one broker as host:port".into()));
        }
        if let Some(broker) = self.brokers.split(',').map(str::trim).find(|b| !b.is_empty() && !b.contains(':')) {
            return Some(("sink.brokers".into(), format!("{broker:?} must be host:port")));
        }
        if let Some(topic) = &self.dead_letter_topic
            && !is_valid_topic(topic)
        {
            return Some(("sink.dead_letter_topic".into(), TOPIC_NAME_RULE.into()));
        }
        if self.partitions < 1 {
            return Some(("sink.partitions".into(), "must be at least 1".into()));
        }
        if self.replication_factor.is_some_and(|factor| factor < 1) {
            return Some((
                "sink.replication_factor".into(),
                "must be at least 1 (leave it out for the broker's default)".into(),
            ));
        }
        if !is_valid_topic(&self.checkpoint_topic) {
            return Some(("sink.checkpoint_topic".into(), TOPIC_NAME_RULE.into()));
        }
        if let Some((key, why)) = RESERVED_PROPERTIES.iter().find(|(key, _)| self.properties.0.contains_key(*key)) {
            return Some((format!("sink.properties.\"{key}\""), format!("is set by Wellhead: {why}")));
        }
        if let Some(protocol) = self.properties.0.get("security.protocol")
            && !READABLE_SECURITY_PROTOCOLS.contains(&protocol.to_ascii_lowercase().as_str())
        {
            return Some((
                "sink.properties.\"security.protocol\"".into(),
                format!(
                    "{protocol:?} is not supported yet: the checkpoint reader speaks PLAINTEXT only; use a plaintext listener"
                ),
            ));
        }
        None
    }
}
