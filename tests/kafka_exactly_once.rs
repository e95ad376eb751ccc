//! Exactly once into Kafka across crashes: `wellhead run` with the Kafka sink is
//! killed with SIGKILL at random moments (once stopped with SIGTERM) while a
//! writer commits at least 200,000 changes, and restarted each time. The
//! committed view of every topic must hold each committed change once, each key
//! in one partition with its changes in commit order, and the last value per key
//! must equal the table.
//!
//! ```text
//!  writer ──commit──► PostgreSQL ──slot──► wellhead ─(kill -9 / restart) × ≥30─► Kafka (2 partitions per topic)
//!     └── log of committed changes ──────── must equal ─────── committed view (raw log, markers applied) ┘
//! ```
//!
//! The committed view is computed from the raw log (`support::kafka`): the test
//! broker does not hide aborted transactions from `read_committed` consumers,
//! and a kill leaves one open transaction behind on most rounds. The broker is
//! the test's own, with memory storage, because sqlite storage reads back only
//! about 2,000 records a second.
//!
//! Each run gets small or large batches at random, so that source transactions
//! span several Kafka transactions and kills land between them. The seed is
//! printed; `WELLHEAD_TEST_SEED=<n>` replays the writer's and the killer's choices.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::kafka::{
    AvroDecoder, TestBroker, assert_each_change_once, create_state_topics, create_writer_tables, last_values,
    read_writer_topics, wait_until_caught_up, write_kafka_config,
};
use support::writer::{self, Change, Load, Random, write_with_load};
use support::{Server, TestDatabase, Wellhead, free_port};

/// At least this many kill/restart rounds...
const MIN_ROUNDS: usize = 30;
/// ... and at least this many committed changes before the writer stops.
const MIN_CHANGES: u64 = 200_000;
const SIGTERM_ROUND: usize = 13;
/// Kill delay after streaming started, in milliseconds.
const KILL_DELAY_MIN: u64 = 100;
const KILL_DELAY_MAX: u64 = 2_500;
/// `(max_batch_events, max_batch_millis)`: small batches split source transactions.
const SMALL_BATCHES: (usize, u64) = (300, 50);
const LARGE_BATCHES: (usize, u64) = (4096, 200);
/// Bulk inserts of 250 rows in one transaction of four, paced to the time the rounds take.
const LOAD: Load = Load { bulk_every: 4, bulk_rows: 250, max_changes_per_second: Some(4_000) };
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(180);

fn write_config(
    db: &TestDatabase,
    tables: &[&str],
    brokers: &str,
    http: &str,
    (events, millis): (usize, u64),
) -> std::path::PathBuf {
    write_kafka_config(
        db,
        tables,
        brokers,
        http,
        "partitions = 2",
        &format!("[pipelines.buffer]\nmax_batch_events = {events}\nmax_batch_millis = {millis}\n"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_at_random_moments_leaves_every_change_in_kafka_exactly_once() {
    let seed = writer::seed();
    println!("kafka exactly-once seed {seed}; replay with WELLHEAD_TEST_SEED={seed}");
    let started = Instant::now();
    let mut random = Random(seed);
    let db = TestDatabase::create(Server::Pg15, "kafka_eos").await;
    // A broker of the test's own, in memory: reading ~300,000 records back from sqlite
    // storage would take minutes.
    let broker = TestBroker::start_in_memory(&db.dir.join("broker"));
    let brokers = broker.brokers();
    let tables = create_writer_tables(&db).await;
    create_state_topics(&db, &brokers).await;
    let http = format!("127.0.0.1:{}", free_port());
    let mut wellhead = Wellhead::start(&write_config(&db, &tables, &brokers, &http, SMALL_BATCHES));
    wellhead.wait_streaming().await;

    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_with_load(db.url(), random.next(), stop.clone(), LOAD, written.clone()));
    let mut round = 0;
    while round < MIN_ROUNDS || written.load(Ordering::SeqCst) < MIN_CHANGES {
        tokio::time::sleep(Duration::from_millis(random.between(KILL_DELAY_MIN, KILL_DELAY_MAX))).await;
        wellhead.end(round == SIGTERM_ROUND, &format!("seed {seed}, round {round}"));
        let batches = if random.next().is_multiple_of(2) { SMALL_BATCHES } else { LARGE_BATCHES };
        wellhead = Wellhead::start(&write_config(&db, &tables, &brokers, &http, batches));
        wellhead.wait_streaming().await;
        round += 1;
    }
    stop.store(true, Ordering::SeqCst);
    let committed = writer.await.expect("writer");
    let expected: Vec<Change> = committed.iter().flatten().cloned().collect();
    let deletes = expected.iter().filter(|change| change.op == 'd').count();
    let expected_records = expected.len() + deletes;

    // Let the last run catch up, take the schemas from its registry, then stop it cleanly.
    wait_until_caught_up(&db, &brokers, CATCH_UP_TIMEOUT).await;
    let mut decoder = AvroDecoder::new(&http);
    decoder.preload();
    wellhead.signal("INT");
    let log = wellhead.log.clone();
    let code = wellhead.wait(Duration::from_secs(60));
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(code, Some(0), "seed {seed}: SIGINT exits cleanly; log:\n{log}");
    let seen = read_writer_topics(&brokers, &db, &mut decoder);
    let seen_count: usize = seen.values().map(Vec::len).sum();

    let actual_per_key = assert_each_change_once(seed, &seen, &expected);
    assert_eq!(seen_count, expected_records, "seed {seed}: one record per change plus a tombstone per delete");
    let used: HashSet<i32> = seen.values().flatten().map(|record| record.partition).collect();
    assert_eq!(used.len(), 2, "seed {seed}: keys spread over both partitions");

    // The last value per key is the table's row.
    for table in writer::TABLES {
        let rows = db.client.query(&format!("SELECT id, seq FROM {table}"), &[]).await.expect("rows");
        let in_table: BTreeMap<i64, i64> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        assert!(
            in_table == last_values(&actual_per_key, table),
            "seed {seed}: table {table} and the last values per key in Kafka differ"
        );
    }
    println!(
        "{round} restarts, {} transactions, {} changes, {seen_count} committed records, {:.1} s",
        committed.len(),
        expected.len(),
        started.elapsed().as_secs_f64()
    );
    db.drop().await;
}
