//! The broker goes away for 30 s mid-stream and comes back (sqlite storage, so
//! it keeps its log): the pipeline waits and retries without exiting, then
//! continues; every change ends up in the committed view once, per key in
//! commit order.
//!
//! ```text
//!  writer ──► PostgreSQL ──► wellhead ──► test broker (own port, own storage)
//!                                           ├─ SIGTERM, 30 s away ─┤ started again
//! ```
//!
//! A second run stays away longer than the (shortened) transaction timeout.
//!
//! The broker is the test's own, so stopping it does not disturb the other
//! Kafka tests running at the same time.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use support::kafka::{
    AvroDecoder, TestBroker, assert_each_change_once, create_state_topics, create_writer_tables, read_writer_topics,
    wait_until_caught_up, write_kafka_config,
};
use support::writer::{Change, Load, write_with_load};
use support::{Server, TestDatabase, Wellhead, free_port, wait_for};

const OUTAGE: Duration = Duration::from_secs(30);
const LOAD: Load = Load { bulk_every: 10, bulk_rows: 50, max_changes_per_second: Some(500) };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_away_for_30_seconds_loses_and_repeats_nothing() {
    let log = broker_outage_loses_and_repeats_nothing("kafka_outage", OUTAGE, "").await;
    assert!(
        log.contains("retrying") || log.contains("starting again from its last committed checkpoint"),
        "the outage shows in the log as retries:\n{log}"
    );
}

/// Longer than the transaction timeout (shortened to 10 s): the open transaction cannot
/// commit any more; the pipeline starts again from its committed checkpoint, never
/// stopping as if another instance had fenced it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_away_longer_than_the_transaction_timeout_loses_and_repeats_nothing() {
    let sink = "properties = { \"transaction.timeout.ms\" = \"10000\" }";
    let log = broker_outage_loses_and_repeats_nothing("kafka_txn_timeout", Duration::from_secs(25), sink).await;
    assert!(
        log.contains("starting again from its last committed checkpoint"),
        "the timed-out transaction restarted the pipeline:\n{log}"
    );
    assert!(!log.contains("Kafka fenced"), "a timed-out transaction is not taken for fencing:\n{log}");
    for line in log.lines().filter(|line| line.contains("WARN") && !line.contains("librdkafka")) {
        println!("{line}");
    }
}

/// Stops the test's broker for `outage` under a live writer, starts it again, and checks
/// that every change is in Kafka once; returns Wellhead's log.
async fn broker_outage_loses_and_repeats_nothing(label: &str, outage: Duration, sink: &str) -> String {
    let db = TestDatabase::create(Server::Pg15, label).await;
    let tables = create_writer_tables(&db).await;
    let mut broker = TestBroker::start(&db.dir.join("broker"));
    let brokers = broker.brokers();
    create_state_topics(&db, &brokers).await;
    let http = format!("127.0.0.1:{}", free_port());
    let config = write_kafka_config(&db, &tables, &brokers, &http, sink, "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_with_load(db.url(), 11, stop.clone(), LOAD, written.clone()));
    wait_for(Duration::from_secs(60), "changes before the outage", || written.load(Ordering::SeqCst) >= 1_000).await;

    broker.stop();
    let during_outage = written.load(Ordering::SeqCst);
    tokio::time::sleep(outage).await;
    if let Some(status) = wellhead.child.try_wait().expect("try_wait") {
        panic!("wellhead exited during the outage ({status}); log:\n{}", wellhead.log_text());
    }
    assert!(written.load(Ordering::SeqCst) > during_outage + 1_000, "the writer went on during the outage");
    broker.resume();

    let target = written.load(Ordering::SeqCst) + 1_000;
    wait_for(Duration::from_secs(60), "changes after the outage", || written.load(Ordering::SeqCst) >= target).await;
    stop.store(true, Ordering::SeqCst);
    let committed = writer.await.expect("writer");
    let expected: Vec<Change> = committed.iter().flatten().cloned().collect();
    wait_until_caught_up(&db, &brokers, Duration::from_secs(180)).await;
    let mut decoder = AvroDecoder::new(&http);
    decoder.preload();
    let seen = read_writer_topics(&brokers, &db, &mut decoder);
    assert_each_change_once(0, &seen, &expected);
    let log = wellhead.log_text();
    wellhead.end(true, "after the outage");
    db.drop().await;
    log
}
