//! Encodes every change as its Avro envelope datum (what the Avro sinks write)
//! and throws it away: the whole pipeline's cost without a sink's I/O, for
//! benchmarks and dry runs. Checkpoints still advance.

use std::collections::HashMap;
use std::sync::Arc;

use wellhead_decoders::change::{ChangeEvent, TableName, TableSchema};
use wellhead_schema::avro::{EnvelopeEncoder, SourceFields, SourceKind};

use super::SinkError;

/// Discards encoded envelopes, counting their bytes.
#[derive(Debug)]
pub struct NullSink {
    source_kind: SourceKind,
    source: SourceFields,
    encoders: HashMap<TableName, (Arc<TableSchema>, EnvelopeEncoder)>,
    datum: Vec<u8>,
    encoded: u64,
}

impl NullSink {
    pub fn new(source_kind: SourceKind, source: SourceFields) -> NullSink {
        NullSink { source_kind, source, encoders: HashMap::new(), datum: Vec::with_capacity(4096), encoded: 0 }
    }

    pub fn write_event(&mut self, event: &ChangeEvent, now_ms: i64) -> Result<(), SinkError> {
        let table = &event.schema.table;
        let current = self.encoders.get(table).is_some_and(|(schema, _)| Arc::ptr_eq(schema, &event.schema));
        if !current {
            let encoder = EnvelopeEncoder::new(&event.schema, self.source_kind);
            self.encoders.insert(table.clone(), (event.schema.clone(), encoder));
        }
        let Some((_, encoder)) = self.encoders.get(table) else { return Ok(()) };
        self.datum.clear();
        encoder.encode_envelope(event, &self.source, now_ms, &mut self.datum).map_err(|source| SinkError::Encode {
            table: table.to_string(),
            position: event.position.to_string(),
            source: Box::new(source),
        })?;
        self.encoded += self.datum.len() as u64;
        Ok(())
    }

    /// Bytes encoded so far (the checkpoint's `sink_offset`).
    pub fn encoded_bytes(&self) -> u64 {
        self.encoded
    }
}
