//! The embedded registry kept in a Kafka topic when its pipelines stream to
//! Kafka: an instance started again with an empty disk serves the same ids and
//! goes on numbering after them, a file log from before is carried into the
//! topic, and two processes sharing the topic never give one id to two schemas.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use support::kafka::{
    AvroDecoder, TestBroker, brokers, committed_view, create_state_topics, registry_topic, topic, write_kafka_config,
};
use support::{Server, TestDatabase, Wellhead, free_port, http, wait_for};
use wellhead::config::KafkaSinkConfig;
use wellhead::registry::embedded::{EmbeddedRegistry, LOG_FILE, RegistryStorage};

/// Every subject the registry at `address` serves, with the id of each of its versions.
fn registry_contents(address: &str) -> BTreeMap<String, Vec<(u64, u64)>> {
    let (status, body) = http("GET", address, "/subjects", None);
    assert_eq!(status, 200, "GET /subjects: {body}");
    let subjects: Vec<String> = serde_json::from_str(&body).expect("subjects JSON");
    let mut contents = BTreeMap::new();
    for subject in subjects {
        let (status, body) = http("GET", address, &format!("/subjects/{subject}/versions"), None);
        assert_eq!(status, 200, "versions of {subject}: {body}");
        let versions: Vec<u64> = serde_json::from_str(&body).expect("versions JSON");
        let mut pairs = Vec::new();
        for version in versions {
            let (status, body) = http("GET", address, &format!("/subjects/{subject}/versions/{version}"), None);
            assert_eq!(status, 200, "{subject} version {version}: {body}");
            let found: serde_json::Value = serde_json::from_str(&body).expect("version JSON");
            pairs.push((version, found["id"].as_u64().expect("id")));
        }
        contents.insert(subject, pairs);
    }
    contents
}

/// The schema ids in the Confluent headers of a topic's committed keys and values.
fn ids_in_records(brokers: &str, topic: &str) -> BTreeSet<u32> {
    let header_id = |bytes: &[u8]| u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    committed_view(brokers, topic)
        .into_iter()
        .flat_map(|record| [record.key, record.value])
        .flatten()
        .map(|bytes| header_id(&bytes))
        .collect()
}

/// Where `db`'s pipeline keeps its registry, as a process of its own would open it.
fn kafka_storage(db: &TestDatabase, brokers: &str) -> RegistryStorage {
    let sink: KafkaSinkConfig = toml::from_str(&format!("brokers = \"{brokers}\"")).expect("Kafka sink config");
    RegistryStorage::Kafka {
        dir: db.dir.join("no-file-log"),
        cluster: sink.cluster(),
        layout: sink.topic_layout(),
        topic: registry_topic(db),
    }
}

/// Opens the registry from its Kafka topic alone.
async fn open_from_kafka(storage: RegistryStorage) -> EmbeddedRegistry {
    tokio::task::spawn_blocking(move || EmbeddedRegistry::open_storage(&storage))
        .await
        .expect("task")
        .expect("registry from Kafka")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_with_an_empty_disk_serves_the_same_ids_from_kafka() {
    let db = TestDatabase::create(Server::Pg15, "kafka_registry_moved").await;
    db.client.batch_execute("CREATE TABLE orders (id int PRIMARY KEY, note text)").await.expect("schema");
    let brokers = brokers();
    create_state_topics(&db, &brokers).await;
    let address = format!("127.0.0.1:{}", free_port());
    let config = write_kafka_config(&db, &["public.orders"], &brokers, &address, "", "");
    let orders = topic(&db, "public.orders");

    let mut first = Wellhead::start(&config);
    first.wait_streaming().await;
    db.client.batch_execute("INSERT INTO orders VALUES (1, 'one'), (2, 'two')").await.expect("insert");
    wait_for(Duration::from_secs(60), "two order records", || committed_view(&brokers, &orders).len() == 2).await;
    let before = registry_contents(&address);
    assert_eq!(before.len(), 2, "key and value subjects of the table: {before:?}");
    first.signal("TERM");
    assert_eq!(first.wait(Duration::from_secs(30)), Some(0));
    let registry_dir = db.dir.join("registry");
    assert!(!registry_dir.join(LOG_FILE).exists(), "the registry's log is the Kafka topic, not a file");
    // Moved to another machine: nothing on disk.
    let _ = std::fs::remove_dir_all(&registry_dir);

    let mut moved = Wellhead::start(&config);
    moved.wait_streaming().await;
    assert_eq!(registry_contents(&address), before, "the same subjects, versions and ids after the move");
    let old_ids: BTreeSet<u32> = ids_in_records(&brokers, &orders);
    let mut decoder = AvroDecoder::new(&address);
    for record in committed_view(&brokers, &orders) {
        let value = decoder.decode(&record.value.expect("value"));
        assert_eq!(value["op"], "c", "records written before the move decode with the ids served after it");
    }

    db.client
        .batch_execute("ALTER TABLE orders ADD COLUMN qty int; INSERT INTO orders VALUES (3, 'three', 7)")
        .await
        .expect("a new table shape");
    wait_for(Duration::from_secs(60), "the third order record", || committed_view(&brokers, &orders).len() == 3).await;
    let after = registry_contents(&address);
    let value_subject = format!("{orders}-value");
    let versions = &after[&value_subject];
    assert_eq!(versions.len(), 2, "the new shape is version 2 of {value_subject}: {versions:?}");
    let largest_before = before.values().flatten().map(|(_, id)| *id).max().expect("ids");
    assert_eq!(versions[1].1, largest_before + 1, "numbering goes on after the ids registered before the move");
    let new_ids: BTreeSet<u32> = ids_in_records(&brokers, &orders).difference(&old_ids).copied().collect();
    assert_eq!(new_ids, BTreeSet::from([u32::try_from(largest_before + 1).expect("id")]));
    let third = committed_view(&brokers, &orders).pop().expect("third record");
    let value = decoder.decode(&third.value.expect("value"));
    assert_eq!(value["after"]["qty"], 7, "the new shape's record decodes with its new id: {value}");
    moved.signal("TERM");
    assert_eq!(moved.wait(Duration::from_secs(30)), Some(0));
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_file_from_before_is_carried_into_the_empty_topic() {
    let db = TestDatabase::create(Server::Pg15, "kafka_registry_file").await;
    db.client.batch_execute("CREATE TABLE orders (id int PRIMARY KEY)").await.expect("schema");
    let brokers = brokers();
    create_state_topics(&db, &brokers).await;
    // An instance that streamed to files before registered these (ids 1 and 2).
    let earlier = r#"{"type":"record","name":"Earlier","fields":[{"name":"a","type":"long"}]}"#;
    let later = r#"{"type":"record","name":"Later","fields":[{"name":"b","type":"string"}]}"#;
    {
        let file_registry = EmbeddedRegistry::open(&db.dir.join("registry")).expect("file registry");
        assert_eq!(file_registry.register("earlier-value", earlier).expect("register").id, 1);
        assert_eq!(file_registry.register("later-value", later).expect("register").id, 2);
    }
    let address = format!("127.0.0.1:{}", free_port());
    let config = write_kafka_config(&db, &["public.orders"], &brokers, &address, "", "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    let (status, body) = http("GET", &address, "/schemas/ids/2", None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Later"), "id 2 is still the schema registered in the file: {body}");
    db.client.batch_execute("INSERT INTO orders VALUES (1)").await.expect("insert");
    let orders = topic(&db, "public.orders");
    wait_for(Duration::from_secs(60), "the order record", || committed_view(&brokers, &orders).len() == 1).await;
    let ids = ids_in_records(&brokers, &orders);
    assert!(ids.iter().all(|id| *id > 2), "the table's schemas are numbered after the file's: {ids:?}");
    wellhead.signal("TERM");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0));
    // The topic now holds the file's events: a registry opened from Kafka alone sees them.
    let reopened = open_from_kafka(kafka_storage(&db, &brokers)).await;
    assert_eq!(reopened.read(|store| store.schema_by_id(1).map(str::to_owned)).expect("id 1"), earlier);

    // Another instance's file gives id 1 to another schema: the topic wins, and the log says
    // which ids of the file no longer decode.
    let other_dir = db.dir.join("other-registry");
    let other = r#"{"type":"record","name":"Other","fields":[{"name":"c","type":"double"}]}"#;
    EmbeddedRegistry::open(&other_dir).expect("file registry").register("other-value", other).expect("register");
    let other_config = std::fs::read_to_string(&config)
        .expect("config")
        .replace(&db.dir.join("registry").display().to_string(), &other_dir.display().to_string());
    let other_config_path = db.dir.join("other.toml");
    std::fs::write(&other_config_path, other_config).expect("write config");
    let mut wellhead = Wellhead::start(&other_config_path);
    wellhead.wait_streaming().await;
    let (_, body) = http("GET", &address, "/schemas/ids/1", None);
    assert!(body.contains("Earlier"), "the topic's id 1 is served: {body}");
    let log = wellhead.log_text();
    assert!(log.contains("ids=[1]") && log.contains("do not decode with this registry"), "log:\n{log}");
    wellhead.signal("TERM");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0));
    db.drop().await;
}

/// Kafka away when Wellhead starts: the registry's topic cannot be read yet, so it waits and
/// tries again, as the pipelines do, instead of exiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wellhead_started_while_kafka_is_away_waits_for_it() {
    let db = TestDatabase::create(Server::Pg15, "kafka_registry_away").await;
    db.client.batch_execute("CREATE TABLE orders (id int PRIMARY KEY)").await.expect("schema");
    let mut broker = TestBroker::start(&db.dir.join("broker"));
    let brokers = broker.brokers();
    create_state_topics(&db, &brokers).await;
    broker.stop();
    let address = format!("127.0.0.1:{}", free_port());
    let config = write_kafka_config(&db, &["public.orders"], &brokers, &address, "", "");
    let mut wellhead = Wellhead::start(&config);
    wait_for(Duration::from_secs(30), "a retry of the registry's topic", || {
        wellhead.log_text().contains("cannot be read yet; trying again")
    })
    .await;
    if let Some(status) = wellhead.child.try_wait().expect("try_wait") {
        panic!("wellhead exited while Kafka was away ({status}); log:\n{}", wellhead.log_text());
    }
    broker.resume();
    wellhead.wait_streaming().await;
    db.client.batch_execute("INSERT INTO orders VALUES (1)").await.expect("insert");
    let orders = topic(&db, "public.orders");
    wait_for(Duration::from_secs(60), "the order record", || committed_view(&brokers, &orders).len() == 1).await;
    wellhead.signal("TERM");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0));
    db.drop().await;
}

fn writer_schema(writer: usize, index: usize) -> (String, String) {
    let subject = format!("writer{writer}-table{index}-value");
    let schema = format!(r#"{{"type":"record","name":"W{writer}T{index}","fields":[{{"name":"f","type":"int"}}]}}"#);
    (subject, schema)
}

/// Two processes on one cluster share the topic: each registration fences the other
/// writer, catches up, and reads its events back committed, so ids stay unique.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_sharing_the_topic_never_give_one_id_to_two_schemas() {
    let db = TestDatabase::create(Server::Pg15, "kafka_registry_shared").await;
    let brokers = brokers();
    create_state_topics(&db, &brokers).await;
    let storage = kafka_storage(&db, &brokers);
    const CONCURRENT: usize = 8;
    const TAKING_TURNS: usize = 6;
    let told = tokio::task::spawn_blocking(move || {
        let open = || EmbeddedRegistry::open_storage(&storage).expect("registry from Kafka");
        let writers = [open(), open()];
        let mut told = BTreeMap::new();
        // Together, as two processes would.
        std::thread::scope(|scope| {
            let running: Vec<_> = writers
                .iter()
                .enumerate()
                .map(|(writer, registry)| {
                    scope.spawn(move || {
                        (0..CONCURRENT)
                            .map(|index| {
                                let (subject, schema) = writer_schema(writer, index);
                                let id = registry.register(&subject, &schema).expect("register").id;
                                (subject, id)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for writer in running {
                told.extend(writer.join().expect("writer thread"));
            }
        });
        // Taking turns: every registration plans on what the other one just wrote.
        for index in CONCURRENT..CONCURRENT + TAKING_TURNS {
            for (writer, registry) in writers.iter().enumerate() {
                let (subject, schema) = writer_schema(writer, index);
                told.insert(subject.clone(), registry.register(&subject, &schema).expect("register").id);
            }
        }
        // What one process registered, the other serves once it catches up (as its HTTP
        // API does when asked for an id it has not seen).
        writers[0].catch_up().expect("catch up");
        for id in told.values() {
            writers[0].read(|store| store.schema_by_id(*id).map(|_| ())).expect("every id known after catching up");
        }
        told
    })
    .await
    .expect("writers");
    let ids: BTreeSet<u32> = told.values().copied().collect();
    assert_eq!(ids.len(), 2 * (CONCURRENT + TAKING_TURNS), "every schema got its own id: {told:?}");
    let reopened = open_from_kafka(kafka_storage(&db, &brokers)).await;
    for (subject, id) in &told {
        let stored = reopened.read(|store| {
            store.version(subject, wellhead_schema::registry::VersionSelector::Latest, false).map(|found| found.id)
        });
        assert_eq!(stored.ok(), Some(*id), "{subject} has the id its writer was told");
    }
    db.drop().await;
}
