//! The Kafka sink seen from outside: a config that writes to the test broker
//! (topics and checkpoint topic unique to the test database), the committed
//! view of a topic read from the raw log, and its records decoded with the
//! schemas the registry serves.
//!
//! ```text
//!  wellhead ─► broker: <db>.public.<table> (key, value), _wellhead_checkpoints_<db>
//!  committed_view(topic) ─► committed_records.py: raw log, COMMIT/ABORT markers applied ─► records
//!                        ─► AvroDecoder (registry by id)
//! ```
//!
//! Why the raw log: the test broker (nisshi) hands aborted records to
//! `read_committed` consumers, so a consumer cannot tell what was committed;
//! `tests/python/committed_records.py` works it out from the markers with
//! kafka-python, independently of Wellhead's own reader
//! (`wellhead::kafka::committed_log`, which reads the checkpoint).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::writer::Change;
use std::path::PathBuf;

use super::TestDatabase;

/// The broker the tests use (`WELLHEAD_TEST_KAFKA`, default the services script's).
pub fn brokers() -> String {
    std::env::var("WELLHEAD_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

/// The checkpoint topic of `db`'s pipeline.
pub fn checkpoint_topic(db: &TestDatabase) -> String {
    format!("_wellhead_checkpoints_{}", db.name)
}

/// The topic that keeps the embedded registry of `db`'s pipeline.
pub fn registry_topic(db: &TestDatabase) -> String {
    format!("_wellhead_schemas_{}", db.name)
}

/// The topic of `table` (`public.t1`).
pub fn topic(db: &TestDatabase, table: &str) -> String {
    format!("{}.{table}", db.name)
}

/// Sink lines that keep every record of the table topics: nisshi compacts `compact` topics
/// naively (it keeps the latest record per key, COMMIT markers included, so older
/// transactions lose their markers), which would erase the history the tests check.
pub const KEEP_HISTORY: &str = "topic_config = { \"cleanup.policy\" = \"delete\" }";

/// Creates `db`'s checkpoint and registry topics with `cleanup.policy=delete` before Wellhead
/// would create them compacted: see [`KEEP_HISTORY`] for why nisshi's compaction must stay out
/// of the tests (a registry event without its COMMIT marker would be lost).
pub async fn create_state_topics(db: &TestDatabase, brokers: &str) {
    create_kept_topics(brokers, &[checkpoint_topic(db), registry_topic(db)]).await;
}

/// Creates `topics` (one partition each) with `cleanup.policy=delete`; see [`create_state_topics`].
pub async fn create_kept_topics(brokers: &str, topics: &[String]) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        rdkafka::ClientConfig::new().set("bootstrap.servers", brokers).create().expect("admin client");
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|topic| NewTopic::new(topic, 1, TopicReplication::Fixed(1)).set("cleanup.policy", "delete"))
        .collect();
    let results = admin.create_topics(&new_topics, &AdminOptions::new()).await.expect("create topics");
    for result in results {
        result.expect("state topic created");
    }
}

/// Writes a config streaming `tables` into Kafka at `brokers`, with the registry API on `http`.
/// `sink` adds lines to `[pipelines.sink]` (always [`KEEP_HISTORY`]), `extra` whole sections.
pub fn write_kafka_config(
    db: &TestDatabase,
    tables: &[&str],
    brokers: &str,
    http: &str,
    sink: &str,
    extra: &str,
) -> PathBuf {
    let tables = tables.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
    let config = format!(
        "[control]\nhttp = \"{http}\"\nregistry_dir = \"{registry}\"\nregistry_topic = \"{registry_topic}\"\n\n\
         [[pipelines]]\nname = \"{name}\"\n\n[pipelines.source]\ntype = \"postgres\"\nurl = \"{url}\"\n\
         tables = [{tables}]\nslot = \"{name}\"\npublication = \"{name}\"\n\n[pipelines.snapshot]\nmode = \"never\"\n\n\
         [pipelines.sink]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\ntopic_prefix = \"{name}\"\n\
         checkpoint_topic = \"{checkpoints}\"\n{KEEP_HISTORY}\n{sink}\n{extra}\n",
        name = db.name,
        url = db.url(),
        registry = db.dir.join("registry").display(),
        checkpoints = checkpoint_topic(db),
        registry_topic = registry_topic(db),
    );
    let path = db.dir.join("wellhead.toml");
    std::fs::write(&path, config).expect("write config");
    path
}

/// The table whose one row, inserted after a writer stopped, shows when the sink has
/// caught up: transactions are committed to Kafka in commit order, so once the marker's
/// record is committed, so is everything before it. (Reading the marker topic is cheap;
/// the test broker reads about 2,000 records a second, so polling whole topics is not.)
pub const MARKER_TABLE: &str = "public.caught_up_marker";

/// Creates [`MARKER_TABLE`]; list it among the config's tables.
pub async fn create_marker_table(db: &TestDatabase) {
    db.client.batch_execute("CREATE TABLE caught_up_marker (id int PRIMARY KEY)").await.expect("marker table");
}

/// Inserts the marker row and waits until its record is committed in Kafka.
pub async fn wait_until_caught_up(db: &TestDatabase, brokers: &str, timeout: std::time::Duration) {
    db.client.batch_execute("INSERT INTO caught_up_marker VALUES (1)").await.expect("marker row");
    let marker_topic = topic(db, MARKER_TABLE);
    super::wait_for(timeout, "the marker row in Kafka", || !committed_view(brokers, &marker_topic).is_empty()).await;
}

/// Creates the writer's tables (`support::writer`) and the marker table; returns the
/// config's table list.
pub async fn create_writer_tables(db: &TestDatabase) -> Vec<&'static str> {
    db.client.batch_execute(super::writer::SCHEMA).await.expect("schema");
    create_marker_table(db).await;
    let mut tables = super::writer::QUALIFIED_TABLES.to_vec();
    tables.push(MARKER_TABLE);
    tables
}

/// A writer's change as a Kafka record of `table`'s topic shows it, with its position
/// `(commit_lsn, place in its transaction)` (from a binlog: `(pos, row)`). Deletes carry no `seq` (the old row holds only the key).
pub fn writer_change(decoder: &mut AvroDecoder, table: &'static str, value: &[u8]) -> (Change, (u64, u64)) {
    let value = decoder.decode(value);
    let op = value["op"].as_str().and_then(|op| op.chars().next()).expect("op");
    let row = if value["after"].is_null() { &value["before"] } else { &value["after"] };
    let seq = if op == 'd' { None } else { row["seq"].as_i64() };
    let id = row["id"].as_i64().expect("id");
    let source = &value["source"];
    let place = value["transaction"]["total_order"].as_u64().expect("transaction.total_order");
    let position = match source["commit_lsn"].as_u64() {
        Some(commit_lsn) => (commit_lsn, place),
        // A binlog change: its rows event's offset and its row in the event (one binlog file).
        None => (source["pos"].as_u64().expect("pos"), source["row"].as_u64().expect("row")),
    };
    (Change { table, op, id, seq }, position)
}

/// One committed record of a topic.
#[derive(Debug, Clone)]
pub struct TopicRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// Every committed record of `topic` at `brokers`, partition by partition, each in offset order
/// (empty when the topic does not exist), as an independent reader works it out from the raw
/// record batches: `tests/python/committed_records.py` (kafka-python's protocol classes), which
/// shares no code with Wellhead's own committed-log reader, so that one mistake cannot both
/// cause a loss and hide it.
pub fn committed_view(brokers: &str, topic: &str) -> Vec<TopicRecord> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/committed_records.py");
    let output = std::process::Command::new("python3")
        .arg(&script)
        .args([brokers, topic])
        .output()
        .expect("run committed_records.py (scripts/services up installs its Python packages)");
    assert!(
        output.status.success(),
        "committed_records.py {brokers} {topic} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hex = |value: &serde_json::Value| {
        value.as_str().map(|text| {
            (0..text.len())
                .step_by(2)
                .map(|index| u8::from_str_radix(&text[index..index + 2], 16).expect("hex from the reader"))
                .collect::<Vec<u8>>()
        })
    };
    let mut records = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let record: serde_json::Value = serde_json::from_str(line).expect("JSON line from committed_records.py");
        if record.get("summary").is_some() {
            continue;
        }
        records.push(TopicRecord {
            partition: i32::try_from(record["partition"].as_i64().expect("partition")).expect("partition"),
            offset: record["offset"].as_i64().expect("offset"),
            key: hex(&record["key"]),
            value: hex(&record["value"]),
        });
    }
    records
}

/// Decodes Confluent-framed Avro with the schemas the registry at `http` serves, by id.
#[derive(Debug)]
pub struct AvroDecoder {
    http: String,
    schemas: HashMap<u32, apache_avro::Schema>,
}

impl AvroDecoder {
    pub fn new(http: &str) -> AvroDecoder {
        AvroDecoder { http: http.to_owned(), schemas: HashMap::new() }
    }

    /// Fetches every schema the registry has (ids from 1 up to the first unknown), so that
    /// records can be decoded after the registry's process stopped.
    pub fn preload(&mut self) {
        for id in 1.. {
            let (status, body) = super::http("GET", &self.http, &format!("/schemas/ids/{id}"), None);
            if status == 404 {
                break;
            }
            assert_eq!(status, 200, "schema {id} from the registry: {body}");
            let body: serde_json::Value = serde_json::from_str(&body).expect("registry JSON");
            let schema = apache_avro::Schema::parse_str(body["schema"].as_str().expect("schema text")).expect("schema");
            self.schemas.insert(id, schema);
        }
    }

    /// The datum as JSON (unions unwrapped, as apache-avro renders them).
    pub fn decode(&mut self, framed: &[u8]) -> serde_json::Value {
        assert!(framed.len() >= 5 && framed[0] == 0, "Confluent framing: magic byte 0 and a schema id");
        let id = u32::from_be_bytes([framed[1], framed[2], framed[3], framed[4]]);
        let http = self.http.clone();
        let schema = self.schemas.entry(id).or_insert_with(|| {
            let (status, body) = super::http("GET", &http, &format!("/schemas/ids/{id}"), None);
            assert_eq!(status, 200, "schema {id} from the registry: {body}");
            let body: serde_json::Value = serde_json::from_str(&body).expect("registry JSON");
            apache_avro::Schema::parse_str(body["schema"].as_str().expect("schema text")).expect("Avro schema")
        });
        let mut datum = &framed[5..];
        let value = apache_avro::from_avro_datum(schema, &mut datum, None).expect("Avro datum");
        assert!(datum.is_empty(), "the datum fills the message");
        serde_json::Value::try_from(value).expect("datum as JSON")
    }
}

/// A broker of the test's own (nisshi with sqlite storage in the test's directory), for
/// tests that stop and start it; `WELLHEAD_TEST_NISSHI` names the binary (default:
/// where the services script installs it).
pub struct TestBroker {
    child: Option<std::process::Child>,
    pub port: u16,
    dir: PathBuf,
    storage: &'static str,
}

impl TestBroker {
    /// A broker with sqlite storage: it keeps its log across a stop and start.
    pub fn start(dir: &std::path::Path) -> TestBroker {
        TestBroker::start_with(dir, "sqlite://nisshi.db")
    }

    /// A broker with memory storage: gone at stop, but it reads back far faster than
    /// sqlite (which serves about 2,000 records a second).
    pub fn start_in_memory(dir: &std::path::Path) -> TestBroker {
        TestBroker::start_with(dir, "memory://test/")
    }

    fn start_with(dir: &std::path::Path, storage: &'static str) -> TestBroker {
        std::fs::create_dir_all(dir).expect("broker dir");
        let mut broker = TestBroker { child: None, port: super::free_port(), dir: dir.to_owned(), storage };
        broker.resume();
        broker
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker (again) on the same port and storage, and waits until it listens.
    pub fn resume(&mut self) {
        let binary = std::env::var("WELLHEAD_TEST_NISSHI")
            .unwrap_or_else(|_| "/var/lib/wellhead-services/nisshi/bin/nisshi".to_owned());
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("broker.log"))
            .expect("broker log");
        let child = std::process::Command::new(&binary)
            .current_dir(&self.dir)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", self.storage, "--silent"])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("starting the broker {binary}: {error} (run scripts/services up)"));
        self.child = Some(child);
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "the test broker did not listen");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Stops the broker with SIGTERM and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let started = std::time::Instant::now();
            while child.try_wait().ok().flatten().is_none() && started.elapsed() < std::time::Duration::from_secs(10) {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One record of the committed view, decoded.
#[derive(Debug, Clone)]
pub struct Seen {
    pub change: Change,
    pub partition: i32,
    /// `(commit_lsn, place in its transaction)` of a change; `None` for a tombstone.
    pub position: Option<(u64, u64)>,
}

fn read_topic(brokers: &str, topic: &str, table: &'static str, decoder: &mut AvroDecoder) -> Vec<Seen> {
    let mut seen = Vec::new();
    for record in committed_view(brokers, topic) {
        let key = decoder.decode(record.key.as_deref().expect("every record has a key"));
        let id = key["id"].as_i64().expect("key id");
        let Some(value) = &record.value else {
            seen.push(Seen {
                change: Change { table, op: 't', id, seq: None },
                partition: record.partition,
                position: None,
            });
            continue;
        };
        let (change, position) = writer_change(decoder, table, value);
        assert_eq!(change.id, id, "key and row agree: {change:?}");
        seen.push(Seen { change, partition: record.partition, position: Some(position) });
    }
    seen
}

/// The committed records of the writer's tables ([`super::writer::TABLES`]), decoded.
pub fn read_writer_topics(
    brokers: &str,
    db: &TestDatabase,
    decoder: &mut AvroDecoder,
) -> HashMap<&'static str, Vec<Seen>> {
    read_writer_topics_named(brokers, |table| topic(db, &format!("public.{table}")), decoder)
}

/// [`read_writer_topics`] with each table's topic named by `topic_of`.
pub fn read_writer_topics_named(
    brokers: &str,
    topic_of: impl Fn(&str) -> String,
    decoder: &mut AvroDecoder,
) -> HashMap<&'static str, Vec<Seen>> {
    super::writer::TABLES.iter().map(|table| (*table, read_topic(brokers, &topic_of(table), table, decoder))).collect()
}

/// Asserts that the topics hold every change of `expected` (the writer's log) once: per
/// key, its changes (a tombstone after each delete) in commit order, no source position
/// twice, each key in one partition. Returns the changes per key.
pub fn assert_each_change_once(
    seed: u64,
    seen: &HashMap<&'static str, Vec<Seen>>,
    expected: &[Change],
) -> BTreeMap<(&'static str, i64), Vec<Change>> {
    // Every change once: per key, the changes (and a tombstone after each delete) in commit order.
    let mut expected_per_key: BTreeMap<(&str, i64), Vec<Change>> = BTreeMap::new();
    for change in expected {
        let per_key = expected_per_key.entry((change.table, change.id)).or_default();
        per_key.push(change.clone());
        if change.op == 'd' {
            per_key.push(Change { op: 't', seq: None, ..change.clone() });
        }
    }
    let mut actual_per_key: BTreeMap<(&str, i64), Vec<Change>> = BTreeMap::new();
    let mut partitions: HashMap<(&str, i64), HashSet<i32>> = HashMap::new();
    let mut positions = HashSet::new();
    for record in seen.values().flatten() {
        let key = (record.change.table, record.change.id);
        actual_per_key.entry(key).or_default().push(record.change.clone());
        partitions.entry(key).or_default().insert(record.partition);
        if let Some(position) = record.position {
            assert!(positions.insert((record.change.table, position)), "seed {seed}: position {position:?} twice");
        }
    }
    let missing = expected_per_key.keys().filter(|key| !actual_per_key.contains_key(*key)).count();
    let differing: Vec<_> = expected_per_key
        .iter()
        .filter(|(key, changes)| actual_per_key.get(*key).is_some_and(|actual| actual != *changes))
        .take(3)
        .map(|(key, changes)| format!("{key:?}: expected {changes:?}, got {:?}", actual_per_key[key]))
        .collect();
    assert!(
        missing == 0 && differing.is_empty() && actual_per_key.len() == expected_per_key.len(),
        "seed {seed}: {missing} keys missing, {} keys extra; first differences:\n{}",
        actual_per_key.len().saturating_sub(expected_per_key.len() - missing),
        differing.join("\n")
    );
    assert!(partitions.values().all(|set| set.len() == 1), "seed {seed}: each key stays in one partition");
    actual_per_key
}

/// The last value (`seq`) per key of `table` in the topics: what a compacted topic keeps,
/// to be compared with the table's rows.
pub fn last_values(actual_per_key: &BTreeMap<(&'static str, i64), Vec<Change>>, table: &str) -> BTreeMap<i64, i64> {
    actual_per_key
        .iter()
        .filter(|((t, _), _)| *t == table)
        .filter_map(|((_, id), changes)| match changes.last() {
            Some(Change { op: 'c' | 'u', seq: Some(seq), .. }) => Some((*id, *seq)),
            _ => None,
        })
        .collect()
}
