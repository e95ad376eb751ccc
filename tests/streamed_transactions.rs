//! Transactions larger than `logical_decoding_work_mem` arrive streamed, before
//! they commit (pgoutput protocol 2 on PostgreSQL 15, 4 on 18): Wellhead spills
//! them and emits only what committed, in commit order. A whole-transaction abort
//! and a rolled-back savepoint (a subtransaction abort) must leave no trace.

mod support;

use std::time::Duration;

use support::{Server, TestDatabase, Wellhead, wait_for};

async fn streamed_transactions_emit_only_committed_changes(server: Server) {
    let db = TestDatabase::create(server, "streamed").await;
    db.client
        .batch_execute("CREATE TABLE rows (id int PRIMARY KEY, label text NOT NULL, filler text NOT NULL)")
        .await
        .expect("schema");
    let config = db.write_config(&["public.rows"], "");
    let text = std::fs::read_to_string(&config).expect("config");
    let with_small_memory = text.replacen(
        &format!("publication = \"{}\"\n", db.name),
        &format!("publication = \"{}\"\nlogical_decoding_work_mem = \"64kB\"\n", db.name),
        1,
    );
    std::fs::write(&config, with_small_memory).expect("config");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;

    let insert = |from: i32, to: i32, label: &str| {
        format!("INSERT INTO rows SELECT g, '{label}', repeat('x', 100) FROM generate_series({from}, {to}) g")
    };
    // A: large, committed.
    db.client.batch_execute(&format!("BEGIN; {}; COMMIT", insert(1, 3000, "a"))).await.expect("A");
    // B: large, streamed, then rolled back as a whole.
    db.client.batch_execute(&format!("BEGIN; {}; ROLLBACK", insert(10_001, 13_000, "b"))).await.expect("B");
    // C: large with a rolled-back savepoint; D commits in another session while C is open.
    let other = support::connect(&db.url()).await;
    db.client.batch_execute(&format!("BEGIN; {}", insert(20_001, 21_000, "c"))).await.expect("C1");
    db.client
        .batch_execute(&format!("SAVEPOINT s1; {}; ROLLBACK TO SAVEPOINT s1", insert(21_001, 23_000, "c-aborted")))
        .await
        .expect("C2");
    other.batch_execute(&format!("BEGIN; {}; COMMIT", insert(30_001, 30_010, "d"))).await.expect("D");
    db.client.batch_execute(&format!("{}; COMMIT", insert(23_001, 24_000, "c"))).await.expect("C3");

    let expected: Vec<i64> = (1..=3000).chain(30_001..=30_010).chain(20_001..=21_000).chain(23_001..=24_000).collect();
    wait_for(Duration::from_secs(60), "all committed rows", || db.read_output().len() >= expected.len()).await;
    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0));

    let events = db.read_output();
    let ids: Vec<i64> = events.iter().map(|e| e["after"]["id"].as_i64().expect("id")).collect();
    assert_eq!(ids.len(), expected.len(), "event count");
    assert!(
        ids == expected,
        "ids out of order or wrong: first difference at {:?}",
        ids.iter().zip(&expected).position(|(a, b)| a != b)
    );
    assert!(
        events.iter().all(|e| e["after"]["label"] != "b" && e["after"]["label"] != "c-aborted"),
        "aborted rows leaked"
    );

    let streamed: i64 = db
        .client
        .query_one(
            "SELECT coalesce(sum(stream_txns), 0)::bigint FROM pg_stat_replication_slots WHERE slot_name = $1",
            &[&db.name],
        )
        .await
        .expect("slot statistics")
        .get(0);
    assert!(streamed >= 2, "the server streamed {streamed} transactions; the test needs A, B and C streamed");
    db.drop().await;
}

#[tokio::test]
async fn postgres_15_streamed_transactions() {
    streamed_transactions_emit_only_committed_changes(Server::Pg15).await;
}

#[tokio::test]
async fn postgres_18_streamed_transactions() {
    streamed_transactions_emit_only_committed_changes(Server::Pg18).await;
}
