//! `wellhead check`: every prerequisite problem exits 1 and prints the fix an
//! operator can apply; a usable setup exits 0 without changing the database;
//! configuration mistakes name the key or variable; passwords never show.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::{Finished, Server, TestDatabase, Wellhead, run_wellhead};

const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

fn check(config: &std::path::Path, env: &[(&str, &str)]) -> Finished {
    let config = config.to_str().expect("UTF-8 path");
    run_wellhead(&["check", "--config", config], env, CHECK_TIMEOUT)
}

/// A config file for `url` in a scratch directory of its own (no database needed).
fn scratch_config(label: &str, url: &str, extra_source_line: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("wellhead-tests").join(format!("check_{label}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let config = format!(
        "[[pipelines]]\nname = \"shop\"\n\n[pipelines.source]\ntype = \"postgres\"\nurl = \"{url}\"\n\
         tables = [\"public.t\"]\nslot = \"shop\"\npublication = \"shop\"\n{extra_source_line}\n\n\
         [pipelines.snapshot]\nmode = \"never\"\n\n[pipelines.sink]\ntype = \"jsonl\"\ndir = \"{out}\"\n\n\
         [pipelines.checkpoint]\ndir = \"{state}\"\n",
        out = dir.join("out").display(),
        state = dir.join("state").display(),
    );
    let path = dir.join("wellhead.toml");
    std::fs::write(&path, config).expect("write config");
    path
}

#[tokio::test]
async fn wal_level_replica_is_an_error_with_the_fix() {
    let db = TestDatabase::create(Server::Pg18Replica, "check_replica").await;
    db.client.batch_execute("CREATE TABLE t (id int PRIMARY KEY)").await.expect("schema");
    let config = db.write_config(&["public.t"], "");

    let finished = check(&config, &[]);

    assert_eq!(finished.code, Some(1), "{finished:#?}");
    assert!(finished.stdout.contains("wal_level is 'replica'"), "{finished:#?}");
    assert!(finished.stdout.contains("ALTER SYSTEM SET wal_level = logical"), "{finished:#?}");
    assert!(finished.stdout.contains("restart PostgreSQL"), "{finished:#?}");
    db.drop().await;
}

#[tokio::test]
async fn a_usable_setup_passes_and_changes_nothing() {
    let db = TestDatabase::create(Server::Pg15, "check_good").await;
    db.client.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await.expect("schema");
    let config = db.write_config(&["public.t"], "");

    let finished = check(&config, &[]);

    assert_eq!(finished.code, Some(0), "{finished:#?}");
    assert!(finished.stdout.contains(&format!("pipeline {}:\n  ok", db.name)), "{finished:#?}");
    assert!(!finished.stdout.contains("error"), "{finished:#?}");
    let created = db
        .client
        .query_one(
            "SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1)
                  + (SELECT count(*) FROM pg_publication WHERE pubname = $1)",
            &[&db.name],
        )
        .await
        .expect("look up slot and publication");
    assert_eq!(created.get::<_, i64>(0), 0, "check must not create the slot or the publication");
    db.drop().await;
}

#[tokio::test]
async fn a_role_without_replication_is_an_error_with_the_fix() {
    let db = TestDatabase::create(Server::Pg15, "check_norepl").await;
    let role = format!("wh_norepl_{}", std::process::id());
    db.client
        .batch_execute(&format!(
            "CREATE TABLE t (id int PRIMARY KEY);
             DROP ROLE IF EXISTS {role};
             CREATE ROLE {role} LOGIN NOREPLICATION NOSUPERUSER;"
        ))
        .await
        .expect("schema and role");
    let config = db.write_config(&["public.t"], "");
    let as_role = std::fs::read_to_string(&config)
        .expect("read config")
        .replace(&db.url(), &format!("postgres://{role}@{}/{}", db.server.address(), db.name));
    std::fs::write(&config, as_role).expect("write config");

    let finished = check(&config, &[]);

    assert_eq!(finished.code, Some(1), "{finished:#?}");
    assert!(finished.stdout.contains(&format!("role {role} has neither the REPLICATION attribute")), "{finished:#?}");
    assert!(finished.stdout.contains(&format!("ALTER ROLE {role} WITH REPLICATION")), "{finished:#?}");
    db.drop().await;
    let admin = support::connect(&Server::Pg15.url("postgres")).await;
    admin.batch_execute(&format!("DROP ROLE IF EXISTS {role}")).await.expect("drop role");
}

#[tokio::test]
async fn a_table_without_primary_key_is_a_warning() {
    let db = TestDatabase::create(Server::Pg15, "check_nopk").await;
    db.client.batch_execute("CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE nopk (v text);").await.expect("schema");
    let config = db.write_config(&["public.t", "public.nopk"], "");

    let finished = check(&config, &[]);

    assert_eq!(finished.code, Some(0), "a warning alone passes: {finished:#?}");
    assert!(finished.stdout.contains("warning: table public.nopk has no primary key"), "{finished:#?}");
    assert!(finished.stdout.contains("REPLICA IDENTITY"), "{finished:#?}");
    assert!(finished.stdout.contains("ALTER TABLE public.nopk REPLICA IDENTITY FULL"), "{finished:#?}");
    assert!(!finished.stdout.contains("error"), "{finished:#?}");
    db.drop().await;
}

#[test]
fn an_unknown_config_key_is_named() {
    let config = scratch_config("unknown_key", "postgres://postgres@127.0.0.1:1/x", "slott = \"x\"");

    let finished = check(&config, &[]);

    assert_eq!(finished.code, Some(1), "{finished:#?}");
    assert_eq!(finished.stderr.matches("unknown field `slott`").count(), 1, "named once: {finished:#?}");
    assert!(finished.stderr.contains("in `pipelines.source`"), "{finished:#?}");
}

#[test]
fn a_bad_environment_override_names_the_variable() {
    let config = scratch_config("bad_override", "postgres://postgres@127.0.0.1:1/x", "");

    let finished = check(&config, &[("WELLHEAD_PIPELINES__NOPE__SLOT", "x")]);

    assert_eq!(finished.code, Some(1), "{finished:#?}");
    assert!(finished.stderr.contains("WELLHEAD_PIPELINES__NOPE__SLOT"), "{finished:#?}");
    assert!(finished.stderr.contains("\"nope\""), "names the missing pipeline: {finished:#?}");
}

#[tokio::test]
async fn a_password_in_the_url_never_shows() {
    let config = scratch_config("password", "postgres://postgres:hunter2@127.0.0.1:1/x", "");

    let finished = check(&config, &[]);

    assert_eq!(finished.code, Some(1), "{finished:#?}");
    assert!(finished.stdout.contains("cannot connect to postgres://postgres:***@127.0.0.1:1/x"), "{finished:#?}");
    assert!(!finished.stdout.contains("hunter2") && !finished.stderr.contains("hunter2"), "{finished:#?}");

    // `run` retries the unreachable server; its reconnect warnings must not show the password either.
    let mut wellhead = Wellhead::start(&config);
    support::wait_for(Duration::from_secs(20), "a reconnect warning", || {
        wellhead.log_text().contains("Source interrupted; reconnecting.")
    })
    .await;
    assert!(wellhead.child.try_wait().expect("try_wait").is_none(), "run keeps retrying: {}", wellhead.log_text());
    wellhead.signal("INT");
    let log_path = wellhead.log.clone();
    assert_eq!(wellhead.wait(Duration::from_secs(10)), Some(0), "clean exit while retrying");
    let log = std::fs::read_to_string(log_path).expect("read log");
    assert!(!log.contains("hunter2"), "{log}");
}

/// The Kafka sink's brokers: reachable is fine; unreachable is an error naming them, with the fix.
#[tokio::test]
async fn kafka_brokers_are_checked() {
    let db = TestDatabase::create(Server::Pg15, "check_kafka").await;
    db.client.batch_execute("CREATE TABLE t (id int PRIMARY KEY)").await.expect("schema");
    let http = format!("127.0.0.1:{}", support::free_port());
    let reachable = support::kafka::write_kafka_config(&db, &["public.t"], &support::kafka::brokers(), &http, "", "");
    let finished = check(&reachable, &[]);
    assert_eq!(finished.code, Some(0), "a reachable broker with transactions passes:\n{}", finished.stdout);

    let closed = format!("127.0.0.1:{}", support::free_port());
    let unreachable = support::kafka::write_kafka_config(&db, &["public.t"], &closed, &http, "", "");
    let finished = check(&unreachable, &[]);
    assert_eq!(finished.code, Some(1), "an unreachable broker is an error:\n{}", finished.stdout);
    assert!(
        finished.stdout.contains(&closed) && finished.stdout.contains("check sink.brokers"),
        "the error names the brokers and the fix:\n{}",
        finished.stdout
    );
    db.drop().await;
}

#[tokio::test]
async fn check_refuses_what_run_would_fail_on_an_unwritable_checkpoint_dir_and_an_unreachable_registry() {
    let db = TestDatabase::create(Server::Pg15, "check_run").await;
    db.client.batch_execute("CREATE TABLE t (id int PRIMARY KEY)").await.expect("schema");
    // A checkpoint directory below a regular file cannot be created, even by root.
    let blocker = db.dir.join("a-file");
    std::fs::write(&blocker, b"not a directory").expect("file");
    let registry = format!("http://127.0.0.1:{}", support::free_port());
    let config = db.write_config(&["public.t"], "");
    let text = std::fs::read_to_string(&config).expect("config").replace(
        &format!("dir = \"{}\"", db.dir.join("state").display()),
        &format!("dir = \"{}\"\n\n[pipelines.registry]\nurl = \"{registry}\"", blocker.join("state").display()),
    );
    std::fs::write(&config, text).expect("config");

    let finished = check(&config, &[]);

    assert_eq!(finished.code, Some(1), "{finished:#?}");
    assert!(finished.stdout.contains("checkpoint directory"), "{finished:#?}");
    assert!(finished.stdout.contains("checkpoint.dir"), "the fix names the key: {finished:#?}");
    assert!(finished.stdout.contains("schema registry"), "{finished:#?}");
    assert!(finished.stdout.contains("registry.url"), "the fix names the key: {finished:#?}");
    db.drop().await;
}

/// A slot created with two-phase decoding would send prepared transactions before they
/// commit: `check` and `run` both refuse it with the fix (on PostgreSQL 18 the fix itself
/// is run here and the pipeline then streams).
#[tokio::test]
async fn a_two_phase_slot_is_refused_with_the_fix() {
    for server in [Server::Pg15, Server::Pg18] {
        let db = TestDatabase::create(server, "check_two_phase").await;
        db.client.batch_execute("CREATE TABLE t (id int PRIMARY KEY)").await.expect("schema");
        db.client
            .execute("SELECT pg_create_logical_replication_slot($1, 'pgoutput', false, true)", &[&db.name])
            .await
            .expect("two-phase slot");
        let config = db.write_config(&["public.t"], "");

        let checked = check(&config, &[]);
        assert_eq!(checked.code, Some(1), "{checked:#?}");
        assert!(checked.stdout.contains("two_phase enabled"), "{checked:#?}");
        assert!(checked.stdout.contains("ALTER_REPLICATION_SLOT"), "{checked:#?}");
        let config_path = config.to_str().expect("UTF-8 path");
        let ran = run_wellhead(&["run", "--config", config_path], &[], Duration::from_secs(60));
        assert_eq!(ran.code, Some(1), "run refuses it for good: {ran:#?}");
        assert!(ran.stderr.contains("two_phase enabled"), "{ran:#?}");

        if matches!(server, Server::Pg18) {
            // The fix the message gives, as given: then the pipeline streams.
            let replication = format!(
                "host=127.0.0.1 port={} user=postgres dbname={} replication=database",
                server.address().rsplit(':').next().expect("port"),
                db.name
            );
            let altered = std::process::Command::new("psql")
                .args([replication.as_str(), "-c", &format!("ALTER_REPLICATION_SLOT {} (TWO_PHASE false)", db.name)])
                .output()
                .expect("psql");
            assert!(altered.status.success(), "{}", String::from_utf8_lossy(&altered.stderr));
            let mut wellhead = Wellhead::start(&config);
            wellhead.wait_streaming().await;
            wellhead.end(true, "two_phase off");
        }
        db.drop().await;
    }
}
