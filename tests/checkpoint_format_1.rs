//! A checkpoint of format 1, as the previous version of Wellhead wrote it,
//! resumes exactly: a pipeline upgraded in place continues where it stopped,
//! on PostgreSQL 15 with the JSON-lines sink (a checkpoint file) and with the
//! Kafka sink (a checkpoint record, keyed by the pipeline's name, in the
//! checkpoint topic), and then writes format 2.
//!
//! ```text
//!  run (rows 1..6) ─► stop ─► checkpoint rewritten in format 1 (the shape of
//!  tests/fixtures/checkpoint-format-1) ─► rows 7..11 ─► run ─► stop
//!     └─► output: ids 1..11, each once, in order; checkpoint format 2
//! ```
//!
//! The rewrite maps format 2 back the way the reader maps format 1 forward:
//! `last_written {commit_lsn, lsn}` → `last_position`, `restart_point.flush_lsn`
//! → `flush_lsn` (0/0 when none), `sink.offset` → `sink_offset`.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::kafka::{
    AvroDecoder, brokers, checkpoint_topic, committed_view, create_state_topics, topic, write_kafka_config,
};
use support::{Server, TestDatabase, Wellhead, free_port, wait_for};

const OUTPUT_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/checkpoint-format-1/jsonl.checkpoint.json");

fn stop(wellhead: Wellhead) {
    wellhead.signal("INT");
    let log = wellhead.log.clone();
    let code = wellhead.wait(STOP_TIMEOUT);
    assert_eq!(code, Some(0), "SIGINT exits cleanly; log:\n{}", std::fs::read_to_string(log).unwrap_or_default());
}

fn output_ids(db: &TestDatabase) -> Vec<i64> {
    db.read_output().iter().map(|event| event["after"]["id"].as_i64().expect("after.id")).collect()
}

fn checkpoint_path(db: &TestDatabase) -> PathBuf {
    db.dir.join("state").join(format!("{}.checkpoint.json", db.name))
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every key path of a JSON value (`last_position.commit_lsn`, ...), objects only.
fn key_paths(value: &serde_json::Value) -> BTreeSet<String> {
    fn walk(value: &serde_json::Value, prefix: &str, paths: &mut BTreeSet<String>) {
        if let serde_json::Value::Object(map) = value {
            for (key, child) in map {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                walk(child, &path, paths);
                paths.insert(path);
            }
        }
    }
    let mut paths = BTreeSet::new();
    walk(value, "", &mut paths);
    paths
}

/// The format-1 checkpoint the previous version would have written for `checkpoint` (format 2).
fn to_format_1(checkpoint: &serde_json::Value) -> serde_json::Value {
    assert_eq!(checkpoint["format"], 2, "{checkpoint:#}");
    let last = &checkpoint["last_written"];
    assert_eq!(last["source"], "postgres", "{checkpoint:#}");
    let pending = &checkpoint["sink"]["pending_renames"];
    assert!(pending.is_null() || pending == &serde_json::json!([]), "the jsonl sink renames nothing: {checkpoint:#}");
    let flush_lsn = match &checkpoint["restart_point"] {
        serde_json::Value::Null => "0/0".to_owned(),
        point => point["flush_lsn"].as_str().expect("restart_point.flush_lsn").to_owned(),
    };
    serde_json::json!({
        "format": 1,
        "pipeline": checkpoint["pipeline"],
        "last_position": {
            "source": "postgres",
            "commit_lsn": last["commit_lsn"].as_str().expect("last_written.commit_lsn"),
            "lsn": last["lsn"].as_str().expect("last_written.lsn"),
        },
        "flush_lsn": flush_lsn,
        "sink_offset": checkpoint["sink"]["offset"].as_u64().expect("sink.offset"),
    })
}

#[tokio::test]
async fn a_format_1_checkpoint_written_by_the_previous_version_resumes_exactly() {
    let db = TestDatabase::create(Server::Pg15, "format1").await;
    db.client.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, v text)").await.expect("schema");
    let config = db.write_config(&["public.t"], "");

    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    // One transaction per statement, then one transaction of three rows.
    for id in 1..=3_i64 {
        db.client.execute("INSERT INTO t VALUES ($1, 'single')", &[&id]).await.expect("insert");
    }
    db.client.batch_execute("INSERT INTO t VALUES (4, 'multi'), (5, 'multi'), (6, 'multi')").await.expect("insert");
    wait_for(OUTPUT_TIMEOUT, "rows 1..6 in the output", || output_ids(&db).len() >= 6).await;
    stop(wellhead);
    assert_eq!(output_ids(&db), (1..=6).collect::<Vec<_>>(), "the first run's output");

    let path = checkpoint_path(&db);
    let format_2 = read_json(&path);
    let output_len = std::fs::metadata(db.output_path()).expect("output").len();
    assert_eq!(format_2["sink"]["offset"].as_u64(), Some(output_len), "a clean stop checkpoints the whole output");
    let format_1 = to_format_1(&format_2);
    let fixture = read_json(Path::new(FIXTURE));
    assert_eq!(key_paths(&format_1), key_paths(&fixture), "the rewrite has the shape the previous version wrote");
    assert_eq!(fixture["format"], 1);
    // Pretty-printed, as the previous version wrote it.
    std::fs::write(&path, serde_json::to_string_pretty(&format_1).expect("encode")).expect("write format 1");

    for id in 7..=8_i64 {
        db.client.execute("INSERT INTO t VALUES ($1, 'single')", &[&id]).await.expect("insert");
    }
    db.client.batch_execute("INSERT INTO t VALUES (9, 'multi'), (10, 'multi'), (11, 'multi')").await.expect("insert");

    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    // A change sent again (or dropped) would show before row 11 arrives last.
    wait_for(OUTPUT_TIMEOUT, "row 11 in the output", || output_ids(&db).last() == Some(&11)).await;
    let log = wellhead.log.clone();
    stop(wellhead);
    let log = std::fs::read_to_string(log).unwrap_or_default();

    assert_eq!(output_ids(&db), (1..=11).collect::<Vec<_>>(), "every row once, in order; log:\n{log}");
    let flush_lsn = format_1["flush_lsn"].as_str().expect("flush_lsn");
    assert!(
        log.contains(&format!("start_lsn={flush_lsn} ")),
        "streaming resumes at the format-1 flush_lsn {flush_lsn}; log:\n{log}"
    );
    assert!(!log.contains("Truncating output"), "the format-1 offset matched the output; log:\n{log}");
    let resumed = read_json(&path);
    assert_eq!(resumed["format"], 2, "the resumed run writes format 2: {resumed:#}");
    assert_eq!(resumed["pipeline"], db.name.as_str());
    assert_eq!(resumed["origin"]["source"], "postgres", "the origin is recorded now: {resumed:#}");
    assert_eq!(resumed["origin"]["slot"], db.name.as_str(), "{resumed:#}");
    assert_eq!(
        resumed["sink"]["offset"].as_u64(),
        Some(std::fs::metadata(db.output_path()).expect("output").len()),
        "{resumed:#}"
    );
    db.drop().await;
}

/// The row ids in `db`'s table topic, in offset order, decoded with the registry at `http`.
fn kafka_ids(db: &TestDatabase, brokers: &str, decoder: &mut AvroDecoder) -> Vec<i64> {
    committed_view(brokers, &topic(db, "public.t"))
        .iter()
        .map(|record| {
            decoder.decode(record.value.as_deref().expect("value"))["after"]["id"].as_i64().expect("after.id")
        })
        .collect()
}

/// The last committed checkpoint record of `db`'s pipeline, as JSON.
fn kafka_checkpoint(db: &TestDatabase, brokers: &str) -> serde_json::Value {
    let records = committed_view(brokers, &checkpoint_topic(db));
    let last = records
        .iter()
        .rev()
        .find(|record| record.key.as_deref() == Some(db.name.as_bytes()))
        .expect("a checkpoint record of the pipeline");
    serde_json::from_slice(last.value.as_deref().expect("checkpoint value")).expect("checkpoint JSON")
}

/// Appends `value` to the checkpoint topic as the previous version's sink would have
/// (key = pipeline name, partition 0); outside a transaction, which a reader counts as
/// committed just as the previous version's committed transaction.
fn produce_checkpoint(db: &TestDatabase, brokers: &str, value: &serde_json::Value) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", brokers).set("acks", "all").create().expect("producer");
    let payload = serde_json::to_vec_pretty(value).expect("encode");
    let topic = checkpoint_topic(db);
    let record = BaseRecord::<[u8], [u8]>::to(&topic).key(db.name.as_bytes()).payload(&payload).partition(0);
    producer.send(record).map_err(|(error, _)| error).expect("format-1 checkpoint record queued");
    producer.flush(Duration::from_secs(10)).expect("format-1 checkpoint record written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_1_kafka_checkpoint_record_resumes_exactly() {
    let db = TestDatabase::create(Server::Pg15, "format1_kafka").await;
    db.client.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, v text)").await.expect("schema");
    let brokers = brokers();
    create_state_topics(&db, &brokers).await;
    let http = format!("127.0.0.1:{}", free_port());
    let config = write_kafka_config(&db, &["public.t"], &brokers, &http, "", "");
    let mut decoder = AvroDecoder::new(&http);

    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    for id in 1..=3_i64 {
        db.client.execute("INSERT INTO t VALUES ($1, 'single')", &[&id]).await.expect("insert");
    }
    db.client.batch_execute("INSERT INTO t VALUES (4, 'multi'), (5, 'multi'), (6, 'multi')").await.expect("insert");
    wait_for(OUTPUT_TIMEOUT, "rows 1..6 in Kafka", || kafka_ids(&db, &brokers, &mut decoder).len() >= 6).await;
    stop(wellhead);
    assert_eq!(kafka_ids(&db, &brokers, &mut decoder), (1..=6).collect::<Vec<_>>(), "the first run's records");

    let format_1 = to_format_1(&kafka_checkpoint(&db, &brokers));
    let fixture = read_json(Path::new(FIXTURE));
    assert_eq!(key_paths(&format_1), key_paths(&fixture), "the record has the shape the previous version wrote");
    produce_checkpoint(&db, &brokers, &format_1);
    assert_eq!(kafka_checkpoint(&db, &brokers)["format"], 1, "the format-1 record is the latest checkpoint");

    for id in 7..=8_i64 {
        db.client.execute("INSERT INTO t VALUES ($1, 'single')", &[&id]).await.expect("insert");
    }
    db.client.batch_execute("INSERT INTO t VALUES (9, 'multi'), (10, 'multi'), (11, 'multi')").await.expect("insert");

    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    wait_for(OUTPUT_TIMEOUT, "row 11 in Kafka", || kafka_ids(&db, &brokers, &mut decoder).last() == Some(&11)).await;
    let log = wellhead.log.clone();
    stop(wellhead);
    let log = std::fs::read_to_string(log).unwrap_or_default();

    assert_eq!(
        kafka_ids(&db, &brokers, &mut decoder),
        (1..=11).collect::<Vec<_>>(),
        "every row once, in order; log:\n{log}"
    );
    let flush_lsn = format_1["flush_lsn"].as_str().expect("flush_lsn");
    assert!(
        log.contains(&format!("start_lsn={flush_lsn} ")),
        "streaming resumes at the format-1 flush_lsn {flush_lsn}; log:\n{log}"
    );
    let resumed = kafka_checkpoint(&db, &brokers);
    assert_eq!(resumed["format"], 2, "the resumed run writes format 2: {resumed:#}");
    assert_eq!(resumed["origin"]["slot"], db.name.as_str(), "the origin is recorded now: {resumed:#}");
    db.drop().await;
}
