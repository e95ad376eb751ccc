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
//! The broker is the test's own, so stopping it does not disturb the other
//! Kafka tests running at the same time.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use support::kafka::{
    AvroDecoder, TestBroker, committed_view, create_state_topics, create_writer_tables, topic, wait_until_caught_up,
    write_kafka_config, writer_change,
};
use support::writer::{self, Change, Load, write_with_load};
use support::{Server, TestDatabase, Wellhead, free_port, wait_for};

const OUTAGE: Duration = Duration::from_secs(30);
const LOAD: Load = Load { bulk_every: 10, bulk_rows: 50, max_changes_per_second: Some(500) };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_away_for_30_seconds_loses_and_repeats_nothing() {
    let db = TestDatabase::create(Server::Pg15, "kafka_outage").await;
    let tables = create_writer_tables(&db).await;
    let mut broker = TestBroker::start(&db.dir.join("broker"));
    let brokers = broker.brokers();
    create_state_topics(&db, &brokers).await;
    let http = format!("127.0.0.1:{}", free_port());
    let config = write_kafka_config(&db, &tables, &brokers, &http, "", "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_with_load(db.url(), 11, stop.clone(), LOAD, written.clone()));
    wait_for(Duration::from_secs(60), "changes before the outage", || written.load(Ordering::SeqCst) >= 1_000).await;

    broker.stop();
    let during_outage = written.load(Ordering::SeqCst);
    tokio::time::sleep(OUTAGE).await;
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
    let expected_records = expected.len() + expected.iter().filter(|change| change.op == 'd').count();
    wait_until_caught_up(&db, &brokers, Duration::from_secs(180)).await;

    let mut decoder = AvroDecoder::new(&http);
    let mut actual_per_key: BTreeMap<(&str, i64), Vec<Change>> = BTreeMap::new();
    let mut total = 0;
    for table in writer::TABLES {
        for record in committed_view(&brokers, &topic(&db, &format!("public.{table}"))) {
            total += 1;
            let Some(value) = &record.value else { continue };
            let (change, _) = writer_change(&mut decoder, table, value);
            actual_per_key.entry((table, change.id)).or_default().push(change);
        }
    }
    let log = wellhead.log_text();
    wellhead.signal("TERM");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0), "wellhead stops cleanly after the outage");
    let mut expected_per_key: BTreeMap<(&str, i64), Vec<Change>> = BTreeMap::new();
    for change in &expected {
        expected_per_key.entry((change.table, change.id)).or_default().push(change.clone());
    }
    assert_eq!(total, expected_records, "one record per change plus a tombstone per delete");
    assert!(actual_per_key == expected_per_key, "every change once, per key in commit order");
    assert!(
        log.contains("retrying") || log.contains("starting again from its last committed checkpoint"),
        "the outage shows in the log as retries:\n{log}"
    );
    db.drop().await;
}
