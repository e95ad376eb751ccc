//! The Kafka sink on the test broker: keys, values and tombstones as SPEC says,
//! a key change split Debezium's way, the checkpoint committed with the data
//! and read back on restart (nothing repeated), and the raw-log reader that
//! every Kafka test trusts, checked against transactions committed and aborted here.

mod support;

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use support::kafka::{
    AvroDecoder, brokers, checkpoint_topic, committed_view, create_state_topics, topic, write_kafka_config,
};
use support::{Server, TestDatabase, Wellhead, free_port, wait_for};
use wellhead::kafka::committed_log::CommittedLogReader;

fn producer(transactional_id: Option<&str>) -> ThreadedProducer<DefaultProducerContext> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers()).set("enable.idempotence", "true");
    if let Some(id) = transactional_id {
        config.set("transactional.id", id);
    }
    config.create().expect("producer")
}

fn send(producer: &ThreadedProducer<DefaultProducerContext>, topic: &str, value: &str) {
    producer.send(BaseRecord::<str, str>::to(topic).key("k").payload(value).partition(0)).expect("send");
}

#[test]
fn committed_log_sees_only_committed_records() {
    let topic = format!("committed_log_{}", std::process::id());
    let transactional = producer(Some(&format!("{topic}_tx")));
    let plain = producer(None);
    let timeout = Duration::from_secs(30);
    transactional.init_transactions(timeout).expect("init transactions");
    transactional.begin_transaction().expect("begin");
    send(&transactional, &topic, "committed-1");
    send(&transactional, &topic, "committed-2");
    transactional.commit_transaction(timeout).expect("commit");
    transactional.begin_transaction().expect("begin");
    send(&transactional, &topic, "aborted");
    transactional.flush(timeout).expect("flush the records that will be aborted");
    transactional.abort_transaction(timeout).expect("abort");
    send(&plain, &topic, "plain");
    plain.flush(timeout).expect("flush");
    transactional.begin_transaction().expect("begin");
    send(&transactional, &topic, "committed-3");
    transactional.commit_transaction(timeout).expect("commit");

    let values: Vec<String> = committed_view(&brokers(), &topic)
        .into_iter()
        .map(|record| String::from_utf8(record.value.expect("value")).expect("UTF-8"))
        .collect();
    assert_eq!(values, ["committed-1", "committed-2", "plain", "committed-3"]);
    // The aborted record is in the log (the broker keeps it, and nisshi even hands it to
    // read_committed consumers); the reader left it out because of its ABORT marker.
    let log = CommittedLogReader::connect(&brokers()).expect("connect").read_partition(&topic, 0).expect("read");
    assert_eq!((log.aborted, log.pending), (1, 0), "one aborted record, nothing left open");
}

/// What Wellhead's recovery relies on: `init_transactions` of the next instance aborts
/// the transaction a crashed one left open, even when it was not its first. (The
/// services script patches nisshi 0.7.0-pre.2 for this; see `patch_nisshi_transaction_begin`.)
#[test]
fn a_transaction_left_open_by_a_crash_is_aborted_when_the_next_instance_starts() {
    let topic = format!("crashed_open_{}", std::process::id());
    let transactional_id = format!("{topic}_tx");
    let timeout = Duration::from_secs(15);
    let crashed = producer(Some(&transactional_id));
    crashed.init_transactions(timeout).expect("init transactions");
    for value in ["first", "second"] {
        crashed.begin_transaction().expect("begin");
        send(&crashed, &topic, value);
        crashed.commit_transaction(timeout).expect("commit");
    }
    crashed.begin_transaction().expect("begin");
    send(&crashed, &topic, "left open");
    crashed.flush(timeout).expect("flush");
    // A crash: no abort, no goodbye; the broker still holds the open transaction.
    std::mem::forget(crashed);
    let next = producer(Some(&transactional_id));
    next.init_transactions(timeout).expect("init transactions fences the crashed instance");
    for value in ["third", "fourth"] {
        next.begin_transaction().expect("begin");
        send(&next, &topic, value);
        next.commit_transaction(timeout).expect("commit after the crashed transaction was aborted");
    }
    let values: Vec<String> = committed_view(&brokers(), &topic)
        .into_iter()
        .map(|record| String::from_utf8(record.value.expect("value")).expect("UTF-8"))
        .collect();
    assert_eq!(values, ["first", "second", "third", "fourth"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_values_tombstones_and_moved_keys_arrive_once_across_restarts() {
    let db = TestDatabase::create(Server::Pg15, "kafka_basic").await;
    db.client
        .batch_execute("CREATE TABLE orders (id int PRIMARY KEY, note text); CREATE TABLE notes (body text);")
        .await
        .expect("schema");
    create_state_topics(&db, &brokers()).await;
    let http = format!("127.0.0.1:{}", free_port());
    let config = write_kafka_config(&db, &["public.orders", "public.notes"], &brokers(), &http, "", "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client
        .batch_execute(
            "INSERT INTO orders VALUES (1, 'one'), (2, 'two');
             UPDATE orders SET note = 'uno' WHERE id = 1;
             DELETE FROM orders WHERE id = 2;
             UPDATE orders SET id = 3 WHERE id = 1;
             INSERT INTO notes VALUES ('keyless');",
        )
        .await
        .expect("changes");
    let orders = topic(&db, "public.orders");
    let brokers = brokers();
    // insert, insert, update, delete + tombstone, moved key: delete + tombstone + create.
    wait_for(Duration::from_secs(30), "8 records in the orders topic", || committed_view(&brokers, &orders).len() >= 8)
        .await;
    let mut decoder = AvroDecoder::new(&http);
    let records = committed_view(&brokers, &orders);
    let described: Vec<String> = records
        .iter()
        .map(|record| {
            let key = decoder.decode(record.key.as_deref().expect("every orders record has a key"));
            match &record.value {
                None => format!("{} tombstone", key["id"]),
                Some(value) => {
                    let value = decoder.decode(value);
                    let row = if value["after"].is_null() { &value["before"] } else { &value["after"] };
                    assert_eq!(row["id"], key["id"], "the key is the row's primary key: {value}");
                    assert_eq!(value["source"]["table"], "orders");
                    format!("{} {} {}", key["id"], value["op"].as_str().expect("op"), row["note"])
                }
            }
        })
        .collect();
    assert_eq!(
        described,
        [
            "1 c \"one\"",
            "2 c \"two\"",
            "1 u \"uno\"",
            "2 d null",
            "2 tombstone",
            "1 d null",
            "1 tombstone",
            "3 c \"uno\""
        ]
    );
    let notes = committed_view(&brokers, &topic(&db, "public.notes"));
    assert_eq!(notes.len(), 1, "keyless table: one record, no key");
    assert!(notes[0].key.is_none());

    // A clean stop, a restart with no new changes, then one more change: nothing repeats.
    wellhead.signal("TERM");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0));
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    assert!(
        wellhead.log_text().contains("Resuming after the checkpoint committed in Kafka."),
        "{}",
        wellhead.log_text()
    );
    db.client.batch_execute("INSERT INTO orders VALUES (4, 'four')").await.expect("insert");
    wait_for(Duration::from_secs(30), "the new insert", || committed_view(&brokers, &orders).len() >= 9).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let records = committed_view(&brokers, &orders);
    assert_eq!(records.len(), 9, "exactly one more record after the restart");
    let last = decoder.decode(records[8].value.as_deref().expect("value"));
    assert_eq!(last["after"]["id"], 4);
    let checkpoints = committed_view(&brokers, &checkpoint_topic(&db));
    assert!(
        checkpoints.iter().all(|record| record.key.as_deref() == Some(db.name.as_bytes())),
        "checkpoints are keyed by pipeline name"
    );
    wellhead.signal("TERM");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0));
    db.drop().await;
}

/// `delivery = "at_least_once"`: no transactions (for brokers without them); the log says
/// what that means, every change arrives, and the checkpoint written after the data is
/// read back on restart, so a clean restart repeats nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_mode_says_so_and_resumes_from_its_checkpoint() {
    let db = TestDatabase::create(Server::Pg15, "kafka_alo").await;
    db.client.batch_execute("CREATE TABLE orders (id int PRIMARY KEY, note text)").await.expect("schema");
    let brokers = brokers();
    create_state_topics(&db, &brokers).await;
    let http = format!("127.0.0.1:{}", free_port());
    let config = write_kafka_config(&db, &["public.orders"], &brokers, &http, "delivery = \"at_least_once\"", "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    assert!(
        wellhead
            .log_text()
            .contains("at_least_once mode: after a crash, changes written since the last checkpoint are written again"),
        "the log says what at-least-once means:\n{}",
        wellhead.log_text()
    );
    db.client
        .batch_execute("INSERT INTO orders SELECT g, 'first' FROM generate_series(1, 100) g")
        .await
        .expect("insert");
    let orders = topic(&db, "public.orders");
    wait_for(Duration::from_secs(30), "100 records", || committed_view(&brokers, &orders).len() >= 100).await;
    wellhead.signal("TERM");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0));
    let checkpoints = committed_view(&brokers, &checkpoint_topic(&db));
    assert!(!checkpoints.is_empty(), "checkpoints are written without transactions");

    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client
        .batch_execute("INSERT INTO orders SELECT g, 'second' FROM generate_series(101, 150) g")
        .await
        .expect("insert");
    wait_for(Duration::from_secs(30), "150 records", || committed_view(&brokers, &orders).len() >= 150).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut decoder = AvroDecoder::new(&http);
    let ids: Vec<i64> = committed_view(&brokers, &orders)
        .iter()
        .map(|record| decoder.decode(record.value.as_deref().expect("value"))["after"]["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, (1..=150).collect::<Vec<i64>>(), "every change once after a clean restart");
    wellhead.signal("TERM");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0));
    db.drop().await;
}
