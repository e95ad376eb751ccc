//! Connection faults under a live writer, through a TCP proxy of the test's own
//! between Wellhead and PostgreSQL: the connections cut (both ends see them end),
//! stalled (open and silent, as a dead path leaves them) and the walsender terminated
//! by the server (`pg_terminate_backend`), each [`FAULTS_PER_KIND`] times in a seeded
//! order, for the jsonl and the Kafka sink. (PostgreSQL restarts, fast and immediate,
//! are `server_restart.rs`'s.) The
//! output is compared with the writer's log of committed changes: nothing lost,
//! nothing repeated. A stall ends only by Wellhead's receive timeout (shortened to
//! [`RECEIVE_TIMEOUT_SECONDS`]); the server still holds the slot for the silent
//! walsender, which Wellhead ends before it streams again.
//!
//! ```text
//!  writer ──► PostgreSQL ◄──── proxy (cut / stall) ◄──── wellhead ──► jsonl | Kafka
//!     └── committed log ─────────────── must equal ───────────────────────┘
//! ```
//!
//! The seed is printed; `WELLHEAD_TEST_SEED=<n>` replays the fault order and delays.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::kafka::{
    AvroDecoder, TestBroker, assert_each_change_once, create_state_topics, create_writer_tables, read_writer_topics,
    wait_until_caught_up, write_kafka_config,
};
use support::proxy::FaultProxy;
use support::writer::{self, Change, Random, describe_difference, write_until_stopped};
use support::{Server, TestDatabase, Wellhead, free_port, wait_for};

/// Each fault this many times per sink.
const FAULTS_PER_KIND: usize = 10;
/// The receive timeout of these runs (default 60 s).
const RECEIVE_TIMEOUT_SECONDS: u64 = 2;
/// Time between reconnecting and the next fault, in milliseconds.
const FAULT_DELAY_MIN: u64 = 200;
const FAULT_DELAY_MAX: u64 = 1_500;
/// How long Wellhead may take to stream again after a fault.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(60);
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Cut,
    Stall,
    TerminateWalsender,
}

/// What the fault rounds saw.
#[derive(Debug, Default)]
struct FaultCounts {
    cuts: usize,
    stalls: usize,
    terminations: usize,
    receive_timeouts: usize,
    walsenders_ended: usize,
}

/// Points `config`'s source at the proxy and shortens the receive timeout.
fn through_proxy(config: &std::path::Path, db: &TestDatabase, proxy: &FaultProxy) {
    let text = std::fs::read_to_string(config).expect("config");
    let proxied = db.url().replace(&Server::Pg15.address(), &format!("127.0.0.1:{}", proxy.port()));
    assert_ne!(proxied, db.url(), "the URL names the server's port");
    let text = text.replace(&db.url(), &proxied).replacen(
        "\nslot = ",
        &format!("\nreceive_timeout_seconds = {RECEIVE_TIMEOUT_SECONDS}\nslot = "),
        1,
    );
    std::fs::write(config, text).expect("config");
}

fn count(log: &str, needle: &str) -> usize {
    log.matches(needle).count()
}

/// Injects every fault of a seeded order into `wellhead`'s connections; after each, waits
/// until it streams again.
async fn inject_faults(
    db: &TestDatabase,
    wellhead: &Wellhead,
    proxy: &FaultProxy,
    random: &mut Random,
    seed: u64,
) -> FaultCounts {
    let kinds = [Fault::Cut, Fault::Stall, Fault::TerminateWalsender];
    let mut faults: Vec<Fault> = kinds.iter().flat_map(|f| [*f; FAULTS_PER_KIND]).collect();
    for index in (1..faults.len()).rev() {
        faults.swap(index, random.index(index + 1));
    }
    let mut counts = FaultCounts::default();
    for (round, fault) in faults.into_iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(random.between(FAULT_DELAY_MIN, FAULT_DELAY_MAX))).await;
        let log = wellhead.log_text();
        let (sessions, timeouts) = (count(&log, "Streaming changes."), count(&log, "(source.receive_timeout_seconds)"));
        let started = Instant::now();
        let hit = match fault {
            Fault::Cut => proxy.cut(),
            Fault::Stall => proxy.stall(),
            Fault::TerminateWalsender => db
                .client
                .query(
                    "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
                      WHERE slot_name = $1 AND active_pid IS NOT NULL",
                    &[&db.name],
                )
                .await
                .expect("pg_terminate_backend")
                .len(),
        };
        assert!(hit > 0, "seed {seed}, round {round}: {fault:?} found Wellhead's connection");
        wait_for(RECOVERY_TIMEOUT, &format!("seed {seed}, round {round}: streaming again after {fault:?}"), || {
            count(&wellhead.log_text(), "Streaming changes.") > sessions
        })
        .await;
        let log = wellhead.log_text();
        match fault {
            Fault::Cut => counts.cuts += 1,
            Fault::TerminateWalsender => counts.terminations += 1,
            Fault::Stall => {
                counts.stalls += 1;
                let fired = count(&log, "(source.receive_timeout_seconds)") > timeouts;
                assert!(fired, "seed {seed}, round {round}: the stall ended by the receive timeout; log:\n{log}");
                assert!(
                    started.elapsed() >= Duration::from_secs(RECEIVE_TIMEOUT_SECONDS),
                    "seed {seed}, round {round}: streaming resumed before the timeout could fire"
                );
            }
        }
    }
    let log = wellhead.log_text();
    counts.receive_timeouts = count(&log, "(source.receive_timeout_seconds)");
    counts.walsenders_ended = count(&log, "Ended this pipeline's previous walsender");
    counts
}

/// Starts Wellhead on `config` through `proxy`, runs the writer while every fault is
/// injected, then stops the writer; returns the running Wellhead, the counts and the
/// writer's log of committed transactions.
async fn write_under_faults(
    db: &TestDatabase,
    config: &std::path::Path,
    proxy: &FaultProxy,
    random: &mut Random,
    seed: u64,
) -> (Wellhead, FaultCounts, Vec<Vec<Change>>) {
    through_proxy(config, db, proxy);
    let mut wellhead = Wellhead::start(config);
    wellhead.wait_streaming().await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_until_stopped(db.url(), random.next(), stop.clone()));
    let counts = inject_faults(db, &wellhead, proxy, random, seed).await;
    stop.store(true, Ordering::SeqCst);
    (wellhead, counts, writer.await.expect("writer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_stalls_and_terminations_lose_and_repeat_nothing_in_jsonl() {
    let seed = writer::seed();
    println!("network faults (jsonl) seed {seed}; replay with WELLHEAD_TEST_SEED={seed}");
    let started = Instant::now();
    let mut random = Random(seed);
    let db = TestDatabase::create(Server::Pg15, "net_jsonl").await;
    db.client.batch_execute(writer::SCHEMA).await.expect("schema");
    let proxy = FaultProxy::start(&Server::Pg15.address());
    let config = db.write_config(&writer::QUALIFIED_TABLES, "");
    let (wellhead, counts, committed) = write_under_faults(&db, &config, &proxy, &mut random, seed).await;
    let expected: Vec<Change> = committed.iter().flatten().cloned().collect();

    let output = db.output_path();
    let lines = || std::fs::read_to_string(&output).map(|text| text.lines().count()).unwrap_or(0);
    let catch_up = Instant::now();
    while lines() < expected.len() && catch_up.elapsed() < CATCH_UP_TIMEOUT {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wellhead.end(true, &format!("seed {seed}: the last run"));
    let transactions = writer::jsonl_transactions(&db.read_output());
    let actual: Vec<Change> = transactions.iter().flatten().cloned().collect();
    assert!(
        actual == expected,
        "seed {seed}: output differs from the committed changes: {}",
        describe_difference(&expected, &actual)
    );
    assert!(counts.receive_timeouts >= FAULTS_PER_KIND, "seed {seed}: {counts:?}");
    assert!(counts.walsenders_ended > 0, "seed {seed}: a stalled walsender was ended: {counts:?}");
    println!(
        "jsonl: {} cuts, {} stalls ({} receive timeouts, {} stale walsenders ended), {} walsenders terminated, {} transactions, {} changes, {:.1} s",
        counts.cuts,
        counts.stalls,
        counts.receive_timeouts,
        counts.walsenders_ended,
        counts.terminations,
        committed.len(),
        expected.len(),
        started.elapsed().as_secs_f64()
    );
    drop(proxy);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_stalls_and_terminations_lose_and_repeat_nothing_in_kafka() {
    let seed = writer::seed();
    println!("network faults (kafka) seed {seed}; replay with WELLHEAD_TEST_SEED={seed}");
    let started = Instant::now();
    let mut random = Random(seed);
    let db = TestDatabase::create(Server::Pg15, "net_kafka").await;
    let broker = TestBroker::start_in_memory(&db.dir.join("broker"));
    let brokers = broker.brokers();
    let tables = create_writer_tables(&db).await;
    create_state_topics(&db, &brokers).await;
    let http = format!("127.0.0.1:{}", free_port());
    let proxy = FaultProxy::start(&Server::Pg15.address());
    let config = write_kafka_config(&db, &tables, &brokers, &http, "", "");
    let (wellhead, counts, committed) = write_under_faults(&db, &config, &proxy, &mut random, seed).await;
    let expected: Vec<Change> = committed.iter().flatten().cloned().collect();

    wait_until_caught_up(&db, &brokers, CATCH_UP_TIMEOUT).await;
    let mut decoder = AvroDecoder::new(&http);
    decoder.preload();
    wellhead.end(true, &format!("seed {seed}: the last run"));
    let seen = read_writer_topics(&brokers, &db, &mut decoder);
    assert_each_change_once(seed, &seen, &expected);
    assert!(counts.receive_timeouts >= FAULTS_PER_KIND, "seed {seed}: {counts:?}");
    println!(
        "kafka: {} cuts, {} stalls ({} receive timeouts, {} stale walsenders ended), {} walsenders terminated, {} transactions, {} changes, {} records, {:.1} s",
        counts.cuts,
        counts.stalls,
        counts.receive_timeouts,
        counts.walsenders_ended,
        counts.terminations,
        committed.len(),
        expected.len(),
        seen.values().map(Vec::len).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    drop(proxy);
    db.drop().await;
}
