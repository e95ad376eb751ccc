//! One table's Avro side in the files sink: its schemas, their registration
//! (the drift check) and its compiled encoder.

use std::sync::Arc;

use wellhead_decoders::change::{ChangeEvent, TableSchema};
use wellhead_schema::avro::{EnvelopeEncoder, SourceFields, envelope_schema, key_schema};
use wellhead_schema::naming::{subject_names, topic_name};
use wellhead_schema::registry::Registration;

use super::FilesSettings;
use crate::config::RegistryConfig;
use crate::registry::{RegisterError, SchemaRegistry};
use crate::sink::SinkError;
use crate::sink::drift::column_changes;

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
    pub fn new(schema: &Arc<TableSchema>, settings: &FilesSettings) -> TableOutput {
        let topic = topic_name(&settings.topic_prefix, &schema.table);
        TableOutput {
            schema: schema.clone(),
            key_schema: key_schema(schema, &settings.topic_prefix).map(|s| s.to_string()),
            writer_schema: envelope_schema(schema, settings.source_kind, &settings.topic_prefix).to_string(),
            encoder: EnvelopeEncoder::new(schema, settings.source_kind),
            topic,
        }
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
            .map_err(|source| SinkError::Encode { table: self.schema.table.to_string(), source: Box::new(source) })
    }
}
