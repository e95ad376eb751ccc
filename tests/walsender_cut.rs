//! The walsender terminated while the sink is slow loses nothing and repeats
//! nothing: the stdout sink writes into a pipe that this test does not read at
//! first, so the sink blocks, the pipeline's queue fills and the source waits
//! for queue space with a batch in hand, answering the server meanwhile. Then
//! the walsender is terminated (`pg_terminate_backend`) and the pipe is read,
//! slowly. A walsender blocked writing to a client that does not read ends only
//! once it can write again (PostgreSQL 15 waits in `ClientWrite` to send its
//! FATAL message), so the cut lands while the sink trickles and the source is
//! mostly waiting for room: its status update or its next read fails, and it
//! reconnects. The batch it held must still be written, and what the server
//! sends again must not be. (The exact moment, a status update failing while a
//! batch waits, is also pinned down by `batch::outlet`'s unit test.)
//!
//! ```text
//!  INSERT × ROWS ──► PostgreSQL ──walsender──► source ─► outlet ─► queue (full) ─► stdout ─► pipe
//!                         ▲                       │                                          │
//!                         └─ pg_terminate_backend ┘ (source reconnects)      read slowly: ids 1..=ROWS once each
//! ```

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Server, TestDatabase, Wellhead};

/// Rows written, in transactions of `ROWS_PER_TRANSACTION`.
const ROWS: usize = 30_000;
const ROWS_PER_TRANSACTION: usize = 1_000;
/// Bytes of padding per row: the output (~15 MB) is many times what the pipe (64 KiB),
/// the queue and a batch in hand can hold, so the source must be waiting for room.
const PAD_BYTES: usize = 400;
/// The queue's size: the least the config allows, so that it fills soon (the point
/// of this test is a full queue; the default, 64 MiB, would need far more rows).
const QUEUE_BYTES: u64 = 1024 * 1024;

/// The slow reader takes this many bytes at a time, then pauses for `READ_PAUSE`
/// (about 1.6 MB/s: the whole output takes some 10 s).
const READ_CHUNK: usize = 8 * 1024;
const READ_PAUSE: Duration = Duration::from_millis(5);

/// A reader that pauses before each read: a slow consumer of standard output.
struct SlowReader<R>(R);

impl<R: Read> Read for SlowReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        std::thread::sleep(READ_PAUSE);
        let take = buffer.len().min(READ_CHUNK);
        self.0.read(&mut buffer[..take])
    }
}

fn config(db: &TestDatabase) -> std::path::PathBuf {
    let text = format!(
        "[[pipelines]]\nname = \"{name}\"\n\n[pipelines.source]\ntype = \"postgres\"\nurl = \"{url}\"\n\
         tables = [\"public.cut\"]\nslot = \"{name}\"\npublication = \"{name}\"\n\n[pipelines.snapshot]\nmode = \"never\"\n\n\
         [pipelines.sink]\ntype = \"stdout\"\n\n[pipelines.buffer]\nmax_bytes = {QUEUE_BYTES}\n\n\
         [pipelines.checkpoint]\ndir = \"{state}\"\n",
        name = db.name,
        url = db.url(),
        state = db.dir.join("state").display(),
    );
    let path = db.dir.join("wellhead.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// The walsender serving `slot`, if one is active.
async fn walsender_pid(db: &TestDatabase) -> Option<i32> {
    db.client
        .query_opt("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1 AND active", &[&db.name])
        .await
        .expect("slot query")
        .map(|row| row.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_the_walsender_while_the_sink_is_slow_loses_and_repeats_nothing() {
    let db = TestDatabase::create(Server::Pg15, "walsender_cut").await;
    db.client.batch_execute("CREATE TABLE cut (id int PRIMARY KEY, pad text)").await.expect("table");
    let config = config(&db);
    let log = db.dir.join("wellhead.log");
    let child = Command::new(env!("CARGO_BIN_EXE_wellhead"))
        .args(["run", "--config"])
        .arg(&config)
        .env("WELLHEAD_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn wellhead");
    let mut wellhead = Wellhead { child, log };
    let stdout = wellhead.child.stdout.take().expect("stdout pipe");
    wellhead.wait_streaming().await;

    for first in (1..=ROWS).step_by(ROWS_PER_TRANSACTION) {
        let last = first + ROWS_PER_TRANSACTION - 1;
        db.client
            .batch_execute(&format!(
                "INSERT INTO cut SELECT i, repeat('x', {PAD_BYTES}) FROM generate_series({first}, {last}) i"
            ))
            .await
            .expect("insert");
    }

    let end_lsn: String = db.client.query_one("SELECT pg_current_wal_lsn()::text", &[]).await.expect("wal lsn").get(0);
    // Nothing reads the pipe: the sink blocks on it at once, and the source fills the queue
    // and then waits for room (the output is many times what the pipe, the queue and a batch
    // hold). Give it the time to get there, then check that the sink has not confirmed the
    // inserts (so the cut lands with changes in flight), and cut.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let in_flight: bool = db
        .client
        .query_one(
            "SELECT confirmed_flush_lsn < $2::text::pg_lsn FROM pg_replication_slots WHERE slot_name = $1",
            &[&db.name, &end_lsn],
        )
        .await
        .expect("slot")
        .get(0);
    assert!(in_flight, "the slot was confirmed past the inserts before the cut: the sink was not blocked");
    let pid = walsender_pid(&db).await.expect("an active walsender");
    let terminated: bool =
        db.client.query_one("SELECT pg_terminate_backend($1)", &[&pid]).await.expect("terminate").get(0);
    assert!(terminated, "pg_terminate_backend({pid})");

    // Now read the pipe, slowly: every row must come out, once.
    let ids = Arc::new(Mutex::new(Vec::<i64>::with_capacity(ROWS)));
    let reader_ids = ids.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::with_capacity(READ_CHUNK, SlowReader(stdout)).lines() {
            let line = line.expect("stdout line");
            let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let id = event["after"]["id"].as_i64().unwrap_or_else(|| panic!("no after.id: {line}"));
            reader_ids.lock().expect("ids").push(id);
        }
    });
    // The walsender ends once it can write; the source notices and reconnects, with rows still to come.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !wellhead.log_text().contains("Source interrupted; reconnecting.") {
        if let Some(status) = wellhead.child.try_wait().expect("try_wait") {
            panic!("wellhead exited ({status}); log:\n{}", wellhead.log_text());
        }
        assert!(Instant::now() < deadline, "no reconnection within 60 s of the cut; log:\n{}", wellhead.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out_at_reconnection = ids.lock().expect("ids").len();
    assert!(out_at_reconnection < ROWS, "the source reconnected only after every row was out");
    println!("the source reconnected with {out_at_reconnection} of {ROWS} rows out");
    let deadline = Instant::now() + Duration::from_secs(120);
    while ids.lock().expect("ids").len() < ROWS {
        if let Some(status) = wellhead.child.try_wait().expect("try_wait") {
            panic!("wellhead exited ({status}); log:\n{}", wellhead.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "{} of {ROWS} rows after 120 s; log:\n{}",
            ids.lock().expect("ids").len(),
            wellhead.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Give a repeat the time to show, then stop cleanly; the reader ends at EOF.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    wellhead.signal("INT");
    let log_text = wellhead.log_text();
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0), "clean exit");
    reader.join().expect("reader thread");

    let ids = ids.lock().expect("ids").clone();
    let expected: Vec<i64> = (1..=i64::try_from(ROWS).expect("rows")).collect();
    if ids != expected {
        let mut seen = std::collections::BTreeMap::<i64, usize>::new();
        ids.iter().for_each(|id| *seen.entry(*id).or_default() += 1);
        let missing = expected.iter().filter(|id| !seen.contains_key(id)).count();
        let repeated = seen.values().filter(|count| **count > 1).count();
        let first_out_of_order = ids.windows(2).position(|pair| pair[1] <= pair[0]);
        panic!(
            "{} rows out ({out_at_reconnection} when the source reconnected), {missing} missing, {repeated} \
             repeated, first out of order at {first_out_of_order:?}; log:\n{log_text}",
            ids.len()
        );
    }
    // The server sent again what it had sent before the cut (the slot was confirmed only as far
    // as the slow sink had written); the pipeline dropped those resends.
    let final_log = std::fs::read_to_string(db.dir.join("wellhead.log")).expect("log");
    assert!(
        final_log.contains("Dropped changes the pipeline already held"),
        "the reconnected session's resends were dropped; log:\n{final_log}"
    );
    db.drop().await;
}
