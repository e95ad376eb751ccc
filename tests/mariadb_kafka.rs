//! Exactly once into Kafka from MariaDB's binlog across crashes: `wellhead run` with the
//! Kafka sink is killed with SIGKILL at random moments (once stopped with SIGTERM) while
//! a writer commits, and restarted each time. The committed view of every topic (computed
//! from the raw record batches by an independent reader) must hold each committed change
//! once, each key in one partition with its changes in commit order, and the last value
//! per key must equal the table.
//!
//! ```text
//!  writer ──commit──► MariaDB ──binlog──► wellhead ─(kill -9 / restart) × ROUNDS─► Kafka (2 partitions per topic)
//!     └── log of committed changes ──────── must equal ──────── committed view (raw log, markers applied) ┘
//! ```

mod support;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use support::kafka::{
    AvroDecoder, KEEP_HISTORY, TestBroker, assert_each_change_once, committed_view, create_kept_topics, last_values,
    read_writer_topics_named,
};
use support::mariadb::{self, MariadbDatabase};
use support::writer::{self, Change, Random};
use support::{free_port, wait_for};

const ROUNDS: usize = 20;
const SIGTERM_ROUND: usize = 10;
const KILL_DELAY_MIN: u64 = 100;
const KILL_DELAY_MAX: u64 = 2_000;
const SMALL_BATCHES: (usize, u64) = (60, 50);
const LARGE_BATCHES: (usize, u64) = (4096, 200);
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(120);

fn write_config(
    db: &MariadbDatabase,
    brokers: &str,
    http: &str,
    server_id: u32,
    (events, millis): (usize, u64),
) -> std::path::PathBuf {
    let mut patterns = db.patterns(&writer::TABLES);
    patterns.extend(db.patterns(&["marker"]));
    let tables = patterns.iter().map(|pattern| format!("\"{pattern}\"")).collect::<Vec<_>>().join(", ");
    db.write_config(&format!(
        "[control]\nhttp = \"{http}\"\nregistry_dir = \"{registry}\"\nregistry_topic = \"_wellhead_schemas_{name}\"\n\n\
         [[pipelines]]\nname = \"{name}\"\n\n[pipelines.source]\ntype = \"mysql\"\nurl = \"{url}\"\n\
         tables = [{tables}]\nserver_id = {server_id}\n\n[pipelines.snapshot]\nmode = \"never\"\n\n\
         [pipelines.sink]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\ntopic_prefix = \"{name}\"\n\
         checkpoint_topic = \"_wellhead_checkpoints_{name}\"\npartitions = 2\n{KEEP_HISTORY}\n\n\
         [pipelines.buffer]\nmax_batch_events = {events}\nmax_batch_millis = {millis}\n",
        name = db.name,
        url = mariadb::url(),
        registry = db.dir.join("registry").display(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_kill_nine_at_random_moments_leaves_every_change_in_kafka_exactly_once() {
    let seed = writer::seed();
    println!("kafka exactly-once (MariaDB) seed {seed}; replay with WELLHEAD_TEST_SEED={seed}");
    let started = Instant::now();
    let mut random = Random(seed);
    let mut db = MariadbDatabase::create("kafka_eos").await;
    db.execute(mariadb::SCHEMA).await;
    db.execute("CREATE TABLE marker (id int PRIMARY KEY)").await;
    // A broker of the test's own, in memory: reading the records back from sqlite storage is slow.
    let broker = TestBroker::start_in_memory(&db.dir.join("broker"));
    let brokers = broker.brokers();
    create_kept_topics(
        &brokers,
        &[format!("_wellhead_checkpoints_{}", db.name), format!("_wellhead_schemas_{}", db.name)],
    )
    .await;
    let http = format!("127.0.0.1:{}", free_port());
    let server_id = mariadb::server_id();
    let (wellhead, committed) = mariadb::write_through_restarts(
        &db.name,
        &mut random,
        seed,
        (ROUNDS, SIGTERM_ROUND),
        (KILL_DELAY_MIN, KILL_DELAY_MAX),
        |small| write_config(&db, &brokers, &http, server_id, if small { SMALL_BATCHES } else { LARGE_BATCHES }),
    )
    .await;
    let expected: Vec<Change> = committed.iter().flatten().cloned().collect();
    let deletes = expected.iter().filter(|change| change.op == 'd').count();

    // Transactions reach Kafka in commit order: once the marker row is committed there, so is
    // everything before it.
    db.execute("INSERT INTO marker VALUES (1)").await;
    let marker_topic = format!("{0}.{0}.marker", db.name);
    wait_for(CATCH_UP_TIMEOUT, "the marker row in Kafka", || !committed_view(&brokers, &marker_topic).is_empty()).await;
    let mut decoder = AvroDecoder::new(&http);
    decoder.preload();
    wellhead.stop_cleanly(&format!("seed {seed}"));
    let topic_of = |table: &str| format!("{0}.{0}.{table}", db.name);
    let seen = read_writer_topics_named(&brokers, topic_of, &mut decoder);
    let seen_count: usize = seen.values().map(Vec::len).sum();
    let actual_per_key = assert_each_change_once(seed, &seen, &expected);
    assert_eq!(seen_count, expected.len() + deletes, "seed {seed}: one record per change plus a tombstone per delete");
    let used: HashSet<i32> = seen.values().flatten().map(|record| record.partition).collect();
    assert_eq!(used.len(), 2, "seed {seed}: keys spread over both partitions");

    for table in writer::TABLES {
        let rows: Vec<(i64, i64)> = db.conn.query(format!("SELECT id, seq FROM {table}")).await.expect("rows");
        let in_table: BTreeMap<i64, i64> = rows.into_iter().collect();
        assert!(
            in_table == last_values(&actual_per_key, table),
            "seed {seed}: table {table} and the last values per key in Kafka differ"
        );
    }
    println!(
        "{ROUNDS} restarts, {} transactions, {} changes, {seen_count} committed records, {:.1} s",
        committed.len(),
        expected.len(),
        started.elapsed().as_secs_f64()
    );
    db.drop().await;
}
