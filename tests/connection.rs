//! Authentication (cleartext password, md5, SCRAM-SHA-256) and TLS (sslmode) on real servers, for
//! both of Wellhead's connections: the SQL one and the replication one.
//!
//! Needs the password roles the services script creates on PostgreSQL 18
//! (`wellhead_cleartext`, `wellhead_md5`, `wellhead_scram`) and TLS on PostgreSQL 15.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Server, TestDatabase, Wellhead, wait_for};

/// Runs `wellhead check`; returns (exit code, stdout + stderr).
fn run_check(config: &std::path::Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_wellhead"))
        .args(["check", "--config"])
        .arg(config)
        .output()
        .expect("run check");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code(), text)
}

/// A database owned by `role` with one table, so that role can publish it.
async fn database_owned_by(server: Server, role: &str) -> TestDatabase {
    let db = TestDatabase::create(server, role).await;
    db.client
        .batch_execute(&format!(
            "CREATE TABLE items (id int PRIMARY KEY, name text);
             ALTER TABLE items OWNER TO {role};
             GRANT CREATE ON DATABASE {db} TO {role};",
            db = db.name
        ))
        .await
        .expect("schema");
    db
}

fn config_with_url(db: &TestDatabase, url: &str) -> std::path::PathBuf {
    let path = db.write_config(&["public.items"], "");
    let text = std::fs::read_to_string(&path).expect("read config").replace(&db.url(), url);
    std::fs::write(&path, text).expect("write config");
    path
}

async fn streams_one_insert(db: &TestDatabase, config: &std::path::Path) {
    let mut wellhead = Wellhead::start(config);
    wellhead.wait_streaming().await;
    db.client.batch_execute("INSERT INTO items VALUES (1, 'über')").await.expect("insert");
    wait_for(Duration::from_secs(20), "the insert", || !db.read_output().is_empty()).await;
    wellhead.signal("TERM");
    assert_eq!(wellhead.wait(Duration::from_secs(20)), Some(0));
    let events = db.read_output();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["after"]["name"], "über");
}

/// `role` logs in with `password` (check passes, one insert streams); returns the database.
async fn logs_in_and_streams(role: &str, password: &str) -> TestDatabase {
    let db = database_owned_by(Server::Pg18, role).await;
    let url = format!("postgres://{role}:{password}@{}/{}", Server::Pg18.address(), db.name);
    let config = config_with_url(&db, &url);
    let (code, output) = run_check(&config);
    assert_eq!(code, Some(0), "{output}");
    streams_one_insert(&db, &config).await;
    db
}

#[tokio::test]
async fn cleartext_password_authentication() {
    logs_in_and_streams("wellhead_cleartext", "cleartext-secret").await.drop().await;
}

#[tokio::test]
async fn md5_password_authentication() {
    logs_in_and_streams("wellhead_md5", "md5-secret").await.drop().await;
}

#[tokio::test]
async fn scram_sha_256_authentication_and_wrong_password() {
    let db = logs_in_and_streams("wellhead_scram", "scram-secret").await;

    let wrong = config_with_url(
        &db,
        &format!("postgres://wellhead_scram:not-the-Secret@{}/{}", Server::Pg18.address(), db.name),
    );
    let (code, output) = run_check(&wrong);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("password authentication failed"), "{output}");
    assert!(!output.contains("not-the-Secret"), "the password leaked: {output}");

    // `run` stops too, at once: a refused password is definite, not a reason to retry
    // (a retry loop would back off for ever; the timeout is far below one backoff round).
    let config = wrong.display().to_string();
    let finished = support::run_wellhead(&["run", "--config", &config], &[], std::time::Duration::from_secs(20));
    let output = format!("{}{}", finished.stdout, finished.stderr);
    assert_eq!(finished.code, Some(1), "{output}");
    assert!(output.contains("password authentication failed"), "{output}");
    assert!(!output.contains("reconnecting"), "a refused password is not retried: {output}");
    assert!(!output.contains("not-the-Secret"), "the password leaked: {output}");
    db.drop().await;
}

#[tokio::test]
async fn password_from_file_and_environment() {
    let db = database_owned_by(Server::Pg18, "wellhead_scram").await;
    let config = config_with_url(&db, &format!("postgres://wellhead_scram@{}/{}", Server::Pg18.address(), db.name));
    let secret_file = db.dir.join("password");
    std::fs::write(&secret_file, "scram-secret\n").expect("write password file");
    let text = std::fs::read_to_string(&config).expect("config");
    let with_file = text.replace("tables = [", &format!("password_file = \"{}\"\ntables = [", secret_file.display()));
    std::fs::write(&config, with_file).expect("config");
    let (code, output) = run_check(&config);
    assert_eq!(code, Some(0), "password_file: {output}");

    std::fs::write(&config, &text).expect("config");
    let variable = format!("WELLHEAD_PIPELINES__{}__SOURCE__PASSWORD", db.name);
    let output = Command::new(env!("CARGO_BIN_EXE_wellhead"))
        .args(["check", "--config"])
        .arg(&config)
        .env(variable, "scram-secret")
        .output()
        .expect("run check");
    assert_eq!(output.status.code(), Some(0), "environment: {}", String::from_utf8_lossy(&output.stdout));
    db.drop().await;
}

#[tokio::test]
async fn tls_required_encrypts_both_connections() {
    let db = TestDatabase::create(Server::Pg15, "tls").await;
    db.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY, name text)").await.expect("schema");
    let config = config_with_url(&db, &format!("{}?sslmode=require", db.url()));
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    let encrypted = db
        .client
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid
              WHERE a.application_name = 'wellhead' AND a.datname = current_database()",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    let (ssl, total): (i64, i64) = (encrypted.get(0), encrypted.get(1));
    assert!(total >= 2, "expected the SQL and the replication connection, saw {total}");
    assert_eq!(ssl, total, "every wellhead connection uses TLS");
    db.client.batch_execute("INSERT INTO items VALUES (1, 'secret sauce')").await.expect("insert");
    wait_for(Duration::from_secs(20), "the insert", || !db.read_output().is_empty()).await;
    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(20)), Some(0));

    // verify-full checks the host name: the server's certificate names localhost, not 127.0.0.1.
    let config = config_with_url(
        &db,
        &format!("{}?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ssl-cert-snakeoil.pem", db.url()),
    );
    let (code, output) = run_check(&config);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.to_lowercase().contains("certificate"), "{output}");
    db.drop().await;
}
