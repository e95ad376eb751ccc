//! A pipeline whose `registry.url` names an external Confluent-compatible
//! registry: here the embedded registry of a second Wellhead process, reached
//! over its REST API only (credentials in the URL are sent as basic auth).

mod support;

use std::time::Duration;

use support::{Server, TestDatabase, Wellhead, http, wait_for};

#[tokio::test]
async fn schemas_are_registered_in_an_external_registry() {
    // The registry: a Wellhead serving its embedded registry, running an unrelated pipeline.
    let registry_db = TestDatabase::create(Server::Pg15, "extreg").await;
    registry_db.client.batch_execute("CREATE TABLE unused (id int PRIMARY KEY)").await.expect("schema");
    let registry_address = format!("127.0.0.1:{}", support::free_port());
    let registry_config = registry_db.write_config(&["public.unused"], "");
    let text = std::fs::read_to_string(&registry_config).expect("config");
    let registry_dir = registry_db.dir.join("registry");
    std::fs::write(
        &registry_config,
        format!(
            "[control]\nhttp = \"{registry_address}\"\nregistry_dir = \"{}\"\nregistry_user = \"user\"\nregistry_password = \"s3cret\"\n\n{text}",
            registry_dir.display()
        ),
    )
    .expect("config");
    let mut registry = Wellhead::start(&registry_config);
    registry.wait_streaming().await;

    // The pipeline under test, with the files sink and the external registry.
    let db = TestDatabase::create(Server::Pg15, "extpipe").await;
    db.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY, name text)").await.expect("schema");
    let config = db.write_config(&["public.items"], "");
    let lake = db.dir.join("lake");
    let text = std::fs::read_to_string(&config).expect("config").replace(
        &format!("type = \"jsonl\"\ndir = \"{}\"", db.dir.join("out").display()),
        &format!("type = \"files\"\ndir = \"{}\"\nroll_seconds = 1", lake.display()),
    );
    let own_registry_dir = db.dir.join("own-registry");
    std::fs::write(
        &config,
        format!(
            "[control]\nregistry_dir = \"{}\"\n\n{text}\n[pipelines.registry]\nurl = \"http://user:s3cret@{registry_address}\"\n",
            own_registry_dir.display()
        ),
    )
    .expect("config");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client.batch_execute("INSERT INTO items VALUES (1, 'a')").await.expect("insert");
    db.client
        .batch_execute("ALTER TABLE items ADD COLUMN note text; INSERT INTO items VALUES (2, 'b', 'n')")
        .await
        .expect("v2");

    let subject = format!("{}.public.items-value", db.name);
    wait_for(Duration::from_secs(30), "two versions in the external registry", || {
        http("GET", &registry_address, &format!("/subjects/{subject}/versions"), None).1 == "[1,2]"
    })
    .await;
    let (status, body) =
        http("GET", &registry_address, &format!("/subjects/{}.public.items-key/versions", db.name), None);
    assert_eq!((status, body.as_str()), (200, "[1]"));
    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0));
    // Nothing went to the pipeline's own embedded registry.
    let own_log = std::fs::read_to_string(own_registry_dir.join("registry.events.jsonl")).unwrap_or_default();
    assert!(!own_log.contains(&subject), "{own_log}");
    registry.signal("INT");
    assert_eq!(registry.wait(Duration::from_secs(30)), Some(0));
    db.drop().await;
    registry_db.drop().await;
}
