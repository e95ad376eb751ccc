//! Several pipelines in one process never leave it half alive: when one fails for
//! good, the others are stopped (flushed and checkpointed, as on SIGTERM) and the
//! process exits 1 with the failure, printed once.
//!
//! ```text
//!  wellhead run: pipeline <db>_good (table a ─► jsonl)     ─┐ stopped, checkpointed
//!                pipeline <db>_bad  (tables match nothing) ─┴► definite failure ─► exit 1, error once
//! ```

mod support;

use std::time::Duration;

use support::{Server, TestDatabase, run_wellhead};

#[tokio::test]
async fn one_pipeline_failing_for_good_stops_the_others_and_the_process() {
    let db = TestDatabase::create(Server::Pg15, "together").await;
    db.client.batch_execute("CREATE TABLE a (id int PRIMARY KEY)").await.expect("table");
    let good = db.pipeline_toml(&format!("{}_good", db.name), &["public.a"]);
    let bad = db.pipeline_toml(&format!("{}_bad", db.name), &["public.no_such_table"]);
    let config = db.dir.join("wellhead.toml");
    std::fs::write(&config, format!("{good}\n{bad}")).expect("config");

    let config = config.display().to_string();
    let finished = run_wellhead(&["run", "--config", &config], &[], Duration::from_secs(60));
    let output = format!("{}{}", finished.stdout, finished.stderr);
    assert_eq!(finished.code, Some(1), "the process ends with the failure; output:\n{output}");
    assert_eq!(output.matches("match no table").count(), 1, "the failure names its cause, once; output:\n{output}");
    assert!(output.contains("stopping the other pipelines"), "says what it does with the others; output:\n{output}");
    let good_checkpoint = db.dir.join("state").join(format!("{}_good.checkpoint.json", db.name));
    assert!(good_checkpoint.exists(), "the healthy pipeline stopped with a checkpoint; output:\n{output}");

    let admin = support::connect(&db.server.url("postgres")).await;
    let _ = admin
        .batch_execute(&format!(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '{}\\_%' AND NOT active",
            db.name
        ))
        .await;
    db.drop().await;
}
