//! `wellhead check` against MariaDB: a usable setup passes; the replica id of the server
//! itself and a user without the replication privileges are errors with their fix; the
//! password of the user never shows.

mod support;

use std::time::Duration;

use mysql_async::prelude::Queryable;
use support::mariadb::{self, MariadbDatabase};
use support::run_wellhead;

fn check(config: &std::path::Path) -> support::Finished {
    run_wellhead(&["check", "--config", config.to_str().expect("UTF-8 path")], &[], Duration::from_secs(60))
}

#[tokio::test]
async fn check_passes_a_usable_server_and_names_each_problem_with_its_fix() {
    let mut db = MariadbDatabase::create("check").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let patterns = db.patterns(&["t"]);

    let good = db.write_config(&db.pipeline_toml(&patterns, mariadb::server_id()));
    let finished = check(&good);
    assert_eq!(finished.code, Some(0), "a usable setup passes: {}{}", finished.stdout, finished.stderr);
    assert!(finished.stdout.contains("ok"), "{}", finished.stdout);

    // The server's own id as the replica's: the server would drop one of the two.
    let own: u32 = db.conn.query_first("SELECT @@server_id").await.expect("server_id").expect("a row");
    let same_id = db.write_config(&db.pipeline_toml(&patterns, own));
    let finished = check(&same_id);
    assert_eq!(finished.code, Some(1), "{}", finished.stdout);
    assert!(finished.stdout.contains(&format!("source.server_id {own} is the server's own")), "{}", finished.stdout);
    assert!(finished.stdout.contains("fix: pick a server_id"), "{}", finished.stdout);

    // A user that may only read: both replication privileges are missing, each with its GRANT.
    let user = format!("wh_check_{}", std::process::id());
    let password = "s3cret-never-shown";
    let grants = format!("SELECT ON `{}`.*", db.name);
    db.create_user(&user, password, "", &grants).await;
    let url = format!("mysql://{user}:{password}@{}", mariadb::address());
    let weak = db.write_config(&db.pipeline_toml(&patterns, mariadb::server_id()).replace(&mariadb::url(), &url));
    let finished = check(&weak);
    assert_eq!(finished.code, Some(1), "{}", finished.stdout);
    for privilege in ["REPLICATION SLAVE", "REPLICATION CLIENT"] {
        assert!(finished.stdout.contains(&format!("the user lacks {privilege}")), "{}", finished.stdout);
        assert!(finished.stdout.contains(&format!("fix: GRANT {privilege} ON *.*")), "{}", finished.stdout);
    }
    assert!(!finished.stdout.contains(password) && !finished.stderr.contains(password), "the password never shows");
    db.drop().await;
}
