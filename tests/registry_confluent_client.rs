//! Confluent's own Python client (`confluent_kafka.schema_registry`) against
//! the embedded registry of a running `wellhead run`, with no wrapper of ours in
//! between: `tests/python/registry_client.py` registers, fetches, looks up,
//! checks compatibility, sets config, expects a 409 for an incompatible schema,
//! round-trips a record through AvroSerializer/AvroDeserializer and deletes.

mod support;

use std::time::Duration;

use support::{Server, TestDatabase, Wellhead};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/registry_client.py");

#[tokio::test]
async fn confluent_python_client_works_unchanged() {
    let db = TestDatabase::create(Server::Pg15, "registry_client").await;
    db.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY)").await.expect("schema");
    let address = format!("127.0.0.1:{}", support::free_port());
    let config = db.write_config(&["public.items"], "");
    let text = std::fs::read_to_string(&config).expect("config");
    let control = format!(
        "[control]\nhttp = \"{address}\"\nregistry_dir = \"{}\"\nregistry_user = \"ops\"\nregistry_password = \"pa:ss w0rd\"\n\n",
        db.dir.join("registry").display()
    );
    std::fs::write(&config, format!("{control}{text}")).expect("config");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;

    let run = tokio::process::Command::new("python3")
        .arg(SCRIPT)
        // The client's own way to send basic auth: user and password in the URL, percent-encoded.
        .arg(format!("http://ops:pa%3Ass%20w0rd@{address}"))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the Python client finished within 120 s")
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "registry_client.py failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- wellhead log\n{}",
        output.status,
        wellhead.log_text()
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
    println!("{stdout}");

    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(20)), Some(0));
    db.drop().await;
}
