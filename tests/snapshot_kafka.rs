//! A snapshot into Kafka, exactly once across a `kill -9` during the copy: every
//! row's `r` record once, then the changes, read from the raw record batches by
//! an independent reader (`committed_records.py`) and decoded with apache-avro
//! against the schemas the embedded registry serves.
//!
//! ```text
//!  orders: 100,000 rows ─► wellhead (kafka, batches of 500) ── kill -9 during the copy ──► restart
//!     ─► committed records: 100,000 r (each id once) + c/u/d ─► fold by key = SELECT * FROM orders
//! ```

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use support::kafka::{AvroDecoder, brokers, committed_view, create_state_topics, topic, write_kafka_config};
use support::{Server, TestDatabase, Wellhead, free_port, wait_for};

const ROWS: i64 = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_into_kafka_is_written_once_across_a_kill_during_the_copy() {
    let db = TestDatabase::create(Server::Pg15, "snapkafka").await;
    db.client
        .batch_execute(&format!(
            "CREATE TABLE orders (id int PRIMARY KEY, note text NOT NULL);
             INSERT INTO orders SELECT g, 'row ' || g FROM generate_series(1, {ROWS}) g;"
        ))
        .await
        .expect("table");
    create_state_topics(&db, &brokers()).await;
    let http = format!("127.0.0.1:{}", free_port());
    let config = write_kafka_config(
        &db,
        &["public.orders"],
        &brokers(),
        &http,
        "",
        "[pipelines.buffer]\nmax_batch_events = 500\n",
    );
    support::set_snapshot_mode(&config, "initial");

    let first = Wellhead::start(&config);
    let orders = topic(&db, "public.orders");
    let brokers = brokers();
    // Killed a moment after the first batch of the copy was written.
    wait_for(Duration::from_secs(60), "the copy's first batch", || {
        first.log_text().contains("Table shape registered.")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.end(false, "kill during the copy");
    let committed_at_kill = committed_view(&brokers, &orders).len();
    let resumed = committed_at_kill > 0 && committed_at_kill < ROWS as usize;

    let mut second = Wellhead::start(&config);
    second.wait_streaming().await;
    db.client
        .batch_execute("UPDATE orders SET note = 'updated' WHERE id = 7; DELETE FROM orders WHERE id = 8; INSERT INTO orders VALUES (1000001, 'new')")
        .await
        .expect("changes");
    // Every row's r, then u, d + tombstone, c.
    let expected_records = ROWS as usize + 4;
    wait_for(Duration::from_secs(120), "every record committed", || {
        committed_view(&brokers, &orders).len() >= expected_records
    })
    .await;
    let log = second.log_text();
    // The schemas come from the running instance's registry API.
    let mut decoder = AvroDecoder::new(&http);
    decoder.preload();
    let records = committed_view(&brokers, &orders);
    println!("{committed_at_kill} records committed at the kill; {} in the end", records.len());
    if resumed {
        assert!(log.contains("resume=true"), "the copy resumed where the kill left it; log:\n{log}");
    }
    assert_eq!(records.len(), expected_records, "every record once, nothing repeated");
    let mut read = BTreeSet::new();
    let mut lasts = 0_usize;
    let mut state: BTreeMap<i64, String> = BTreeMap::new();
    for record in &records {
        let key = decoder.decode(record.key.as_deref().expect("every record has a key"));
        let id = key["id"].as_i64().expect("id");
        let Some(value) = &record.value else {
            assert!(!state.contains_key(&id), "a tombstone follows its delete");
            continue;
        };
        let value = decoder.decode(value);
        match value["op"].as_str().expect("op") {
            "r" => {
                assert!(read.insert(id), "row {id} read twice");
                let mark = value["source"]["snapshot"].as_str().expect("snapshot is Debezium's string enum");
                assert!(mark == "true" || mark == "last", "{value}");
                lasts += usize::from(mark == "last");
                state.insert(id, value["after"]["note"].as_str().expect("note").to_owned());
            }
            "d" => {
                state.remove(&id);
            }
            _ => {
                state.insert(id, value["after"]["note"].as_str().expect("note").to_owned());
            }
        }
    }
    assert_eq!(read.len(), ROWS as usize, "every row read once");
    // A run killed before its copy ends marks no row; the run that completes it marks one.
    assert!(lasts <= 1, "{lasts} rows marked as the snapshot's last");
    let source: BTreeMap<i64, String> = db
        .client
        .query("SELECT id, note FROM orders", &[])
        .await
        .expect("rows")
        .into_iter()
        .map(|row| (i64::from(row.get::<_, i32>(0)), row.get(1)))
        .collect();
    assert_eq!(state, source, "the topic ends equal to the table");
    second.end(true, "after the changes");
    db.drop().await;
}
