//! A value PostgreSQL accepts that Avro cannot hold — a timestamp after 294247-01-10,
//! past Avro's long of microseconds, in a key column (elsewhere it would be null with its
//! text in the envelope's `special_values`, but a key column is never null) — between two
//! ordinary rows:
//!
//! - by default the pipeline stops with the table, column and position, never the value,
//!   and says how to let such rows pass; nothing after the row is acknowledged;
//! - with `on_unencodable = "dead_letter"` the stream goes on: the ordinary rows in the
//!   table's output, the refused one with its reason in the dead-letter output (files:
//!   read by fastavro; Kafka: the dead-letter topic, read by the independent raw reader).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::avro_files::{FilesConfig, lake_dir, read_files, record_count, write_files_config};
use support::kafka::{brokers, committed_view, create_state_topics, write_kafka_config};
use support::{Server, TestDatabase, Wellhead, free_port, http, wait_for};

const SCHEMA: &str = "CREATE TABLE events (id int, at timestamp, PRIMARY KEY (id, at))";
/// Three rows in three transactions; the second is past Avro's range.
const ROWS: [&str; 3] = [
    "INSERT INTO events VALUES (1, '2026-12-01 10:00:00')",
    "INSERT INTO events VALUES (2, '294270-01-01 00:00:00')",
    "INSERT INTO events VALUES (3, '2026-12-01 11:00:00')",
];
/// The text the refused value has in any output that holds it.
const FAR_YEAR: &str = "294270";

async fn insert_rows(db: &TestDatabase) {
    for row in ROWS {
        db.client.batch_execute(row).await.expect("insert");
    }
}

/// Every record of the Avro files under `dir` as JSON, read by fastavro.
fn read_dead_letters(dir: &Path) -> Vec<serde_json::Value> {
    let script = "import fastavro, glob, json, sys\n\
        for path in sorted(glob.glob(sys.argv[1] + '/*/*.avro')):\n\
        \x20   with open(path, 'rb') as f:\n\
        \x20       for record in fastavro.reader(f):\n\
        \x20           print(json.dumps(record))\n";
    let output = Command::new("python3").args(["-c", script]).arg(dir).output().expect("python3");
    assert!(output.status.success(), "fastavro: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(|line| serde_json::from_str(line).expect("JSON")).collect()
}

#[tokio::test]
async fn an_unencodable_value_stops_the_pipeline_by_default_naming_table_column_and_position() {
    let db = TestDatabase::create(Server::Pg15, "dead_stop").await;
    db.client.batch_execute(SCHEMA).await.expect("schema");
    let config =
        write_files_config(&db, &["public.events"], &FilesConfig { sink: "roll_seconds = 1", ..Default::default() });
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    insert_rows(&db).await;
    let log = wellhead.log.clone();
    let code = wellhead.wait(Duration::from_secs(60));
    let log = std::fs::read_to_string(log).unwrap_or_default();
    assert_eq!(code, Some(1), "the pipeline stops for good; log:\n{log}");
    let error =
        log.lines().rev().find(|line| line.contains("cannot encode")).unwrap_or_else(|| panic!("no error in:\n{log}"));
    assert!(error.contains("public.events") && error.contains("\"at\"") && error.contains("at postgres:"), "{error}");
    assert!(
        log.contains("on_unencodable = \\\"dead_letter\\\"") || log.contains("on_unencodable = \"dead_letter\""),
        "the fix is named:\n{log}"
    );
    assert!(!log.contains(FAR_YEAR), "the value itself is not in the log:\n{log}");
    let ids: Vec<i64> = read_files(&lake_dir(&db)).iter().map(|r| r.after["id"].as_i64().expect("id")).collect();
    // Row 1 may or may not have become final before the refusal; nothing after it did, and
    // nothing was acknowledged past it, so a start with the policy changed reads it again.
    assert!(ids.iter().all(|id| *id == 1), "nothing from the refused row on is in the output: {ids:?}");

    // The way past it: the same pipeline started with the dead-letter policy.
    let options = FilesConfig { sink: "roll_seconds = 1\non_unencodable = \"dead_letter\"", ..Default::default() };
    let config = write_files_config(&db, &["public.events"], &options);
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    let lake = lake_dir(&db);
    wait_for(Duration::from_secs(60), "rows 1 and 3 final", || record_count(&lake) >= 2).await;
    wellhead.end(true, "restarted with the dead-letter policy");
    let ids: Vec<i64> = read_files(&lake).iter().map(|r| r.after["id"].as_i64().expect("id")).collect();
    assert_eq!(ids, [1, 3], "every row once after the restart");
    assert_eq!(read_dead_letters(&lake.join("dead-letter")).len(), 1, "the refused row is dead-lettered");
    db.drop().await;
}

#[tokio::test]
async fn dead_letter_policy_lets_the_stream_pass_with_the_row_and_reason_in_files() {
    let db = TestDatabase::create(Server::Pg15, "dead_files").await;
    db.client.batch_execute(SCHEMA).await.expect("schema");
    let address = format!("127.0.0.1:{}", free_port());
    let options = FilesConfig {
        sink: "roll_seconds = 1\non_unencodable = \"dead_letter\"",
        http: Some(&address),
        ..Default::default()
    };
    let config = write_files_config(&db, &["public.events"], &options);
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    insert_rows(&db).await;
    let lake = lake_dir(&db);
    wait_for(Duration::from_secs(60), "rows 1 and 3 final", || record_count(&lake) >= 2).await;
    let dead_letters = lake.join("dead-letter");
    wait_for(Duration::from_secs(30), "the dead letter final", || !read_dead_letters(&dead_letters).is_empty()).await;
    let (status, metrics) = http("GET", &address, "/metrics", None);
    assert_eq!(status, 200);
    let log = wellhead.log_text();
    wellhead.end(true, "dead letters, files");

    let ids: Vec<i64> = read_files(&lake).iter().map(|r| r.after["id"].as_i64().expect("id")).collect();
    assert_eq!(ids, [1, 3], "the stream went past the refused row");
    let letters = read_dead_letters(&dead_letters);
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter["table"], "public.events");
    assert_eq!(letter["topic"], format!("{}.public.events", db.name));
    assert!(letter["position"].as_str().is_some_and(|p| p.starts_with("postgres:")), "{letter}");
    assert!(letter["reason"].as_str().is_some_and(|r| r.contains("\"at\"") && r.contains("timestamp")), "{letter}");
    let change: serde_json::Value = serde_json::from_str(letter["change"].as_str().expect("change")).expect("JSON");
    assert_eq!(change["after"]["id"], 2);
    assert!(change["after"]["at"].as_str().is_some_and(|at| at.starts_with("294270-01-01T00:00:00")), "{change}");
    assert!(
        metrics.lines().any(|line| line.starts_with("wellhead_dead_letters_total{") && line.ends_with(" 1")),
        "{metrics}"
    );
    assert!(!log.contains(FAR_YEAR), "the value itself is not in the log:\n{log}");
    db.drop().await;
}

#[tokio::test]
async fn dead_letter_policy_lets_the_stream_pass_with_the_row_and_reason_in_kafka() {
    let db = TestDatabase::create(Server::Pg15, "dead_kafka").await;
    db.client.batch_execute(SCHEMA).await.expect("schema");
    create_state_topics(&db, &brokers()).await;
    let http_address = format!("127.0.0.1:{}", free_port());
    let config =
        write_kafka_config(&db, &["public.events"], &brokers(), &http_address, "on_unencodable = \"dead_letter\"", "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    insert_rows(&db).await;
    let table_topic = format!("{}.public.events", db.name);
    let dead_letter_topic = format!("{}.dead-letter", db.name);
    wait_for(Duration::from_secs(60), "rows and dead letter committed", || {
        committed_view(&brokers(), &table_topic).len() >= 2
            && !committed_view(&brokers(), &dead_letter_topic).is_empty()
    })
    .await;
    wellhead.end(true, "dead letters, kafka");

    assert_eq!(committed_view(&brokers(), &table_topic).len(), 2, "rows 1 and 3 in the table's topic");
    let letters = committed_view(&brokers(), &dead_letter_topic);
    assert_eq!(letters.len(), 1, "one dead letter");
    assert_eq!(letters[0].key.as_deref(), Some(table_topic.as_bytes()), "keyed by the table's topic");
    let letter: serde_json::Value = serde_json::from_slice(letters[0].value.as_deref().expect("value")).expect("JSON");
    assert_eq!(letter["table"], "public.events");
    assert!(letter["reason"].as_str().is_some_and(|r| r.contains("\"at\"")), "{letter}");
    assert_eq!(letter["change"]["after"]["id"], 2);
    assert!(
        letter["change"]["after"]["at"].as_str().is_some_and(|at| at.starts_with("294270-01-01T00:00:00")),
        "{letter}"
    );
    db.drop().await;
}
