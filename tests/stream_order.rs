//! Interleaved concurrent transactions over three tables arrive complete, each
//! transaction whole and contiguous, in commit order, on PostgreSQL 15 and 18.

mod support;

use std::time::Duration;

use support::{Server, TestDatabase, Wellhead, wait_for};

async fn interleaved_transactions_arrive_whole_in_commit_order(server: Server) {
    let db = TestDatabase::create(server, "order").await;
    db.client
        .batch_execute(
            "CREATE TABLE a (id int PRIMARY KEY, v text);
             CREATE TABLE b (id int PRIMARY KEY, v text);
             CREATE TABLE c (id int PRIMARY KEY, v text);",
        )
        .await
        .expect("schema");
    let config = db.write_config(&["public.a", "public.b", "public.c"], "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;

    // Three sessions interleave their statements; commits land in a known order.
    let s1 = support::connect(&db.url()).await;
    let s2 = support::connect(&db.url()).await;
    let s3 = support::connect(&db.url()).await;
    for s in [&s1, &s2, &s3] {
        s.batch_execute("BEGIN").await.expect("begin");
    }
    s1.batch_execute("INSERT INTO a VALUES (1, 'one')").await.expect("s1");
    s2.batch_execute("INSERT INTO b VALUES (1, 'one')").await.expect("s2");
    s3.batch_execute("INSERT INTO c VALUES (1, 'one')").await.expect("s3");
    s1.batch_execute("INSERT INTO b VALUES (2, 'two')").await.expect("s1");
    s2.batch_execute("INSERT INTO c VALUES (2, 'two')").await.expect("s2");
    s3.batch_execute("INSERT INTO a VALUES (3, 'three')").await.expect("s3");
    s2.batch_execute("COMMIT").await.expect("commit s2");
    s1.batch_execute("UPDATE a SET v = 'uno' WHERE id = 1; DELETE FROM b WHERE id = 2").await.expect("s1");
    s3.batch_execute("UPDATE c SET v = 'uno' WHERE id = 1").await.expect("s3");
    s3.batch_execute("COMMIT").await.expect("commit s3");
    s1.batch_execute("COMMIT").await.expect("commit s1");
    db.client.batch_execute("TRUNCATE a, b").await.expect("truncate");

    wait_for(Duration::from_secs(30), "11 events", || db.read_output().len() >= 11).await;
    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0), "clean exit");

    let events = db.read_output();
    let summary: Vec<String> = events
        .iter()
        .map(|e| {
            let row = if e["after"].is_null() { &e["before"] } else { &e["after"] };
            format!(
                "{}:{}:{}",
                e["source"]["table"].as_str().unwrap_or("?"),
                e["op"].as_str().unwrap_or("?"),
                row["id"]
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            // s2 committed first, then s3, then s1, then the truncate.
            "b:c:1", "c:c:2", //
            "c:c:1", "a:c:3", "c:u:1", //
            "a:c:1", "b:c:2", "a:u:1", "b:d:2", //
            "a:t:null", "b:t:null",
        ],
        "events: {events:#?}"
    );
    // Each transaction is contiguous and numbered 1..n in order.
    let mut previous: Option<(String, u64)> = None;
    for event in &events {
        let id = event["transaction"]["id"].as_str().expect("txid").to_owned();
        let order = event["transaction"]["total_order"].as_u64().expect("order");
        match &previous {
            Some((last_id, last_order)) if *last_id == id => assert_eq!(order, last_order + 1),
            _ => assert_eq!(order, 1, "a transaction starts at order 1"),
        }
        previous = Some((id, order));
    }
    // Commit LSNs never decrease.
    let commits: Vec<u64> = events.iter().map(|e| e["source"]["commit_lsn"].as_u64().expect("commit_lsn")).collect();
    assert!(commits.windows(2).all(|w| w[0] <= w[1]), "commit order: {commits:?}");
    db.drop().await;
}

#[tokio::test]
async fn postgres_15_interleaved_transactions() {
    interleaved_transactions_arrive_whole_in_commit_order(Server::Pg15).await;
}

#[tokio::test]
async fn postgres_18_interleaved_transactions() {
    interleaved_transactions_arrive_whole_in_commit_order(Server::Pg18).await;
}
