//! No secret appears in any output: the database password (in the URL, SCRAM on
//! PostgreSQL 18), the registry password and a wrong guess at it are looked for — as
//! text and as the base64 of the basic-auth header — in `check`'s output, in the log of
//! a run at trace level (every crate's events, HTTP requests included), in `/metrics`,
//! `/health` and the registry's answers, and in the error of a run refused for a wrong
//! password.

mod support;

use std::time::Duration;

use base64::Engine as _;
use support::avro_files::{FilesConfig, lake_dir, record_count, write_files_config};
use support::{Server, TestDatabase, Wellhead, basic_auth, free_port, http, http_request_with, run_wellhead, wait_for};

const DATABASE_PASSWORD: &str = "scram-secret";
const REGISTRY_PASSWORD: &str = "registry-Zq9-secret";
const WRONG_GUESS: &str = "guess-Zq9-wrong";

/// The secrets and their base64 forms (as a basic-auth header carries them).
fn secrets() -> Vec<String> {
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    vec![
        DATABASE_PASSWORD.to_owned(),
        REGISTRY_PASSWORD.to_owned(),
        WRONG_GUESS.to_owned(),
        encode(&format!("wellhead:{REGISTRY_PASSWORD}")),
        encode(&format!("wellhead:{WRONG_GUESS}")),
    ]
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for secret in secrets() {
        assert!(!text.contains(&secret), "{what} shows a secret ({secret}):\n{text}");
    }
}

#[tokio::test]
async fn no_secret_in_logs_at_trace_level_errors_metrics_or_check() {
    let db = TestDatabase::create(Server::Pg18, "secrets").await;
    db.client
        .batch_execute(&format!(
            "CREATE TABLE items (id int PRIMARY KEY, name text); ALTER TABLE items OWNER TO wellhead_scram;
             GRANT CREATE ON DATABASE {} TO wellhead_scram;",
            db.name
        ))
        .await
        .expect("schema");
    let address = format!("127.0.0.1:{}", free_port());
    let config = write_files_config(
        &db,
        &["public.items"],
        &FilesConfig { sink: "roll_seconds = 1", http: Some(&address), ..Default::default() },
    );
    let url = format!("postgres://wellhead_scram:{DATABASE_PASSWORD}@{}/{}", Server::Pg18.address(), db.name);
    let text = std::fs::read_to_string(&config).expect("config").replace(&db.url(), &url);
    let text = format!("{text}registry_password = \"{REGISTRY_PASSWORD}\"\n");
    std::fs::write(&config, &text).expect("config");
    let config_path = config.to_str().expect("UTF-8 path");

    let checked = run_wellhead(&["check", "--config", config_path], &[], Duration::from_secs(60));
    assert_eq!(checked.code, Some(0), "{checked:#?}");
    assert_no_secret("check", &format!("{}{}", checked.stdout, checked.stderr));

    let mut wellhead = Wellhead::start_logging(&config, "trace");
    wellhead.wait_streaming().await;
    db.client.batch_execute("INSERT INTO items VALUES (1, 'a')").await.expect("insert");
    wait_for(Duration::from_secs(30), "the insert in a final file", || record_count(&lake_dir(&db)) >= 1).await;
    let schema = r#"{"schema": "{\"type\": \"record\", \"name\": \"R\", \"fields\": []}"}"#;
    for password in [REGISTRY_PASSWORD, WRONG_GUESS] {
        let authorization = basic_auth("wellhead", password);
        let headers = [("Content-Type", "application/json"), ("Authorization", authorization.as_str())];
        let answer = http_request_with("POST", &address, "/subjects/probe-value/versions", &headers, Some(schema));
        assert_eq!(answer.status, if password == REGISTRY_PASSWORD { 200 } else { 401 }, "{answer:?}");
        assert_no_secret("a registry answer", &answer.body);
    }
    for path in ["/metrics", "/health", "/subjects", "/config"] {
        let (status, body) = http("GET", &address, path, None);
        assert_eq!(status, 200, "{path}: {body}");
        assert_no_secret(path, &body);
    }
    let log = wellhead.log_text();
    wellhead.end(true, "trace run");
    assert!(log.contains("TRACE"), "the run logged at trace level");
    assert_no_secret("the trace log", &log);

    // A refused password: the error names the failure, not the password.
    let wrong = text.replace(DATABASE_PASSWORD, WRONG_GUESS);
    std::fs::write(&config, wrong).expect("config");
    let refused =
        run_wellhead(&["run", "--config", config_path], &[("WELLHEAD_LOG", "trace")], Duration::from_secs(60));
    assert_eq!(refused.code, Some(1), "{refused:#?}");
    assert!(refused.stderr.contains("password authentication failed"), "{refused:#?}");
    assert_no_secret("a refused run", &format!("{}{}", refused.stdout, refused.stderr));
    db.drop().await;
}
