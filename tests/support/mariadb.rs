//! The MariaDB side of the end-to-end tests: a fresh database per test on the real
//! MariaDB server the services script configures (binlog on, ROW format, FULL row image
//! and metadata), a pipeline config reading it, and the crash tests' writer for it.
//!
//! The server comes from `WELLHEAD_TEST_MARIADB` (default 127.0.0.1:3306, root without
//! a password).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

use super::writer::{Change, Random, TABLES, table_named};

pub fn address() -> String {
    std::env::var("WELLHEAD_TEST_MARIADB").unwrap_or_else(|_| "127.0.0.1:3306".to_owned())
}

/// The server's URL (no database: a MySQL source reads every database's tables).
pub fn url() -> String {
    format!("mysql://root@{}", address())
}

/// A replica server id no other pipeline of the tests uses at the same time (the server
/// drops a replica when another connects with its id).
pub fn server_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    10_000 + (std::process::id() % 100_000) * 16 + NEXT.fetch_add(1, Ordering::SeqCst) % 16
}

pub async fn connect() -> Conn {
    let opts = Opts::from_url(&format!("{}/mysql", url())).expect("MariaDB URL");
    Conn::new(opts).await.unwrap_or_else(|error| panic!("connect to MariaDB at {}: {error}", address()))
}

/// A database created for one test; dropped by [`MariadbDatabase::drop`], or, when the test
/// panics first, by `Drop` (with the users the test made).
pub struct MariadbDatabase {
    pub name: String,
    pub conn: Conn,
    pub dir: std::path::PathBuf,
    /// Users made for the test ([`MariadbDatabase::create_user`]), dropped with the database.
    users: Vec<String>,
    dropped: bool,
}

impl MariadbDatabase {
    pub async fn create(label: &str) -> MariadbDatabase {
        let name = super::unique_name(label);
        let mut conn = connect().await;
        conn.query_drop(format!("CREATE DATABASE `{name}`")).await.expect("create database");
        conn.query_drop(format!("USE `{name}`")).await.expect("use database");
        let dir = std::env::temp_dir().join("wellhead-tests").join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test dir");
        MariadbDatabase { name, conn, dir, users: Vec::new(), dropped: false }
    }

    /// Creates `user` (any host) with `password`, `options` (e.g. `REQUIRE SSL`) and `grants`
    /// (e.g. `SELECT ON *.*`); dropped with the database.
    pub async fn create_user(&mut self, user: &str, password: &str, options: &str, grants: &str) {
        self.users.push(user.to_owned());
        self.execute(&format!(
            "DROP USER IF EXISTS '{user}'@'%'; CREATE USER '{user}'@'%' IDENTIFIED BY '{password}' {options};
             GRANT {grants} TO '{user}'@'%';"
        ))
        .await;
    }

    fn cleanup_statements(&self) -> String {
        let mut statements = format!("DROP DATABASE IF EXISTS `{}`;", self.name);
        for user in &self.users {
            statements.push_str(&format!(" DROP USER IF EXISTS '{user}'@'%';"));
        }
        statements
    }

    pub async fn execute(&mut self, statements: &str) {
        self.conn.query_drop(statements).await.unwrap_or_else(|error| panic!("{statements}: {error}"));
    }

    /// `database.table` patterns of this database's `tables`.
    pub fn patterns(&self, tables: &[&str]) -> Vec<String> {
        tables.iter().map(|table| format!("{}.{table}", self.name)).collect()
    }

    /// One `[[pipelines]]` section named after the database, capturing the tables
    /// `patterns` match (`database.table` globs) into `<dir>/out/<name>.jsonl`.
    pub fn pipeline_toml(&self, patterns: &[String], server_id: u32) -> String {
        let tables = patterns.iter().map(|pattern| format!("\"{pattern}\"")).collect::<Vec<_>>().join(", ");
        format!(
            "[[pipelines]]\nname = \"{name}\"\n\n[pipelines.source]\ntype = \"mysql\"\nurl = \"{url}\"\n\
             tables = [{tables}]\nserver_id = {server_id}\n\n[pipelines.snapshot]\nmode = \"never\"\n\n\
             [pipelines.sink]\ntype = \"jsonl\"\ndir = \"{out}\"\n\n[pipelines.checkpoint]\ndir = \"{state}\"\n",
            name = self.name,
            url = url(),
            out = self.dir.join("out").display(),
            state = self.dir.join("state").display(),
        )
    }

    pub fn write_config(&self, toml: &str) -> std::path::PathBuf {
        let path = self.dir.join("wellhead.toml");
        std::fs::write(&path, toml).expect("write config");
        path
    }

    pub fn output_path(&self) -> std::path::PathBuf {
        self.dir.join("out").join(format!("{}.jsonl", self.name))
    }

    pub async fn drop(mut self) {
        let statements = self.cleanup_statements();
        let _ = self.conn.query_drop(statements).await;
        self.dropped = true;
    }
}

impl Drop for MariadbDatabase {
    /// A test that panicked before [`MariadbDatabase::drop`]: its database and users go all
    /// the same (on a thread of its own, as the test's runtime may be the one unwinding).
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let statements = self.cleanup_statements();
        let cleanup = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                runtime.block_on(async {
                    let _ = connect().await.query_drop(statements).await;
                });
            }
        });
        let _ = cleanup.join();
    }
}

/// The crash tests' tables on MariaDB.
pub const SCHEMA: &str = "CREATE TABLE t1 (id bigint PRIMARY KEY, seq bigint NOT NULL, note text);
     CREATE TABLE t2 (id bigint PRIMARY KEY, seq bigint NOT NULL, note text);
     CREATE TABLE t3 (id bigint PRIMARY KEY, seq bigint NOT NULL, note text);";

/// Commits small mixed transactions on [`TABLES`] (now and then a bulk insert of 130
/// rows) until `stop`; returns every committed transaction's changes, in commit order.
/// The writer is the only one and numbers its changes itself (`seq`).
pub async fn write_until_stopped(database: String, seed: u64, stop: Arc<AtomicBool>) -> Vec<Vec<Change>> {
    let mut conn = connect().await;
    conn.query_drop(format!("USE `{database}`")).await.expect("use database");
    let mut random = Random(seed);
    let mut live: [Vec<i64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let (mut next_id, mut seq): (i64, i64) = (1, 0);
    let mut committed = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let mut changes = Vec::new();
        let mut statements = vec!["BEGIN".to_owned()];
        if random.next().is_multiple_of(12) {
            let table = random.index(TABLES.len());
            let mut values = Vec::new();
            for _ in 0..130 {
                seq += 1;
                values.push(format!("({next_id}, {seq}, 'bulk')"));
                live[table].push(next_id);
                changes.push(Change { table: TABLES[table], op: 'c', id: next_id, seq: Some(seq) });
                next_id += 1;
            }
            statements.push(format!("INSERT INTO {} (id, seq, note) VALUES {}", TABLES[table], values.join(", ")));
        } else {
            for _ in 0..random.between(1, 3) {
                let table = random.index(TABLES.len());
                seq += 1;
                statements
                    .push(format!("INSERT INTO {} (id, seq, note) VALUES ({next_id}, {seq}, 'new')", TABLES[table]));
                live[table].push(next_id);
                changes.push(Change { table: TABLES[table], op: 'c', id: next_id, seq: Some(seq) });
                next_id += 1;
            }
            let table = random.index(TABLES.len());
            if !live[table].is_empty() {
                let id = live[table][random.index(live[table].len())];
                seq += 1;
                statements.push(format!("UPDATE {} SET seq = {seq}, note = 'updated' WHERE id = {id}", TABLES[table]));
                changes.push(Change { table: TABLES[table], op: 'u', id, seq: Some(seq) });
            }
            let table = random.index(TABLES.len());
            if !live[table].is_empty() {
                let id = live[table].swap_remove(random.index(live[table].len()));
                statements.push(format!("DELETE FROM {} WHERE id = {id}", TABLES[table]));
                changes.push(Change { table: TABLES[table], op: 'd', id, seq: None });
            }
        }
        statements.push("COMMIT".to_owned());
        conn.query_drop(statements.join(";\n")).await.expect("transaction");
        committed.push(changes);
        tokio::time::sleep(Duration::from_millis(random.between(1, 6))).await;
    }
    committed
}

/// The JSON output's changes split into transactions (by GTID), checking that each
/// transaction's `total_order` runs 1..n and that binlog positions increase.
pub fn jsonl_transactions(events: &[serde_json::Value]) -> Vec<Vec<Change>> {
    let mut transactions: Vec<Vec<Change>> = Vec::new();
    let mut previous: Option<(String, u64, (String, u64, u64))> = None;
    for (line, event) in events.iter().enumerate() {
        let table = table_named(event["source"]["table"].as_str().expect("source.table"));
        let op = event["op"].as_str().and_then(|op| op.chars().next()).expect("op");
        let row = if event["after"].is_null() { &event["before"] } else { &event["after"] };
        let seq = if op == 'd' { None } else { row["seq"].as_i64() };
        let change = Change { table, op, id: row["id"].as_i64().expect("id"), seq };
        let id = event["transaction"]["id"].as_str().expect("transaction.id").to_owned();
        let order = event["transaction"]["total_order"].as_u64().expect("total_order");
        let source = &event["source"];
        let position = (
            source["file"].as_str().expect("source.file").to_owned(),
            source["pos"].as_u64().expect("source.pos"),
            source["row"].as_u64().expect("source.row"),
        );
        if let Some((_, _, last_position)) = &previous {
            assert!(
                position > *last_position,
                "line {line}: binlog positions increase: {last_position:?} then {position:?}"
            );
        }
        match &previous {
            Some((last_id, last_order, _)) if *last_id == id => {
                assert_eq!(order, last_order + 1, "line {line}: total_order continues within transaction {id}");
                transactions.last_mut().expect("open transaction").push(change);
            }
            _ => {
                assert_eq!(order, 1, "line {line}: transaction {id} starts at total_order 1");
                transactions.push(vec![change]);
            }
        }
        previous = Some((id, order, position));
    }
    transactions
}

/// The crash tests' rounds against MariaDB: the writer commits while `wellhead` is stopped
/// `rounds` times after a random delay in `delay_millis` (SIGTERM in round `sigterm_round`,
/// SIGKILL otherwise) and started again with the config `config` writes for a random
/// choice (`true`: small batches); returns the last run and the writer's log.
pub async fn write_through_restarts(
    database: &str,
    random: &mut Random,
    seed: u64,
    (rounds, sigterm_round): (usize, usize),
    delay_millis: (u64, u64),
    config: impl Fn(bool) -> std::path::PathBuf,
) -> (super::Wellhead, Vec<Vec<Change>>) {
    let mut wellhead = super::Wellhead::start(&config(true));
    wellhead.wait_streaming().await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_until_stopped(database.to_owned(), random.next(), stop.clone()));
    for round in 0..rounds {
        tokio::time::sleep(Duration::from_millis(random.between(delay_millis.0, delay_millis.1))).await;
        wellhead.end(round == sigterm_round, &format!("seed {seed}, round {round}"));
        wellhead = super::Wellhead::start(&config(random.next().is_multiple_of(2)));
        wellhead.wait_streaming().await;
    }
    stop.store(true, Ordering::SeqCst);
    (wellhead, writer.await.expect("writer"))
}
