//! `--log-format json`: every line Wellhead writes to stderr is one JSON object a log
//! collector can parse (here: Python's `json` module, not ours), the lines a pipeline logs
//! carry its span with the pipeline's name, and no secret of the config appears.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Server, TestDatabase, Wellhead, wait_for_lines};

/// A password in the source URL (trust authentication ignores it): it must not be logged.
const PASSWORD: &str = "json-logs-secret-7f3a";

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_pipeline_span_and_no_secret() {
    let db = TestDatabase::create(Server::Pg15, "json_logs").await;
    db.client.batch_execute("CREATE TABLE t (id int PRIMARY KEY)").await.expect("table");
    let config = db.write_config(&["public.t"], "");
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(text.contains("postgres://postgres@"), "{text}");
    std::fs::write(&config, text.replace("postgres://postgres@", &format!("postgres://postgres:{PASSWORD}@")))
        .expect("config");
    let mut wellhead = Wellhead::start_with(&config, "debug", &["--log-format", "json"]);
    wellhead.wait_streaming().await;
    db.client.batch_execute("INSERT INTO t VALUES (1)").await.expect("insert");
    assert!(wait_for_lines(&db.output_path(), 1, Duration::from_secs(30), Duration::from_secs(30)).await, "the row");
    let log_path = wellhead.log.clone();
    wellhead.stop_cleanly("json logs");
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(!log.contains(PASSWORD), "the password is in the log:\n{log}");

    // Python parses each line on its own and says what it found.
    let script = "import json, sys\n\
        lines = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]\n\
        assert all(isinstance(line, dict) for line in lines)\n\
        assert all({'timestamp', 'level', 'fields'} <= line.keys() for line in lines), lines\n\
        spans = [line['span'] for line in lines if 'span' in line]\n\
        print(json.dumps({'lines': len(lines), 'spans': spans,\n\
                          'messages': [line['fields'].get('message') for line in lines]}))\n";
    let output = Command::new("python3").args(["-c", script]).arg(&log_path).output().expect("python3");
    assert!(output.status.success(), "not JSON lines: {}\nlog:\n{log}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("summary");
    assert!(summary["lines"].as_u64().unwrap_or(0) >= 3, "{summary}");
    let messages = summary["messages"].as_array().expect("messages");
    assert!(messages.iter().any(|message| message == "Streaming changes."), "{summary}");
    let spans = summary["spans"].as_array().expect("spans");
    assert!(
        spans.iter().any(|span| span["name"] == "pipeline" && span["pipeline"] == db.name.as_str()),
        "a pipeline's lines name it in their span: {}",
        serde_json::json!(spans)
    );
    db.drop().await;
}
