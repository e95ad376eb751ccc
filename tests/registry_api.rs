//! The embedded schema registry's Confluent REST API on the control address of
//! a running `wellhead run`: every route, Confluent's status codes, bodies and
//! error codes, soft and permanent deletes, config, and durability across a
//! restart with the same `registry_dir`.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, TestDatabase, Wellhead, basic_auth, http_request, http_request_with};

const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

fn record(fields: Value) -> String {
    json!({"type": "record", "name": "Item", "namespace": "wellhead.test", "fields": fields}).to_string()
}

fn v1() -> String {
    record(json!([{"name": "id", "type": "long"}]))
}

/// V1 plus a nullable field with a default: BACKWARD compatible.
fn v2() -> String {
    record(json!([{"name": "id", "type": "long"}, {"name": "note", "type": ["null", "string"], "default": null}]))
}

/// `id` becomes a string: incompatible in every direction.
fn incompatible() -> String {
    record(json!([{"name": "id", "type": "string"}]))
}

fn schema_body(schema: &str) -> String {
    json!({"schema": schema}).to_string()
}

/// The password the tests' registries open to changes with (user `wellhead`).
const REGISTRY_PASSWORD: &str = "registry-test-4711";

/// The control address of one running wellhead, and the `Authorization` it sends.
struct Api {
    address: String,
    authorization: Option<String>,
}

impl Api {
    /// Sends a request with Confluent's media type; returns the status and the body as JSON.
    #[track_caller]
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        self.call_as(MEDIA_TYPE, method, path, body)
    }

    #[track_caller]
    fn call_as(&self, content_type: &str, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut headers = vec![("Content-Type", content_type)];
        if let Some(authorization) = &self.authorization {
            headers.push(("Authorization", authorization));
        }
        let response = http_request_with(method, &self.address, path, &headers, body);
        assert_eq!(response.header("content-type"), Some(MEDIA_TYPE), "{method} {path}: {response:?}");
        let value = serde_json::from_str(&response.body)
            .unwrap_or_else(|e| panic!("{method} {path}: body is not JSON ({e}): {:?}", response.body));
        (response.status, value)
    }

    /// Asserts a Confluent error: the HTTP status and `error_code`, and a message.
    #[track_caller]
    fn expect_error(&self, method: &str, path: &str, body: Option<&str>, status: u16, error_code: u64) {
        let (got_status, value) = self.call(method, path, body);
        assert_eq!((got_status, value["error_code"].as_u64()), (status, Some(error_code)), "{method} {path}: {value}");
        assert!(value["message"].as_str().is_some_and(|m| !m.is_empty()), "{method} {path}: {value}");
    }

    #[track_caller]
    fn expect(&self, method: &str, path: &str, body: Option<&str>, expected: Value) {
        assert_eq!(self.call(method, path, body), (200, expected), "{method} {path}");
    }

    #[track_caller]
    fn register(&self, subject: &str, schema: &str) -> u64 {
        let (status, value) = self.call("POST", &format!("/subjects/{subject}/versions"), Some(&schema_body(schema)));
        assert_eq!(status, 200, "register under {subject}: {value}");
        let id = value["id"].as_u64().unwrap_or_else(|| panic!("no id: {value}"));
        assert_eq!(value, json!({"id": id}), "Confluent answers the id alone");
        id
    }
}

/// Starts wellhead with the control address and the registry in the test directory,
/// open to changes with [`REGISTRY_PASSWORD`].
async fn start(db: &TestDatabase, registry_dir: &std::path::Path) -> (Wellhead, Api) {
    start_with(db, registry_dir, &format!("registry_password = \"{REGISTRY_PASSWORD}\"\n")).await
}

async fn start_with(db: &TestDatabase, registry_dir: &std::path::Path, control_keys: &str) -> (Wellhead, Api) {
    let address = format!("127.0.0.1:{}", support::free_port());
    let config = db.write_config(&["public.items"], "");
    let text = std::fs::read_to_string(&config).expect("config");
    let control =
        format!("[control]\nhttp = \"{address}\"\nregistry_dir = \"{}\"\n{control_keys}\n", registry_dir.display());
    std::fs::write(&config, format!("{control}{text}")).expect("config");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    (wellhead, Api { address, authorization: Some(basic_auth("wellhead", REGISTRY_PASSWORD)) })
}

async fn stop(wellhead: Wellhead) {
    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(20)), Some(0));
}

#[tokio::test]
async fn confluent_rest_api_is_served_and_durable() {
    let db = TestDatabase::create(Server::Pg15, "registry_api").await;
    db.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY)").await.expect("schema");
    let registry_dir: PathBuf = db.dir.join("registry");
    let (wellhead, api) = start(&db, &registry_dir).await;

    // A subject with a slash, URL-encoded in paths as Confluent's clients do.
    let subject = "team%2Forders-value";
    let decoded = "team/orders-value";
    let (id1, id2) = registration_and_reads(&api, subject, decoded);
    lookups_and_compatibility(&api, subject, decoded, id1);
    request_bodies(&api);
    let kept = config(&api, subject);
    deletes(&api, subject, decoded, id1, id2);
    stop(wellhead).await;

    // Restart with the same registry_dir: ids, versions, deletes and config survived.
    let (wellhead, api) = start(&db, &registry_dir).await;
    api.expect("GET", &format!("/schemas/ids/{id1}"), None, json!({"schema": v1()}));
    api.expect("GET", &format!("/subjects/{subject}/versions"), None, json!([1]));
    api.expect("GET", &format!("/subjects/{subject}/versions?deleted=true"), None, json!([1]));
    let version_one = json!({"subject": decoded, "version": 1, "id": id1, "schema": v1()});
    api.expect("GET", &format!("/subjects/{subject}/versions/latest"), None, version_one);
    api.expect("GET", "/subjects", None, json!([decoded]));
    api.expect("GET", "/subjects?deleted=true", None, json!([decoded]));
    api.expect("GET", "/config", None, json!({"compatibilityLevel": kept}));
    api.expect("GET", &format!("/config/{subject}"), None, json!({"compatibilityLevel": "NONE"}));
    // Ids are never reused; version numbers continue after the highest stored one.
    let id3 = api.register(subject, &incompatible());
    assert!(id3 > id2, "id {id3} after {id2}");
    api.expect("GET", &format!("/subjects/{subject}/versions"), None, json!([1, 2]));
    stop(wellhead).await;
    db.drop().await;
}

/// Changes need the operator's credentials: without them (or with wrong ones) every
/// change is refused and nothing changes; with none configured changes are off.
/// Reads, lookups and compatibility checks stay open. A schema apache-avro would
/// panic on gets 422.
#[tokio::test]
async fn registry_changes_need_credentials_and_bad_names_get_422() {
    let db = TestDatabase::create(Server::Pg15, "registry_door").await;
    db.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY)").await.expect("schema");
    let registry_dir: PathBuf = db.dir.join("registry");
    let (wellhead, owner) = start(&db, &registry_dir).await;
    let subject = "door-value";
    let id = owner.register(subject, &v1());
    owner.expect(
        "PUT",
        &format!("/config/{subject}"),
        Some(r#"{"compatibility": "FULL"}"#),
        json!({"compatibility": "FULL"}),
    );
    let anonymous = Api { address: owner.address.clone(), authorization: None };
    let wrong = Api { address: owner.address.clone(), authorization: Some(basic_auth("wellhead", "guess")) };
    for stranger in [&anonymous, &wrong] {
        stranger.expect_error("PUT", "/config", Some(r#"{"compatibility": "NONE"}"#), 401, 40101);
        stranger.expect_error("PUT", &format!("/config/{subject}"), Some(r#"{"compatibility": "NONE"}"#), 401, 40101);
        stranger.expect_error("DELETE", "/config", None, 401, 40101);
        stranger.expect_error("DELETE", &format!("/config/{subject}"), None, 401, 40101);
        stranger.expect_error("DELETE", &format!("/subjects/{subject}?permanent=true"), None, 401, 40101);
        stranger.expect_error("DELETE", &format!("/subjects/{subject}/versions/1"), None, 401, 40101);
        stranger.expect_error("POST", &format!("/subjects/{subject}/versions"), Some(&schema_body(&v2())), 401, 40101);
        // Reads, lookups and checks need nothing.
        stranger.expect("GET", &format!("/config/{subject}"), None, json!({"compatibilityLevel": "FULL"}));
        stranger.expect("GET", &format!("/subjects/{subject}/versions"), None, json!([1]));
        let found = json!({"subject": subject, "version": 1, "id": id, "schema": v1()});
        stranger.expect("POST", &format!("/subjects/{subject}"), Some(&schema_body(&v1())), found);
        let check = format!("/compatibility/subjects/{subject}/versions/latest");
        stranger.expect("POST", &check, Some(&schema_body(&v2())), json!({"is_compatible": true}));
    }
    let response = http_request("PUT", &owner.address, "/config", MEDIA_TYPE, Some(r#"{"compatibility": "NONE"}"#));
    assert_eq!(response.header("www-authenticate"), Some("Basic realm=\"wellhead schema registry\""), "{response:?}");
    owner.expect("GET", "/config", None, json!({"compatibilityLevel": "BACKWARD"}));

    // Names apache-avro's parser would panic on: 422, and no panic in the log.
    let bad_names = [
        r#"{"type": "record", "name": "1bad", "fields": []}"#,
        r#"{"type": "record", "name": "ok", "fields": [{"name": "f", "type": "1bad"}]}"#,
        r#"{"type": "fixed", "name": "f", "size": 1.5}"#,
        r#"{"type": "record", "name": "ok", "aliases": ["not an alias"], "fields": []}"#,
    ];
    for schema in bad_names {
        owner.expect_error("POST", "/subjects/bad-value/versions", Some(&schema_body(schema)), 422, 42201);
        owner.expect_error("POST", &format!("/subjects/{subject}"), Some(&schema_body(schema)), 422, 42201);
    }
    let log = wellhead.log_text();
    stop(wellhead).await;
    assert!(!log.contains("panicked"), "a handler panicked:\n{log}");
    assert!(!log.contains(REGISTRY_PASSWORD), "the registry password is in the log:\n{log}");

    // No password configured: changes over HTTP are off for everyone.
    let (wellhead, shut) = start_with(&db, &registry_dir, "").await;
    shut.expect_error("POST", &format!("/subjects/{subject}/versions"), Some(&schema_body(&v2())), 403, 40301);
    shut.expect_error("PUT", "/config", Some(r#"{"compatibility": "NONE"}"#), 403, 40301);
    shut.expect("GET", "/config", None, json!({"compatibilityLevel": "BACKWARD"}));
    shut.expect("GET", &format!("/subjects/{subject}/versions"), None, json!([1]));
    stop(wellhead).await;
    db.drop().await;
}

/// Registers v1 (twice) and v2; reads them back every way. Returns their ids.
fn registration_and_reads(api: &Api, subject: &str, decoded: &str) -> (u64, u64) {
    api.expect("GET", "/", None, json!({}));
    api.expect("GET", "/schemas/types", None, json!(["AVRO"]));
    api.expect("GET", "/subjects", None, json!([]));

    let id1 = api.register(subject, &v1());
    assert_eq!(api.register(subject, &v1()), id1, "the same schema again is the same version");
    let id2 = api.register(subject, &v2());
    assert_ne!(id1, id2);
    api.expect_error("POST", &format!("/subjects/{subject}/versions"), Some(&schema_body("{not avro")), 422, 42201);
    let unknown_type = json!({"schema": v1(), "schemaType": "PROTOBUF"}).to_string();
    api.expect_error("POST", &format!("/subjects/{subject}/versions"), Some(&unknown_type), 422, 42201);
    let with_references = json!({"schema": v1(), "references": [{"name": "x", "subject": "y", "version": 1}]});
    api.expect_error("POST", "/subjects/x/versions", Some(&with_references.to_string()), 422, 42201);
    let explicit_avro = json!({"schema": v1(), "schemaType": "AVRO", "references": []}).to_string();
    api.expect("POST", &format!("/subjects/{subject}/versions"), Some(&explicit_avro), json!({"id": id1}));

    api.expect("GET", "/subjects", None, json!([decoded]));
    api.expect("GET", &format!("/subjects/{subject}/versions"), None, json!([1, 2]));
    // schemaType is left out for AVRO, as Confluent does.
    let version_one = json!({"subject": decoded, "version": 1, "id": id1, "schema": v1()});
    let version_two = json!({"subject": decoded, "version": 2, "id": id2, "schema": v2()});
    api.expect("GET", &format!("/subjects/{subject}/versions/1"), None, version_one);
    api.expect("GET", &format!("/subjects/{subject}/versions/latest"), None, version_two.clone());
    api.expect("GET", &format!("/subjects/{subject}/versions/-1"), None, version_two);
    let raw = http_request("GET", &api.address, &format!("/subjects/{subject}/versions/2/schema"), MEDIA_TYPE, None);
    assert_eq!((raw.status, raw.body), (200, v2()));
    let raw = http_request("GET", &api.address, &format!("/schemas/ids/{id1}/schema"), MEDIA_TYPE, None);
    assert_eq!((raw.status, raw.body), (200, v1()));
    api.expect("GET", &format!("/subjects/{subject}/versions/1/referencedby"), None, json!([]));

    api.expect_error("GET", &format!("/subjects/{subject}/versions/9"), None, 404, 40402);
    api.expect_error("GET", &format!("/subjects/{subject}/versions/0"), None, 422, 42202);
    api.expect_error("GET", &format!("/subjects/{subject}/versions/first"), None, 422, 42202);
    api.expect_error("GET", "/subjects/missing/versions", None, 404, 40401);
    api.expect_error("GET", "/subjects/missing/versions/latest", None, 404, 40401);

    api.expect("GET", &format!("/schemas/ids/{id1}"), None, json!({"schema": v1()}));
    api.expect("GET", &format!("/schemas/ids/{id2}?subject={subject}"), None, json!({"schema": v2()}));
    api.expect("GET", &format!("/schemas/ids/{id1}/versions"), None, json!([{"subject": decoded, "version": 1}]));
    api.expect("GET", &format!("/schemas/ids/{id2}/subjects"), None, json!([decoded]));
    api.expect_error("GET", "/schemas/ids/999999", None, 404, 40403);
    api.expect_error("GET", "/schemas/ids/999999/versions", None, 404, 40403);
    api.expect_error("GET", "/schemas/ids/not-a-number", None, 404, 404);
    api.expect_error("GET", "/no/such/route", None, 404, 404);
    (id1, id2)
}

/// `POST /subjects/{s}` and the compatibility checks, against v1 and v2 (BACKWARD).
fn lookups_and_compatibility(api: &Api, subject: &str, decoded: &str, id1: u64) {
    let lookup = format!("/subjects/{subject}");
    let found = json!({"subject": decoded, "version": 1, "id": id1, "schema": v1()});
    api.expect("POST", &lookup, Some(&schema_body(&v1())), found);
    api.expect_error("POST", &lookup, Some(&schema_body(&incompatible())), 404, 40403);
    api.expect_error("POST", "/subjects/missing", Some(&schema_body(&v1())), 404, 40401);
    api.expect_error("POST", &lookup, Some(&schema_body("{not avro")), 422, 42201);

    let latest = format!("/compatibility/subjects/{subject}/versions/latest");
    let all = format!("/compatibility/subjects/{subject}/versions");
    api.expect("POST", &latest, Some(&schema_body(&v2())), json!({"is_compatible": true}));
    api.expect("POST", &latest, Some(&schema_body(&incompatible())), json!({"is_compatible": false}));
    api.expect("POST", &all, Some(&schema_body(&v1())), json!({"is_compatible": true}));
    api.expect("POST", &all, Some(&schema_body(&incompatible())), json!({"is_compatible": false}));
    let (status, verbose) = api.call("POST", &format!("{latest}?verbose=true"), Some(&schema_body(&incompatible())));
    assert_eq!((status, &verbose["is_compatible"]), (200, &json!(false)), "{verbose}");
    assert!(verbose["messages"].as_array().is_some_and(|m| !m.is_empty()), "{verbose}");
    let by_number = format!("/compatibility/subjects/{subject}/versions/1");
    api.expect("POST", &by_number, Some(&schema_body(&v2())), json!({"is_compatible": true}));
    let missing_version = format!("/compatibility/subjects/{subject}/versions/7");
    api.expect_error("POST", &missing_version, Some(&schema_body(&v2())), 404, 40402);
    let bad_version = format!("/compatibility/subjects/{subject}/versions/x");
    api.expect_error("POST", &bad_version, Some(&schema_body(&v2())), 422, 42202);

    let (status, refused) =
        api.call("POST", &format!("/subjects/{subject}/versions"), Some(&schema_body(&incompatible())));
    assert_eq!((status, refused["error_code"].as_u64()), (409, Some(409)), "{refused}");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(message.contains("incompatible"), "{message}");
}

/// Request media types: Confluent's, plain JSON and octet-stream are parsed as JSON.
fn request_bodies(api: &Api) {
    let body = schema_body(&v1());
    for content_type in ["application/json", "application/octet-stream", "application/json; charset=utf-8"] {
        let (status, value) = api.call_as(content_type, "POST", "/subjects/bodies-value/versions", Some(&body));
        assert_eq!(status, 200, "{content_type}: {value}");
    }
    let (status, value) = api.call_as("text/plain", "POST", "/subjects/bodies-value/versions", Some(&body));
    assert_eq!((status, value["error_code"].as_u64()), (415, Some(415)), "{value}");
    api.expect_error("POST", "/subjects/bodies-value/versions", Some("{\"schema\":"), 400, 400);
    api.expect_error("POST", "/subjects/bodies-value/versions", Some("{}"), 422, 42201);
    api.expect("DELETE", "/subjects/bodies-value", None, json!([1]));
    api.expect("DELETE", "/subjects/bodies-value?permanent=true", None, json!([1]));
}

/// Global and subject config; leaves the subject at NONE and the global level
/// at FULL_TRANSITIVE for the restart. Returns the global level.
fn config(api: &Api, subject: &str) -> &'static str {
    let subject_config = format!("/config/{subject}");
    api.expect("GET", "/config", None, json!({"compatibilityLevel": "BACKWARD"}));
    api.expect_error("GET", &subject_config, None, 404, 40408);
    api.expect(
        "GET",
        &format!("{subject_config}?defaultToGlobal=true"),
        None,
        json!({"compatibilityLevel": "BACKWARD"}),
    );

    let full = json!({"compatibility": "FULL"}).to_string();
    api.expect("PUT", "/config", Some(&full), json!({"compatibility": "FULL"}));
    api.expect("GET", "/config", None, json!({"compatibilityLevel": "FULL"}));
    api.expect("GET", &format!("{subject_config}?defaultToGlobal=true"), None, json!({"compatibilityLevel": "FULL"}));
    api.expect("DELETE", "/config", None, json!({"compatibility": "FULL"}));
    api.expect("GET", "/config", None, json!({"compatibilityLevel": "BACKWARD"}));
    api.expect_error("PUT", "/config", Some(&json!({"compatibility": "SIDEWAYS"}).to_string()), 422, 42203);

    // Any letter case is accepted; the answer spells it as Confluent does.
    let none = json!({"compatibility": "none"}).to_string();
    api.expect("PUT", &subject_config, Some(&none), json!({"compatibility": "NONE"}));
    api.expect("GET", &subject_config, None, json!({"compatibilityLevel": "NONE"}));
    let latest = format!("/compatibility/subjects/{subject}/versions/latest");
    api.expect("POST", &latest, Some(&schema_body(&incompatible())), json!({"is_compatible": true}));
    api.expect("DELETE", &subject_config, None, json!({"compatibility": "NONE"}));
    api.expect_error("GET", &subject_config, None, 404, 40408);
    api.expect("POST", &latest, Some(&schema_body(&incompatible())), json!({"is_compatible": false}));
    api.expect_error("PUT", &subject_config, Some(&json!({"compatibility": "upward"}).to_string()), 422, 42203);
    api.expect_error("DELETE", "/config/never-seen", None, 404, 40401);

    api.expect("PUT", &subject_config, Some(&none), json!({"compatibility": "NONE"}));
    let transitive = json!({"compatibility": "FULL_TRANSITIVE"}).to_string();
    api.expect("PUT", "/config", Some(&transitive), json!({"compatibility": "FULL_TRANSITIVE"}));
    "FULL_TRANSITIVE"
}

/// Soft then permanent deletes of a version and of a whole subject.
fn deletes(api: &Api, subject: &str, decoded: &str, id1: u64, id2: u64) {
    let versions = format!("/subjects/{subject}/versions");
    api.expect_error("DELETE", &format!("{versions}/2?permanent=true"), None, 404, 40407);
    api.expect("DELETE", &format!("{versions}/2"), None, json!(2));
    api.expect_error("DELETE", &format!("{versions}/2"), None, 404, 40406);
    api.expect_error("DELETE", &format!("{versions}/5"), None, 404, 40402);
    api.expect_error("DELETE", &format!("{versions}/zero"), None, 422, 42202);
    api.expect("GET", &versions, None, json!([1]));
    api.expect("GET", &format!("{versions}?deleted=true"), None, json!([1, 2]));
    api.expect("GET", &format!("{versions}?deleted_only=true"), None, json!([2]));
    api.expect_error("GET", &format!("{versions}/2"), None, 404, 40402);
    let soft_deleted = json!({"subject": decoded, "version": 2, "id": id2, "schema": v2()});
    api.expect("GET", &format!("{versions}/2?deleted=true"), None, soft_deleted);
    // A soft-deleted version still serves its schema by id (consumers need it).
    api.expect("GET", &format!("/schemas/ids/{id2}"), None, json!({"schema": v2()}));
    api.expect("GET", &format!("/schemas/ids/{id2}/versions"), None, json!([]));
    api.expect(
        "GET",
        &format!("/schemas/ids/{id2}/versions?deleted=true"),
        None,
        json!([{"subject": decoded, "version": 2}]),
    );
    api.expect("DELETE", &format!("{versions}/2?permanent=true"), None, json!(2));
    api.expect("GET", &format!("{versions}?deleted=true"), None, json!([1]));
    api.expect_error("GET", &format!("/schemas/ids/{id2}"), None, 404, 40403);

    // A whole subject: soft first, then permanent.
    let other = "orders-key";
    assert_eq!(api.register(other, &v1()), id1, "the same schema has the same id in every subject");
    api.expect_error("DELETE", &format!("/subjects/{other}?permanent=true"), None, 404, 40405);
    api.expect("DELETE", &format!("/subjects/{other}"), None, json!([1]));
    api.expect_error("DELETE", &format!("/subjects/{other}"), None, 404, 40404);
    api.expect("GET", "/subjects", None, json!([decoded]));
    api.expect("GET", "/subjects?deleted=true", None, json!([other, decoded]));
    api.expect("GET", "/subjects?deleted_only=true", None, json!([other]));
    api.expect_error("GET", &format!("/subjects/{other}/versions"), None, 404, 40401);
    api.expect("GET", &format!("/subjects/{other}/versions?deleted=true"), None, json!([1]));
    api.expect_error("POST", &format!("/subjects/{other}"), Some(&schema_body(&v1())), 404, 40401);
    api.expect("DELETE", &format!("/subjects/{other}?permanent=true"), None, json!([1]));
    api.expect("GET", "/subjects?deleted=true", None, json!([decoded]));
    api.expect_error("DELETE", &format!("/subjects/{other}"), None, 404, 40401);
    api.expect("GET", &format!("/schemas/ids/{id1}"), None, json!({"schema": v1()}));
}
