//! The key and value (envelope) schemas of a table's Kafka messages.
//!
//! ```text
//!  <ns>.Key       record of the key columns, each non-null            (None without key columns)
//!  <ns>.Envelope  { before: ["null", <ns>.Value] = null,
//!                   after:  ["null", <ns>.Value] = null,
//!                   source: wellhead.source.Postgres | wellhead.source.Mysql,
//!                   op: string, ts_ms: long,
//!                   transaction: ["null", wellhead.Transaction] = null,
//!                   unchanged_columns: array<string> = [] }
//!  <ns>.Value     the row: key columns T, every other column ["null", T] = null
//! ```
//!
//! `<ns>` is [`naming::namespace`]`(topic_prefix, table)`. Non-key columns are
//! nullable even when the database declares them NOT NULL: a delete's `before`
//! under REPLICA IDENTITY DEFAULT holds only the key, and a column whose
//! unchanged TOAST value the database did not send is null in `after` and
//! named (by its Avro field name) in `unchanged_columns`.
//!
//! `source` fields, PostgreSQL: `version, connector ("postgresql"), name (pipeline),
//! ts_ms (commit time), snapshot, db, schema, table, txid, lsn, commit_lsn`.
//! MySQL: `version, connector ("mysql"), name, ts_ms, snapshot, db, table,
//! server_id, gtid, file, pos, row`.

use serde_json::{Value as Json, json};
use wellhead_decoders::change::TableSchema;

use super::types::TypeBuilder;
use crate::naming::{self, field_names};

/// Which kind of database a table comes from; decides the envelope's `source` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Postgres,
    Mysql,
}

impl SourceKind {
    /// The `source.connector` value.
    pub fn connector(self) -> &'static str {
        match self {
            SourceKind::Postgres => "postgresql",
            SourceKind::Mysql => "mysql",
        }
    }
}

/// The Avro field names of a table's columns, in column order (see [`crate::naming`]).
pub fn column_field_names(table: &TableSchema) -> Vec<String> {
    field_names(table.columns.iter().map(|column| column.name.as_str()))
}

/// The key schema: record `<ns>.Key` of the key columns; `None` when the table has none.
pub fn key_schema(table: &TableSchema, topic_prefix: &str) -> Option<Json> {
    let namespace = naming::namespace(topic_prefix, &table.table);
    let names = column_field_names(table);
    let mut types = TypeBuilder::default();
    let fields: Vec<Json> = table
        .columns
        .iter()
        .zip(&names)
        .filter(|(column, _)| column.is_key)
        .map(|(column, name)| {
            let avro_type = types.column_type(&column.column_type, &namespace, name);
            TypeBuilder::field(name, &column.name, avro_type, false)
        })
        .collect();
    (!fields.is_empty()).then(|| TypeBuilder::record(&format!("{namespace}.Key"), fields))
}

/// The value schema: record `<ns>.Envelope` with the row record `<ns>.Value`.
pub fn envelope_schema(table: &TableSchema, source: SourceKind, topic_prefix: &str) -> Json {
    let namespace = naming::namespace(topic_prefix, &table.table);
    let names = column_field_names(table);
    let mut types = TypeBuilder::default();
    let row_fields: Vec<Json> = table
        .columns
        .iter()
        .zip(&names)
        .map(|(column, name)| {
            let avro_type = types.column_type(&column.column_type, &namespace, name);
            if column.is_key {
                TypeBuilder::field(name, &column.name, avro_type, false)
            } else {
                TypeBuilder::field(name, &column.name, TypeBuilder::nullable(avro_type), true)
            }
        })
        .collect();
    let row_name = format!("{namespace}.Value");
    let row = TypeBuilder::record(&row_name, row_fields);
    TypeBuilder::record(
        &format!("{namespace}.Envelope"),
        vec![
            json!({"name": "before", "type": ["null", row], "default": null}),
            json!({"name": "after", "type": ["null", row_name], "default": null}),
            json!({"name": "source", "type": source_schema(source)}),
            json!({"name": "op", "type": "string"}),
            json!({"name": "ts_ms", "type": "long"}),
            json!({"name": "transaction", "type": ["null", transaction_schema()], "default": null}),
            json!({"name": "unchanged_columns", "type": {"type": "array", "items": "string"}, "default": []}),
        ],
    )
}

fn source_schema(source: SourceKind) -> Json {
    let required = |name: &str, avro_type: &str| json!({"name": name, "type": avro_type});
    let optional = |name: &str, avro_type: &str| json!({"name": name, "type": ["null", avro_type], "default": null});
    let mut fields = vec![
        required("version", "string"),
        required("connector", "string"),
        required("name", "string"),
        required("ts_ms", "long"),
        required("snapshot", "boolean"),
        required("db", "string"),
    ];
    let name = match source {
        SourceKind::Postgres => {
            fields.extend([
                required("schema", "string"),
                required("table", "string"),
                optional("txid", "long"),
                optional("lsn", "long"),
                optional("commit_lsn", "long"),
            ]);
            "wellhead.source.Postgres"
        }
        SourceKind::Mysql => {
            fields.extend([
                required("table", "string"),
                optional("server_id", "long"),
                optional("gtid", "string"),
                optional("file", "string"),
                optional("pos", "long"),
                optional("row", "int"),
            ]);
            "wellhead.source.Mysql"
        }
    };
    TypeBuilder::record(name, fields)
}

fn transaction_schema() -> Json {
    TypeBuilder::record(
        "wellhead.Transaction",
        vec![
            json!({"name": "id", "type": "string"}),
            json!({"name": "total_order", "type": "long"}),
            json!({"name": "data_collection_order", "type": "long"}),
        ],
    )
}
