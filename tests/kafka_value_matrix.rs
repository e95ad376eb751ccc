//! The value matrix (`value_matrix/rows.rs`) through the Kafka sink on
//! PostgreSQL 15 and 18, read by an independent consumer: Confluent's Python
//! `DeserializingConsumer` with its `AvroDeserializer` (key and value) and its
//! `SchemaRegistryClient` pointed at Wellhead's embedded registry. Each value
//! must come back as the Python type the documented representation promises
//! and equal the stored one (the same oracle as `value_matrix_avro.rs`).
//!
//! ```text
//!  INSERT edge rows ──► wellhead (kafka sink) ──► topic <db>.public.matrix
//!      ──consume_kafka_avro.py (DeserializingConsumer, registry)──► {row, column, pytype, value}
//!      ──typed::cell_mismatch──► SELECT format('%s', ($1::text)::<type>) = format('%s', <col>)
//! ```
//!
//! The cells a Python datetime/date/time cannot hold ([`typed::BEYOND_PYTHON`])
//! stay NULL here: the deserializer raises on them as fastavro does for files,
//! which `value_matrix_avro.rs` shows; Wellhead writes them exactly either way.

mod support;

#[path = "value_matrix/literal.rs"]
mod literal;
#[path = "value_matrix/rows.rs"]
mod rows;
#[path = "value_matrix/typed.rs"]
mod typed;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rows::{COLUMNS, ORACLE_SETTINGS, truncated};
use serde_json::Value;
use support::kafka::{brokers, create_state_topics, topic, write_kafka_config};
use support::{Server, TestDatabase, Wellhead, free_port};
use typed::{beyond_python, cell_mismatch};

/// Rows of up to a few MB (1.2 MB text, 1 MB bytea) need more than librdkafka's default 1 MB.
const LARGE_RECORDS: &str = "properties = { \"message.max.bytes\" = \"8388608\" }";

async fn confluent_consumer_reads_every_value_typed(server: Server) {
    let db = TestDatabase::create(server, "kafka_values").await;
    let rows = rows::create(&db.client, &["matrix"]).await;
    let brokers = brokers();
    create_state_topics(&db, &brokers).await;
    let http = format!("127.0.0.1:{}", free_port());
    let config = write_kafka_config(&db, &["public.matrix"], &brokers, &http, LARGE_RECORDS, "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    for (index, row) in rows.iter().enumerate() {
        let within: Vec<_> =
            row.iter().copied().filter(|(column, _)| beyond_python(index + 1, column).is_none()).collect();
        rows::insert(&db.client, "matrix", index + 1, &within).await;
    }

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/consume_kafka_avro.py");
    let matrix_topic = topic(&db, "public.matrix");
    let output = Command::new("python3")
        .arg(&script)
        .args([&brokers, &format!("http://{http}"), &matrix_topic, &rows.len().to_string(), "90"])
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    let log = wellhead.log_text();
    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0), "clean exit");
    assert!(
        output.status.success(),
        "consume_kafka_avro.py failed:\n{}\nwellhead's log:\n{log}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut cells: BTreeMap<(i64, String), Value> = BTreeMap::new();
    for line in String::from_utf8(output.stdout).expect("UTF-8 output").lines() {
        let line: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {}", truncated(line)));
        assert_eq!(line["op"], "c", "only inserts: {}", truncated(&line.to_string()));
        let key = (line["row"].as_i64().expect("row"), line["column"].as_str().expect("column").to_owned());
        assert!(cells.insert(key.clone(), line["value"].clone()).is_none(), "{key:?} read twice");
    }
    let oracle = support::connect(&db.url()).await;
    oracle.batch_execute(ORACLE_SETTINGS).await.expect("oracle settings");
    let mut mismatches = Vec::new();
    for id in 1..=rows.len() {
        let cell = |column: &str| {
            cells.get(&(id as i64, column.to_owned())).unwrap_or_else(|| panic!("matrix row {id}: no {column}"))
        };
        assert_eq!(cell("id"), &serde_json::json!({"pytype": "int", "value": id.to_string()}), "row {id}");
        let id = i32::try_from(id).expect("small id");
        for (column, sql_type) in COLUMNS {
            let value = cell(column);
            let reader = "DeserializingConsumer";
            mismatches.extend(cell_mismatch(&oracle, "matrix", id, (column, sql_type), value, reader).await);
        }
    }
    assert!(mismatches.is_empty(), "{} mismatches on {server:?}:\n{}", mismatches.len(), mismatches.join("\n"));
    eprintln!("{server:?}: {} rows, {} cells checked", rows.len(), cells.len());
    db.drop().await;
}

#[tokio::test]
async fn postgres_15_confluent_consumer_reads_every_value_typed() {
    confluent_consumer_reads_every_value_typed(Server::Pg15).await;
}

#[tokio::test]
async fn postgres_18_confluent_consumer_reads_every_value_typed() {
    confluent_consumer_reads_every_value_typed(Server::Pg18).await;
}
