//! Initial snapshots (`snapshot.mode = "initial"`, the default): the rows a table
//! already holds, then every change after the snapshot's point, with nothing
//! missed and nothing doubled, while a writer keeps changing the table and the
//! process is killed during the copy.
//!
//! ```text
//!  big: 5,000,000 rows ─► wellhead (files sink) ── kill -9 × 5 during the copy ──► resume ─► stream
//!        ▲ writer: one insert/update/delete per transaction, throughout, logged as `k op id`
//!  fastavro (tests/python/snapshot_check.py): stream = writer's changes from some k on, exactly;
//!        no row read twice or from the future; final state = SELECT * FROM big
//! ```
//!
//! The files sink rolls every second (`roll_seconds = 1`) so that the copy is
//! checkpointed often enough for kills to land between checkpoints.
//! `WELLHEAD_SNAPSHOT_TEST_ROWS` sets the table size (default 5,000,000); the
//! seed is printed and `WELLHEAD_TEST_SEED=<n>` replays the writer's choices.
//! The value test checks that a row read by the snapshot (binary COPY) equals
//! the same row streamed (pgoutput text), for every type of the value matrix.

mod support;

#[path = "value_matrix/rows.rs"]
#[allow(dead_code)]
mod rows;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, pin_mut};
use support::avro_files::{FilesConfig, checkpoint_path, lake_dir, topic, write_files_config};
use support::writer::{Random, seed};
use support::{Server, TestDatabase, Wellhead, set_snapshot_mode, wait_for};

const KILLS: usize = 5;
/// Peak RSS allowed for the run that copies most of the table (a debug build; the 16 MiB
/// queue, readers' pieces and the encoder's buffers, far below the table's size).
const MAX_PEAK_RSS_KB: u64 = 300 * 1024;
const DEFAULT_ROWS: i64 = 5_000_000;

fn table_rows() -> i64 {
    std::env::var("WELLHEAD_SNAPSHOT_TEST_ROWS").ok().and_then(|rows| rows.parse().ok()).unwrap_or(DEFAULT_ROWS)
}

/// The snapshot's progress in the checkpoint: rows copied and durable, and whether the copy
/// is still under way (`None` before the first checkpoint).
fn snapshot_progress(db: &TestDatabase) -> Option<(u64, bool)> {
    let text = std::fs::read_to_string(checkpoint_path(db)).ok()?;
    let checkpoint: serde_json::Value = serde_json::from_str(&text).ok()?;
    let tables = checkpoint["tables"].as_array()?;
    let mut rows = 0;
    let mut copying = false;
    for table in tables {
        if table["state"]["state"] == "snapshotting" {
            copying = true;
            rows += table["state"]["rows_done"].as_u64().unwrap_or(0);
        }
    }
    Some((rows, copying))
}

/// One change per transaction, one transaction at a time, until `stop`; logs `k op id` per
/// committed change into `log`.
async fn write_changes(url: String, rows: i64, seed: u64, stop: Arc<AtomicBool>, log: std::path::PathBuf) -> usize {
    let client = support::connect(&url).await;
    let mut random = Random(seed);
    let mut live: Vec<i64> = (1..=rows).collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&log).expect("writer log"));
    let mut k: i64 = 0;
    while !stop.load(Ordering::SeqCst) {
        k += 1;
        let choice = random.between(0, 9);
        let (op, id, affected) = if choice < 6 {
            let id = live[random.index(live.len())];
            let affected = client.execute("UPDATE big SET seq = $1 WHERE id = $2", &[&k, &id]).await;
            ("u", id, affected)
        } else if choice < 8 {
            let id = rows + k;
            live.push(id);
            let note = format!("new {k}");
            let affected = client.execute("INSERT INTO big VALUES ($1, $2, $3)", &[&id, &k, &note]).await;
            ("c", id, affected)
        } else {
            let id = live.swap_remove(random.index(live.len()));
            let affected = client.execute("DELETE FROM big WHERE id = $1", &[&id]).await;
            ("d", id, affected)
        };
        assert_eq!(affected.expect("writer change"), 1, "change {k} ({op} {id}) touches one row");
        writeln!(out, "{k} {op} {id}").expect("writer log");
        // About a thousand changes a second: a steady stream while the copy runs.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    out.flush().expect("writer log");
    usize::try_from(k).unwrap_or(0)
}

/// `VmHWM` of a process, in kB (0 when unreadable).
fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:").and_then(|rest| rest.trim().strip_suffix("kB")))
                .and_then(|value| value.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Writes the source table's rows as `id,seq,note` lines.
async fn dump_source(client: &tokio_postgres::Client, path: &Path) {
    let stream = client.copy_out("COPY big (id, seq, note) TO STDOUT (FORMAT csv)").await.expect("copy out");
    pin_mut!(stream);
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("source rows"));
    while let Some(chunk) = stream.next().await {
        file.write_all(&chunk.expect("copy data")).expect("source rows");
    }
    file.flush().expect("source rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_under_writes_and_kills_streams_every_later_change_once_and_ends_equal_to_the_source() {
    let rows = table_rows();
    let seed = seed();
    println!("table rows {rows}, seed {seed}");
    let db = TestDatabase::create(Server::Pg15, "snapshot").await;
    let started = Instant::now();
    db.client
        .batch_execute(&format!(
            "CREATE TABLE big (id bigint PRIMARY KEY, seq bigint NOT NULL, note text NOT NULL);
             INSERT INTO big SELECT g, 0, 'row ' || g FROM generate_series(1, {rows}) g;"
        ))
        .await
        .expect("table");
    db.client.batch_execute("ANALYZE big").await.expect("analyze");
    println!("loaded in {:?}", started.elapsed());
    // Files roll (and the checkpoint with them) every second, so that kills land between
    // checkpoints of the copy.
    let config =
        write_files_config(&db, &["public.big"], &FilesConfig { sink: "roll_seconds = 1", ..FilesConfig::default() });
    set_snapshot_mode(&config, "initial");

    let stop = Arc::new(AtomicBool::new(false));
    let writer_log = db.dir.join("writer.log");
    let writer = tokio::spawn(write_changes(db.url(), rows, seed, stop.clone(), writer_log.clone()));
    // Changes before the slot exists belong in the snapshot, not in the stream.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut random = Random(seed ^ 0x5eed);
    let mut durable_before = 0;
    for round in 1..=KILLS {
        let wellhead = Wellhead::start(&config);
        let context = format!("kill {round}");
        wait_for(Duration::from_secs(120), &format!("{context}: snapshot progress past {durable_before} rows"), || {
            snapshot_progress(&db).is_some_and(|(done, copying)| copying && done > durable_before)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(random.between(0, 1_500))).await;
        let (done, copying) = snapshot_progress(&db).expect("checkpoint");
        assert!(
            copying,
            "{context}: the copy finished before the kill; raise WELLHEAD_SNAPSHOT_TEST_ROWS; log:\n{}",
            wellhead.log_text()
        );
        wellhead.end(false, &context);
        println!("{context}: {done} rows durable at the kill ({:?})", started.elapsed());
        durable_before = done;
    }

    let wellhead = Wellhead::start(&config);
    wait_for(Duration::from_secs(600), "the snapshot to complete", || {
        wellhead.log_text().contains("Snapshot complete.")
    })
    .await;
    // The writer goes on while the stream catches up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    let changes = writer.await.expect("writer");
    let end_lsn: String = db.client.query_one("SELECT pg_current_wal_lsn()::text", &[]).await.expect("wal lsn").get(0);
    wait_for(Duration::from_secs(300), "the slot to be confirmed past the writer's last change", || {
        let output = Command::new("psql")
            .args([db.url().as_str(), "-Atc"])
            .arg(format!(
                "SELECT confirmed_flush_lsn >= '{end_lsn}' FROM pg_replication_slots WHERE slot_name = '{}'",
                db.name
            ))
            .output()
            .expect("psql");
        String::from_utf8_lossy(&output.stdout).trim() == "t"
    })
    .await;
    let peak_rss_kb = peak_rss_kb(wellhead.child.id());
    let log = wellhead.log_text();
    wellhead.end(true, "final run");
    println!("peak RSS of the final run (debug build): {peak_rss_kb} kB");
    assert!(
        peak_rss_kb < MAX_PEAK_RSS_KB,
        "memory stays bounded by the queue, whatever the table's size: {peak_rss_kb} kB"
    );
    assert!(
        log.contains("Exporting a snapshot with a temporary slot"),
        "a restart resumes in a new snapshot; log:\n{log}"
    );
    assert!(log.contains("resume=true"), "a restart resumes the copy where it stopped; log:\n{log}");
    assert!(log.contains("ranges=2"), "with two readers the table is copied in two key ranges; log:\n{log}");

    let source_rows = db.dir.join("source.csv");
    dump_source(&db.client, &source_rows).await;
    let topic_dir = lake_dir(&db).join(topic(&db, "public.big"));
    let check = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/snapshot_check.py"))
        .arg(&topic_dir)
        .arg(&writer_log)
        .arg(&source_rows)
        .output()
        .expect("snapshot_check.py");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "snapshot_check.py (seed {seed}):\n{report}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    println!("{changes} writer changes; check: {report}");
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_read_by_the_snapshot_equals_the_same_row_streamed_for_every_type() {
    for server in [Server::Pg15, Server::Pg18] {
        let db = TestDatabase::create(server, "snapvalues").await;
        let rows = rows::create(&db.client, &["matrix"]).await;
        for (index, row) in rows.iter().enumerate() {
            rows::insert(&db.client, "matrix", index + 1, row).await;
        }
        let config = db.write_config(&["public.matrix"], "");
        set_snapshot_mode(&config, "initial");
        let mut wellhead = Wellhead::start(&config);
        wellhead.wait_streaming().await;
        for (index, row) in rows.iter().enumerate() {
            rows::insert(&db.client, "matrix", rows.len() + index + 1, row).await;
        }
        wait_for(Duration::from_secs(60), "every row read and streamed", || db.read_output().len() >= 2 * rows.len())
            .await;
        wellhead.end(true, "values");
        let output = db.read_output();
        let without_id = |envelope: &serde_json::Value| {
            let mut after = envelope["after"].clone();
            after.as_object_mut().expect("after is a row").remove("id");
            after
        };
        let (read, streamed) = output.split_at(rows.len());
        for (index, (read, streamed)) in read.iter().zip(streamed).enumerate() {
            assert_eq!(read["op"], "r", "{server:?}: row {} first as read by the snapshot", index + 1);
            let mark = if index + 1 == rows.len() { "last" } else { "true" };
            assert_eq!(read["source"]["snapshot"], mark, "{server:?}: Debezium's snapshot mark of row {}", index + 1);
            assert_eq!(streamed["op"], "c");
            assert_eq!(without_id(read), without_id(streamed), "{server:?}: row {} read vs streamed", index + 1);
        }
        db.drop().await;
    }
}
