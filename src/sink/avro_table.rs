//! One table's Avro side in the Avro sinks (files, Kafka): its topic, its key and
//! envelope schemas, their registration (the drift check) and its compiled encoder.

use std::sync::Arc;

use wellhead_decoders::change::{ChangeEvent, Position, TableSchema};
use wellhead_schema::avro::{EnvelopeEncoder, SourceFields, SourceKind, envelope_schema, key_schema};
use wellhead_schema::naming::{subject_names, topic_name};
use wellhead_schema::registry::Registration;

use crate::config::RegistryConfig;
use crate::registry::{RegisterError, SchemaRegistry};
use crate::sink::SinkError;
use crate::sink::drift::column_changes;
use crate::telemetry::{Metrics, TableLabels};

/// Ids of a table shape's registered schemas.
#[derive(Debug, Clone, Copy)]
pub struct RegisteredVersions {
    pub value: Registration,
    pub key: Option<Registration>,
}

/// A table shape ready to encode.
#[derive(Debug)]
pub struct TableOutput {
    schema: Arc<TableSchema>,
    topic: String,
    key_schema: Option<String>,
    writer_schema: String,
    encoder: EnvelopeEncoder,
}

impl TableOutput {
    pub fn new(
        schema: &Arc<TableSchema>,
        topic_prefix: &str,
        source_kind: SourceKind,
    ) -> Result<TableOutput, SinkError> {
        let topic = topic_name(topic_prefix, &schema.table)
            .map_err(|refused| SinkError::Name { table: schema.table.to_string(), reason: refused.to_string() })?;
        Ok(TableOutput {
            schema: schema.clone(),
            key_schema: key_schema(schema, topic_prefix).map(|s| s.to_string()),
            writer_schema: envelope_schema(schema, source_kind, topic_prefix).to_string(),
            encoder: EnvelopeEncoder::new(schema, source_kind),
            topic,
        })
    }

    /// The table's shape this output encodes.
    pub fn schema(&self) -> &Arc<TableSchema> {
        &self.schema
    }

    /// True when the table has key columns (so records have a key).
    pub fn has_key(&self) -> bool {
        self.key_schema.is_some()
    }

    /// True when events of `schema` can use this output.
    pub fn serves(&self, schema: &Arc<TableSchema>) -> bool {
        Arc::ptr_eq(&self.schema, schema) || *self.schema == **schema
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The envelope schema, as the files' writer schema.
    pub fn writer_schema(&self) -> &str {
        &self.writer_schema
    }

    /// Registers the value (and key) schema under the topic's subjects, checked
    /// against their compatibility level (the drift check).
    pub fn register(
        &self,
        registry: &SchemaRegistry,
        config: &RegistryConfig,
    ) -> Result<RegisteredVersions, SinkError> {
        let (key_subject, value_subject) = subject_names(&self.topic);
        let drift =
            |error: RegisterError| SinkError::Schema { table: self.schema.table.to_string(), source: Box::new(error) };
        registry.default_level(&value_subject, config.compatibility).map_err(drift)?;
        let value = registry
            .register(&value_subject, &self.writer_schema, config.on_incompatible)
            .map_err(|error| self.refused(registry, &value_subject, &self.writer_schema, error))?;
        let key = match &self.key_schema {
            Some(schema) => {
                registry.default_level(&key_subject, config.compatibility).map_err(drift)?;
                Some(
                    registry
                        .register(&key_subject, schema, config.on_incompatible)
                        .map_err(|error| self.refused(registry, &key_subject, schema, error))?,
                )
            }
            None => None,
        };
        Ok(RegisteredVersions { value, key })
    }

    /// Logs a newly registered shape and counts a new value schema in `wellhead_schema_changes_total`.
    pub fn announce(&self, versions: &RegisteredVersions, pipeline: &str, metrics: &Metrics) {
        tracing::info!(
            pipeline = %pipeline, table = %self.schema.table, topic = %self.topic,
            value_schema_id = versions.value.id, value_version = versions.value.version,
            key_schema_id = versions.key.map(|key| key.id),
            "Table shape registered."
        );
        if versions.value.created {
            let labels = TableLabels { pipeline: pipeline.to_owned(), table: self.schema.table.to_string() };
            metrics.schema_changes.get_or_create(&labels).inc();
        }
    }

    /// A failed registration as the sink reports it: a refused shape says which
    /// columns changed how, against the subject's newest version.
    fn refused(&self, registry: &SchemaRegistry, subject: &str, schema: &str, error: RegisterError) -> SinkError {
        let table = self.schema.table.to_string();
        match error {
            RegisterError::Incompatible { .. } => {
                let changes = registry
                    .latest_schema(subject)
                    .map(|previous| column_changes(&previous, schema))
                    .filter(|changes| !changes.is_empty())
                    .map_or_else(|| "the schema changed".to_owned(), |changes| changes.join("; "));
                SinkError::Incompatible { table, changes, source: Box::new(error) }
            }
            error => SinkError::Schema { table, source: Box::new(error) },
        }
    }

    /// Appends the Avro key datum of `row` (of the change at `position`) to `out`.
    pub fn encode_key(
        &self,
        row: &wellhead_decoders::change::Row,
        position: &Position,
        out: &mut Vec<u8>,
    ) -> Result<(), SinkError> {
        self.encoder.encode_key(row, out).map_err(|source| self.encode_error(position, source))
    }

    fn encode_error(&self, position: &Position, source: wellhead_schema::avro::EncodeError) -> SinkError {
        SinkError::Encode {
            table: self.schema.table.to_string(),
            position: position.to_string(),
            source: Box::new(source),
        }
    }

    /// Appends the event's envelope datum to `out`.
    pub fn encode(
        &self,
        event: &ChangeEvent,
        source: &SourceFields,
        now_ms: i64,
        out: &mut Vec<u8>,
    ) -> Result<(), SinkError> {
        self.encoder
            .encode_envelope(event, source, now_ms, out)
            .map_err(|source| self.encode_error(&event.position, source))
    }
}
