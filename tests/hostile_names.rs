//! Table names are data: a name with `/` and `..` writes nothing outside the files
//! sink's directory, `public."a.b"` and `"public.a".b` stream side by side into their
//! own directories, topics, subjects and key spaces, a name with a newline cannot forge
//! a log line, and `check` refuses two tables whose topics Kafka would take as one.
//! The files are read by fastavro, the topics by the independent raw-batch reader.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::avro_files::{FilesConfig, lake_dir, read_files, record_count, write_files_config};
use support::kafka::{AvroDecoder, brokers, committed_view, create_state_topics, write_kafka_config};
use support::{Server, TestDatabase, Wellhead, free_port, run_wellhead, wait_for};

/// Tables whose names break naive path, topic and log handling.
const HOSTILE_TABLES: &str = r#"
    CREATE TABLE public."x/../../../escaped" (id int PRIMARY KEY);
    CREATE TABLE public."a.b" (id int PRIMARY KEY, v text);
    CREATE SCHEMA "public.a";
    CREATE TABLE "public.a".b (id int PRIMARY KEY, v text);
    CREATE TABLE public."line
ERROR forged log line" (id int PRIMARY KEY);
"#;

/// Every file under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                pending.push(entry.path());
            } else {
                found.push(entry.path());
            }
        }
    }
    found
}

#[tokio::test]
async fn hostile_table_names_stay_inside_the_lake_and_apart() {
    let db = TestDatabase::create(Server::Pg15, "hostile_names").await;
    db.client.batch_execute(HOSTILE_TABLES).await.expect("schema");
    // The parent of the test directory is where `x/../../../escaped` used to land.
    let outside = db.dir.parent().expect("parent").join("escaped");
    let _ = std::fs::remove_dir_all(&outside);
    let config =
        write_files_config(&db, &["public.*"], &FilesConfig { sink: "roll_seconds = 1", ..Default::default() });
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client
        .batch_execute(
            r#"INSERT INTO public."x/../../../escaped" VALUES (1);
               INSERT INTO public."a.b" VALUES (1, 'table a.b in public');
               INSERT INTO "public.a".b VALUES (1, 'table b in public.a');
               INSERT INTO public."line
ERROR forged log line" VALUES (1);"#,
        )
        .await
        .expect("insert");
    let lake = lake_dir(&db);
    wait_for(Duration::from_secs(60), "four records in final files", || record_count(&lake) >= 4).await;
    let log = wellhead.log_text();
    wellhead.end(true, "hostile names, files");

    assert!(!outside.exists(), "{} was written outside the lake", outside.display());
    let lake_root = lake.canonicalize().expect("lake");
    for file in all_files(&db.dir.join("lake")) {
        let real = file.canonicalize().expect("file");
        assert!(real.starts_with(&lake_root), "{} is outside {}", real.display(), lake_root.display());
    }
    let records = read_files(&lake);
    let topics: BTreeSet<&str> = records.iter().map(|record| record.topic.as_str()).collect();
    let prefix = &db.name;
    let expected: BTreeSet<String> = [
        "public.__x_2F_2E_2E_2F_2E_2E_2F_2E_2E_2Fescaped",
        "public.__a_2Eb",
        "__public_2Ea.b",
        "public.__line_0AERROR_20forged_20log_20line",
    ]
    .iter()
    .map(|tail| format!("{prefix}.{tail}"))
    .collect();
    assert_eq!(topics, expected.iter().map(String::as_str).collect(), "one directory per table, by the rule");
    let value_of = |topic: &str| {
        let record = records.iter().find(|record| record.topic == topic).expect("a record of the topic");
        record.after["v"].as_str().map(str::to_owned)
    };
    assert_eq!(value_of(&format!("{prefix}.public.__a_2Eb")).as_deref(), Some("table a.b in public"));
    assert_eq!(value_of(&format!("{prefix}.__public_2Ea.b")).as_deref(), Some("table b in public.a"));
    assert_eq!(records.len(), 4, "each row once: {records:?}");

    // The newline in the name was logged escaped, never as a line of its own.
    assert!(log.contains(r#"public."line\u{a}ERROR forged log line""#), "the table is named in the log:\n{log}");
    assert!(!log.lines().any(|line| line.starts_with("ERROR forged")), "a table name forged a log line:\n{log}");
    db.drop().await;
}

#[tokio::test]
async fn dotted_tables_get_their_own_topics_and_keys_on_kafka_and_check_refuses_kafka_collisions() {
    let db = TestDatabase::create(Server::Pg15, "hostile_kafka").await;
    db.client.batch_execute(HOSTILE_TABLES).await.expect("schema");
    create_state_topics(&db, &brokers()).await;
    let http = format!("127.0.0.1:{}", free_port());
    // `?` matches the dot of both `public."a.b"` and `"public.a".b` (globs see `schema.table`).
    let tables = ["public.a?b"];
    let config = write_kafka_config(&db, &tables, &brokers(), &http, "", "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client
        .batch_execute(
            r#"INSERT INTO public."a.b" VALUES (1, 'table a.b in public');
               INSERT INTO "public.a".b VALUES (1, 'table b in public.a');
               DELETE FROM public."a.b" WHERE id = 1;"#,
        )
        .await
        .expect("changes");
    let in_public = format!("{}.public.__a_2Eb", db.name);
    let in_public_a = format!("{}.__public_2Ea.b", db.name);
    wait_for(Duration::from_secs(60), "both topics committed", || {
        committed_view(&brokers(), &in_public).len() >= 3 && !committed_view(&brokers(), &in_public_a).is_empty()
    })
    .await;
    // Decoded with the schemas the running registry serves.
    let mut decoder = AvroDecoder::new(&http);
    let public_records = committed_view(&brokers(), &in_public);
    let ops: Vec<(String, Option<String>)> = public_records
        .iter()
        .map(|record| {
            let value = record.value.as_deref().map(|value| decoder.decode(value));
            let op = value.as_ref().map_or("tombstone".to_owned(), |v| v["op"].as_str().unwrap_or("?").to_owned());
            let v = value.and_then(|v| v["after"]["v"].as_str().map(str::to_owned));
            (op, v)
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("c".to_owned(), Some("table a.b in public".to_owned())),
            ("d".to_owned(), None),
            ("tombstone".to_owned(), None)
        ],
        "public.\"a.b\": its insert, delete and tombstone"
    );
    let other = committed_view(&brokers(), &in_public_a);
    assert_eq!(other.len(), 1, "the delete in public.\"a.b\" tombstoned nothing of \"public.a\".b");
    let value = decoder.decode(other[0].value.as_deref().expect("value"));
    assert_eq!(value["after"]["v"], "table b in public.a");
    wellhead.end(true, "hostile names, kafka");

    // Kafka takes '.' and '_' as one in topic names: check refuses the pair up front.
    db.client
        .batch_execute("CREATE TABLE public.a_b (id int PRIMARY KEY); CREATE SCHEMA public_a; CREATE TABLE public_a.b (id int PRIMARY KEY);")
        .await
        .expect("colliding tables");
    let colliding = write_kafka_config(&db, &["public.a_b", "public_a.b"], &brokers(), &http, "", "");
    let checked = run_wellhead(&["check", "--config", colliding.to_str().expect("path")], &[], Duration::from_secs(60));
    assert_eq!(checked.code, Some(1), "check must fail: {checked:?}");
    assert!(
        checked.stdout.contains("tables public.a_b and public_a.b")
            || checked.stdout.contains("tables public_a.b and public.a_b"),
        "check names both tables: {checked:?}"
    );
    db.drop().await;
}
