//! Bulk loads arrive exactly once: COPY (one WAL record, and so one LSN, per
//! heap page of rows) and multi-table TRUNCATE, through the `jsonl`, `files`
//! and `kafka` sinks, in a clean run and across a clean stop plus at least 20
//! `kill -9`s, with batches of 97 changes so that cuts fall inside groups of
//! rows that share an LSN.
//!
//! ```text
//!  loader: COPY a (100,000 rows) ─► COPYs into a and b ─► TRUNCATE a, b ─► COPYs ─► TRUNCATE a, b ─► COPY b
//!     │                                   ▲ kill -9 × 20 (one SIGTERM) while the sink catches up
//!     └── the facts each statement makes ─┴── must equal, per table and in order ── the sink's output
//! ```
//!
//! Each sink is read back by a reader that is not Wellhead's: the JSON lines
//! file as text, Avro files with fastavro, Kafka's committed records with
//! kafka-python (`tests/python/committed_records.py`) on a broker of the test's
//! own (memory storage). A kill waits until the output grew since the last
//! start, so every round makes progress while the 100,000-row transaction is
//! sent again after each restart. The seed is printed;
//! `WELLHEAD_TEST_SEED=<n>` replays the kill delays.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::avro_files::{FilesConfig, lake_dir, read_files, record_count, write_files_config};
use support::kafka::{AvroDecoder, TestBroker, committed_view, create_state_topics, topic, write_kafka_config};
use support::writer::{self, Random};
use support::{Server, TestDatabase, Wellhead, free_port};

/// Kill rounds, and the round that stops with SIGTERM instead.
const KILL_ROUNDS: usize = 21;
const SIGTERM_ROUND: usize = 10;
/// After the output grew, a kill waits up to this long (at random).
const KILL_DELAY_MAX_MILLIS: u64 = 1_200;
/// Batches this small cut inside the groups of rows that share one LSN.
const BATCH: &str = "[pipelines.buffer]\nmax_batch_events = 97\n";
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(240);
const STALL: Duration = Duration::from_secs(30);

/// One change as every sink shows it: operation and row id (0 for a truncate).
type Fact = (char, i64);

/// The load, in commit order: (SQL, table, facts it makes per table).
fn load() -> Vec<(String, Vec<(&'static str, Fact)>)> {
    let copy = |table: &'static str, first: i64, last: i64| {
        (
            format!("COPY {table} (id) FROM PROGRAM 'seq {first} {last}'"),
            (first..=last).map(|id| (table, ('c', id))).collect::<Vec<_>>(),
        )
    };
    let truncate = || ("TRUNCATE a, b".to_owned(), vec![("a", ('t', 0)), ("b", ('t', 0))]);
    vec![
        copy("a", 1, 100_000),
        copy("b", 1, 5_000),
        copy("a", 100_001, 105_000),
        copy("b", 5_001, 10_000),
        copy("a", 105_001, 110_000),
        truncate(),
        copy("a", 1, 4_000),
        copy("b", 1, 4_000),
        truncate(),
        copy("b", 1, 1_000),
    ]
}

fn expected_per_table() -> BTreeMap<&'static str, Vec<Fact>> {
    let mut expected: BTreeMap<&'static str, Vec<Fact>> = BTreeMap::new();
    for (_, facts) in load() {
        for (table, fact) in facts {
            expected.entry(table).or_default().push(fact);
        }
    }
    expected
}

/// Runs the load; with `pause`, waits that long between statements so kills land throughout.
async fn run_load(url: String, pause: Duration, done: Arc<AtomicBool>) {
    let client = support::connect(&url).await;
    for (sql, _) in load() {
        client.batch_execute(&sql).await.unwrap_or_else(|error| panic!("{sql}: {error}"));
        tokio::time::sleep(pause).await;
    }
    done.store(true, Ordering::SeqCst);
}

/// A sink under test: its config, how far its output got, and its output per table.
enum SinkUnderTest {
    Jsonl,
    Files,
    /// The decoder holds the schemas, fetched while Wellhead (which serves them) runs.
    Kafka {
        broker: TestBroker,
        http: String,
        decoder: std::sync::Mutex<Option<AvroDecoder>>,
    },
}

impl SinkUnderTest {
    async fn prepare(kind: &str, db: &TestDatabase) -> SinkUnderTest {
        match kind {
            "jsonl" => SinkUnderTest::Jsonl,
            "files" => SinkUnderTest::Files,
            _ => {
                let broker = TestBroker::start_in_memory(&db.dir.join("broker"));
                create_state_topics(db, &broker.brokers()).await;
                let http = format!("127.0.0.1:{}", free_port());
                SinkUnderTest::Kafka { broker, http, decoder: std::sync::Mutex::new(None) }
            }
        }
    }

    fn config(&self, db: &TestDatabase) -> PathBuf {
        let tables = ["public.a", "public.b"];
        match self {
            SinkUnderTest::Jsonl => db.write_config(&tables, BATCH),
            SinkUnderTest::Files => write_files_config(
                db,
                &tables,
                &FilesConfig { sink: "roll_seconds = 1\nroll_bytes = 262144", pipeline: BATCH, http: None },
            ),
            SinkUnderTest::Kafka { broker, http, .. } => {
                write_kafka_config(db, &tables, &broker.brokers(), http, "partitions = 1", BATCH)
            }
        }
    }

    /// How much output there is (for Kafka: records produced, committed or not); a
    /// measure of progress only, never the judge.
    fn progress(&self, db: &TestDatabase) -> u64 {
        match self {
            SinkUnderTest::Jsonl => std::fs::read(db.output_path())
                .map(|bytes| bytes.iter().filter(|byte| **byte == b'\n').count() as u64)
                .unwrap_or(0),
            SinkUnderTest::Files => record_count(&lake_dir(db)),
            SinkUnderTest::Kafka { broker, .. } => {
                ["public.a", "public.b"].iter().map(|table| high_watermark(&broker.brokers(), &topic(db, table))).sum()
            }
        }
    }

    /// Fetches what a reader needs from the running Wellhead (Kafka: the registry's schemas).
    fn before_stop(&self) {
        if let SinkUnderTest::Kafka { http, decoder, .. } = self {
            let mut fetched = AvroDecoder::new(http);
            fetched.preload();
            *decoder.lock().expect("decoder") = Some(fetched);
        }
    }

    /// The output's facts per table, in output order, read by an independent reader.
    fn facts(&self, db: &TestDatabase) -> BTreeMap<String, Vec<Fact>> {
        let mut facts: BTreeMap<String, Vec<Fact>> = BTreeMap::new();
        let id = |row: &serde_json::Value| row["id"].as_i64().unwrap_or(0);
        let op = |op: &str| op.chars().next().expect("op");
        match self {
            SinkUnderTest::Jsonl => {
                for event in db.read_output() {
                    let table = event["source"]["table"].as_str().expect("source.table").to_owned();
                    let row = if event["after"].is_null() { &event["before"] } else { &event["after"] };
                    facts.entry(table).or_default().push((op(event["op"].as_str().expect("op")), id(row)));
                }
            }
            SinkUnderTest::Files => {
                for record in read_files(&lake_dir(db)) {
                    let table = record.table.rsplit('.').next().expect("table").to_owned();
                    facts.entry(table).or_default().push((op(&record.op), id(record.row())));
                }
            }
            SinkUnderTest::Kafka { broker, decoder, .. } => {
                let mut decoder = decoder.lock().expect("decoder");
                let decoder = decoder.as_mut().expect("schemas fetched before the stop");
                for table in ["a", "b"] {
                    for record in committed_view(&broker.brokers(), &topic(db, &format!("public.{table}"))) {
                        let value = decoder.decode(record.value.as_deref().expect("no deletes, so no tombstones"));
                        let row = if value["after"].is_null() { &value["before"] } else { &value["after"] };
                        facts
                            .entry(table.to_owned())
                            .or_default()
                            .push((op(value["op"].as_str().expect("op")), id(row)));
                    }
                }
            }
        }
        facts
    }
}

/// The sum of `topic`'s partitions' high watermarks (0 while it does not exist).
fn high_watermark(brokers: &str, topic: &str) -> u64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "wellhead-test-progress")
        .create()
        .expect("consumer");
    consumer.fetch_watermarks(topic, 0, Duration::from_secs(5)).map(|(_, high)| high.max(0) as u64).unwrap_or(0)
}

/// Compares per table; on a difference, says where the first one is and how many facts differ.
fn assert_exactly_once(label: &str, actual: &BTreeMap<String, Vec<Fact>>) {
    let expected = expected_per_table();
    for (table, wanted) in &expected {
        let got = actual.get(*table).map(Vec::as_slice).unwrap_or_default();
        if got != wanted.as_slice() {
            let first = got.iter().zip(wanted).position(|(a, b)| a != b).unwrap_or(got.len().min(wanted.len()));
            let mut counts: BTreeMap<Fact, i64> = BTreeMap::new();
            wanted.iter().for_each(|fact| *counts.entry(*fact).or_default() += 1);
            got.iter().for_each(|fact| *counts.entry(*fact).or_default() -= 1);
            let missing = counts.values().filter(|count| **count > 0).count();
            let repeated = counts.values().filter(|count| **count < 0).count();
            panic!(
                "{label}: table {table}: {} facts, expected {}; first difference at {first} (got {:?}, expected {:?}); \
                 {missing} missing, {repeated} repeated or unexpected",
                got.len(),
                wanted.len(),
                got.get(first),
                wanted.get(first),
            );
        }
    }
    assert_eq!(actual.len(), expected.len(), "{label}: only tables a and b: {:?}", actual.keys());
}

async fn create_tables(db: &TestDatabase) {
    db.client
        .batch_execute(
            "CREATE TABLE a (id bigint PRIMARY KEY, payload text NOT NULL DEFAULT repeat('a', 60));
             CREATE TABLE b (id bigint PRIMARY KEY, payload text NOT NULL DEFAULT repeat('b', 60));",
        )
        .await
        .expect("tables");
}

/// Waits until the output holds `wanted` facts (or stops growing), then stops cleanly.
async fn catch_up_and_stop(label: &str, sink: &SinkUnderTest, db: &TestDatabase, wellhead: Wellhead, wanted: u64) {
    let started = Instant::now();
    let (mut seen, mut grew) = (sink.progress(db), Instant::now());
    while seen < wanted && started.elapsed() < CATCH_UP_TIMEOUT && grew.elapsed() < STALL {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = sink.progress(db);
        if now != seen {
            (seen, grew) = (now, Instant::now());
        }
    }
    sink.before_stop();
    wellhead.signal("INT");
    let log = wellhead.log.clone();
    let code = wellhead.wait(Duration::from_secs(60));
    assert_eq!(
        code,
        Some(0),
        "{label}: SIGINT exits cleanly; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn fact_count() -> u64 {
    expected_per_table().values().map(|facts| facts.len() as u64).sum()
}

async fn clean_run(kind: &str) {
    let db = TestDatabase::create(Server::Pg15, &format!("copy_clean_{kind}")).await;
    create_tables(&db).await;
    let sink = SinkUnderTest::prepare(kind, &db).await;
    let mut wellhead = Wellhead::start(&sink.config(&db));
    wellhead.wait_streaming().await;
    run_load(db.url(), Duration::ZERO, Arc::new(AtomicBool::new(false))).await;
    catch_up_and_stop(kind, &sink, &db, wellhead, fact_count()).await;
    assert_exactly_once(&format!("{kind}, clean run"), &sink.facts(&db));
    db.drop().await;
}

async fn kill_rounds(kind: &str) {
    let seed = writer::seed();
    println!("{kind} COPY kill test seed {seed}; replay with WELLHEAD_TEST_SEED={seed}");
    let started = Instant::now();
    let mut random = Random(seed);
    let db = TestDatabase::create(Server::Pg15, &format!("copy_kill_{kind}")).await;
    create_tables(&db).await;
    let sink = SinkUnderTest::prepare(kind, &db).await;
    let config = sink.config(&db);
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    let done = Arc::new(AtomicBool::new(false));
    let loader = tokio::spawn(run_load(db.url(), Duration::from_millis(400), done.clone()));
    let total = fact_count();
    let (mut resumed_with_output, mut killed) = (0, 0);
    for round in 0..KILL_ROUNDS {
        // Kill only after this run wrote something, so every round makes progress.
        let before = sink.progress(&db);
        let waiting = Instant::now();
        while sink.progress(&db) == before && before < total && waiting.elapsed() < STALL {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(random.between(0, KILL_DELAY_MAX_MILLIS))).await;
        wellhead.end(round == SIGTERM_ROUND, &format!("seed {seed}, round {round}"));
        if round != SIGTERM_ROUND {
            killed += 1;
        }
        if sink.progress(&db) > 0 {
            resumed_with_output += 1;
        }
        wellhead = Wellhead::start(&config);
        wellhead.wait_streaming().await;
    }
    loader.await.expect("loader");
    assert!(done.load(Ordering::SeqCst), "the load ran to its end");
    catch_up_and_stop(kind, &sink, &db, wellhead, total).await;
    assert!(killed >= 20, "seed {seed}: at least 20 kill -9s ({killed})");
    assert_exactly_once(&format!("{kind}, seed {seed}"), &sink.facts(&db));
    println!(
        "{kind}: {killed} kill -9s and a SIGTERM ({resumed_with_output} restarts over existing output), {total} changes \
         exactly once, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_truncate_arrive_once_in_jsonl_in_a_clean_run() {
    clean_run("jsonl").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_truncate_arrive_once_in_avro_files_in_a_clean_run() {
    clean_run("files").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_truncate_arrive_once_in_kafka_in_a_clean_run() {
    clean_run("kafka").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_truncate_arrive_once_in_jsonl_across_kills_and_a_stop() {
    kill_rounds("jsonl").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_truncate_arrive_once_in_avro_files_across_kills_and_a_stop() {
    kill_rounds("files").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_truncate_arrive_once_in_kafka_across_kills_and_a_stop() {
    kill_rounds("kafka").await;
}
