//! The HTTP control address: health and Prometheus metrics of a running pipeline.

mod support;

use std::time::Duration;

use support::{Server, TestDatabase, Wellhead, http, wait_for};

#[tokio::test]
async fn health_and_metrics_are_served() {
    let db = TestDatabase::create(Server::Pg15, "control").await;
    db.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY)").await.expect("schema");
    let address = format!("127.0.0.1:{}", support::free_port());
    let config = db.write_config(&["public.items"], "");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("[control]\nhttp = \"{address}\"\n\n{text}")).expect("config");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;

    let (status, body) = http("GET", &address, "/health", None);
    assert_eq!((status, body.as_str()), (200, "{\"status\":\"UP\"}"));

    db.client
        .batch_execute("INSERT INTO items SELECT generate_series(1, 3); DELETE FROM items WHERE id = 1")
        .await
        .expect("changes");
    wait_for(Duration::from_secs(20), "4 changes", || db.read_output().len() >= 4).await;
    let expected = [
        format!("wellhead_changes_total{{pipeline=\"{}\",op=\"c\"}} 3", db.name),
        format!("wellhead_changes_total{{pipeline=\"{}\",op=\"d\"}} 1", db.name),
    ];
    let mut metrics = String::new();
    wait_for(Duration::from_secs(10), "change counters", || {
        metrics = http("GET", &address, "/metrics", None).1;
        expected.iter().all(|line| metrics.contains(line.as_str()))
    })
    .await;
    assert!(metrics.contains("# HELP wellhead_checkpoint_lsn"), "{metrics}");
    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(20)), Some(0));
    db.drop().await;
}

/// The lag and queue gauges and the snapshot counters: a table of 5 rows copied, then
/// changes; the last checkpoint is recent and its newest change was committed shortly before.
#[tokio::test]
async fn metrics_tell_the_lag_the_checkpoint_age_the_queue_and_the_snapshot() {
    let db = TestDatabase::create(Server::Pg15, "lagmetrics").await;
    db.client
        .batch_execute("CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 5)")
        .await
        .expect("schema");
    let address = format!("127.0.0.1:{}", support::free_port());
    let config = db.write_config(&["public.items"], "");
    support::set_snapshot_mode(&config, "initial");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("[control]\nhttp = \"{address}\"\n\n{text}")).expect("config");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.client.batch_execute("INSERT INTO items VALUES (6), (7)").await.expect("changes");
    wait_for(Duration::from_secs(20), "7 changes", || db.read_output().len() >= 7).await;
    let pipeline = format!("{{pipeline=\"{}\"}}", db.name);
    let gauge = |metrics: &str, name: &str| -> Option<f64> {
        let prefix = format!("{name}{pipeline} ");
        metrics.lines().find_map(|line| line.strip_prefix(prefix.as_str())).and_then(|value| value.trim().parse().ok())
    };
    let mut metrics = String::new();
    let started = std::time::Instant::now();
    while gauge(&metrics, "wellhead_checkpoint_timestamp_seconds").is_none() {
        assert!(started.elapsed() < Duration::from_secs(10), "no checkpoint time in /metrics:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        metrics = http("GET", &address, "/metrics", None).1;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
    let saved_at = gauge(&metrics, "wellhead_checkpoint_timestamp_seconds").expect("checkpoint time");
    assert!((now - saved_at).abs() < 30.0, "the last checkpoint is recent: {saved_at} vs now {now}");
    let latency = gauge(&metrics, "wellhead_sink_latency_seconds").expect("latency");
    assert!((0.0..10.0).contains(&latency), "a change is durable within seconds of its commit: {latency}");
    assert!(gauge(&metrics, "wellhead_queue_bytes").is_some_and(|bytes| bytes >= 0.0), "{metrics}");
    assert!(gauge(&metrics, "wellhead_queue_batches").is_some_and(|batches| batches >= 0.0), "{metrics}");
    let copied = format!("wellhead_snapshot_rows_total{{pipeline=\"{}\",table=\"public.items\"}} 5", db.name);
    assert!(metrics.contains(&copied), "the snapshot's rows are counted per table:\n{metrics}");
    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(20)), Some(0));
    db.drop().await;
}

/// `/health/ready` is 200 only while every pipeline streams; a pipeline that cannot
/// connect makes it 503, with each pipeline's state and the reason in the body.
#[tokio::test]
async fn readiness_tells_which_pipeline_streams_and_why_another_does_not() {
    let db = TestDatabase::create(Server::Pg15, "ready").await;
    db.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY)").await.expect("schema");
    let address = format!("127.0.0.1:{}", support::free_port());
    let good = db.pipeline_toml(&db.name, &["public.items"]);
    let closed_port = support::free_port();
    let unreachable = db
        .pipeline_toml("unreachable", &["public.items"])
        .replace(&Server::Pg15.address(), &format!("127.0.0.1:{closed_port}"));
    let config = db.dir.join("ready.toml");
    std::fs::write(
        &config,
        format!(
            "[control]\nhttp = \"{address}\"\nregistry_dir = \"{}\"\n\n{good}\n{unreachable}",
            db.dir.join("registry").display()
        ),
    )
    .expect("config");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;

    let (status, body) = http("GET", &address, "/health/live", None);
    assert_eq!((status, body.as_str()), (200, "{\"status\":\"UP\"}"));
    let mut ready = (0, String::new());
    wait_for(Duration::from_secs(20), "the unreachable pipeline reconnecting", || {
        ready = http("GET", &address, "/health/ready", None);
        ready.1.contains("reconnecting")
    })
    .await;
    assert_eq!(ready.0, 503, "{}", ready.1);
    let body: serde_json::Value = serde_json::from_str(&ready.1).expect("JSON");
    assert_eq!(body["status"], "DOWN");
    assert_eq!(body["pipelines"][&db.name]["state"], "streaming", "{body}");
    assert_eq!(body["pipelines"]["unreachable"]["state"], "reconnecting", "{body}");
    assert!(
        body["pipelines"]["unreachable"]["reason"].as_str().is_some_and(|r| r.contains(&closed_port.to_string())),
        "{body}"
    );
    let errors = "wellhead_errors_total{pipeline=\"unreachable\",class=\"transient\"}".to_owned();
    let lag = format!("wellhead_source_lag_bytes{{pipeline=\"{}\"}}", db.name);
    // The lag is set at the session's first status update, a moment after it starts.
    wait_for(Duration::from_secs(10), "the error count and the source lag in /metrics", || {
        let metrics = http("GET", &address, "/metrics", None).1;
        [&errors, &lag].iter().all(|name| metrics.lines().any(|line| line.starts_with(name.as_str())))
    })
    .await;
    wellhead.end(true, "readiness");
    db.drop().await;
}
