//! The key and value (envelope) schemas of a table's Kafka messages.
//!
//! ```text
//!  <ns>.Key       record of the key columns, each non-null            (None without key columns)
//!  <ns>.Envelope  { before: ["null", <ns>.Value] = null,
//!                   after:  ["null", <ns>.Value] = null,
//!                   source: wellhead.source.Postgres | wellhead.source.Mysql,
//!                   op: string, ts_ms: long,
//!                   transaction: ["null", wellhead.Transaction] = null,
//!                   unchanged_columns: array<string> = [],
//!                   special_values: wellhead.SpecialValues {before: map<string>, after: map<string>}
//!                                   = {before: {}, after: {}} }
//!  <ns>.Value     the row: key columns T, every other column ["null", T] = null
//! ```
//!
//! `<ns>` is [`naming::namespace`]`(topic_prefix, table)`. Non-key columns are
//! nullable even when the database declares them NOT NULL: a delete's `before`
//! under REPLICA IDENTITY DEFAULT holds only the key, and a column whose
//! unchanged TOAST value the database did not send is null in `after` and
//! named (by its Avro field name) in `unchanged_columns`.
//!
//! A value the column's plain type cannot carry (numeric NaN, ±infinity dates,
//! MySQL zero dates, multi-dimensional arrays...) is null in the row and kept
//! exactly in `special_values`: per row image, Avro field name → the value's
//! text (its JSON-sink rendering; a JSON string as its text: `NaN`,
//! `-infinity`, `0000-00-00`, `[[1,2],[3,4]]`). A reader that knows the field
//! recovers every value; one that does not sees a null, never a wrong value.
//!
//! `source` is Debezium's source block, field for field as Debezium 3.6's
//! connectors write it (names, types, optionality), so that a consumer of
//! Debezium topics reads it unchanged; `snapshot` is Debezium's string enum
//! (`true`, `last`, `false`), `ts_ms`/`ts_us`/`ts_ns` the commit time.
//! PostgreSQL (`wellhead.source.Postgres`): `version, connector ("postgresql"),
//! name (pipeline), ts_ms, snapshot, db, sequence, ts_us, ts_ns, schema, table,
//! txId, lsn, xmin`, and Wellhead's `commit_lsn` (the LSN of the transaction's
//! commit record); `sequence` is `["<commit_lsn>","<lsn>"]`, which orders every
//! change. MySQL (`wellhead.source.Mysql`): `version, connector ("mysql"), name,
//! ts_ms, snapshot, db, sequence, ts_us, ts_ns, table, server_id, gtid, file,
//! pos, row, thread, query` (`thread` and `query` are null: Wellhead does not
//! read them).

use serde_json::{Value as Json, json};
use wellhead_decoders::change::TableSchema;

use super::types::{CONNECT_NAME, CONNECT_PARAMETERS, TypeBuilder};
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
            let avro_type = types.column_type(&column.column_type);
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
            let avro_type = types.column_type(&column.column_type);
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
            json!({"name": "special_values", "type": special_values_schema(), "default": {"before": {}, "after": {}}}),
        ],
    )
}

fn special_values_schema() -> Json {
    let image = |name: &str| json!({"name": name, "type": {"type": "map", "values": "string"}, "default": {}});
    TypeBuilder::record("wellhead.SpecialValues", vec![image("before"), image("after")])
}

/// The symbols Debezium's `source.snapshot` enum allows (its `io.debezium.data.Enum` parameter).
const SNAPSHOT_SYMBOLS: &str = "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental";

fn source_schema(source: SourceKind) -> Json {
    let required = |name: &str, avro_type: &str| json!({"name": name, "type": avro_type});
    let optional = |name: &str, avro_type: &str| json!({"name": name, "type": ["null", avro_type], "default": null});
    let snapshot = json!({
        "type": "string",
        CONNECT_NAME: "io.debezium.data.Enum",
        CONNECT_PARAMETERS: {"allowed": SNAPSHOT_SYMBOLS},
    });
    let mut fields = vec![
        required("version", "string"),
        required("connector", "string"),
        required("name", "string"),
        required("ts_ms", "long"),
        json!({"name": "snapshot", "type": snapshot, "default": "false"}),
        required("db", "string"),
        optional("sequence", "string"),
        optional("ts_us", "long"),
        optional("ts_ns", "long"),
    ];
    let name = match source {
        SourceKind::Postgres => {
            fields.extend([
                required("schema", "string"),
                required("table", "string"),
                optional("txId", "long"),
                optional("lsn", "long"),
                optional("xmin", "long"),
                optional("commit_lsn", "long"),
            ]);
            "wellhead.source.Postgres"
        }
        SourceKind::Mysql => {
            fields.extend([
                optional("table", "string"),
                required("server_id", "long"),
                optional("gtid", "string"),
                required("file", "string"),
                required("pos", "long"),
                required("row", "int"),
                optional("thread", "long"),
                optional("query", "string"),
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
