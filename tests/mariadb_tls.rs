//! TLS to MariaDB (`?ssl-mode=` in source.url): a user that the server lets in only over
//! TLS (`REQUIRE SSL`) connects with `required`, `verify_identity` (the services script's
//! test CA, the server certificate issued for 127.0.0.1) and the default `preferred`, both
//! for SQL and for the binlog; `disabled` is refused by the server, and `verify_ca`
//! against the public roots refuses the test certificate. The server is the services
//! script's (`WELLHEAD_TEST_MARIADB_CA` names its CA, default in the services' state).

mod support;

use std::time::Duration;

use support::mariadb::{self, MariadbDatabase};
use support::{Wellhead, read_jsonl, run_wellhead, wait_for_lines};

fn ca() -> String {
    std::env::var("WELLHEAD_TEST_MARIADB_CA").unwrap_or_else(|_| "/var/lib/wellhead-services/mariadb-tls/ca.pem".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_that_needs_tls_connects_and_streams_with_each_verifying_mode() {
    let mut db = MariadbDatabase::create("tls").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, note text)").await;
    let user = format!("wh_tls_{}", std::process::id());
    db.create_user(&user, "tls-pass", "REQUIRE SSL", "SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.*").await;
    let patterns = db.patterns(&["t"]);
    let config_for = |query: &str| {
        let url = format!("mysql://{user}:tls-pass@{}{query}", mariadb::address());
        db.write_config(&db.pipeline_toml(&patterns, mariadb::server_id()).replace(&mariadb::url(), &url))
    };
    let check = |config: &std::path::Path| {
        run_wellhead(&["check", "--config", config.to_str().expect("UTF-8")], &[], Duration::from_secs(60))
    };

    for query in ["?ssl-mode=required".to_owned(), format!("?ssl-mode=verify_identity&ssl-ca={}", ca()), String::new()]
    {
        let finished = check(&config_for(&query));
        assert_eq!(finished.code, Some(0), "{query:?}: {}{}", finished.stdout, finished.stderr);
    }
    let refused = check(&config_for("?ssl-mode=disabled"));
    assert_eq!(refused.code, Some(1), "{}", refused.stdout);
    assert!(refused.stdout.contains("Access denied"), "the server refuses plain TCP: {}", refused.stdout);
    let unverified = check(&config_for("?ssl-mode=verify_ca"));
    assert_eq!(unverified.code, Some(1), "{}", unverified.stdout);
    assert!(
        unverified.stdout.contains("TLS to") && unverified.stdout.contains("UnknownIssuer"),
        "{}",
        unverified.stdout
    );
    assert!(
        unverified.stdout.contains("fix: name the server certificate's authority with &ssl-ca=FILE"),
        "{}",
        unverified.stdout
    );
    let bad_mode = check(&config_for("?ssl-mode=sometimes"));
    assert_ne!(bad_mode.code, Some(0));
    assert!(
        format!("{}{}", bad_mode.stdout, bad_mode.stderr).contains("ssl-mode=sometimes is not one of"),
        "{}{}",
        bad_mode.stdout,
        bad_mode.stderr
    );

    // The binlog connection goes over TLS too: the user cannot connect otherwise.
    let mut wellhead = Wellhead::start(&config_for(&format!("?ssl-mode=verify_identity&ssl-ca={}", ca())));
    wellhead.wait_streaming().await;
    db.execute("INSERT INTO t VALUES (1, 'over TLS')").await;
    assert!(
        wait_for_lines(&db.output_path(), 1, Duration::from_secs(30), Duration::from_secs(30)).await,
        "the row arrives"
    );
    wellhead.stop_cleanly("TLS stream");
    assert_eq!(read_jsonl(&db.output_path())[0]["after"]["note"], "over TLS");
    db.drop().await;
}
