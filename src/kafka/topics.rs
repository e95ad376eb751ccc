//! Creates the topics the Kafka sink writes to, when they are missing: table
//! topics with the configured partitions, replication and configs (compacted
//! when keyed), and the compacted single-partition topics of checkpoints and
//! schemas. An existing topic is used as it is.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::client::{FailureKind, KafkaCluster, classify, client_config};
use crate::failure::ErrorClass;

/// How long the broker may take to create a topic.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);

/// What kind of topic is wanted, which decides its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    /// A table's changes; compacted when the table has a key.
    Table { keyed: bool },
    /// One record per key, only the latest matters (checkpoints, schemas).
    Compacted,
}

/// Kafka's rule for topic names, as told to a user whose name breaks it.
pub const TOPIC_NAME_RULE: &str =
    "must be a Kafka topic name: 1-249 letters, digits, '.', '_' or '-', and not \".\" or \"..\"";

/// Kafka's rule for topic names.
pub fn is_valid_topic(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The topic among `known` that Kafka refuses to have beside `topic`: one that differs
/// only by `.` against `_` (they are one name in Kafka's metrics), like `a.b_c` and `a_b.c`.
pub fn colliding_topic<'a>(topic: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let collision_key = |name: &str| name.replace('.', "_");
    let key = collision_key(topic);
    known.into_iter().find(|other| *other != topic && collision_key(other) == key)
}

/// How the table topics Wellhead creates are laid out.
#[derive(Debug, Clone, Default)]
pub struct TopicLayout {
    /// Partitions of each table topic.
    pub partitions: i32,
    /// Replication factor of every created topic (`None`: the broker's default).
    pub replication_factor: Option<i16>,
    /// Topic configs of table topics; keyed ones get `cleanup.policy = "compact"`
    /// unless these set a policy.
    pub topic_config: BTreeMap<String, String>,
}

/// Creating a topic failed.
#[derive(Debug, thiserror::Error)]
#[error("creating Kafka topic {topic}: {reason}")]
pub struct TopicError {
    pub topic: String,
    pub reason: String,
    /// Transient when the broker was unreachable or busy.
    pub class: ErrorClass,
}

/// Creates topics once per process run (a topic seen before is not asked for again).
pub struct TopicCreator {
    admin: AdminClient<DefaultClientContext>,
    partitions: i32,
    replication_factor: i32,
    topic_config: BTreeMap<String, String>,
    known: HashSet<String>,
}

impl std::fmt::Debug for TopicCreator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicCreator").field("known", &self.known.len()).finish_non_exhaustive()
    }
}

impl TopicCreator {
    pub fn new(cluster: &KafkaCluster, layout: TopicLayout) -> Result<TopicCreator, TopicError> {
        let admin = client_config(cluster).create().map_err(|error: KafkaError| TopicError {
            topic: String::new(),
            reason: error.to_string(),
            class: ErrorClass::Definite,
        })?;
        Ok(TopicCreator {
            admin,
            partitions: layout.partitions,
            // -1 asks for the broker's default.replication.factor.
            replication_factor: layout.replication_factor.map_or(-1, i32::from),
            topic_config: layout.topic_config,
            known: HashSet::new(),
        })
    }

    /// Makes sure `topic` exists.
    pub fn ensure(&mut self, topic: &str, kind: TopicKind) -> Result<(), TopicError> {
        if self.known.contains(topic) {
            return Ok(());
        }
        let (partitions, mut configs) = match kind {
            TopicKind::Table { keyed } => {
                let mut configs: Vec<(&str, &str)> =
                    self.topic_config.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
                if keyed && !self.topic_config.contains_key("cleanup.policy") {
                    configs.push(("cleanup.policy", "compact"));
                }
                (self.partitions, configs)
            }
            TopicKind::Compacted => (1, vec![("cleanup.policy", "compact")]),
        };
        configs.sort_unstable();
        let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(self.replication_factor));
        for (key, value) in &configs {
            new_topic = new_topic.set(key, value);
        }
        let options = AdminOptions::new().operation_timeout(Some(CREATE_TIMEOUT)).request_timeout(Some(CREATE_TIMEOUT));
        let failed = |reason: String, error: KafkaError| TopicError {
            topic: topic.to_owned(),
            reason,
            class: match classify(&error) {
                FailureKind::Retriable => ErrorClass::Transient,
                FailureKind::Fenced | FailureKind::Fatal => ErrorClass::Definite,
            },
        };
        let results = tokio::runtime::Handle::current()
            .block_on(self.admin.create_topics([&new_topic], &options))
            .map_err(|error| failed(error.to_string(), error))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(failed(
                        format!("{code} (partitions {partitions}, replication factor {})", self.replication_factor),
                        KafkaError::AdminOp(code),
                    ));
                }
            }
        }
        tracing::debug!(%topic, partitions, "Kafka topic ready.");
        self.known.insert(topic.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_differing_by_dot_and_underscore_collide() {
        assert_eq!(colliding_topic("p.public.a_b", ["p.public_a.b", "p.x.y"]), Some("p.public_a.b"));
        assert_eq!(colliding_topic("p.public.a_b", ["p.public.a_b", "p.public.a__b"]), None);
    }
}
