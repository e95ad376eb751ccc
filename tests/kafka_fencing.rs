//! Two instances of one pipeline: the second one's `init_transactions` fences
//! the first, which stops with a message saying so and acknowledges nothing
//! more; the second continues from the last committed checkpoint. The committed
//! view holds every change exactly once.
//!
//! ```text
//!  writer ──► PostgreSQL ──► wellhead A ──► Kafka            (A running)
//!                        └─► wellhead B (same pipeline) ──► Kafka: fences A, A exits 1, B carries on
//! ```

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use support::kafka::{
    AvroDecoder, brokers, committed_view, create_state_topics, create_writer_tables, topic, wait_until_caught_up,
    write_kafka_config, writer_change,
};
use support::writer::{self, Change, Load, write_with_load};
use support::{Server, TestDatabase, Wellhead, free_port, wait_for};

/// Changes the test waits for before it starts the second instance, and after.
const BEFORE_SECOND: u64 = 2_000;
const AFTER_SECOND: u64 = 4_000;
const LOAD: Load = Load { bulk_every: 10, bulk_rows: 50, max_changes_per_second: Some(2_000) };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_fences_the_first_and_nothing_repeats() {
    let db = TestDatabase::create(Server::Pg15, "kafka_fence").await;
    let tables = create_writer_tables(&db).await;
    let brokers = brokers();
    create_state_topics(&db, &brokers).await;
    let first_http = format!("127.0.0.1:{}", free_port());
    let config = write_kafka_config(&db, &tables, &brokers, &first_http, "", "");
    let mut first = Wellhead::start(&config);
    first.wait_streaming().await;
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(write_with_load(db.url(), 7, stop.clone(), LOAD, written.clone()));
    wait_for(Duration::from_secs(60), "the first changes", || written.load(Ordering::SeqCst) >= BEFORE_SECOND).await;
    // Every table shape is registered by now; the second instance, with nothing on its disk,
    // serves the same ids from the registry's Kafka topic.
    wait_for(Duration::from_secs(30), "records in all three topics", || {
        writer::TABLES.iter().all(|table| !committed_view(&brokers, &topic(&db, &format!("public.{table}"))).is_empty())
    })
    .await;

    let second_dir = db.dir.join("second");
    std::fs::create_dir_all(&second_dir).expect("second instance's dir");
    let second_http = format!("127.0.0.1:{}", free_port());
    let second_config = std::fs::read_to_string(&config)
        .expect("config")
        .replace(&first_http, &second_http)
        .replace(&db.dir.join("registry").display().to_string(), &second_dir.join("registry").display().to_string());
    let second_config_path = second_dir.join("wellhead.toml");
    std::fs::write(&second_config_path, second_config).expect("write second config");
    let mut second = Wellhead::start(&second_config_path);

    // The first instance learns it was fenced at its next commit and stops.
    let fenced_log = first.log.clone();
    let code = tokio::task::spawn_blocking(move || first.wait(Duration::from_secs(60))).await.expect("wait");
    let first_log = std::fs::read_to_string(&fenced_log).unwrap_or_default();
    assert_eq!(code, Some(1), "the fenced instance exits with an error; log:\n{first_log}");
    assert!(first_log.contains("fenced this instance"), "the error says it was fenced; log:\n{first_log}");
    second.wait_streaming().await;

    let target = written.load(Ordering::SeqCst) + AFTER_SECOND;
    wait_for(Duration::from_secs(60), "more changes", || written.load(Ordering::SeqCst) >= target).await;
    stop.store(true, Ordering::SeqCst);
    let committed = writer.await.expect("writer");
    let expected: Vec<Change> = committed.iter().flatten().cloned().collect();
    wait_until_caught_up(&db, &brokers, Duration::from_secs(180)).await;

    let mut decoder = AvroDecoder::new(&second_http);
    let mut actual = Vec::new();
    let mut positions = HashSet::new();
    for table in writer::TABLES {
        for record in committed_view(&brokers, &topic(&db, &format!("public.{table}"))) {
            let Some(value) = &record.value else { continue };
            let (change, position) = writer_change(&mut decoder, table, value);
            assert!(positions.insert((table, position, change.id)), "{change:?} at {position:?} appears twice");
            actual.push(change);
        }
    }
    second.signal("TERM");
    assert_eq!(second.wait(Duration::from_secs(30)), Some(0), "the second instance stops cleanly");
    let sorted = |changes: &[Change]| {
        let mut changes = changes.to_vec();
        changes.sort_by_key(|change| (change.table, change.id, change.seq, change.op));
        changes
    };
    let present: HashSet<&Change> = actual.iter().collect();
    let missing: Vec<&Change> = expected.iter().filter(|change| !present.contains(change)).take(10).collect();
    assert!(
        missing.is_empty(),
        "changes missing from Kafka (first 10): {missing:?}\nfirst instance's log:\n{first_log}"
    );
    assert_eq!(actual.len(), expected.len(), "one record per change");
    assert!(sorted(&actual) == sorted(&expected), "the committed view holds exactly the committed changes");
    db.drop().await;
}
