//! Streaming MariaDB's binlog: transactions of several tables and databases, committed
//! interleaved, arrive whole and in commit order, without the tables the pipeline does
//! not capture; and ALTER TABLE mid-stream, then a restart from a checkpoint taken
//! before it, decodes every row with the columns it was written with.

mod support;

use std::time::Duration;

use support::mariadb::{self, MariadbDatabase};
use support::{Wellhead, read_jsonl, wait_for_lines};

const CATCH_UP: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_transactions_arrive_whole_in_commit_order_with_only_the_captured_tables() {
    let mut first = MariadbDatabase::create("interleave").await;
    let mut second = MariadbDatabase::create("interleave_other").await;
    first
        .execute(
            "CREATE TABLE t1 (id int PRIMARY KEY, note text); CREATE TABLE t2 (id int PRIMARY KEY, note text);
             CREATE TABLE ignored (id int PRIMARY KEY, note text);",
        )
        .await;
    second.execute("CREATE TABLE t3 (id int PRIMARY KEY, note text);").await;
    let mut patterns = first.patterns(&["t1", "t2"]);
    patterns.extend(second.patterns(&["t3"]));
    let config = first.write_config(&first.pipeline_toml(&patterns, mariadb::server_id()));
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;

    // Two sessions interleave their statements; B commits first.
    let (a_db, b_db) = (first.name.clone(), second.name.clone());
    let mut a = mariadb::connect().await;
    let mut b = mariadb::connect().await;
    use mysql_async::prelude::Queryable;
    a.query_drop("BEGIN").await.expect("a begin");
    b.query_drop("BEGIN").await.expect("b begin");
    a.query_drop(format!("INSERT INTO `{a_db}`.t1 VALUES (1, 'a1')")).await.expect("a1");
    b.query_drop(format!("INSERT INTO `{b_db}`.t3 VALUES (1, 'b1')")).await.expect("b1");
    a.query_drop(format!("INSERT INTO `{a_db}`.ignored VALUES (1, 'not captured')")).await.expect("a2");
    b.query_drop(format!("INSERT INTO `{a_db}`.t2 VALUES (1, 'b2')")).await.expect("b2");
    a.query_drop(format!("INSERT INTO `{a_db}`.t2 VALUES (2, 'a3')")).await.expect("a3");
    b.query_drop(format!("UPDATE `{b_db}`.t3 SET note = 'b3' WHERE id = 1")).await.expect("b3");
    b.query_drop("COMMIT").await.expect("b commit");
    a.query_drop(format!("DELETE FROM `{a_db}`.t1 WHERE id = 1")).await.expect("a4");
    a.query_drop("COMMIT").await.expect("a commit");
    // A transaction of only uncaptured changes gives nothing; one after it still comes.
    first.execute("INSERT INTO ignored VALUES (2, 'nothing'); INSERT INTO t1 VALUES (9, 'last');").await;

    let output = first.output_path();
    assert!(wait_for_lines(&output, 7, CATCH_UP, CATCH_UP).await, "7 changes arrive");
    wellhead.stop_cleanly("interleaved transactions");
    let events = read_jsonl(&output);
    let seen: Vec<(String, String, String, String, u64)> = events
        .iter()
        .map(|event| {
            let row = if event["after"].is_null() { &event["before"] } else { &event["after"] };
            (
                event["transaction"]["id"].as_str().expect("transaction id").to_owned(),
                format!(
                    "{}.{}",
                    event["source"]["db"].as_str().expect("db"),
                    event["source"]["table"].as_str().expect("table")
                ),
                event["op"].as_str().expect("op").to_owned(),
                row["note"].as_str().expect("note").to_owned(),
                event["transaction"]["total_order"].as_u64().expect("total_order"),
            )
        })
        .collect();
    let (b_id, a_id) = (&seen[0].0, &seen[3].0);
    assert_ne!(b_id, a_id);
    let expected = [
        (b_id, format!("{b_db}.t3"), "c", "b1", 1),
        (b_id, format!("{a_db}.t2"), "c", "b2", 2),
        (b_id, format!("{b_db}.t3"), "u", "b3", 3),
        (a_id, format!("{a_db}.t1"), "c", "a1", 1),
        (a_id, format!("{a_db}.t2"), "c", "a3", 2),
        (a_id, format!("{a_db}.t1"), "d", "a1", 3),
    ];
    for (index, (id, table, op, note, order)) in expected.iter().enumerate() {
        assert_eq!(
            (&seen[index].0, &seen[index].1, seen[index].2.as_str(), seen[index].3.as_str(), seen[index].4),
            (*id, table, *op, *note, *order),
            "change {index}: {events:#?}"
        );
    }
    assert_eq!(seen.len(), 7, "the uncaptured table's changes are left out: {seen:#?}");
    assert_eq!((seen[6].1.as_str(), seen[6].3.as_str(), seen[6].4), (format!("{a_db}.t1").as_str(), "last", 1));
    first.drop().await;
    second.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_table_mid_stream_and_a_restart_from_before_it_decode_each_row_with_its_columns() {
    let mut db = MariadbDatabase::create("alter").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b varchar(10))").await;
    let config = db.write_config(&db.pipeline_toml(&db.patterns(&["t"]), mariadb::server_id()));
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.execute("INSERT INTO t VALUES (1, 10, 'one')").await;
    let output = db.output_path();
    assert!(wait_for_lines(&output, 1, CATCH_UP, CATCH_UP).await, "the first row arrives");
    wellhead.stop_cleanly("before the ALTERs");
    // The checkpoint from before the ALTERs, to start from again later.
    let state = db.dir.join("state");
    let saved = db.dir.join("state-before-alter");
    copy_dir(&state, &saved);

    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.execute(
        "ALTER TABLE t ADD COLUMN c int; INSERT INTO t VALUES (2, 20, 'two', 200);
         ALTER TABLE t DROP COLUMN a; INSERT INTO t VALUES (3, 'three', 300);
         ALTER TABLE t RENAME COLUMN b TO bb; INSERT INTO t VALUES (4, 'four', 400);
         ALTER TABLE t MODIFY COLUMN c bigint; INSERT INTO t VALUES (5, 'five', 1099511627776);
         UPDATE t SET c = c + 1 WHERE id = 5;",
    )
    .await;
    assert!(wait_for_lines(&output, 6, CATCH_UP, CATCH_UP).await, "every row arrives");
    wellhead.stop_cleanly("after the ALTERs");
    let first_run = read_jsonl(&output);
    let after = |events: &[serde_json::Value], index: usize| events[index]["after"].clone();
    assert_eq!(after(&first_run, 1), serde_json::json!({"id": 2, "a": 20, "b": "two", "c": 200}));
    assert_eq!(after(&first_run, 2), serde_json::json!({"id": 3, "b": "three", "c": 300}));
    assert_eq!(after(&first_run, 3), serde_json::json!({"id": 4, "bb": "four", "c": 400}));
    assert_eq!(after(&first_run, 4), serde_json::json!({"id": 5, "bb": "five", "c": 1_099_511_627_776_i64}));
    assert_eq!(first_run[5]["before"]["c"], serde_json::json!(1_099_511_627_776_i64));
    assert_eq!(after(&first_run, 5)["c"], serde_json::json!(1_099_511_627_777_i64));

    // Back to the checkpoint from before the ALTERs: the output is cut back to it and the
    // binlog read again from there, each row with the table map it was written with.
    std::fs::remove_dir_all(&state).expect("remove state");
    copy_dir(&saved, &state);
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    support::wait_for(CATCH_UP, "the output cut back to the checkpoint", || {
        wellhead.log_text().contains("Truncating output written after the last checkpoint.")
    })
    .await;
    assert!(wait_for_lines(&output, 6, CATCH_UP, CATCH_UP).await, "the rows arrive again");
    wellhead.stop_cleanly("replay from before the ALTERs");
    let replayed = read_jsonl(&output);
    let rows = |events: &[serde_json::Value]| {
        events
            .iter()
            .map(|event| (event["op"].clone(), event["before"].clone(), event["after"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&replayed), rows(&first_run), "the replay decodes the same rows with the same columns");
    db.drop().await;
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

/// `/metrics` shows where the last checkpoint is in the binlog: the restart point the
/// checkpoint file holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_checkpoints_binlog_position() {
    let mut db = MariadbDatabase::create("metrics").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let http = format!("127.0.0.1:{}", support::free_port());
    let toml =
        format!("[control]\nhttp = \"{http}\"\n\n{}", db.pipeline_toml(&db.patterns(&["t"]), mariadb::server_id()));
    let mut wellhead = Wellhead::start(&db.write_config(&toml));
    wellhead.wait_streaming().await;
    db.execute("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);").await;
    assert!(wait_for_lines(&db.output_path(), 2, CATCH_UP, CATCH_UP).await, "both rows arrive");
    let checkpoint = db.dir.join("state").join(format!("{}.checkpoint.json", db.name));
    let restart_point = || {
        let text = std::fs::read_to_string(&checkpoint).expect("checkpoint");
        let checkpoint: serde_json::Value = serde_json::from_str(&text).expect("checkpoint JSON");
        checkpoint["restart_point"].clone()
    };
    let gauge = |name: &str| {
        let (_, body) = support::http("GET", &http, "/metrics", None);
        body.lines().find(|line| line.starts_with(name)).and_then(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
    };
    support::wait_for(CATCH_UP, "the gauges at the checkpoint's restart point", || {
        let point = restart_point();
        gauge("wellhead_checkpoint_binlog_offset") == point["offset"].as_u64()
            && gauge("wellhead_checkpoint_binlog_file") == point["file_sequence"].as_u64()
    })
    .await;
    wellhead.stop_cleanly("metrics");
    db.drop().await;
}
