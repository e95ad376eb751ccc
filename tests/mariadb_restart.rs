//! Exactly once across crashes, from MariaDB's binlog: `wellhead run` is killed with
//! SIGKILL at random moments (once stopped with SIGTERM) while a writer keeps
//! committing, and restarted each time; the JSON-lines file must end up holding every
//! committed change once, in commit order, transactions whole.
//!
//! ```text
//!  writer ──commit──► MariaDB ──binlog──► wellhead ─(kill -9 / restart) × ROUNDS─► out.jsonl
//!     └── log of committed transactions ─────────────── must equal ────────────────────┘
//! ```
//!
//! The oracle is the writer's own log (it is the only writer and awaits each COMMIT).
//! Small batches cut the writer's bulk inserts into several batches, so that kills land
//! inside transactions; the seed is printed and `WELLHEAD_TEST_SEED=<n>` replays the
//! writer's and the killer's choices.

mod support;

use std::time::{Duration, Instant};

use support::mariadb::{self, MariadbDatabase};
use support::writer::{self, Change, Random, describe_difference};
use support::{read_jsonl, wait_for_lines};

const ROUNDS: usize = 20;
const SIGTERM_ROUND: usize = 10;
const KILL_DELAY_MIN: u64 = 50;
const KILL_DELAY_MAX: u64 = 1_500;
const SMALL_BATCHES: (usize, u64) = (50, 100);
const SLOW_BATCHES: (usize, u64) = (4096, 1000);
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);
const STALL: Duration = Duration::from_secs(5);

fn write_config(
    db: &MariadbDatabase,
    server_id: u32,
    (max_batch_events, max_batch_millis): (usize, u64),
) -> std::path::PathBuf {
    db.write_config(&format!(
        "{}\n[pipelines.buffer]\nmax_batch_events = {max_batch_events}\nmax_batch_millis = {max_batch_millis}\n",
        db.pipeline_toml(&db.patterns(&writer::TABLES), server_id)
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_kill_and_restart_mid_stream_loses_and_repeats_nothing() {
    let seed = writer::seed();
    println!("restart test seed {seed}; replay with WELLHEAD_TEST_SEED={seed}");
    let started = Instant::now();
    let mut random = Random(seed);
    let mut db = MariadbDatabase::create("restart").await;
    db.execute(mariadb::SCHEMA).await;
    let server_id = mariadb::server_id();
    let (wellhead, committed) = mariadb::write_through_restarts(
        &db.name,
        &mut random,
        seed,
        (ROUNDS, SIGTERM_ROUND),
        (KILL_DELAY_MIN, KILL_DELAY_MAX),
        |small| write_config(&db, server_id, if small { SMALL_BATCHES } else { SLOW_BATCHES }),
    )
    .await;
    let expected: Vec<Change> = committed.iter().flatten().cloned().collect();

    let output = db.output_path();
    let caught_up = wait_for_lines(&output, expected.len(), CATCH_UP_TIMEOUT, STALL).await;
    wellhead.stop_cleanly(&format!("seed {seed}"));

    let transactions = mariadb::jsonl_transactions(&read_jsonl(&output));
    let actual: Vec<Change> = transactions.iter().flatten().cloned().collect();
    assert!(
        caught_up && actual == expected,
        "seed {seed}: output differs from the committed changes (caught up: {caught_up}): {}",
        describe_difference(&expected, &actual)
    );
    let sizes = |transactions: &[Vec<Change>]| transactions.iter().map(Vec::len).collect::<Vec<_>>();
    assert_eq!(sizes(&transactions), sizes(&committed), "seed {seed}: transactions arrive whole, in commit order");
    println!(
        "{ROUNDS} restarts, {} transactions, {} changes, {:.1} s",
        committed.len(),
        expected.len(),
        started.elapsed().as_secs_f64()
    );
    db.drop().await;
}
