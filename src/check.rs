//! `wellhead check`: configuration, connectivity and prerequisites of every
//! pipeline, printed with fixes.

use std::path::Path;

use wellhead_decoders::change::TableName;
use wellhead_schema::naming::topic_name;

use crate::config::{
    Config, EMBEDDED_REGISTRY, KafkaDelivery, KafkaSinkConfig, PipelineConfig, RegistryConfig, SinkConfig, SourceConfig,
};
use crate::kafka::committed_log::CommittedLogReader;
use crate::kafka::topics::colliding_topic;
use crate::registry::client::RegistryClient;
use crate::secret::SecretUrl;
use crate::source::postgres::params::ConnectionParams;
use crate::source::postgres::prerequisites::{Finding, Severity, check_prerequisites};
use crate::source::postgres::slot::resolve_tables;
use crate::source::postgres::{connection::ReplicationConnection, sql};

/// Checks every pipeline; prints findings; returns true when nothing is an error.
pub async fn check_config(config: &Config) -> bool {
    let mut all_good = true;
    for pipeline in &config.pipelines {
        println!("pipeline {}:", pipeline.name);
        let mut findings = match &pipeline.source {
            SourceConfig::Postgres(source) => check_postgres(pipeline, source).await,
            SourceConfig::Mysql(source) => check_mysql(source).await,
        };
        findings.extend(check_checkpoint_dir(&pipeline.checkpoint.dir));
        if pipeline.registry.url != EMBEDDED_REGISTRY {
            let registry = pipeline.registry.clone();
            findings.extend(tokio::task::spawn_blocking(move || check_registry(&registry)).await.unwrap_or_default());
        }
        if let SinkConfig::Kafka(kafka) = &pipeline.sink {
            let kafka = kafka.clone();
            findings.extend(tokio::task::spawn_blocking(move || check_kafka(&kafka)).await.unwrap_or_default());
        }
        if findings.is_empty() {
            println!("  ok");
        }
        for finding in findings {
            all_good &= finding.severity != Severity::Error;
            println!("  {}", finding.to_string().replace('\n', "\n  "));
        }
    }
    all_good
}

async fn check_postgres(pipeline: &PipelineConfig, source: &crate::config::PostgresSourceConfig) -> Vec<Finding> {
    let params = match ConnectionParams::from_config(source) {
        Ok(params) => params,
        Err(error) => {
            return vec![Finding {
                severity: Severity::Error,
                problem: error.to_string(),
                fix: "fix source.url".into(),
            }];
        }
    };
    let client = match sql::connect_sql(&params).await {
        Ok(client) => client,
        Err(error) => {
            return vec![Finding {
                severity: Severity::Error,
                problem: format!("cannot connect to {} as {}: {}", params.display_url, params.user, sql::describe_sql_error(&error)),
                fix: "check source.url (host, port, database, user) and the password, and that PostgreSQL accepts the connection (pg_hba.conf)".into(),
            }];
        }
    };
    let mut findings = check_prerequisites(&client, source, &params.database).await;
    if let Ok(tables) = resolve_tables(&client, &source.tables, &params.database).await {
        findings.extend(check_table_names(pipeline, &tables));
    }
    if findings.iter().all(|finding| finding.severity != Severity::Error)
        && let Err(error) = ReplicationConnection::connect(&params).await
    {
        {
            findings.push(Finding {
                severity: Severity::Error,
                problem: format!("replication connection to {}: {error}", params.display_url),
                fix: "allow replication connections for this role in pg_hba.conf (a line for the database, as logical replication uses it)".into(),
            });
        }
    }
    findings
}

async fn check_mysql(source: &crate::config::MysqlSourceConfig) -> Vec<Finding> {
    use crate::source::mysql::{connection, server};
    let params = match connection::MysqlParams::from_config(source) {
        Ok(params) => params,
        Err(error) => return vec![Finding::error(error.to_string(), "fix source.url")],
    };
    let mut conn = match connection::connect_sql(&params).await {
        Ok(conn) => conn,
        Err(error) => {
            let fix = crate::failure::Classify::hint(&error).unwrap_or(
                "check source.url (host, port, user) and the password, and that the server accepts the connection",
            );
            return vec![Finding::error(error.to_string(), fix)];
        }
    };
    let checked = async {
        let info = server::server_info(&mut conn).await?;
        server::check_prerequisites(&mut conn, &info, params.server_id).await
    };
    match checked.await {
        Ok(findings) => findings,
        Err(error) => vec![Finding::error(
            error.to_string(),
            "check the user's privileges (REPLICATION SLAVE, REPLICATION CLIENT, SELECT)",
        )],
    }
}

/// Every captured table gets a topic (and directory) the sink can create: not too long,
/// and on Kafka none that the broker refuses as colliding with another table's.
fn check_table_names(pipeline: &PipelineConfig, tables: &[TableName]) -> Vec<Finding> {
    let Some(prefix) = pipeline.topic_prefix() else { return Vec::new() };
    let mut findings = Vec::new();
    let mut topics: Vec<(String, &TableName)> = Vec::with_capacity(tables.len());
    for table in tables {
        match topic_name(prefix, table) {
            Ok(topic) => {
                let known = topics.iter().map(|(topic, _)| topic.as_str());
                if matches!(pipeline.sink, SinkConfig::Kafka(_))
                    && let Some(other) = colliding_topic(&topic, known)
                {
                    let other_table = topics.iter().find(|(known, _)| known == other).map(|(_, table)| *table);
                    findings.push(Finding {
                        severity: Severity::Error,
                        problem: format!(
                            "tables {} and {table} get the topics {other} and {topic}, which Kafka refuses to have side by side ('.' and '_' are one in topic names)",
                            other_table.map(ToString::to_string).unwrap_or_default()
                        ),
                        fix: "capture only one of them (narrow source.tables), or rename one".into(),
                    });
                }
                topics.push((topic, table));
            }
            Err(refused) => findings.push(Finding {
                severity: Severity::Error,
                problem: format!("table {table}: {refused}"),
                fix: "shorten sink.topic_prefix, rename the table, or leave it out of source.tables".into(),
            }),
        }
    }
    findings
}

/// The Kafka sink: the brokers answer, and serve transactions when delivery is exactly once.
fn check_kafka(config: &KafkaSinkConfig) -> Vec<Finding> {
    let reader = match CommittedLogReader::connect(&config.brokers) {
        Ok(reader) => reader,
        Err(error) => {
            return vec![Finding {
                severity: Severity::Error,
                problem: format!("Kafka: {error}"),
                fix: "check sink.brokers (host:port of a PLAINTEXT listener) and that the brokers run".into(),
            }];
        }
    };
    // InitProducerId, AddPartitionsToTxn, EndTxn.
    let transactions = [22, 24, 26].iter().all(|api| reader.supports(*api));
    if config.delivery == KafkaDelivery::ExactlyOnce && !transactions {
        return vec![Finding {
            severity: Severity::Error,
            problem: format!("Kafka brokers {} do not serve transactions, which exactly-once delivery needs", config.brokers),
            fix: "use a broker with transactions (Kafka 0.11 or later), or set delivery = \"at_least_once\" under [pipelines.sink] and accept repeats after a crash".into(),
        }];
    }
    Vec::new()
}

/// The checkpoint directory can be created and written (as `run` will).
fn check_checkpoint_dir(dir: &Path) -> Vec<Finding> {
    let probe = dir.join(".wellhead-check");
    let written = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&probe, b"check"));
    let _ = std::fs::remove_file(&probe);
    match written {
        Ok(()) => Vec::new(),
        Err(error) => vec![Finding {
            severity: Severity::Error,
            problem: format!("checkpoint directory {}: {error}", dir.display()),
            fix: "point checkpoint.dir at a directory this user can create and write".into(),
        }],
    }
}

/// An external schema registry answers.
fn check_registry(registry: &RegistryConfig) -> Vec<Finding> {
    let unreachable = |problem: String| {
        vec![Finding {
            severity: Severity::Error,
            problem,
            fix: "check registry.url and that the registry runs (or use the embedded one: url = \"embedded\")".into(),
        }]
    };
    let url = match SecretUrl::parse(&registry.url) {
        Ok(url) => url,
        Err(error) => return unreachable(format!("registry.url: {error}")),
    };
    let client = RegistryClient::new(&url, std::time::Duration::from_millis(registry.timeout_ms));
    match client.subject_level("wellhead-check") {
        Ok(_) => Vec::new(),
        Err(error) => unreachable(format!("schema registry {url}: {error}")),
    }
}
