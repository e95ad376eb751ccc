//! Schema drift mid-stream on PostgreSQL 15, into the Avro files sink with the
//! embedded registry: a compatible change (ADD COLUMN) registers version 2 and
//! each side decodes with its own writer schema; an incompatible one (ALTER
//! COLUMN TYPE int → text under BACKWARD) stops the pipeline with an error that
//! says what changed, before any record of the new shape is written; switching
//! the policy to `allow` and restarting continues with nothing lost or repeated.
//!
//! ```text
//!  INSERT… ─ ALTER TABLE ─ INSERT… ─► pgoutput Relation ─► files sink: register v2 (drift check)
//!                                                          ├─ compatible / allow ─► roll, new file, new schema
//!                                                          └─ incompatible + stop ─► roll, exit ≠ 0
//!  <lake>/<topic>/*.avro ─► fastavro (tests/python/dump_avro.py) ─► compared with what was executed
//! ```

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::avro_files::{
    AvroRecord, FilesConfig, checkpoint_position, checkpoint_restart_lsn, lake_dir, position_name, read_checkpoint,
    read_files, record_count, temporary_files, topic, write_files_config,
};
use support::{Server, TestDatabase, Wellhead};

/// How long wellhead may take to write (or fail on) what was committed.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// One expected record: op and the row (`after`, or `before` for a delete).
struct Expected {
    op: &'static str,
    row: Value,
    fields: &'static [&'static str],
}

fn record(op: &'static str, row: Value, fields: &'static [&'static str]) -> Expected {
    Expected { op, row, fields }
}

async fn execute(db: &TestDatabase, statements: &[&str]) {
    for statement in statements {
        db.client.batch_execute(statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// Waits until the final files hold `count` records.
async fn wait_for_records(db: &TestDatabase, wellhead: &mut Wellhead, count: u64) {
    let lake = lake_dir(db);
    let start = std::time::Instant::now();
    while record_count(&lake) < count {
        if let Some(status) = wellhead.child.try_wait().expect("try_wait") {
            panic!("wellhead exited ({status}) before writing {count} records; log:\n{}", wellhead.log_text());
        }
        assert!(
            start.elapsed() < CATCH_UP_TIMEOUT,
            "{} of {count} records in final files after {CATCH_UP_TIMEOUT:?}; log:\n{}",
            record_count(&lake),
            wellhead.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The registered versions of `subject`, through the embedded registry's REST API.
fn versions(http: &str, subject: &str) -> Value {
    let (status, body) = support::http("GET", http, &format!("/subjects/{subject}/versions"), None);
    assert_eq!(status, 200, "GET /subjects/{subject}/versions: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("versions of {subject}: {e}: {body}"))
}

/// Stops wellhead with SIGINT and expects a clean exit.
fn stop_cleanly(wellhead: Wellhead) -> String {
    wellhead.signal("INT");
    let log = wellhead.log.clone();
    let code = wellhead.wait(Duration::from_secs(30));
    let log = std::fs::read_to_string(log).unwrap_or_default();
    assert_eq!(code, Some(0), "SIGINT exits cleanly; log:\n{log}");
    log
}

/// Checks the files against what was executed: every record once, in source
/// order, each with its writer schema's fields and the executed values, and
/// every file named after its first record's position.
fn assert_records(records: &[AvroRecord], expected: &[Expected]) {
    let summary =
        records.iter().map(|r| format!("{} {} {} {}", r.file, r.op, r.row(), r.fields.join(","))).collect::<Vec<_>>();
    assert_eq!(records.len(), expected.len(), "records, in file order:\n{summary:#?}");
    for pair in records.windows(2) {
        assert!(
            pair[0].position() < pair[1].position(),
            "positions increase across files sorted by name (none repeated): {:?} then {:?}\n{summary:#?}",
            pair[0].position(),
            pair[1].position()
        );
    }
    for (index, (record, expected)) in records.iter().zip(expected).enumerate() {
        assert_eq!(record.table, "public.t");
        assert_eq!((record.op.as_str(), record.row()), (expected.op, &expected.row), "record {index}\n{summary:#?}");
        assert_eq!(record.fields, expected.fields, "record {index}: writer schema of {}", record.file);
        if expected.op == "d" {
            assert!(record.after.is_null(), "record {index}: a delete has no after");
        }
    }
    let mut first_of_file: Vec<(&str, (u64, u64))> = Vec::new();
    for record in records {
        if first_of_file.last().is_none_or(|(file, _)| *file != record.file) {
            first_of_file.push((&record.file, record.position()));
        }
    }
    for (file, first) in first_of_file {
        assert_eq!(file.rsplit('/').next(), Some(format!("{}.avro", position_name(first)).as_str()), "file name");
    }
}

const OLD: &[&str] = &["id", "n"];
const NEW: &[&str] = &["id", "n", "note"];

/// ADD COLUMN (nullable) mid-stream is BACKWARD compatible: version 2 of the
/// value subject, the key subject untouched; records before the ALTER are in
/// files whose writer schema lacks `note`, records after it in files with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_15_add_column_mid_stream_registers_version_2_and_both_sides_decode() {
    let db = TestDatabase::create(Server::Pg15, "drift_add").await;
    execute(&db, &["CREATE TABLE t (id bigint PRIMARY KEY, n int)"]).await;
    let http = format!("127.0.0.1:{}", support::free_port());
    let options = FilesConfig { sink: "roll_seconds = 1", http: Some(&http), ..FilesConfig::default() };
    let config = write_files_config(&db, &["public.t"], &options);
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;

    execute(
        &db,
        &[
            "INSERT INTO t VALUES (1, 10)",
            "INSERT INTO t VALUES (2, 20), (3, 30)",
            "UPDATE t SET n = 11 WHERE id = 1",
            "ALTER TABLE t ADD COLUMN note text",
            "INSERT INTO t VALUES (4, 40, 'four')",
            "BEGIN; INSERT INTO t (id, n) VALUES (5, 50); UPDATE t SET note = 'one' WHERE id = 1; COMMIT",
            "DELETE FROM t WHERE id = 2",
        ],
    )
    .await;
    let expected = [
        record("c", json!({"id": 1, "n": 10}), OLD),
        record("c", json!({"id": 2, "n": 20}), OLD),
        record("c", json!({"id": 3, "n": 30}), OLD),
        record("u", json!({"id": 1, "n": 11}), OLD),
        record("c", json!({"id": 4, "n": 40, "note": "four"}), NEW),
        record("c", json!({"id": 5, "n": 50, "note": null}), NEW),
        record("u", json!({"id": 1, "n": 11, "note": "one"}), NEW),
        // REPLICA IDENTITY DEFAULT: the old row holds only the key.
        record("d", json!({"id": 2, "n": null, "note": null}), NEW),
    ];
    wait_for_records(&db, &mut wellhead, expected.len() as u64).await;

    let topic = topic(&db, "public.t");
    assert_eq!(versions(&http, &format!("{topic}-value")), json!([1, 2]), "ADD COLUMN gives version 2");
    assert_eq!(versions(&http, &format!("{topic}-key")), json!([1]), "the key did not change");
    let log = stop_cleanly(wellhead);
    assert!(log.contains("value_version=2"), "the schema change shows in the log:\n{log}");

    assert_eq!(temporary_files(&lake_dir(&db)), Vec::<std::path::PathBuf>::new(), "a clean stop finalises every file");
    let records = read_files(&lake_dir(&db));
    assert_records(&records, &expected);
    db.drop().await;
}

/// ALTER COLUMN TYPE int → text under BACKWARD (the default) with the default
/// policy `stop`: wellhead exits non-zero naming table, column and change; the
/// checkpoint stays before the first record of the new shape and everything
/// before it is in final files; a restart without a decision stops the same way.
/// Then `on_incompatible = "allow"` and a restart: the stream continues from the
/// same place and the files hold every change exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_15_incompatible_type_change_stops_then_allow_continues_exactly_once() {
    let db = TestDatabase::create(Server::Pg15, "drift_type").await;
    execute(&db, &["CREATE TABLE t (id bigint PRIMARY KEY, n int)"]).await;
    let http = format!("127.0.0.1:{}", support::free_port());
    // Files roll only on the shape change (or at stop): the records of the old
    // shape become final because the drift check rolls, not because of age.
    let stop_options = FilesConfig { http: Some(&http), ..FilesConfig::default() };
    let config = write_files_config(&db, &["public.t"], &stop_options);
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;

    execute(
        &db,
        &[
            "INSERT INTO t VALUES (1, 10)",
            "INSERT INTO t VALUES (2, 20), (3, 30)",
            "UPDATE t SET n = 11 WHERE id = 1",
            "ALTER TABLE t ALTER COLUMN n TYPE text",
            "INSERT INTO t VALUES (4, 'four')",
            "BEGIN; INSERT INTO t VALUES (5, NULL); UPDATE t SET n = 'eleven' WHERE id = 1; COMMIT",
            "DELETE FROM t WHERE id = 2",
        ],
    )
    .await;
    let mut expected = vec![
        record("c", json!({"id": 1, "n": 10}), OLD),
        record("c", json!({"id": 2, "n": 20}), OLD),
        record("c", json!({"id": 3, "n": 30}), OLD),
        record("u", json!({"id": 1, "n": 11}), OLD),
    ];
    let old_shape = expected.len();

    // 1. The pipeline stops with an error that says what changed.
    let log = wellhead.log.clone();
    let code = wellhead.wait(CATCH_UP_TIMEOUT);
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(matches!(code, Some(code) if code != 0), "an incompatible change stops wellhead ({code:?}):\n{stderr}");
    let error = stderr.lines().filter(|line| line.starts_with("error:")).collect::<Vec<_>>().join("\n");
    println!("{error}");
    for needle in ["table public.t", "column n", "int", "string", "BACKWARD", "on_incompatible"] {
        assert!(error.contains(needle), "the error names {needle:?}:\n{error}\nwhole log:\n{stderr}");
    }
    // 2. Everything before the change is final; nothing after it was written.
    assert_eq!(temporary_files(&lake_dir(&db)), Vec::<std::path::PathBuf>::new(), "no unfinished file");
    let before_change = read_files(&lake_dir(&db));
    assert_records(&before_change, &expected);
    let checkpoint = read_checkpoint(&db);
    let stopped_at = checkpoint_position(&checkpoint).expect("a checkpoint position");
    assert_eq!(
        Some(stopped_at),
        before_change.last().map(AvroRecord::position),
        "the checkpoint covers exactly the records of the old shape"
    );

    // 3. Restarting without a decision stops the same way and moves nothing.
    let again = Wellhead::start(&config);
    let log = again.log.clone();
    let code = again.wait(CATCH_UP_TIMEOUT);
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(matches!(code, Some(code) if code != 0), "the same change stops a restart ({code:?}):\n{stderr}");
    assert!(stderr.contains("column n"), "same error again:\n{stderr}");
    let again = read_checkpoint(&db);
    assert_eq!(
        (checkpoint_position(&again), checkpoint_restart_lsn(&again)),
        (Some(stopped_at), checkpoint_restart_lsn(&checkpoint)),
        "checkpoint position untouched"
    );
    assert_eq!(read_files(&lake_dir(&db)).len(), old_shape, "nothing written");

    // 4. The operator allows the change: the stream continues from the same place.
    let allow_options = FilesConfig {
        sink: "roll_seconds = 1",
        pipeline: "[pipelines.registry]\non_incompatible = \"allow\"\n",
        http: Some(&http),
    };
    let config = write_files_config(&db, &["public.t"], &allow_options);
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    execute(&db, &["INSERT INTO t VALUES (6, 'six')"]).await;
    expected.extend([
        record("c", json!({"id": 4, "n": "four"}), OLD),
        record("c", json!({"id": 5, "n": null}), OLD),
        record("u", json!({"id": 1, "n": "eleven"}), OLD),
        record("d", json!({"id": 2, "n": null}), OLD),
        record("c", json!({"id": 6, "n": "six"}), OLD),
    ]);
    wait_for_records(&db, &mut wellhead, expected.len() as u64).await;
    let topic = topic(&db, "public.t");
    assert_eq!(versions(&http, &format!("{topic}-value")), json!([1, 2]), "the allowed change is version 2");
    let log = stop_cleanly(wellhead);
    assert!(log.contains("on_incompatible = allow"), "the override shows in the log:\n{log}");

    assert_eq!(temporary_files(&lake_dir(&db)), Vec::<std::path::PathBuf>::new(), "a clean stop finalises every file");
    let records = read_files(&lake_dir(&db));
    assert_records(&records, &expected);
    let first_new = records[old_shape].position();
    assert!(
        stopped_at < first_new,
        "the stop checkpoint {stopped_at:?} lies before the first new record {first_new:?}"
    );
    let new_files: std::collections::HashSet<&str> = records[old_shape..].iter().map(|r| r.file.as_str()).collect();
    assert!(
        records[..old_shape].iter().all(|r| !new_files.contains(r.file.as_str())),
        "the two shapes are in different files"
    );
    db.drop().await;
}
