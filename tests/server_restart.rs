//! PostgreSQL restarted under a streaming pipeline, fast and immediate (a crash), ten
//! times, for the jsonl and the Kafka sink: Wellhead reconnects each time (the server
//! ending the copy stream at shutdown, catalog and slot queries failing while it starts,
//! are failures a retry gets past) and the output holds every committed row once, in
//! commit order (Kafka: read by the independent raw-batch reader).
//!
//! ```text
//!  round × 10: INSERT 5 transactions ──► own PostgreSQL 15 ──slot──► wellhead ──► out.jsonl | Kafka
//!              pg_ctl restart -m fast | immediate (while the pipeline streams them)
//!  then: ids 1..=N, each once, in order; wellhead exits 0 on SIGINT
//! ```
//!
//! The server is the test's own (`support::own_postgres`): the shared services stay up
//! for the other tests. The restart delays come from a seeded generator (the seed is
//! printed; `WELLHEAD_TEST_SEED=<n>` replays them).

mod support;

use std::time::Duration;

use support::kafka::{AvroDecoder, KEEP_HISTORY, brokers, committed_view, create_kept_topics};
use support::own_postgres::{OwnPostgres, RestartMode};
use support::writer::{self, Random};
use support::{Wellhead, connect, free_port, read_jsonl, wait_for};
use wellhead::kafka::committed_log::CommittedLogReader;

const ROUNDS: usize = 10;
const TRANSACTIONS_PER_ROUND: usize = 5;
const ROWS_PER_TRANSACTION: usize = 200;
/// Delay between a round's last commit and the restart, in milliseconds (the pipeline is
/// then somewhere between receiving and checkpointing them).
const RESTART_DELAY_MAX: u64 = 300;
/// How long the pipeline may take to stream again after a restart: the backoff reaches
/// its 30 s cap after a few restarts in a row, and one failed attempt (the server still
/// starting) waits a second cap.
const RESUME_TIMEOUT: Duration = Duration::from_secs(120);

/// Where a run of the test writes, and how its output is read back.
enum Output {
    Jsonl,
    Kafka { brokers: String, http: String },
}

impl Output {
    /// The `[pipelines.sink]` section (and `[control]` for Kafka's registry).
    fn sections(&self, dir: &std::path::Path, name: &str) -> String {
        match self {
            Output::Jsonl => format!("[pipelines.sink]\ntype = \"jsonl\"\ndir = \"{}\"\n", dir.join("out").display()),
            Output::Kafka { brokers, http } => format!(
                "[pipelines.sink]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\ntopic_prefix = \"{name}\"\n\
                 checkpoint_topic = \"{name}_checkpoints\"\n{KEEP_HISTORY}\n\n\
                 [control]\nhttp = \"{http}\"\nregistry_dir = \"{}\"\nregistry_topic = \"{name}_schemas\"\n",
                dir.join("registry").display()
            ),
        }
    }

    /// How many rows the output holds so far (cheap enough to poll: Wellhead's own reader of
    /// the committed log for Kafka; the final check reads with the independent one).
    fn count(&self, dir: &std::path::Path, name: &str) -> usize {
        match self {
            Output::Jsonl => read_jsonl(&dir.join("out").join(format!("{name}.jsonl"))).len(),
            Output::Kafka { brokers, .. } => CommittedLogReader::connect(brokers)
                .and_then(|mut reader| reader.read_partition(&format!("{name}.public.t"), 0))
                .map_or(0, |log| log.committed.len()),
        }
    }

    /// The ids of the rows in the output, in output order.
    fn ids(&self, dir: &std::path::Path, name: &str) -> Vec<i64> {
        match self {
            Output::Jsonl => read_jsonl(&dir.join("out").join(format!("{name}.jsonl")))
                .iter()
                .map(|event| event["after"]["id"].as_i64().expect("after.id"))
                .collect(),
            Output::Kafka { brokers, http } => {
                let mut decoder = AvroDecoder::new(http);
                committed_view(brokers, &format!("{name}.public.t"))
                    .iter()
                    .map(|record| {
                        decoder.decode(record.value.as_deref().expect("value"))["after"]["id"].as_i64().expect("id")
                    })
                    .collect()
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_fast_and_immediate_loses_and_repeats_nothing_in_jsonl() {
    restarts_lose_and_repeat_nothing(Output::Jsonl, "restarts").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_fast_and_immediate_loses_and_repeats_nothing_in_kafka() {
    let name = format!("restarts_kafka_{}", std::process::id());
    let brokers = brokers();
    create_kept_topics(&brokers, &[format!("{name}_checkpoints"), format!("{name}_schemas")]).await;
    let http = format!("127.0.0.1:{}", free_port());
    restarts_lose_and_repeat_nothing(Output::Kafka { brokers, http }, &name).await;
}

async fn restarts_lose_and_repeat_nothing(output: Output, name: &str) {
    let seed = writer::seed();
    println!("server restart seed {seed}; replay with WELLHEAD_TEST_SEED={seed}");
    let mut random = Random(seed);
    let dir = std::env::temp_dir().join("wellhead-tests").join(format!("server_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    let server = OwnPostgres::start(&dir.join("server"));
    let admin = connect(&server.url("postgres")).await;
    admin.batch_execute("CREATE DATABASE shop").await.expect("database");
    drop(admin);
    let client = connect(&server.url("shop")).await;
    client.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await.expect("table");

    let config = dir.join("wellhead.toml");
    std::fs::write(
        &config,
        format!(
            "[[pipelines]]\nname = \"{name}\"\n\n[pipelines.source]\ntype = \"postgres\"\nurl = \"{url}\"\n\
             tables = [\"public.t\"]\nslot = \"restarts\"\npublication = \"restarts\"\n\n[pipelines.snapshot]\nmode = \"never\"\n\n\
             [pipelines.checkpoint]\ndir = \"{state}\"\n\n{sections}",
            url = server.url("shop"),
            state = dir.join("state").display(),
            sections = output.sections(&dir, name),
        ),
    )
    .expect("config");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;

    let mut client = client;
    let mut next_id = 1;
    for round in 0..ROUNDS {
        for _ in 0..TRANSACTIONS_PER_ROUND {
            let last = next_id + ROWS_PER_TRANSACTION - 1;
            client
                .batch_execute(&format!(
                    "INSERT INTO t SELECT i, 'round {round}' FROM generate_series({next_id}, {last}) i"
                ))
                .await
                .unwrap_or_else(|e| panic!("seed {seed}, round {round}: insert: {e}"));
            next_id = last + 1;
        }
        tokio::time::sleep(Duration::from_millis(random.between(0, RESTART_DELAY_MAX))).await;
        let mode = if round % 2 == 0 { RestartMode::Fast } else { RestartMode::Immediate };
        let sessions = wellhead.log_text().matches("Streaming changes.").count();
        server.restart(mode);
        // Each restart meets a streaming pipeline: wait for its next session.
        wait_for(RESUME_TIMEOUT, "the pipeline streaming again", || {
            if let Ok(Some(status)) = wellhead.child.try_wait() {
                panic!(
                    "seed {seed}, round {round}: wellhead exited after a {mode:?} restart ({status}); log:\n{}",
                    wellhead.log_text()
                );
            }
            wellhead.log_text().matches("Streaming changes.").count() > sessions
        })
        .await;
        client = connect(&server.url("shop")).await;
    }
    let rows = next_id - 1;
    wait_for(Duration::from_secs(60), "every row in the output", || {
        if let Ok(Some(status)) = wellhead.child.try_wait() {
            panic!("seed {seed}: wellhead exited ({status}); log:\n{}", wellhead.log_text());
        }
        output.count(&dir, name) >= rows
    })
    .await;
    // A row written twice would show by now.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // Read while the registry the Kafka records' schemas come from still serves.
    let ids = output.ids(&dir, name);
    wellhead.signal("INT");
    let log = wellhead.log_text();
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0), "seed {seed}: clean exit; log:\n{log}");

    let expected: Vec<i64> = (1..=i64::try_from(rows).expect("rows")).collect();
    if ids != expected {
        let missing = expected.iter().filter(|id| !ids.contains(id)).count();
        let first_wrong = ids.iter().zip(&expected).position(|(got, want)| got != want);
        panic!(
            "seed {seed}: {} rows out of {rows}, {missing} missing, first difference at line {first_wrong:?}; log:\n{log}",
            ids.len()
        );
    }
    let reconnections = log.matches("Source interrupted; reconnecting.").count();
    println!("{ROUNDS} restarts, {reconnections} reconnections logged, {rows} rows once each");
    assert!(reconnections >= ROUNDS, "every restart made the source reconnect; log:\n{log}");
    assert!(!log.contains("Pipeline failed"), "no pipeline stopped; log:\n{log}");
}
