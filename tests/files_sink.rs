//! Exactly once across crashes for the Avro files sink, on PostgreSQL 15:
//! `wellhead run` is killed with SIGKILL at random moments while a writer keeps
//! committing and files roll every second (and every few kilobytes), then
//! restarted; after a last clean SIGINT stop the final `.avro` files, read with
//! fastavro, must hold every committed change once, in commit order.
//!
//! ```text
//!  writer ──commit──► PostgreSQL ──slot──► wellhead ─(kill -9 / restart) × ROUNDS─► <lake>/<topic>/<pos>.avro
//!     └── log of committed transactions (support::writer) ──── must equal ──── fastavro ┘
//! ```
//!
//! A kill lands anywhere in the roll: while a `.avro.tmp` is written (deleted
//! at start, its changes read again), after the checkpoint naming its pending
//! renames was saved but before the renames (completed at start), or after.
//! "No record in two files, none missing" is checked by source position and by
//! the writer's own identity of each change (table, op, id, seq).
//!
//! The kill delays and the writer's choices come from a seeded generator; the
//! seed is printed, and `WELLHEAD_TEST_SEED=<n>` replays the same choices.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::avro_files::{
    AvroRecord, FilesConfig, lake_dir, position_name, read_checkpoint, read_files, record_count, temporary_files,
    write_files_config,
};
use support::writer::{self, Change, Random, describe_difference, write_until_stopped};
use support::{Server, TestDatabase, Wellhead};

/// How many times wellhead is killed and restarted while the writer runs.
const ROUNDS: usize = 15;
/// Kill delay after streaming started, in milliseconds: past the 1 s roll age, so
/// kills land before, during and after rolls.
const KILL_DELAY_MIN: u64 = 50;
const KILL_DELAY_MAX: u64 = 2_500;
/// How long an odd round waits for an open `.avro.tmp` before killing anyway.
const OPEN_FILE_WAIT: Duration = Duration::from_secs(3);
/// Files roll every second, or at one of these sizes (picked per run): the
/// smallest rolls at nearly every batch, the larger keeps files open longer.
const ROLL_BYTES: [u64; 2] = [4096, 65_536];
/// `(max_batch_events, max_batch_millis)` of a run, picked per run.
const SMALL_BATCHES: (usize, u64) = (50, 100);
const SLOW_BATCHES: (usize, u64) = (4096, 1000);
/// How long the last run may take to write what the writer committed.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(90);
/// The files count as stalled when they have not grown for this long (rolls are every second).
const STALL: Duration = Duration::from_secs(10);

/// Writes the config of one run: same pipeline, slot, files and checkpoint; batch
/// and roll settings picked by `random`.
fn write_config(db: &TestDatabase, random: &mut Random) -> std::path::PathBuf {
    let (max_batch_events, max_batch_millis) =
        if random.next().is_multiple_of(2) { SMALL_BATCHES } else { SLOW_BATCHES };
    let sink = format!("roll_seconds = 1\nroll_bytes = {}", ROLL_BYTES[random.index(ROLL_BYTES.len())]);
    let buffer =
        format!("[pipelines.buffer]\nmax_batch_events = {max_batch_events}\nmax_batch_millis = {max_batch_millis}\n");
    write_files_config(db, &writer::QUALIFIED_TABLES, &FilesConfig { sink: &sink, pipeline: &buffer, http: None })
}

fn change_of(record: &AvroRecord) -> Change {
    let table = writer::table_named(record.table.strip_prefix("public.").unwrap_or(&record.table));
    let op = record.op.chars().next().expect("op");
    let row = record.row();
    Change { table, op, id: row["id"].as_i64().expect("id"), seq: row["seq"].as_i64() }
}

/// Per topic, in file-name order: positions increase across files, each file is
/// named after its first record and holds only its topic's table.
fn check_files_per_topic(seed: u64, records: &[AvroRecord]) -> usize {
    let mut topics: BTreeMap<&str, Vec<&AvroRecord>> = BTreeMap::new();
    for record in records {
        topics.entry(&record.topic).or_default().push(record);
    }
    let mut files = 0;
    for (topic, records) in topics {
        for pair in records.windows(2) {
            assert!(
                pair[0].position() < pair[1].position(),
                "seed {seed}: topic {topic}: positions increase across its files sorted by name: \
                 {} {:?} then {} {:?}",
                pair[0].file,
                pair[0].position(),
                pair[1].file,
                pair[1].position()
            );
        }
        let mut previous_file = "";
        for record in &records {
            assert!(topic.ends_with(&record.table), "seed {seed}: {} holds {}", record.file, record.table);
            if record.file != previous_file {
                assert_eq!(record.file_stem(), position_name(record.position()), "seed {seed}: file name");
                previous_file = &record.file;
                files += 1;
            }
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_15_kill_files_sink_mid_roll_loses_and_repeats_nothing() {
    let seed = writer::seed();
    println!("files sink crash test seed {seed}; replay with WELLHEAD_TEST_SEED={seed}");
    let started = Instant::now();
    let mut random = Random(seed);
    let db = TestDatabase::create(Server::Pg15, "files_kill").await;
    db.client.batch_execute(writer::SCHEMA).await.expect("schema");
    let lake = lake_dir(&db);
    let mut wellhead = Wellhead::start(&write_config(&db, &mut random));
    wellhead.wait_streaming().await;

    // The slot exists now: everything the writer commits from here on is in the stream.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_until_stopped(db.url(), random.next(), stop.clone()));
    let (mut kills_with_open_files, mut pending_rename_crashes, mut unfinished_deleted) = (0, 0, 0);
    for round in 0..ROUNDS {
        tokio::time::sleep(Duration::from_millis(random.between(KILL_DELAY_MIN, KILL_DELAY_MAX))).await;
        if round % 2 == 1 {
            // Every other kill waits for a file being written, so that kills mid-file are many.
            let waiting = Instant::now();
            while temporary_files(&lake).is_empty() && waiting.elapsed() < OPEN_FILE_WAIT {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        if let Some(status) = wellhead.child.try_wait().expect("try_wait") {
            panic!("seed {seed}, round {round}: wellhead exited by itself ({status}); log:\n{}", wellhead.log_text());
        }
        wellhead.signal("KILL");
        assert_eq!(wellhead.wait(Duration::from_secs(10)), None, "seed {seed}, round {round}: killed");
        if read_checkpoint(&db)["pending_renames"].as_array().is_some_and(|renames| {
            renames.iter().any(|rename| std::path::Path::new(rename["from"].as_str().unwrap_or("")).exists())
        }) {
            pending_rename_crashes += 1;
        }
        if !temporary_files(&lake).is_empty() {
            kills_with_open_files += 1;
        }
        wellhead = Wellhead::start(&write_config(&db, &mut random));
        wellhead.wait_streaming().await;
        unfinished_deleted += wellhead.log_text().matches("Deleting an unfinished file").count();
    }
    stop.store(true, Ordering::SeqCst);
    let committed = writer.await.expect("writer");
    let expected: Vec<Change> = committed.iter().flatten().cloned().collect();

    // Let the last run catch up (files become final at each roll), then stop it cleanly.
    let catch_up_started = Instant::now();
    let (mut count, mut last_growth) = (record_count(&lake), Instant::now());
    while count < expected.len() as u64
        && catch_up_started.elapsed() < CATCH_UP_TIMEOUT
        && last_growth.elapsed() < STALL
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = record_count(&lake);
        if now != count {
            (count, last_growth) = (now, Instant::now());
        }
    }
    // A shortfall is reported by the comparison below, which says what is missing.
    let caught_up = record_count(&lake) >= expected.len() as u64;
    wellhead.signal("INT");
    let log = wellhead.log.clone();
    let code = wellhead.wait(Duration::from_secs(30));
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(code, Some(0), "seed {seed}: SIGINT exits cleanly; log:\n{log}");
    assert_eq!(
        temporary_files(&lake),
        Vec::<std::path::PathBuf>::new(),
        "seed {seed}: a clean stop leaves no .avro.tmp"
    );

    let records = read_files(&lake);
    let files = check_files_per_topic(seed, &records);
    let positions: HashSet<(u64, u64)> = records.iter().map(AvroRecord::position).collect();
    assert_eq!(positions.len(), records.len(), "seed {seed}: no source position is in the files twice");
    let mut in_order: Vec<&AvroRecord> = records.iter().collect();
    in_order.sort_by_key(|record| record.position());
    let actual: Vec<Change> = in_order.iter().map(|record| change_of(record)).collect();
    let identities: HashSet<&Change> = actual.iter().collect();
    assert_eq!(identities.len(), actual.len(), "seed {seed}: no change (table, op, id, seq) is in the files twice");
    assert!(
        caught_up && actual == expected,
        "seed {seed}: files differ from the committed changes (caught up: {caught_up}): {}",
        describe_difference(&expected, &actual)
    );

    // Transactions: one commit LSN each, whole, in commit order, total_order 1..n.
    let mut transactions: Vec<Vec<&AvroRecord>> = Vec::new();
    for record in in_order {
        match transactions.last_mut() {
            Some(open) if open[0].commit_lsn == record.commit_lsn => open.push(record),
            _ => transactions.push(vec![record]),
        }
    }
    let actual_sizes: Vec<usize> = transactions.iter().map(Vec::len).collect();
    let committed_sizes: Vec<usize> = committed.iter().map(Vec::len).collect();
    assert_eq!(actual_sizes, committed_sizes, "seed {seed}: transactions arrive whole, in commit order");
    for transaction in &transactions {
        let orders: Vec<u64> = transaction
            .iter()
            .map(|r| r.transaction["total_order"].as_u64().expect("transaction.total_order"))
            .collect();
        let whole: Vec<u64> = (1..=transaction.len() as u64).collect();
        assert_eq!(orders, whole, "seed {seed}: total_order of the transaction at {:?}", transaction[0].position());
    }
    println!(
        "{ROUNDS} kills ({kills_with_open_files} with files open, {pending_rename_crashes} between checkpoint and \
         rename, {unfinished_deleted} unfinished files deleted at restart), {files} files, {} transactions, \
         {} changes, {:.1} s",
        committed.len(),
        expected.len(),
        started.elapsed().as_secs_f64()
    );
    db.drop().await;
}

/// A clean stop with files still open (default roll settings: nothing would roll for a
/// minute) finalises them, checkpoints, confirms the slot to that checkpoint and exits 0
/// at once, instead of waiting for an acknowledgement that only a roll could give.
#[tokio::test]
async fn sigterm_with_open_files_finalises_them_and_confirms_the_slot() {
    let db = TestDatabase::create(Server::Pg15, "files_stop").await;
    db.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY, note text)").await.expect("schema");
    let config = write_files_config(&db, &["public.items"], &FilesConfig::default());
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    let wal_lsn = || async {
        let text: String = db.client.query_one("SELECT pg_current_wal_lsn()::text", &[]).await.expect("wal lsn").get(0);
        support::avro_files::parse_lsn(&text)
    };
    let before_insert = wal_lsn().await;
    db.client
        .batch_execute("INSERT INTO items SELECT i, 'row ' || i FROM generate_series(1, 500) AS i")
        .await
        .expect("insert");
    let written = wal_lsn().await;
    // The walsender has sent everything, and the rows sit in an open .avro.tmp.
    let lake = lake_dir(&db);
    let sent_all = || async {
        let row = db
            .client
            .query_opt(
                "SELECT r.sent_lsn::text FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid
                  WHERE s.slot_name = $1",
                &[&db.name],
            )
            .await
            .expect("pg_stat_replication");
        row.and_then(|row| row.get::<_, Option<String>>(0))
            .is_some_and(|sent| support::avro_files::parse_lsn(&sent) >= written)
    };
    let started = Instant::now();
    while !sent_all().await || temporary_files(&lake).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(30), "the rows were not sent and written within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(record_count(&lake), 0, "nothing is final before the stop (roll_seconds is 60)");

    wellhead.signal("TERM");
    let log = wellhead.log.clone();
    let stopping = Instant::now();
    let code = wellhead.wait(Duration::from_secs(10));
    let stopped_in = stopping.elapsed();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(code, Some(0), "SIGTERM exits 0 within 10 s (took {stopped_in:?}); log:\n{log}");
    assert!(!log.contains("did not acknowledge"), "the final batch was acknowledged; log:\n{log}");
    assert_eq!(temporary_files(&lake), Vec::<std::path::PathBuf>::new(), "no .avro.tmp left");
    let ids: Vec<i64> = read_files(&lake).iter().map(|record| record.after["id"].as_i64().expect("id")).collect();
    assert_eq!(ids, (1..=500).collect::<Vec<i64>>(), "every row once, in order, in final files");

    let checkpoint = read_checkpoint(&db);
    let flush_lsn = checkpoint["restart_point"]["flush_lsn"].as_str().expect("restart_point.flush_lsn");
    let flush_lsn = support::avro_files::parse_lsn(flush_lsn);
    let confirmed: String = db
        .client
        .query_one("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", &[&db.name])
        .await
        .expect("slot")
        .get(0);
    let confirmed = support::avro_files::parse_lsn(&confirmed);
    assert!(flush_lsn > before_insert, "the checkpoint covers the insert: {flush_lsn:X} <= {before_insert:X}");
    assert!(confirmed >= flush_lsn, "the slot is confirmed to the final checkpoint: {confirmed:X} < {flush_lsn:X}");
    println!("SIGTERM to exit with open files: {stopped_in:?}");
    db.drop().await;
}

/// Two pipelines writing into one `dir` keep to their own topics: the second's start leaves
/// the first's open files alone, and a third that would write the first's topics there is
/// refused at start, naming the directory and the prefix.
#[tokio::test]
async fn pipelines_sharing_a_directory_keep_their_own_files() {
    let db = TestDatabase::create(Server::Pg15, "files_shared").await;
    db.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY)").await.expect("schema");
    let first_config = write_files_config(&db, &["public.items"], &FilesConfig::default());
    let text = std::fs::read_to_string(&first_config).expect("config");
    let other = |suffix: &str, sink_line: &str| {
        let name = format!("{}_{suffix}", db.name);
        let text = text
            .replace(&format!("\"{}\"", db.name), &format!("\"{name}\""))
            .replace(
                &db.dir.join("registry").display().to_string(),
                &db.dir.join(format!("registry_{suffix}")).display().to_string(),
            )
            .replace("[pipelines.sink]\n", &format!("[pipelines.sink]\n{sink_line}"));
        let path = db.dir.join(format!("{suffix}.toml"));
        std::fs::write(&path, text).expect("config");
        path
    };
    let mut first = Wellhead::start(&first_config);
    first.wait_streaming().await;
    db.client.batch_execute("INSERT INTO items SELECT generate_series(1, 100)").await.expect("insert");
    let lake = lake_dir(&db);
    let started = Instant::now();
    while temporary_files(&lake).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(30), "the first pipeline opened no file");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open_files = temporary_files(&lake);

    let mut second = Wellhead::start(&other("second", ""));
    second.wait_streaming().await;
    assert_eq!(temporary_files(&lake), open_files, "the second pipeline's start left the first's open files alone");

    let same_prefix = other("third", &format!("topic_prefix = \"{}\"\n", db.name));
    let third =
        support::run_wellhead(&["run", "--config", same_prefix.to_str().expect("path")], &[], Duration::from_secs(60));
    assert_eq!(third.code, Some(1), "{third:#?}");
    assert!(third.stderr.contains(&format!("writes the topics of prefix {}", db.name)), "{third:#?}");
    assert_eq!(temporary_files(&lake), open_files, "the refused pipeline deleted nothing");

    first.end(true, "first pipeline");
    second.end(true, "second pipeline");
    let ids: Vec<i64> = read_files(&lake).iter().map(|record| record.after["id"].as_i64().expect("id")).collect();
    assert_eq!(ids, (1..=100).collect::<Vec<i64>>(), "the first pipeline's rows, each once, in its own topic");
    db.drop().await;
}
