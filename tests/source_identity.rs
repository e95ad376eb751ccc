//! A start that cannot continue the checkpoint's history refuses, on PostgreSQL 15
//! with the JSON-lines sink: before streaming or acknowledging anything, the
//! source compares the checkpoint with the server and the slot, and exits
//! non-zero with what happened, the changes that cannot be recovered and the
//! fix, leaving the slot as it is.
//!
//! ```text
//!  run ─► stop ─► tamper ──────────────────────────────► start ─► refused, slot untouched
//!                  slot dropped                  "is gone … was not recreated … --accept-gap"
//!                  pg_replication_slot_advance   "is confirmed up to … only up to …"
//!                  checkpoint edited to FF…/FF…  "… beyond the server's WAL end …"
//!                  older checkpoint restored     "is confirmed up to … only up to …"
//! ```
//!
//! The dropped-slot case then runs once with `--accept-gap`: it warns, recreates
//! the slot and streams what comes after, with the gap's changes missing.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Server, TestDatabase, Wellhead, wait_for};

/// How long a refusing start may take to exit by itself.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long rows may take to reach the output.
const OUTPUT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a clean stop may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

const SCHEMA: &str = "CREATE TABLE t (id bigint PRIMARY KEY, v text)";

/// `wellhead run --config <config> <extra args>`, logging to a file of its own.
fn start_with(config: &Path, extra: &[&str]) -> Wellhead {
    let log = config.with_extension(format!("{}.identity.log", unique()));
    let log_file = std::fs::File::create(&log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_wellhead"))
        .args(["run", "--config"])
        .arg(config)
        .args(extra)
        .env("WELLHEAD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("spawn wellhead");
    Wellhead { child, log }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// SIGINT, then asserts a clean exit.
fn stop(wellhead: Wellhead) {
    wellhead.signal("INT");
    let log = wellhead.log.clone();
    let code = wellhead.wait(STOP_TIMEOUT);
    assert_eq!(code, Some(0), "SIGINT exits cleanly; log:\n{}", std::fs::read_to_string(log).unwrap_or_default());
}

/// Waits for a start that must refuse; asserts it exits non-zero by itself and returns its log.
fn refused(wellhead: Wellhead) -> String {
    let log = wellhead.log.clone();
    let code = wellhead.wait(REFUSAL_TIMEOUT);
    let text = std::fs::read_to_string(log).unwrap_or_default();
    assert!(matches!(code, Some(code) if code != 0), "the start must exit non-zero, got {code:?}; log:\n{text}");
    assert!(!text.contains("Streaming changes."), "refused before streaming; log:\n{text}");
    text
}

fn assert_log_contains(log: &str, parts: &[&str]) {
    for part in parts {
        assert!(log.contains(part), "log lacks {part:?}; log:\n{log}");
    }
}

/// An LSN as a number, from PostgreSQL's `X/Y` text.
fn lsn(text: &str) -> u64 {
    let (high, low) = text.split_once('/').unwrap_or_else(|| panic!("LSN text {text:?}"));
    (u64::from_str_radix(high, 16).expect("LSN high") << 32) | u64::from_str_radix(low, 16).expect("LSN low")
}

/// The slot's `(confirmed_flush_lsn, active)`, or `None` when it does not exist.
async fn slot(db: &TestDatabase) -> Option<(String, bool)> {
    db.client
        .query_opt(
            "SELECT confirmed_flush_lsn::text, active FROM pg_replication_slots WHERE slot_name = $1",
            &[&db.name],
        )
        .await
        .expect("query pg_replication_slots")
        .map(|row| (row.get(0), row.get(1)))
}

/// Waits until the slot exists and no walsender holds it (a stopped Wellhead's
/// connection ends asynchronously on the server); returns its confirmed_flush_lsn.
async fn inactive_slot(db: &TestDatabase) -> String {
    let start = Instant::now();
    loop {
        match slot(db).await {
            Some((confirmed, false)) => return confirmed,
            state => assert!(start.elapsed() < Duration::from_secs(10), "slot not released after 10 s: {state:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The server's WAL flush position: what IDENTIFY_SYSTEM reports as the WAL end.
async fn wal_flush_lsn(db: &TestDatabase) -> String {
    db.client.query_one("SELECT pg_current_wal_flush_lsn()::text", &[]).await.expect("pg_current_wal_flush_lsn").get(0)
}

async fn insert(db: &TestDatabase, ids: impl IntoIterator<Item = i64>) {
    for id in ids {
        db.client.execute("INSERT INTO t VALUES ($1, 'row')", &[&id]).await.expect("insert");
    }
}

fn output_ids(db: &TestDatabase) -> Vec<i64> {
    db.read_output().iter().map(|event| event["after"]["id"].as_i64().expect("after.id")).collect()
}

/// Waits until the output holds as many rows as `expected`, then asserts they are `expected`.
async fn wait_for_ids(db: &TestDatabase, expected: &[i64]) {
    wait_for(OUTPUT_TIMEOUT, &format!("{} rows in the output", expected.len()), || {
        output_ids(db).len() >= expected.len()
    })
    .await;
    assert_eq!(output_ids(db), expected, "the output's ids");
}

fn checkpoint_path(db: &TestDatabase) -> PathBuf {
    db.dir.join("state").join(format!("{}.checkpoint.json", db.name))
}

fn read_checkpoint(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("checkpoint JSON")
}

/// The checkpoint's `restart_point.flush_lsn`, which must be set.
fn restart_lsn(checkpoint: &serde_json::Value) -> String {
    assert_eq!(checkpoint["format"], 2, "{checkpoint:#}");
    assert_eq!(checkpoint["restart_point"]["source"], "postgres", "{checkpoint:#}");
    checkpoint["restart_point"]["flush_lsn"].as_str().expect("restart_point.flush_lsn").to_owned()
}

/// Creates the table, starts Wellhead, streams `ids` and stops it cleanly; returns the config.
async fn run_once(db: &TestDatabase, ids: &[i64]) -> PathBuf {
    db.client.batch_execute(SCHEMA).await.expect("schema");
    let config = db.write_config(&["public.t"], "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    insert(db, ids.iter().copied()).await;
    wait_for_ids(db, ids).await;
    stop(wellhead);
    config
}

#[tokio::test]
async fn a_slot_dropped_while_stopped_is_refused_until_the_gap_is_accepted() {
    let db = TestDatabase::create(Server::Pg15, "ident_dropped").await;
    let config = run_once(&db, &[1, 2, 3]).await;
    let restart = restart_lsn(&read_checkpoint(&checkpoint_path(&db)));
    inactive_slot(&db).await;
    db.client.execute("SELECT pg_drop_replication_slot($1)", &[&db.name]).await.expect("drop slot");
    insert(&db, [4, 5]).await;
    let wal_before_start = lsn(&wal_flush_lsn(&db).await);

    let log = refused(Wellhead::start(&config));

    let name = &db.name;
    assert_log_contains(
        &log,
        &[
            &format!("replication slot {name} of pipeline {name} is gone"),
            &format!("the changes after {restart} up to the server's WAL end "),
            "can no longer be sent",
            "The slot was not recreated.",
            &format!("--accept-gap {name}"),
        ],
    );
    let wal_end = log
        .split("up to the server's WAL end ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("WAL end in the message");
    assert!(lsn(wal_end) >= wal_before_start, "the WAL end {wal_end} covers the gap's inserts; log:\n{log}");
    assert_eq!(slot(&db).await, None, "the refusing start must not recreate the slot");
    assert_eq!(output_ids(&db), [1, 2, 3], "the output is as the first run left it");

    let mut wellhead = start_with(&config, &["--accept-gap", name]);
    wellhead.wait_streaming().await;
    assert_log_contains(&wellhead.log_text(), &["Continuing over a gap accepted with --accept-gap"]);
    assert!(slot(&db).await.is_some(), "--accept-gap recreates the slot");
    insert(&db, [6]).await;
    // Rows 4 and 5 were committed while no slot existed: they are the accepted gap.
    wait_for_ids(&db, &[1, 2, 3, 6]).await;
    stop(wellhead);

    // The gap was accepted once: the next plain start streams normally.
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    insert(&db, [7]).await;
    wait_for_ids(&db, &[1, 2, 3, 6, 7]).await;
    stop(wellhead);
    db.drop().await;
}

#[tokio::test]
async fn a_slot_advanced_past_the_checkpoint_is_refused_and_left_as_it_is() {
    let db = TestDatabase::create(Server::Pg15, "ident_advanced").await;
    let config = run_once(&db, &[1, 2]).await;
    let restart = restart_lsn(&read_checkpoint(&checkpoint_path(&db)));
    let confirmed_at_stop = inactive_slot(&db).await;
    assert!(lsn(&confirmed_at_stop) <= lsn(&restart), "a clean stop confirms no more than the checkpoint holds");
    insert(&db, [3, 4]).await;
    db.client
        .execute("SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())", &[&db.name])
        .await
        .expect("advance slot");
    let advanced = inactive_slot(&db).await;
    assert!(lsn(&advanced) > lsn(&restart), "the slot moved past the checkpoint: {advanced} vs {restart}");

    let log = refused(Wellhead::start(&config));

    let name = &db.name;
    assert_log_contains(
        &log,
        &[
            &format!("replication slot {name} of pipeline {name} is confirmed up to {advanced}"),
            &format!("but the checkpoint holds changes only up to {restart}"),
            "the server can no longer send them",
            "The slot was left as it is.",
            &format!("--accept-gap {name}"),
        ],
    );
    assert_eq!(inactive_slot(&db).await, advanced, "the refusal leaves confirmed_flush_lsn unchanged");
    assert_eq!(output_ids(&db), [1, 2], "nothing streamed");

    // Accepting the gap continues from where the slot was advanced to: rows 3 and 4 stay missing.
    let mut wellhead = start_with(&config, &["--accept-gap", name]);
    wellhead.wait_streaming().await;
    assert_log_contains(&wellhead.log_text(), &["Continuing over a gap accepted with --accept-gap"]);
    insert(&db, [5]).await;
    wait_for_ids(&db, &[1, 2, 5]).await;
    stop(wellhead);
    db.drop().await;
}

#[tokio::test]
async fn a_checkpoint_beyond_the_servers_wal_is_refused_without_touching_the_slot() {
    let db = TestDatabase::create(Server::Pg15, "ident_future").await;
    let config = run_once(&db, &[1, 2]).await;
    let path = checkpoint_path(&db);
    let mut checkpoint = read_checkpoint(&path);
    restart_lsn(&checkpoint);
    checkpoint["restart_point"]["flush_lsn"] = "FFFFFFFF/FFFFFFFF".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&checkpoint).expect("encode")).expect("edit checkpoint");
    let confirmed = inactive_slot(&db).await;
    let wal_before_start = lsn(&wal_flush_lsn(&db).await);

    let log = refused(Wellhead::start(&config));
    let wal_after_refusal = lsn(&wal_flush_lsn(&db).await);

    assert_log_contains(
        &log,
        &[
            &format!("the checkpoint of pipeline {} holds changes up to FFFFFFFF/FFFFFFFF", db.name),
            "beyond the server's WAL end ",
            "Nothing was sent to the server.",
        ],
    );
    let wal_end = log
        .split("beyond the server's WAL end ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .expect("WAL end in the message");
    assert!(
        (wal_before_start..=wal_after_refusal).contains(&lsn(wal_end)),
        "the message names the server's WAL end at the start, got {wal_end}; log:\n{log}"
    );
    assert_eq!(inactive_slot(&db).await, confirmed, "nothing was confirmed to the server");
    assert_eq!(read_checkpoint(&path)["restart_point"]["flush_lsn"], "FFFFFFFF/FFFFFFFF", "checkpoint left as edited");
    db.drop().await;
}

/// An older checkpoint put back over a newer one: what the tests of this case set up.
struct RestoredBackup {
    config: PathBuf,
    /// The backup's restart point (where the restored checkpoint says the source resumes).
    backup_restart: String,
    /// The slot's confirmed_flush_lsn after the second run (past `backup_restart`).
    confirmed: String,
    /// A copy of the newest checkpoint, which the backup replaced.
    newest: PathBuf,
}

/// Runs with rows 1 and 2, backs the checkpoint up, runs with rows 3 and 4 until the slot
/// is confirmed past the backup, stops, and restores the backup over the checkpoint.
async fn restore_an_older_checkpoint(db: &TestDatabase) -> RestoredBackup {
    let config = run_once(db, &[1, 2]).await;
    let path = checkpoint_path(db);
    let backup = db.dir.join("checkpoint.backup.json");
    std::fs::copy(&path, &backup).expect("back up the checkpoint");
    let backup_restart = restart_lsn(&read_checkpoint(&backup));

    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    insert(db, [3, 4]).await;
    wait_for_ids(db, &[1, 2, 3, 4]).await;
    // Wellhead confirms what its checkpoint holds at its next status update (about 1 s).
    let start = Instant::now();
    loop {
        let confirmed = slot(db).await.expect("slot exists").0;
        if lsn(&confirmed) > lsn(&backup_restart) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "slot still confirmed at {confirmed}, not past the backup's {backup_restart}; log:\n{}",
            wellhead.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(wellhead);
    let confirmed = inactive_slot(db).await;
    assert!(lsn(&confirmed) > lsn(&backup_restart), "confirmed {confirmed}, backup {backup_restart}");
    let newest = db.dir.join("checkpoint.newest.json");
    std::fs::copy(&path, &newest).expect("keep the newest checkpoint");
    std::fs::copy(&backup, &path).expect("restore the backup");
    RestoredBackup { config, backup_restart, confirmed, newest }
}

#[tokio::test]
async fn an_older_checkpoint_restored_from_a_backup_is_refused() {
    let db = TestDatabase::create(Server::Pg15, "ident_backup").await;
    let RestoredBackup { config, backup_restart, confirmed, .. } = restore_an_older_checkpoint(&db).await;

    let log = refused(Wellhead::start(&config));

    let name = &db.name;
    assert_log_contains(
        &log,
        &[
            &format!("replication slot {name} of pipeline {name} is confirmed up to {confirmed}"),
            &format!("but the checkpoint holds changes only up to {backup_restart}"),
            "a checkpoint restored from an older backup",
            "The slot was left as it is.",
            "Restore the newest checkpoint",
            &format!("--accept-gap {name}"),
        ],
    );
    assert_eq!(inactive_slot(&db).await, confirmed, "the refusal leaves confirmed_flush_lsn unchanged");
    db.drop().await;
}

/// The fix the refusal names, "Restore the newest checkpoint", must work: the refused
/// start may not have changed the output, so the newest checkpoint still matches it and
/// the pipeline resumes with nothing lost.
#[tokio::test]
async fn after_the_refusal_restoring_the_newest_checkpoint_resumes_with_nothing_lost() {
    let db = TestDatabase::create(Server::Pg15, "ident_newest").await;
    let RestoredBackup { config, newest, .. } = restore_an_older_checkpoint(&db).await;
    let output_before = std::fs::read(db.output_path()).expect("output");

    let log = refused(Wellhead::start(&config));

    assert!(
        std::fs::read(db.output_path()).expect("output") == output_before,
        "a refused start leaves the output as it is (ids now {:?}); log:\n{log}",
        output_ids(&db)
    );
    std::fs::copy(&newest, checkpoint_path(&db)).expect("restore the newest checkpoint");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    insert(&db, [5]).await;
    wait_for_ids(&db, &[1, 2, 3, 4, 5]).await;
    stop(wellhead);
    db.drop().await;
}
