//! REPLICA IDENTITY FULL: updates and deletes carry the whole old row, and the
//! Avro message key is the primary key (pgoutput flags every column as key),
//! or absent for a table without one, whose columns may be NULL.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Server, TestDatabase, Wellhead, wait_for};

/// Every record of every final Avro file under `dir`, as JSON lines (fastavro).
fn read_avro(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let script = r#"
import sys, glob, json, fastavro
for path in sorted(glob.glob(sys.argv[1] + "/*/*.avro")):
    with open(path, "rb") as f:
        for record in fastavro.reader(f):
            print(json.dumps({"op": record["op"], "before": record["before"], "after": record["after"]}, default=str))
"#;
    let output = Command::new("python3").args(["-c", script]).arg(dir).output().expect("python3");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).expect("json")).collect()
}

#[tokio::test]
async fn full_identity_tables_with_and_without_primary_key() {
    let db = TestDatabase::create(Server::Pg15, "identity").await;
    db.client
        .batch_execute(
            "CREATE TABLE keyed (id int PRIMARY KEY, note text);
             ALTER TABLE keyed REPLICA IDENTITY FULL;
             CREATE TABLE keyless (a int, b text);
             ALTER TABLE keyless REPLICA IDENTITY FULL;",
        )
        .await
        .expect("schema");
    let config = db.write_config(&["public.keyed", "public.keyless"], "");
    let lake = db.dir.join("lake");
    let text = std::fs::read_to_string(&config).expect("config").replace(
        &format!("type = \"jsonl\"\ndir = \"{}\"", db.dir.join("out").display()),
        &format!("type = \"files\"\ndir = \"{}\"\nroll_seconds = 1", lake.display()),
    );
    let registry_dir = db.dir.join("registry");
    std::fs::write(&config, format!("[control]\nregistry_dir = \"{}\"\n\n{text}", registry_dir.display()))
        .expect("config");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client
        .batch_execute(
            "INSERT INTO keyed VALUES (1, NULL), (2, 'two');
             UPDATE keyed SET note = 'one' WHERE id = 1;
             DELETE FROM keyed WHERE id = 2;
             INSERT INTO keyless VALUES (NULL, NULL), (1, 'x');
             UPDATE keyless SET b = 'y' WHERE a = 1;
             DELETE FROM keyless WHERE a IS NULL;",
        )
        .await
        .expect("changes");
    wait_for(Duration::from_secs(30), "8 records in final files", || read_avro(&lake).len() >= 8).await;
    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0), "log:\n{}", wellhead_log(&db));

    let records = read_avro(&lake);
    let summary: Vec<String> =
        records.iter().map(|r| format!("{} before={} after={}", r["op"], r["before"], r["after"])).collect();
    assert!(
        summary.contains(&r#""u" before={"id":1,"note":null} after={"id":1,"note":"one"}"#.to_owned()),
        "{summary:#?}"
    );
    assert!(summary.contains(&r#""d" before={"id":2,"note":"two"} after=null"#.to_owned()), "{summary:#?}");
    assert!(summary.contains(&r#""c" before=null after={"a":null,"b":null}"#.to_owned()), "{summary:#?}");
    assert!(summary.contains(&r#""d" before={"a":null,"b":null} after=null"#.to_owned()), "{summary:#?}");
    // The key subjects: the primary key for `keyed`, none for `keyless`.
    let events = std::fs::read_to_string(registry_dir.join("registry.events.jsonl")).expect("registry log");
    let key_subject = format!("{}.public.keyed-key", db.name);
    assert!(events.contains(&key_subject), "{events}");
    assert!(!events.contains(&format!("{}.public.keyless-key", db.name)), "{events}");
    db.drop().await;
}

fn wellhead_log(db: &TestDatabase) -> String {
    std::fs::read_dir(&db.dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}
