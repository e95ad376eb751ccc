//! Snapshot modes and the tables they copy, through the `jsonl` sink:
//! `initial_only` copies and stops (dropping its slot); `when_needed` copies
//! every table again when the slot is gone; a table added to the config of a
//! pipeline that has streamed is copied while the changes of the others made
//! meanwhile arrive; a row with a 100 MB value is copied whole.
//!
//! ```text
//!  rows before start ─► wellhead (mode) ─► out.jsonl: r rows, then c/u/d ─► fold per key = SELECT * (the oracle)
//! ```

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::{TestDatabase, Wellhead, run_wellhead, set_snapshot_mode, wait_for};

/// Rows of the table copied again on request: enough for a kill to land inside its copy.
const ROWS_COPIED_AGAIN: i64 = 300_000;

/// Lines in the output so far (counted, not parsed).
fn output_lines(db: &TestDatabase) -> usize {
    std::fs::read(db.output_path()).map(|bytes| bytes.iter().filter(|&&byte| byte == b'\n').count()).unwrap_or(0)
}

/// `(table, id)` → `v`, as the output's changes leave it.
fn fold(output: &[serde_json::Value]) -> BTreeMap<(String, i64), String> {
    let mut state = BTreeMap::new();
    for envelope in output {
        let table = envelope["source"]["table"].as_str().expect("table").to_owned();
        match envelope["op"].as_str().expect("op") {
            "d" => {
                state.remove(&(table, envelope["before"]["id"].as_i64().expect("id")));
            }
            "t" => state.retain(|(name, _), _| *name != table),
            _ => {
                let after = &envelope["after"];
                state.insert((table, after["id"].as_i64().expect("id")), after["v"].as_str().expect("v").to_owned());
            }
        }
    }
    state
}

/// The source's rows of `tables`, in the shape of [`fold`].
async fn source_rows(db: &TestDatabase, tables: &[&str]) -> BTreeMap<(String, i64), String> {
    let mut state = BTreeMap::new();
    for table in tables {
        for row in db.client.query(&format!("SELECT id::int8, v FROM {table}"), &[]).await.expect("rows") {
            state.insert(((*table).to_owned(), row.get(0)), row.get(1));
        }
    }
    state
}

async fn slot_exists(db: &TestDatabase) -> bool {
    db.client
        .query_opt("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", &[&db.name])
        .await
        .expect("slots")
        .is_some()
}

async fn create_table(db: &TestDatabase, table: &str, rows: i64) {
    db.client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id int PRIMARY KEY, v text NOT NULL);
             INSERT INTO {table} SELECT g, 'before ' || g FROM generate_series(1, {rows}) g;"
        ))
        .await
        .expect("table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_only_copies_every_row_then_stops_and_drops_its_slot() {
    let db = TestDatabase::create(support::Server::Pg15, "initialonly").await;
    create_table(&db, "a", 3_000).await;
    create_table(&db, "b", 10).await;
    let config = db.write_config(&["public.a", "public.b"], "");
    set_snapshot_mode(&config, "initial_only");
    let config_arg = config.to_str().expect("utf-8 path");
    let first = run_wellhead(&["run", "--config", config_arg], &[], Duration::from_secs(60));
    assert_eq!(first.code, Some(0), "initial_only ends by itself, cleanly:\n{}", first.stderr);
    assert!(first.stderr.contains("dropped the slot"), "{}", first.stderr);
    let output = db.read_output();
    assert_eq!(output.len(), 3_010);
    let (last, rows) = output.split_last().expect("rows");
    assert!(rows.iter().all(|envelope| envelope["op"] == "r" && envelope["source"]["snapshot"] == "true"));
    assert_eq!((&last["op"], &last["source"]["snapshot"]), (&"r".into(), &"last".into()), "Debezium's mark");
    assert_eq!(fold(&output), source_rows(&db, &["a", "b"]).await);
    assert!(!slot_exists(&db).await, "no slot is left to pin WAL");

    // Run again: nothing left to copy, nothing written, no slot created.
    db.client.batch_execute("INSERT INTO a VALUES (9001, 'after')").await.expect("insert");
    let second = run_wellhead(&["run", "--config", config_arg], &[], Duration::from_secs(60));
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert_eq!(db.read_output().len(), 3_010, "a finished initial_only pipeline copies nothing again");
    assert!(!slot_exists(&db).await);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_needed_copies_every_table_again_when_the_slot_is_gone() {
    let db = TestDatabase::create(support::Server::Pg15, "whenneeded").await;
    create_table(&db, "t", 100).await;
    let config = db.write_config(&["public.t"], "");
    set_snapshot_mode(&config, "when_needed");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client
        .batch_execute("INSERT INTO t SELECT g, 'streamed ' || g FROM generate_series(101, 110) g")
        .await
        .expect("insert");
    wait_for(Duration::from_secs(30), "the copy and the inserts", || db.read_output().len() >= 110).await;
    wellhead.end(true, "first run");

    // The slot is lost while Wellhead is stopped, and changes are made meanwhile: a gap.
    db.client.query("SELECT pg_drop_replication_slot($1)", &[&db.name]).await.expect("drop slot");
    db.client
        .batch_execute("UPDATE t SET v = 'in the gap' WHERE id <= 5; DELETE FROM t WHERE id = 6; INSERT INTO t VALUES (111, 'in the gap')")
        .await
        .expect("gap changes");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client.batch_execute("UPDATE t SET v = 'after' WHERE id = 7").await.expect("update");
    let expected = 110 + 1 + 110 + 1;
    wait_for(Duration::from_secs(30), "the new copy and the update", || db.read_output().len() >= expected).await;
    let log = wellhead.log_text();
    wellhead.end(true, "second run");
    assert!(log.contains("when_needed"), "the new copy is announced with its reason; log:\n{log}");
    let output = db.read_output();
    assert_eq!(output.len(), expected, "the first run's 110, a truncate, a new copy of 110 rows, one update");
    assert_eq!(output[110]["op"], "t", "the new copy supersedes the earlier rows (id 6 was deleted in the gap)");
    assert_eq!(output[110]["source"]["snapshot"], "true");
    assert!(output[111..221].iter().all(|envelope| envelope["op"] == "r"), "the new copy follows");
    assert_eq!(output[220]["source"]["snapshot"], "last", "the new copy's last row is marked as Debezium marks it");
    assert_eq!(output[221]["op"], "u");
    assert_eq!(fold(&output), source_rows(&db, &["t"]).await, "the new copy fills the gap");
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_added_to_the_config_is_copied_and_the_changes_made_meanwhile_arrive() {
    let db = TestDatabase::create(support::Server::Pg15, "addtable").await;
    create_table(&db, "a", 50).await;
    create_table(&db, "b", 70).await;
    let config = db.write_config(&["public.a"], "");
    set_snapshot_mode(&config, "initial");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client.batch_execute("INSERT INTO a VALUES (51, 'streamed')").await.expect("insert");
    wait_for(Duration::from_secs(30), "a's copy and insert", || db.read_output().len() >= 51).await;
    wellhead.end(true, "first run");

    // While stopped: changes to a (streamed next time) and to b (not captured yet).
    db.client
        .batch_execute("UPDATE a SET v = 'while stopped' WHERE id = 1; INSERT INTO b VALUES (71, 'before capture')")
        .await
        .expect("changes while stopped");
    let config = db.write_config(&["public.a", "public.b"], "");
    set_snapshot_mode(&config, "initial");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client
        .batch_execute("INSERT INTO b VALUES (72, 'streamed'); DELETE FROM a WHERE id = 2")
        .await
        .expect("changes");
    let expected = 51 + 1 + 71 + 2;
    wait_for(Duration::from_secs(30), "b's copy and the changes", || db.read_output().len() >= expected).await;
    let log = wellhead.log_text();
    wellhead.end(true, "second run");
    assert!(log.contains("temporary slot"), "the new table is copied in a snapshot of its own; log:\n{log}");
    let output = db.read_output();
    assert_eq!(output.len(), expected);
    assert_eq!(output[51]["op"], "u", "a's change made while stopped comes first (caught up)");
    let copied: Vec<&serde_json::Value> = output.iter().filter(|envelope| envelope["op"] == "r").collect();
    assert_eq!(copied.len(), 50 + 71, "a's first copy and b's copy");
    assert_eq!(fold(&output), source_rows(&db, &["a", "b"]).await);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_with_a_100_mb_value_is_copied_whole() {
    let db = TestDatabase::create(support::Server::Pg15, "widerow").await;
    db.client
        .batch_execute(
            "CREATE TABLE w (id int PRIMARY KEY, v text NOT NULL);
             ALTER TABLE w ALTER COLUMN v SET STORAGE EXTERNAL;
             INSERT INTO w VALUES (1, 'small'), (2, repeat('0123456789', 10 * 1024 * 1024)), (3, 'small too');",
        )
        .await
        .expect("wide row");
    let config = db.write_config(&["public.w"], "");
    set_snapshot_mode(&config, "initial");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    // Lines are counted, not parsed, while waiting: the file holds 100 MB.
    wait_for(Duration::from_secs(60), "the three rows", || output_lines(&db) >= 3).await;
    wellhead.end(true, "wide row");
    let output = db.read_output();
    assert_eq!(output.len(), 3);
    let wide = output[1]["after"]["v"].as_str().expect("v");
    assert_eq!(wide.len(), 100 * 1024 * 1024);
    assert!(wide.as_bytes().chunks(10).all(|chunk| chunk == b"0123456789"), "the value is exact");
    assert_eq!(output[2]["after"]["v"], "small too");
    db.drop().await;
}

/// Tables a (10 rows) and b ([`ROWS_COPIED_AGAIN`] rows) streamed with `mode = "initial"`, an
/// HTTP control address with operator credentials; returns once both are copied.
async fn start_copied_pipeline(db: &TestDatabase) -> (std::path::PathBuf, String, Wellhead) {
    create_table(db, "a", 10).await;
    create_table(db, "b", ROWS_COPIED_AGAIN).await;
    let http = format!("127.0.0.1:{}", support::free_port());
    let control =
        format!("[control]\nhttp = \"{http}\"\nregistry_user = \"operator\"\nregistry_password = \"s3cret\"\n");
    let config = db.write_config(&["public.a", "public.b"], &control);
    set_snapshot_mode(&config, "initial");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    wait_for(Duration::from_secs(60), "the first copy", || output_lines(db) >= ROWS_COPIED_AGAIN as usize + 10).await;
    (config, http, wellhead)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_copied_again_on_request_resumes_after_a_kill_and_ends_equal_to_the_source() {
    let db = TestDatabase::create(support::Server::Pg15, "requested").await;
    let (config, http, wellhead) = start_copied_pipeline(&db).await;
    let config_arg = config.to_str().expect("utf-8 path");

    // Without the operator's credentials the request is refused.
    let (status, _) =
        support::http("POST", &http, &format!("/pipelines/{}/snapshots", db.name), Some("{\"table\": \"public.b\"}"));
    assert_eq!(status, 401);
    let asked =
        run_wellhead(&["snapshot", "--config", config_arg, "--table", "public.b"], &[], Duration::from_secs(30));
    assert_eq!(asked.code, Some(0), "{}{}", asked.stdout, asked.stderr);
    assert!(asked.stdout.contains("queued"), "{}", asked.stdout);
    // Killed in the middle of the requested copy.
    let checkpoint = db.dir.join("state").join(format!("{}.checkpoint.json", db.name));
    wait_for(Duration::from_secs(60), "the requested copy's progress", || {
        std::fs::read_to_string(&checkpoint)
            .is_ok_and(|text| text.contains("snapshotting") && text.contains("resume_after"))
    })
    .await;
    wellhead.end(false, "kill during the requested copy");
    db.client
        .batch_execute("UPDATE b SET v = 'while stopped' WHERE id = 3; INSERT INTO a VALUES (11, 'while stopped')")
        .await
        .expect("changes");

    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client
        .batch_execute("DELETE FROM b WHERE id = 4; UPDATE a SET v = 'after' WHERE id = 1")
        .await
        .expect("changes");
    let expected_source = source_rows(&db, &["a", "b"]).await;
    wait_for(Duration::from_secs(60), "the resumed copy", || wellhead.log_text().contains("Snapshot complete.")).await;
    // Parsing the whole output is slow: poll it rarely.
    let mut folded = BTreeMap::new();
    for _ in 0..30 {
        folded = fold(&db.read_output());
        if folded == expected_source {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(folded, expected_source, "the output ends equal to the source");
    let log = wellhead.log_text();
    wellhead.end(true, "after the requested copy");
    assert!(log.contains("resume=true"), "the copy resumed where the kill left it; log:\n{log}");
    let output = db.read_output();
    let copies_of_b =
        output.iter().filter(|envelope| envelope["op"] == "r" && envelope["source"]["table"] == "b").count();
    let rows = ROWS_COPIED_AGAIN as usize;
    assert!(copies_of_b > rows, "b's rows were copied again ({copies_of_b} rows read in all)");
    assert!(copies_of_b <= 2 * rows, "no row of the requested copy is read twice ({copies_of_b})");
    db.drop().await;
}

/// The output once it folds to the source's rows of a and b (or after 30 s), and those rows.
async fn output_once_caught_up(db: &TestDatabase) -> (Vec<serde_json::Value>, BTreeMap<(String, i64), String>) {
    let expected_source = source_rows(db, &["a", "b"]).await;
    let mut output = Vec::new();
    for _ in 0..30 {
        output = db.read_output();
        if fold(&output) == expected_source {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    (output, expected_source)
}

/// A writer inserting into a and updating b every few milliseconds until `stop` is set.
fn spawn_writer(db: &TestDatabase) -> (std::sync::Arc<std::sync::atomic::AtomicBool>, tokio::task::JoinHandle<()>) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (url, stopping) = (db.url(), stop.clone());
    let writer = tokio::spawn(async move {
        let client = support::connect(&url).await;
        let mut id = 1000;
        while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
            id += 1;
            client
                .batch_execute(&format!(
                    "INSERT INTO a VALUES ({id}, 'during'); UPDATE b SET v = 'changed {id}' WHERE id = {}",
                    (id * 7919) % ROWS_COPIED_AGAIN + 1
                ))
                .await
                .expect("writer");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    (stop, writer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_tables_keep_streaming_while_a_table_is_copied_on_request() {
    let db = TestDatabase::create(support::Server::Pg15, "interleave").await;
    let (config, _http, wellhead) = start_copied_pipeline(&db).await;
    let config_arg = config.to_str().expect("utf-8 path");
    let first_copy = ROWS_COPIED_AGAIN as usize + 10;

    // A writer changes both tables while b is copied again.
    let (stop, writer) = spawn_writer(&db);
    let asked =
        run_wellhead(&["snapshot", "--config", config_arg, "--table", "public.b"], &[], Duration::from_secs(30));
    assert_eq!(asked.code, Some(0), "{}{}", asked.stdout, asked.stderr);
    wait_for(Duration::from_secs(120), "the requested copy", || {
        wellhead.log_text().matches("Snapshot complete.").count() >= 2
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.expect("writer");
    let (output, expected_source) = output_once_caught_up(&db).await;
    let log = wellhead.log_text();
    wellhead.end(true, "interleaved copy");
    assert!(log.contains("Copying while the stream goes on"), "log:\n{log}");
    assert_eq!(fold(&output), expected_source, "the output ends equal to the source");
    let requested: Vec<usize> = (first_copy..output.len())
        .filter(|&index| output[index]["op"] == "r" && output[index]["source"]["table"] == "b")
        .collect();
    let (first, last) = (requested.first().copied().expect("b copied again"), requested.last().copied().expect("b"));
    let a_during = output[first..last].iter().filter(|envelope| envelope["source"]["table"] == "a").count();
    assert!(a_during > 0, "a's changes are written while b is copied (between its rows {first} and {last})");
    let mut ids = std::collections::HashSet::new();
    for &index in &requested {
        assert!(
            ids.insert(output[index]["after"]["id"].as_i64().expect("id")),
            "a row of the requested copy read twice"
        );
    }
    println!("{} rows of b copied again, {a_during} changes of a written among them", requested.len());
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_added_to_the_config_of_a_running_pipeline_is_copied_on_sighup_while_the_others_stream() {
    let db = TestDatabase::create(support::Server::Pg15, "reload").await;
    create_table(&db, "a", 10).await;
    create_table(&db, "b", ROWS_COPIED_AGAIN).await;
    let config = db.write_config(&["public.a"], "");
    set_snapshot_mode(&config, "initial");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    wait_for(Duration::from_secs(60), "a copied", || output_lines(&db) >= 10).await;

    let (stop, writer) = spawn_writer(&db);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The operator adds b to the config and tells the running instance.
    let text = std::fs::read_to_string(&config).expect("config");
    let only_a = "tables = [\"public.a\"]";
    assert!(text.contains(only_a), "{text}");
    std::fs::write(&config, text.replace(only_a, "tables = [\"public.a\", \"public.b\"]")).expect("config");
    wellhead.signal("HUP");
    wait_for(Duration::from_secs(120), "b copied", || wellhead.log_text().matches("Snapshot complete.").count() >= 2)
        .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.expect("writer");
    let (output, expected_source) = output_once_caught_up(&db).await;
    assert!(wellhead.child.try_wait().expect("try_wait").is_none(), "the same process runs on: no restart");
    let log = wellhead.log_text();
    wellhead.end(true, "reloaded config");
    assert!(log.contains("Capturing the tables of the reloaded configuration."), "log:\n{log}");
    assert!(log.contains("Copying while the stream goes on"), "log:\n{log}");
    assert_eq!(fold(&output), expected_source, "the output ends equal to the source");
    let copied: Vec<usize> = (0..output.len())
        .filter(|&index| output[index]["op"] == "r" && output[index]["source"]["table"] == "b")
        .collect();
    // A row the stream changed while its chunk was read comes from the stream instead (the
    // output's final state, checked above, has every row).
    let ids: std::collections::HashSet<i64> =
        copied.iter().map(|&index| output[index]["after"]["id"].as_i64().expect("id")).collect();
    assert_eq!(ids.len(), copied.len(), "no row of b copied twice");
    assert!(copied.len() as i64 > ROWS_COPIED_AGAIN * 9 / 10, "b is copied: {} rows", copied.len());
    let (first, last) = (copied[0], copied[copied.len() - 1]);
    let a_during = output[first..last].iter().filter(|envelope| envelope["source"]["table"] == "a").count();
    assert!(a_during > 0, "a's changes are written while b is copied (between its rows {first} and {last})");
    println!("{} rows of b copied after the reload, {a_during} changes of a written among them", copied.len());
    db.drop().await;
}
