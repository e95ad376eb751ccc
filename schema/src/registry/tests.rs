//! The registry's rules and Confluent error codes, one behaviour per test.

use super::{
    ApplyError, Change, CompatibilityReport, ConfigRequest, ConfigUpdate, ConfigView, RegisteredSchema, Registration,
    RegistryError, RegistryEvent, RegistryStore, SchemaType, SubjectVersion, Version, VersionSelector,
    canonical::canonical_form,
};
use crate::compatibility::CompatibilityLevel;

/// A record `t` with `id: long` and the given extra fields (JSON text, leading comma).
fn schema(extra_fields: &str) -> String {
    format!(r#"{{"type": "record", "name": "t", "fields": [{{"name": "id", "type": "long"}}{extra_fields}]}}"#)
}

const WITH_NOTE: &str = r#", {"name": "note", "type": ["null", "string"], "default": null}"#;
const WITH_REQUIRED: &str = r#", {"name": "required", "type": "string"}"#;

fn ok<T>(result: Result<T, RegistryError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("unexpected registry error {}: {error}", error.error_code()),
    }
}

fn code<T: std::fmt::Debug>(result: Result<T, RegistryError>) -> u32 {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => error.error_code(),
    }
}

fn commit<T>(store: &mut RegistryStore, change: Change<T>) -> T {
    match store.commit(change) {
        Ok(outcome) => outcome,
        Err(error) => panic!("own events must apply: {error}"),
    }
}

fn register(store: &mut RegistryStore, subject: &str, text: &str) -> Registration {
    let change = ok(store.register(subject, text));
    commit(store, change)
}

fn latest(store: &RegistryStore, subject: &str) -> RegisteredSchema {
    ok(store.version(subject, VersionSelector::Latest, false))
}

#[test]
fn the_first_registration_gets_id_1_version_1() {
    let store = RegistryStore::new();
    let change = ok(store.register("orders-value", &schema("")));
    assert_eq!(change.outcome, Registration { id: 1, version: 1, created: true });
    assert_eq!(
        change.events,
        vec![
            RegistryEvent::SchemaCreated { id: 1, schema: schema("") },
            RegistryEvent::VersionSet { subject: "orders-value".to_owned(), version: 1, id: 1, deleted: false },
        ]
    );
    // Nothing changed before the commit.
    assert_eq!(store, RegistryStore::new());
    let mut store = store;
    commit(&mut store, change);
    assert_eq!(
        latest(&store, "orders-value"),
        RegisteredSchema {
            subject: "orders-value".to_owned(),
            version: 1,
            id: 1,
            schema: schema(""),
            schema_type: SchemaType::Avro
        }
    );
    assert_eq!(ok(store.schema_by_id(1)), schema(""));
}

#[test]
fn registering_the_latest_schema_again_changes_nothing() {
    let mut store = RegistryStore::new();
    register(&mut store, "s", &schema(""));
    // Same canonical schema, other whitespace and a doc: the same id and version.
    let again = r#"{"type":"record","name":"t","doc":"rows","fields":[{"name":"id","type":"long","doc":"key"}]}"#;
    let change = ok(store.register("s", again));
    assert_eq!(change.outcome, Registration { id: 1, version: 1, created: false });
    assert!(change.events.is_empty());
}

#[test]
fn registering_an_older_live_version_again_returns_it() {
    let mut store = RegistryStore::new();
    register(&mut store, "s", &schema(""));
    register(&mut store, "s", &schema(WITH_NOTE));
    let change = ok(store.register("s", &schema("")));
    assert_eq!(change.outcome, Registration { id: 1, version: 1, created: false });
}

#[test]
fn the_same_schema_has_the_same_id_across_subjects() {
    let mut store = RegistryStore::new();
    register(&mut store, "a", &schema(""));
    register(&mut store, "a", &schema(WITH_NOTE));
    let change = ok(store.register("b", &schema(WITH_NOTE)));
    assert_eq!(change.outcome, Registration { id: 2, version: 1, created: true });
    assert_eq!(change.events.len(), 1, "no new schema id: {:?}", change.events);
    commit(&mut store, change);
    assert_eq!(
        ok(store.versions_of_id(2, false)),
        vec![
            SubjectVersion { subject: "a".to_owned(), version: 2 },
            SubjectVersion { subject: "b".to_owned(), version: 1 }
        ]
    );
}

#[test]
fn logical_types_make_different_schemas() {
    let mut store = RegistryStore::new();
    let plain = r#"{"type": "record", "name": "t", "fields": [{"name": "at", "type": "long"}]}"#;
    let timestamp = r#"{"type": "record", "name": "t", "fields": [
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}}]}"#;
    assert_eq!(register(&mut store, "s", plain).id, 1);
    assert_eq!(register(&mut store, "s", timestamp), Registration { id: 2, version: 2, created: true });
}

#[test]
fn the_canonical_form_is_parsing_canonical_form_plus_logical_types() {
    let parse = |text: &str| match apache_avro::Schema::parse_str(text) {
        Ok(schema) => schema,
        Err(error) => panic!("{error}"),
    };
    let without_logical = parse(
        r#"{"type": "record", "name": "t", "namespace": "shop", "doc": "x", "fields": [
            {"name": "a", "type": {"type": "enum", "name": "e", "symbols": ["A"]}, "default": "A"},
            {"name": "b", "type": ["null", "e"]},
            {"name": "c", "type": {"type": "map", "values": {"type": "fixed", "name": "f", "size": 4}}}]}"#,
    );
    assert_eq!(canonical_form(&without_logical).ok(), Some(without_logical.canonical_form()));
    let decimal = parse(r#"{"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}"#);
    assert_eq!(
        canonical_form(&decimal).ok().as_deref(),
        Some(r#"{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}"#)
    );
}

#[test]
fn ids_increase_and_are_never_reused() {
    let mut store = RegistryStore::new();
    register(&mut store, "s", &schema(""));
    register(&mut store, "s", &schema(WITH_NOTE));
    let deleted = ok(store.delete_subject("s", false));
    commit(&mut store, deleted);
    let removed = ok(store.delete_subject("s", true));
    assert_eq!(commit(&mut store, removed), vec![1, 2]);
    assert_eq!(code(store.schema_by_id(2)), 40403);
    assert_eq!(code(store.versions("s", true)), 40401);
    // A new schema gets a new id; an old one gets its old id back.
    let other = schema(r#", {"name": "other", "type": "int", "default": 0}"#);
    assert_eq!(register(&mut store, "s", &other), Registration { id: 3, version: 1, created: true });
    assert_eq!(register(&mut store, "s", &schema(WITH_NOTE)).id, 2);
}

#[test]
fn an_incompatible_schema_is_a_409_naming_the_version_and_field() {
    let mut store = RegistryStore::new();
    register(&mut store, "s", &schema(""));
    let error = store.register("s", &schema(WITH_REQUIRED)).err();
    let Some(error) = error else { panic!("expected 409") };
    assert_eq!((error.error_code(), error.http_status()), (409, 409));
    assert_eq!(
        error.to_string(),
        "Schema being registered is incompatible with an earlier schema for subject \"s\", details: \
         [the new schema cannot read data written with version 1: /fields/required: \
         reader field `required` has no default and is missing in the writer]"
    );
    // The level decides: FORWARD accepts it.
    let forward = store.set_level(Some("s"), CompatibilityLevel::Forward);
    commit(&mut store, forward);
    assert_eq!(register(&mut store, "s", &schema(WITH_REQUIRED)).version, 2);
}

#[test]
fn an_invalid_schema_is_a_42201() {
    let store = RegistryStore::new();
    let bad_names = [
        r#"{"type": "record", "name": "1bad", "fields": []}"#,
        r#"{"type": "record", "name": "ok", "namespace": "1bad.x", "fields": []}"#,
        r#"{"type": "record", "name": "ok", "fields": [{"name": "1bad", "type": "int"}]}"#,
        r#"{"type": "enum", "name": "e", "symbols": ["1bad"]}"#,
        r#"{"type": "fixed", "name": "a-b", "size": 4}"#,
        r#"{"type": "record", "name": "ok", "fields": [{"name": "f", "type": {"type": "enum", "name": "", "symbols": []}}]}"#,
    ];
    for text in ["not json", r#"{"type": "record", "name": "t"}"#, r#""no_such_type""#].into_iter().chain(bad_names) {
        let error = store.register("s", text).err();
        assert_eq!(error.as_ref().map(RegistryError::error_code), Some(42201), "{text}");
        assert_eq!(error.map(|error| error.http_status()), Some(422));
    }
    assert_eq!(code("JSON".parse::<SchemaType>()), 42201);
    assert_eq!("avro".parse::<SchemaType>().ok(), Some(SchemaType::Avro));
}

#[test]
fn version_selectors_follow_confluent() {
    assert_eq!("latest".parse::<VersionSelector>().ok(), Some(VersionSelector::Latest));
    assert_eq!("-1".parse::<VersionSelector>().ok(), Some(VersionSelector::Latest));
    assert_eq!("7".parse::<VersionSelector>().ok(), Some(VersionSelector::Number(7)));
    assert_eq!("2147483647".parse::<VersionSelector>().ok(), Some(VersionSelector::Number(2_147_483_647)));
    for invalid in ["0", "-2", "abc", "2147483648", ""] {
        assert_eq!(code(invalid.parse::<VersionSelector>()), 42202, "{invalid}");
    }
}

#[test]
fn reads_answer_40401_and_40402() {
    let mut store = RegistryStore::new();
    assert_eq!(code(store.version("s", VersionSelector::Latest, false)), 40401);
    assert_eq!(code(store.versions("s", false)), 40401);
    register(&mut store, "s", &schema(""));
    assert_eq!(code(store.version("s", VersionSelector::Number(2), false)), 40402);
    assert_eq!(ok(store.versions("s", false)), vec![1]);
    assert_eq!(store.subjects(false), vec!["s"]);
    assert_eq!(code(store.schema_by_id(9)), 40403);
}

#[test]
fn a_soft_deleted_version_is_hidden_unless_asked_for() {
    let mut store = RegistryStore::new();
    register(&mut store, "s", &schema(""));
    register(&mut store, "s", &schema(WITH_NOTE));
    assert_eq!(code(store.delete_version("s", VersionSelector::Number(2), true)), 40407, "permanent before soft");
    let soft = ok(store.delete_version("s", VersionSelector::Number(2), false));
    assert_eq!(commit(&mut store, soft), 2);
    assert_eq!(ok(store.versions("s", false)), vec![1]);
    assert_eq!(ok(store.versions("s", true)), vec![1, 2]);
    assert_eq!(latest(&store, "s").version, 1);
    assert_eq!(code(store.version("s", VersionSelector::Number(2), false)), 40402);
    assert_eq!(ok(store.version("s", VersionSelector::Number(2), true)).id, 2);
    // Consumers can still fetch the schema of records already written with it.
    assert_eq!(ok(store.schema_by_id(2)), schema(WITH_NOTE));
    assert_eq!(code(store.delete_version("s", VersionSelector::Number(2), false)), 40406);
    let removed = ok(store.delete_version("s", VersionSelector::Number(2), true));
    assert_eq!(commit(&mut store, removed), 2);
    assert_eq!(code(store.version("s", VersionSelector::Number(2), true)), 40402);
    assert_eq!(code(store.delete_version("s", VersionSelector::Number(5), false)), 40402);
}

#[test]
fn deleting_latest_soft_deletes_the_newest_live_version() {
    let mut store = RegistryStore::new();
    register(&mut store, "s", &schema(""));
    register(&mut store, "s", &schema(WITH_NOTE));
    let first = ok(store.delete_version("s", VersionSelector::Latest, false));
    assert_eq!(commit(&mut store, first), 2);
    let second = ok(store.delete_version("s", VersionSelector::Latest, false));
    assert_eq!(commit(&mut store, second), 1);
    assert_eq!(code(store.delete_version("s", VersionSelector::Latest, false)), 40401);
}

#[test]
fn subject_soft_and_permanent_delete_follow_confluent() {
    let mut store = RegistryStore::new();
    assert_eq!(code(store.delete_subject("s", false)), 40401);
    register(&mut store, "s", &schema(""));
    register(&mut store, "s", &schema(WITH_NOTE));
    let level = store.set_level(Some("s"), CompatibilityLevel::None);
    commit(&mut store, level);
    assert_eq!(code(store.delete_subject("s", true)), 40405);
    let soft = ok(store.delete_subject("s", false));
    assert_eq!(commit(&mut store, soft), vec![1, 2]);
    assert_eq!(store.subjects(false), Vec::<&str>::new());
    assert_eq!(store.subjects(true), vec!["s"]);
    assert_eq!(code(store.delete_subject("s", false)), 40404);
    assert_eq!(code(store.subject_level("s", false)), 40408, "soft delete drops the subject's level");
    assert_eq!(code(store.lookup("s", &schema(""), false)), 40401);
    assert_eq!(ok(store.lookup("s", &schema(""), true)).version, 1);
    let permanent = ok(store.delete_subject("s", true));
    assert_eq!(commit(&mut store, permanent), vec![1, 2]);
    assert_eq!(store.subjects(true), Vec::<&str>::new());
}

#[test]
fn a_soft_deleted_subject_can_be_registered_again_and_versions_continue() {
    let mut store = RegistryStore::new();
    register(&mut store, "s", &schema(""));
    let soft = ok(store.delete_subject("s", false));
    commit(&mut store, soft);
    // Soft-deleted versions are not checked: a schema BACKWARD would refuse against v1 is accepted.
    let registration = register(&mut store, "s", &schema(WITH_REQUIRED));
    assert_eq!(registration, Registration { id: 2, version: 2, created: true });
    // A schema only present in a soft-deleted version gets a new version with its old id.
    let soft = ok(store.delete_subject("s", false));
    commit(&mut store, soft);
    assert_eq!(register(&mut store, "s", &schema("")), Registration { id: 1, version: 3, created: true });
}

#[test]
fn lookup_finds_the_version_of_a_registered_schema() {
    let mut store = RegistryStore::new();
    register(&mut store, "s", &schema(""));
    register(&mut store, "s", &schema(WITH_NOTE));
    let found = ok(store.lookup("s", &schema(WITH_NOTE), false));
    assert_eq!((found.id, found.version), (2, 2));
    assert_eq!(code(store.lookup("s", &schema(WITH_REQUIRED), false)), 40403);
    assert_eq!(code(store.lookup("other", &schema(""), false)), 40401);
    assert_eq!(code(store.lookup("s", "{", false)), 42201);
    // Registered in another subject only: still 40403 here.
    register(&mut store, "t", &schema(WITH_REQUIRED));
    assert_eq!(code(store.lookup("s", &schema(WITH_REQUIRED), false)), 40403);
}

#[test]
fn compatibility_config_is_global_and_per_subject() {
    let mut store = RegistryStore::new();
    assert_eq!(store.global_level(), CompatibilityLevel::Backward);
    assert_eq!(code(store.subject_level("s", false)), 40408);
    assert_eq!(ok(store.subject_level("s", true)), CompatibilityLevel::Backward);
    let global = store.set_level(None, CompatibilityLevel::Full);
    assert_eq!(commit(&mut store, global), CompatibilityLevel::Full);
    let subject = store.set_level(Some("s"), CompatibilityLevel::None);
    commit(&mut store, subject);
    assert_eq!(store.effective_level("s"), CompatibilityLevel::None);
    assert_eq!(store.effective_level("t"), CompatibilityLevel::Full);
    let deleted = ok(store.delete_level(Some("s")));
    assert_eq!(commit(&mut store, deleted), CompatibilityLevel::None);
    assert_eq!(store.effective_level("s"), CompatibilityLevel::Full);
    assert_eq!(code(store.delete_level(Some("never-seen"))), 40401);
    let reset = ok(store.delete_level(None));
    assert_eq!(commit(&mut store, reset), CompatibilityLevel::Full);
    assert_eq!(store.global_level(), CompatibilityLevel::Backward);
}

#[test]
fn config_bodies_are_confluents() {
    let request: Result<ConfigRequest, _> = serde_json::from_str(r#"{"compatibility": "full_transitive"}"#);
    assert_eq!(request.ok().map(|request| request.level()), Some(Ok(CompatibilityLevel::FullTransitive)));
    assert_eq!(code(ConfigRequest { compatibility: "SIDEWAYS".to_owned() }.level()), 42203);
    let view = serde_json::to_string(&ConfigView { compatibility_level: CompatibilityLevel::Backward }).ok();
    assert_eq!(view.as_deref(), Some(r#"{"compatibilityLevel":"BACKWARD"}"#));
    let update = serde_json::to_string(&ConfigUpdate { compatibility: CompatibilityLevel::ForwardTransitive }).ok();
    assert_eq!(update.as_deref(), Some(r#"{"compatibility":"FORWARD_TRANSITIVE"}"#));
}

#[test]
fn test_compatibility_checks_per_level_or_against_one_version() {
    let mut store = RegistryStore::new();
    let compatible = CompatibilityReport { is_compatible: true, messages: Vec::new() };
    // Nothing registered: anything is compatible with `latest`, a number is 40401.
    assert_eq!(ok(store.test_compatibility("s", &schema(""), None)), compatible);
    assert_eq!(ok(store.test_compatibility("s", &schema(""), Some(VersionSelector::Latest))), compatible);
    assert_eq!(code(store.test_compatibility("s", &schema(""), Some(VersionSelector::Number(1)))), 40401);

    let v1 = schema(r#", {"name": "f", "type": "string"}"#);
    let v3 = schema(r#", {"name": "f", "type": "int", "default": 0}"#);
    register(&mut store, "s", &v1);
    let none = store.set_level(Some("s"), CompatibilityLevel::None);
    commit(&mut store, none);
    register(&mut store, "s", &schema(""));
    let transitive = store.set_level(Some("s"), CompatibilityLevel::BackwardTransitive);
    commit(&mut store, transitive);

    let report = ok(store.test_compatibility("s", &v3, None));
    assert!(!report.is_compatible);
    assert_eq!(
        report.messages,
        vec![
            "the new schema cannot read data written with version 1: /fields/f/type: \
             writer type string cannot be promoted to reader type int"
                .to_owned()
        ]
    );
    assert_eq!(ok(store.test_compatibility("s", &v3, Some(VersionSelector::Latest))), compatible);
    assert!(!ok(store.test_compatibility("s", &v3, Some(VersionSelector::Number(1)))).is_compatible);
    assert_eq!(code(store.test_compatibility("s", &v3, Some(VersionSelector::Number(3)))), 40402);
    assert_eq!(code(store.test_compatibility("s", "[", None)), 42201);
    // The test changes nothing.
    assert_eq!(ok(store.versions("s", false)), vec![1, 2]);
}

#[test]
fn every_error_has_confluents_code_status_and_body() {
    let subject = || "s".to_owned();
    let cases: Vec<(RegistryError, u32, u16)> = vec![
        (RegistryError::SubjectNotFound { subject: subject() }, 40401, 404),
        (RegistryError::VersionNotFound { subject: subject(), version: "3".to_owned() }, 40402, 404),
        (RegistryError::SchemaIdNotFound { id: 7 }, 40403, 404),
        (RegistryError::SchemaNotRegistered { subject: subject() }, 40403, 404),
        (RegistryError::SubjectSoftDeleted { subject: subject() }, 40404, 404),
        (RegistryError::SubjectNotSoftDeleted { subject: subject() }, 40405, 404),
        (RegistryError::VersionSoftDeleted { subject: subject(), version: 1 }, 40406, 404),
        (RegistryError::VersionNotSoftDeleted { subject: subject(), version: 1 }, 40407, 404),
        (RegistryError::SubjectConfigNotFound { subject: subject() }, 40408, 404),
        (RegistryError::InvalidSchema { reason: "x".to_owned() }, 42201, 422),
        (RegistryError::InvalidVersion { version: "0".to_owned() }, 42202, 422),
        (RegistryError::InvalidCompatibilityLevel { level: "X".to_owned() }, 42203, 422),
        (RegistryError::Incompatible { subject: subject(), details: Vec::new() }, 409, 409),
    ];
    for (error, error_code, status) in cases {
        assert_eq!((error.error_code(), error.http_status()), (error_code, status), "{error}");
    }
    let body = serde_json::to_string(&RegistryError::SubjectNotFound { subject: subject() }.body()).ok();
    assert_eq!(body.as_deref(), Some(r#"{"error_code":40401,"message":"Subject 's' not found."}"#));
}

#[test]
fn events_have_a_stable_json_form_and_compaction_keys() {
    let events = [
        (
            RegistryEvent::SchemaCreated { id: 1, schema: "\"long\"".to_owned() },
            r#"{"event":"schema_created","id":1,"schema":"\"long\""}"#,
            "schema/1",
        ),
        (
            RegistryEvent::VersionSet { subject: "s".to_owned(), version: 2, id: 1, deleted: true },
            r#"{"event":"version_set","subject":"s","version":2,"id":1,"deleted":true}"#,
            "version/2/s",
        ),
        (
            RegistryEvent::VersionRemoved { subject: "s".to_owned(), version: 2 },
            r#"{"event":"version_removed","subject":"s","version":2}"#,
            "version/2/s",
        ),
        (
            RegistryEvent::ConfigSet { subject: Some("s".to_owned()), compatibility: Some(CompatibilityLevel::Full) },
            r#"{"event":"config_set","subject":"s","compatibility":"FULL"}"#,
            "config/subject/s",
        ),
        (
            RegistryEvent::ConfigSet { subject: None, compatibility: None },
            r#"{"event":"config_set","subject":null,"compatibility":null}"#,
            "config/global",
        ),
    ];
    for (event, json, key) in events {
        assert_eq!(serde_json::to_string(&event).ok().as_deref(), Some(json));
        assert_eq!(serde_json::from_str::<RegistryEvent>(json).ok(), Some(event.clone()));
        assert_eq!(event.key(), key);
    }
}

#[test]
fn events_that_do_not_follow_from_the_state_are_refused() {
    let version = |id| RegistryEvent::VersionSet { subject: "s".to_owned(), version: 1, id, deleted: false };
    let mut store = RegistryStore::new();
    assert!(matches!(store.apply(&version(1)), Err(ApplyError::UnknownSchemaId { id: 1, .. })));
    let created = |id, text: &str| RegistryEvent::SchemaCreated { id, schema: text.to_owned() };
    assert!(matches!(store.apply(&created(1, "{")), Err(ApplyError::UnparsableSchema { id: 1, .. })));
    assert_eq!(store.apply(&created(1, "\"long\"")), Ok(()));
    assert_eq!(store.apply(&created(1, "\"long\"")), Ok(()), "idempotent");
    assert_eq!(store.apply(&created(2, "\"long\"")), Err(ApplyError::ConflictingSchema { id: 2, existing: 1 }));
    assert_eq!(store.apply(&created(1, "\"int\"")), Err(ApplyError::ConflictingSchema { id: 1, existing: 1 }));
    assert_eq!(store.apply(&version(1)), Ok(()));
    let versions: Vec<Version> = ok(store.versions("s", false));
    assert_eq!(versions, vec![1]);
}
