//! The writer of the crash tests and its log, which is their oracle: one client
//! commits small mixed transactions (now and then a bulk insert) on three
//! tables and records every committed change, in commit order.
//!
//! ```text
//!  Random(seed) ─► write_until_stopped ──commit──► PostgreSQL ──► wellhead ──► output
//!                        └── Vec<transaction> (commit order) ── must equal ──────┘
//! ```
//!
//! It is the only writer and awaits each COMMIT, so its log is in commit order.
//! Every insert and update sets `seq` from one sequence, so each change carries
//! a unique value. The choices come from a seeded generator: `seed()` reads
//! `WELLHEAD_TEST_SEED` to replay them (the interleaving with the server still varies).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The tables the writer changes.
pub const TABLES: [&str; 3] = ["t1", "t2", "t3"];
/// Their publication names, for the config.
pub const QUALIFIED_TABLES: [&str; 3] = ["public.t1", "public.t2", "public.t3"];
/// Creates the sequence and [`TABLES`].
pub const SCHEMA: &str = "CREATE SEQUENCE change_seq;
     CREATE TABLE t1 (id bigint PRIMARY KEY, seq bigint NOT NULL, note text);
     CREATE TABLE t2 (id bigint PRIMARY KEY, seq bigint NOT NULL, note text);
     CREATE TABLE t3 (id bigint PRIMARY KEY, seq bigint NOT NULL, note text);";
/// How hard the writer writes.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// One transaction in this many is a bulk insert of `bulk_rows` rows (spanning several batches).
    pub bulk_every: u64,
    pub bulk_rows: i64,
    /// Pace: the writer sleeps whenever it is ahead of this many changes per second.
    pub max_changes_per_second: Option<u64>,
}

impl Load {
    /// Small transactions with now and then a bulk insert of 130 rows.
    pub const LIGHT: Load = Load { bulk_every: 12, bulk_rows: 130, max_changes_per_second: None };
}

/// SplitMix64: small, seedable, good enough to pick delays and operations.
#[derive(Debug)]
pub struct Random(pub u64);

impl Random {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    pub fn index(&mut self, length: usize) -> usize {
        (self.next() % length as u64) as usize
    }
}

/// `WELLHEAD_TEST_SEED`, or one taken from the clock.
pub fn seed() -> u64 {
    match std::env::var("WELLHEAD_TEST_SEED") {
        Ok(text) => text.trim().parse().unwrap_or_else(|e| panic!("WELLHEAD_TEST_SEED={text:?}: {e}")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos() as u64)
            .unwrap_or(1),
    }
}

/// One row change as the writer made it and as the output must show it.
/// Deletes carry no `seq`: with REPLICA IDENTITY DEFAULT the old row holds only the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Change {
    pub table: &'static str,
    pub op: char,
    pub id: i64,
    pub seq: Option<i64>,
}

/// The writer's table named `name` (`t1`), for building [`Change`]s from output.
pub fn table_named(name: &str) -> &'static str {
    TABLES.into_iter().find(|t| *t == name).unwrap_or_else(|| panic!("unknown table {name}"))
}

/// Commits small mixed transactions (and now and then a bulk insert) until `stop`;
/// returns every committed transaction's changes, in commit order.
pub async fn write_until_stopped(url: String, seed: u64, stop: Arc<AtomicBool>) -> Vec<Vec<Change>> {
    write_with_load(url, seed, stop, Load::LIGHT, Arc::new(AtomicU64::new(0))).await
}

/// [`write_until_stopped`] with a chosen load; `written` counts the changes committed so far.
pub async fn write_with_load(
    url: String,
    seed: u64,
    stop: Arc<AtomicBool>,
    load: Load,
    written: Arc<AtomicU64>,
) -> Vec<Vec<Change>> {
    let started = std::time::Instant::now();
    let client = super::connect(&url).await;
    let mut random = Random(seed);
    let mut live: [Vec<i64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut next_id: i64 = 1;
    let mut committed = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let mut changes = Vec::new();
        client.batch_execute("BEGIN").await.expect("begin");
        if random.next().is_multiple_of(load.bulk_every) {
            let table = random.index(TABLES.len());
            let rows = client
                .query(
                    &format!(
                        "INSERT INTO {} (id, seq, note) SELECT g, nextval('change_seq'), 'bulk'
                           FROM generate_series($1::bigint, $2::bigint) g ORDER BY g RETURNING id, seq",
                        TABLES[table]
                    ),
                    &[&next_id, &(next_id + load.bulk_rows - 1)],
                )
                .await
                .expect("bulk insert");
            for row in rows {
                let id: i64 = row.get(0);
                live[table].push(id);
                changes.push(Change { table: TABLES[table], op: 'c', id, seq: Some(row.get(1)) });
            }
            next_id += load.bulk_rows;
        } else {
            for _ in 0..random.between(1, 3) {
                let table = random.index(TABLES.len());
                let id = next_id;
                next_id += 1;
                let row = client
                    .query_one(
                        &format!(
                            "INSERT INTO {} (id, seq, note) VALUES ($1, nextval('change_seq'), 'new') RETURNING seq",
                            TABLES[table]
                        ),
                        &[&id],
                    )
                    .await
                    .expect("insert");
                live[table].push(id);
                changes.push(Change { table: TABLES[table], op: 'c', id, seq: Some(row.get(0)) });
            }
            let table = random.index(TABLES.len());
            if !live[table].is_empty() {
                let id = live[table][random.index(live[table].len())];
                let row = client
                    .query_one(
                        &format!(
                            "UPDATE {} SET seq = nextval('change_seq'), note = 'updated' WHERE id = $1 RETURNING seq",
                            TABLES[table]
                        ),
                        &[&id],
                    )
                    .await
                    .expect("update");
                changes.push(Change { table: TABLES[table], op: 'u', id, seq: Some(row.get(0)) });
            }
            let table = random.index(TABLES.len());
            if !live[table].is_empty() {
                let id = live[table].swap_remove(random.index(live[table].len()));
                let deleted = client
                    .execute(&format!("DELETE FROM {} WHERE id = $1", TABLES[table]), &[&id])
                    .await
                    .expect("delete");
                assert_eq!(deleted, 1, "row {id} of {} exists", TABLES[table]);
                changes.push(Change { table: TABLES[table], op: 'd', id, seq: None });
            }
        }
        client.batch_execute("COMMIT").await.expect("commit");
        let total = written.fetch_add(changes.len() as u64, Ordering::SeqCst) + changes.len() as u64;
        committed.push(changes);
        tokio::time::sleep(Duration::from_millis(random.between(1, 6))).await;
        if let Some(rate) = load.max_changes_per_second {
            let due = Duration::from_secs_f64(total as f64 / rate as f64);
            if let Some(ahead) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(ahead).await;
            }
        }
    }
    committed
}

/// Where the output departs from what was committed, with context, for the failure message.
pub fn describe_difference(expected: &[Change], actual: &[Change]) -> String {
    let first = expected.iter().zip(actual).position(|(e, a)| e != a).unwrap_or(expected.len().min(actual.len()));
    let around = |changes: &[Change]| {
        let start = first.saturating_sub(3);
        changes[start.min(changes.len())..(first + 4).min(changes.len())].to_vec()
    };
    let expected_set: std::collections::HashSet<&Change> = expected.iter().collect();
    let actual_set: std::collections::HashSet<&Change> = actual.iter().collect();
    let missing = expected.iter().filter(|c| !actual_set.contains(c)).count();
    let unexpected = actual.iter().filter(|c| !expected_set.contains(c)).count();
    let duplicated = actual.len() - actual_set.len();
    format!(
        "expected {} changes, got {}; {missing} missing, {unexpected} never committed, {duplicated} repeated; \
         first difference at change {first}:\n expected {:?}\n actual   {:?}",
        expected.len(),
        actual.len(),
        around(expected),
        around(actual)
    )
}

/// The JSON output's changes (jsonl, stdout), split into transactions where the transaction id changes.
/// Also checks each transaction's `total_order` runs 1..n and commit LSNs never decrease.
pub fn jsonl_transactions(events: &[serde_json::Value]) -> Vec<Vec<Change>> {
    let mut transactions: Vec<Vec<Change>> = Vec::new();
    let mut previous: Option<(String, u64, u64)> = None;
    for (line, event) in events.iter().enumerate() {
        let table = event["source"]["table"].as_str().expect("source.table");
        let table = table_named(table);
        let op = event["op"].as_str().and_then(|op| op.chars().next()).expect("op");
        let row = if event["after"].is_null() { &event["before"] } else { &event["after"] };
        let change = Change { table, op, id: row["id"].as_i64().expect("id"), seq: row["seq"].as_i64() };
        let id = event["transaction"]["id"].as_str().expect("transaction.id").to_owned();
        let order = event["transaction"]["total_order"].as_u64().expect("total_order");
        let commit_lsn = event["source"]["commit_lsn"].as_u64().expect("commit_lsn");
        match &previous {
            Some((last_id, last_order, last_commit)) if *last_id == id => {
                assert_eq!(order, last_order + 1, "line {line}: total_order continues within transaction {id}");
                assert_eq!(commit_lsn, *last_commit, "line {line}: one commit LSN per transaction");
                transactions.last_mut().expect("open transaction").push(change);
            }
            Some((_, _, last_commit)) => {
                assert_eq!(order, 1, "line {line}: transaction {id} starts at total_order 1");
                assert!(commit_lsn > *last_commit, "line {line}: commit LSNs increase");
                transactions.push(vec![change]);
            }
            None => {
                assert_eq!(order, 1, "line {line}: transaction {id} starts at total_order 1");
                transactions.push(vec![change]);
            }
        }
        previous = Some((id, order, commit_lsn));
    }
    transactions
}
