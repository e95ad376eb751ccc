//! A quiet captured table must not let the slot pin WAL that other databases write: with
//! nothing to stream, the keepalives the walsender sends as it reads past the other
//! databases' WAL are confirmed (through an ack-only checkpoint), so the slot's
//! `confirmed_flush_lsn` keeps up with the server while 100 MB of WAL are written elsewhere
//! (at about 20 MB/s), holding no more than a few of the writer's 5 MB chunks.

mod support;

use std::time::{Duration, Instant};

use support::{Server, TestDatabase, Wellhead, connect, wait_for_lines};

/// WAL written by the other database, in chunks of about 5 MB.
const WAL_BYTES: i64 = 100 << 20;
/// Between chunks: about 20 MB/s of WAL, a busy neighbour.
const PAUSE: Duration = Duration::from_millis(200);
/// What the slot may hold behind the server while the neighbour writes: a few chunks.
const MOST_RETAINED: i64 = 24 << 20;

/// WAL the slot holds behind the server at `client`'s current position.
async fn retained(client: &tokio_postgres::Client, slot: &str) -> (i64, i64) {
    let row = client
        .query_one(
            "SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint, (confirmed_flush_lsn - '0/0')::bigint
               FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .expect("slot");
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_quiet_captured_table_does_not_pin_the_wal_other_databases_write() {
    let db = TestDatabase::create(Server::Pg15, "idle_slot").await;
    let other = TestDatabase::create(Server::Pg15, "idle_other").await;
    db.client.batch_execute("CREATE TABLE quiet (id int PRIMARY KEY)").await.expect("table");
    other.client.batch_execute("CREATE TABLE busy (id bigint, filler text)").await.expect("table");
    let config = db.write_config(&["public.quiet"], "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client.batch_execute("INSERT INTO quiet VALUES (1)").await.expect("insert");
    assert!(wait_for_lines(&db.output_path(), 1, Duration::from_secs(30), Duration::from_secs(30)).await, "a row");

    let monitor = connect(&Server::Pg15.url("postgres")).await;
    let (_, confirmed_before) = retained(&monitor, &db.name).await;
    let start_lsn: i64 =
        monitor.query_one("SELECT (pg_current_wal_lsn() - '0/0')::bigint", &[]).await.expect("lsn").get(0);
    let started = Instant::now();
    let mut most_retained = 0_i64;
    let (mut chunks, mut advances, mut last_confirmed) = (0, 0, confirmed_before);
    loop {
        other
            .client
            .batch_execute("INSERT INTO busy SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, 5000) g")
            .await
            .expect("write WAL");
        chunks += 1;
        let (held, confirmed) = retained(&monitor, &db.name).await;
        most_retained = most_retained.max(held);
        advances += usize::from(confirmed > last_confirmed);
        last_confirmed = confirmed;
        let now_lsn: i64 =
            monitor.query_one("SELECT (pg_current_wal_lsn() - '0/0')::bigint", &[]).await.expect("lsn").get(0);
        if now_lsn - start_lsn >= WAL_BYTES {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    let written = started.elapsed();
    // The last keepalives come as the walsender catches up.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut held, mut confirmed) = retained(&monitor, &db.name).await;
    while held > (4 << 20) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        (held, confirmed) = retained(&monitor, &db.name).await;
    }
    eprintln!(
        "{chunks} chunks, {} MB of WAL in {written:?}; the slot advanced after {advances} of them, {} MB in all; \
         most retained while writing {} kB; at the end {} kB",
        (WAL_BYTES >> 20),
        (confirmed - confirmed_before) >> 20,
        most_retained >> 10,
        held >> 10
    );
    assert!(advances >= chunks / 2, "the slot advanced while the WAL was written, not only after");
    assert!(most_retained < MOST_RETAINED, "the slot held {most_retained} bytes while the neighbour wrote");
    assert!(confirmed - confirmed_before >= WAL_BYTES * 9 / 10, "the slot kept up with the other database's WAL");
    assert!(held < 4 << 20, "the slot holds {held} bytes of WAL after the writes");
    wellhead.stop_cleanly("idle slot");
    other.drop().await;
    db.drop().await;
}
