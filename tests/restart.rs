//! Exactly once across crashes, on PostgreSQL 15: `wellhead run` is killed with
//! SIGKILL at random moments (once stopped with SIGTERM instead) while a writer
//! keeps committing, and restarted each time; the one JSON-lines file must end
//! up holding every committed change once, in commit order, transactions whole.
//!
//! ```text
//!  writer ──commit──► PostgreSQL ──slot──► wellhead ─(kill -9 / restart) × ROUNDS─► out.jsonl
//!     └── log of committed transactions ───────────── must equal ─────────────────────┘
//! ```
//!
//! The oracle is the writer's own log: it is the only writer and awaits each
//! COMMIT, so its log is in commit order. Every insert and update sets `seq`
//! from one sequence, so each change carries a unique value.
//!
//! Each run gets one of two batch settings, picked at random: small batches
//! (with some large transactions, crashes land between batches of one
//! transaction) or slow ones (the sink lags what was received by up to a
//! second, so a slot confirmed ahead of the checkpoint would lose changes).
//!
//! The kill delays and the writer's choices come from a seeded generator; the
//! seed is printed, and `WELLHEAD_TEST_SEED=<n>` replays the same choices
//! (the interleaving with the server still varies).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::writer::{self, Change, Random, describe_difference, write_until_stopped};
use support::{Server, TestDatabase, Wellhead, line_count, wait_for_lines};

/// How many times wellhead is stopped and restarted while the writer runs.
const ROUNDS: usize = 22;
/// The round that stops wellhead with SIGTERM (graceful) instead of SIGKILL.
const SIGTERM_ROUND: usize = 11;
/// Kill delay after streaming started, in milliseconds: `KILL_DELAY_MIN..=KILL_DELAY_MAX`.
/// It reaches well past the source's 1 s status interval, so that kills also land
/// after the slot was confirmed (a confirmation ahead of the checkpoint would lose changes).
const KILL_DELAY_MIN: u64 = 50;
const KILL_DELAY_MAX: u64 = 2_000;
/// `(max_batch_events, max_batch_millis)` of a run: small batches cut transactions
/// into pieces; slow batches keep the sink a second behind the stream.
const SMALL_BATCHES: (usize, u64) = (50, 100);
const SLOW_BATCHES: (usize, u64) = (4096, 1000);
/// How long the last run may take to write what the writer committed.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);
/// The output counts as stalled when it has not grown for this long.
const STALL: Duration = Duration::from_secs(5);

/// True when the pipeline's checkpoint ends inside a transaction (its last
/// event's commit LSN lies beyond the last complete transaction's end).
fn checkpoint_is_mid_transaction(db: &TestDatabase) -> bool {
    let path = db.dir.join("state").join(format!("{}.checkpoint.json", db.name));
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    let checkpoint: serde_json::Value = serde_json::from_str(&text).expect("checkpoint JSON");
    let lsn = |value: &serde_json::Value| {
        let (high, low) = value.as_str().and_then(|text| text.split_once('/')).expect("LSN text");
        (u64::from_str_radix(high, 16).expect("LSN") << 32) | u64::from_str_radix(low, 16).expect("LSN")
    };
    let last_commit = &checkpoint["last_written"]["commit_lsn"];
    let restart_lsn = &checkpoint["restart_point"]["flush_lsn"];
    !last_commit.is_null() && (restart_lsn.is_null() || lsn(last_commit) > lsn(restart_lsn))
}

/// Writes the config with `(max_batch_events, max_batch_millis)`; same pipeline, slot and checkpoint.
fn write_config(db: &TestDatabase, (max_batch_events, max_batch_millis): (usize, u64)) -> std::path::PathBuf {
    db.write_config(
        &writer::QUALIFIED_TABLES,
        &format!(
            "\n[pipelines.buffer]\nmax_batch_events = {max_batch_events}\nmax_batch_millis = {max_batch_millis}\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_15_kill_and_restart_mid_stream_loses_and_repeats_nothing() {
    let seed = writer::seed();
    println!("restart test seed {seed}; replay with WELLHEAD_TEST_SEED={seed}");
    let started = Instant::now();
    let mut random = Random(seed);
    let db = TestDatabase::create(Server::Pg15, "restart").await;
    db.client.batch_execute(writer::SCHEMA).await.expect("schema");
    let config = write_config(&db, SMALL_BATCHES);
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;

    // The slot exists now: everything the writer commits from here on is in the stream.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_until_stopped(db.url(), random.next(), stop.clone()));
    let mut truncations = 0;
    let mut mid_transaction_restarts = 0;
    for round in 0..ROUNDS {
        let delay = random.between(KILL_DELAY_MIN, KILL_DELAY_MAX);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        wellhead.end(round == SIGTERM_ROUND, &format!("seed {seed}, round {round}"));
        if checkpoint_is_mid_transaction(&db) {
            mid_transaction_restarts += 1;
        }
        let batches = if random.next().is_multiple_of(2) { SMALL_BATCHES } else { SLOW_BATCHES };
        wellhead = Wellhead::start(&write_config(&db, batches));
        wellhead.wait_streaming().await;
        if wellhead.log_text().contains("Truncating output written after the last checkpoint.") {
            truncations += 1;
        }
    }
    stop.store(true, Ordering::SeqCst);
    let committed = writer.await.expect("writer");
    let expected: Vec<Change> = committed.iter().flatten().cloned().collect();

    // Let the last run catch up, then stop it cleanly.
    let output = db.output_path();
    let caught_up = wait_for_lines(&output, expected.len(), CATCH_UP_TIMEOUT, STALL).await;
    wellhead.stop_cleanly(&format!("seed {seed}"));

    let events = db.read_output();
    let transactions = writer::jsonl_transactions(&events);
    let actual: Vec<Change> = transactions.iter().flatten().cloned().collect();
    assert!(
        caught_up && actual == expected,
        "seed {seed}: output differs from the committed changes (caught up: {caught_up}): {}",
        describe_difference(&expected, &actual)
    );
    assert!(
        mid_transaction_restarts > 0,
        "seed {seed}: at least one restart resumed inside a transaction (small batches cut large ones)"
    );
    let sizes = |transactions: &[Vec<Change>]| transactions.iter().map(Vec::len).collect::<Vec<_>>();
    assert_eq!(
        sizes(&transactions),
        sizes(&committed),
        "seed {seed}: transactions arrive whole and contiguous, in commit order"
    );
    println!(
        "{ROUNDS} restarts ({truncations} truncated output written after the last checkpoint, \
         {mid_transaction_restarts} resumed inside a transaction), {} transactions, {} changes, {:.1} s",
        committed.len(),
        expected.len(),
        started.elapsed().as_secs_f64()
    );
    db.drop().await;
}

/// The first checkpoint exists before any output does, so no crash can leave output
/// without a checkpoint (which a start refuses as foreign); a kill before the first
/// change restarts cleanly and streams what came after.
#[tokio::test]
async fn postgres_15_kill_before_the_first_change_restarts() {
    let db = TestDatabase::create(Server::Pg15, "restart_first").await;
    db.client.batch_execute("CREATE TABLE t1 (id bigint PRIMARY KEY, seq bigint)").await.expect("schema");
    let config = db.write_config(&["public.t1"], "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    let checkpoint = db.dir.join("state").join(format!("{}.checkpoint.json", db.name));
    // The sink thread saves it concurrently with the source's start-up.
    let start = Instant::now();
    while !checkpoint.exists() && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(checkpoint.exists(), "a checkpoint is saved before the first change arrives");
    wellhead.signal("KILL");
    assert_eq!(wellhead.wait(Duration::from_secs(10)), None);

    db.client.batch_execute("INSERT INTO t1 VALUES (1, 1)").await.expect("insert");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    let output = db.output_path();
    let start = Instant::now();
    while line_count(&output) < 1 && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0), "clean exit");
    let events = db.read_output();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["after"]["id"], 1);
    db.drop().await;
}
