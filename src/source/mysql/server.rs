//! What Wellhead asks a MySQL or MariaDB server over SQL before it reads the binlog:
//! the settings row-based change capture needs (each with its fix), who the server is,
//! where its binlog ends and which binlog files it still has.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::MysqlError;
use crate::source::finding::Finding;

/// The server's flavour and version, from `SELECT VERSION()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    pub version: String,
    pub mariadb: bool,
    /// `@@server_id`.
    pub server_id: u32,
    /// `@@server_uuid` (MySQL only).
    pub server_uuid: Option<String>,
}

/// Binlog retention below this is reported: a pipeline stopped over a night would lose its place.
const MIN_RETENTION_SECONDS: u64 = 86_400;

/// A binlog file and an offset in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogCoordinates {
    pub file: String,
    pub offset: u64,
}

/// `"<file>:<offset>"` as coordinates.
pub fn parse_coordinates(text: &str) -> Option<BinlogCoordinates> {
    crate::config::parse_binlog_coordinates(text).map(|(file, offset)| BinlogCoordinates { file, offset })
}

/// Reads the server's identity.
pub async fn server_info(conn: &mut Conn) -> Result<ServerInfo, MysqlError> {
    let version: String = query_one(conn, "SELECT VERSION()").await?.unwrap_or_default();
    let mariadb = version.to_ascii_lowercase().contains("mariadb");
    let server_id: u32 = query_one(conn, "SELECT @@server_id").await?.unwrap_or(0);
    let server_uuid = if mariadb { None } else { query_one(conn, "SELECT @@server_uuid").await? };
    Ok(ServerInfo { version, mariadb, server_id, server_uuid })
}

/// Where the binlog ends now (the next transaction's coordinates).
pub async fn binlog_end(conn: &mut Conn, server: &ServerInfo) -> Result<BinlogCoordinates, MysqlError> {
    // MySQL 8.4 renamed SHOW MASTER STATUS; MariaDB and older MySQL know only the old name.
    let statements: &[&str] =
        if server.mariadb { &["SHOW MASTER STATUS"] } else { &["SHOW BINARY LOG STATUS", "SHOW MASTER STATUS"] };
    for statement in statements {
        match conn.query_first::<mysql_async::Row, _>(*statement).await {
            Ok(Some(row)) => {
                let file = column::<String>(&row, 0, statement)?;
                let offset = column::<u64>(&row, 1, statement)?;
                return Ok(BinlogCoordinates { file, offset });
            }
            Ok(None) => {
                return Err(MysqlError::Prerequisites(
                    Finding::error(
                        "the server writes no binlog (SHOW MASTER STATUS is empty)",
                        "start the server with log_bin (and binlog_format=ROW), then restart Wellhead",
                    )
                    .to_string(),
                ));
            }
            Err(_) if statement != statements.last().unwrap_or(statement) => continue,
            Err(error) => return Err(MysqlError::sql(statement, error)),
        }
    }
    Err(MysqlError::Protocol("no statement reports the binlog position".into()))
}

/// The binlog files the server still has, oldest first.
pub async fn binlog_files(conn: &mut Conn) -> Result<Vec<String>, MysqlError> {
    let statement = "SHOW BINARY LOGS";
    let rows: Vec<mysql_async::Row> = conn.query(statement).await.map_err(|error| MysqlError::sql(statement, error))?;
    rows.iter().map(|row| column::<String>(row, 0, statement)).collect()
}

/// Every setting change capture needs that the server does not have, with its fix.
pub async fn check_prerequisites(
    conn: &mut Conn,
    server: &ServerInfo,
    replica_server_id: u32,
) -> Result<Vec<Finding>, MysqlError> {
    let mut findings = Vec::new();
    let variable = |name: &'static str| format!("SELECT @@GLOBAL.{name}");
    let log_bin: Option<String> = query_one(conn, &variable("log_bin")).await?;
    if !matches!(log_bin.as_deref(), Some("1" | "ON")) {
        findings.push(Finding::error(
            "the binlog is off (log_bin)",
            "start the server with log_bin (and server_id) in its configuration",
        ));
    }
    let format: Option<String> = query_one(conn, &variable("binlog_format")).await?;
    if format.as_deref().map(str::to_ascii_uppercase).as_deref() != Some("ROW") {
        findings.push(Finding::error(
            format!("binlog_format is {}, not ROW: row changes are not in the binlog", format.unwrap_or_default()),
            "SET GLOBAL binlog_format = 'ROW' and put binlog_format=ROW in the server's configuration",
        ));
    }
    let image: Option<String> = query_one(conn, &variable("binlog_row_image")).await?;
    if image.as_deref().map(str::to_ascii_uppercase).as_deref() != Some("FULL") {
        findings.push(Finding::error(
            format!(
                "binlog_row_image is {}, not FULL: updates and deletes would lack their other columns",
                image.unwrap_or_default()
            ),
            "SET GLOBAL binlog_row_image = 'FULL' and put binlog_row_image=FULL in the server's configuration",
        ));
    }
    // MariaDB before 10.5 and MySQL before 8.0.1 have no row metadata at all.
    let metadata: Option<String> = query_one(conn, &variable("binlog_row_metadata")).await.unwrap_or(None);
    if metadata.as_deref().map(str::to_ascii_uppercase).as_deref() != Some("FULL") {
        findings.push(Finding::error(
            format!(
                "binlog_row_metadata is {}, not FULL: the binlog would not name the columns",
                metadata.unwrap_or_else(|| "not supported by this server".into())
            ),
            "SET GLOBAL binlog_row_metadata = 'FULL' and put binlog_row_metadata=FULL in the server's configuration (MariaDB 10.5+, MySQL 8.0.1+)",
        ));
    }
    if !server.mariadb {
        let options: Option<String> = query_one(conn, &variable("binlog_row_value_options")).await.unwrap_or(None);
        if options.as_deref().is_some_and(|options| options.to_ascii_uppercase().contains("PARTIAL_JSON")) {
            findings.push(Finding::error(
                "binlog_row_value_options has PARTIAL_JSON: JSON updates would be logged as diffs Wellhead may not be able to apply",
                "SET GLOBAL binlog_row_value_options = ''",
            ));
        }
    }
    // MariaDB before 10.6 has only expire_logs_days; 0 keeps binlogs until someone purges them.
    let retention: Option<u64> = match query_one::<u64>(conn, &variable("binlog_expire_logs_seconds")).await {
        Ok(seconds) => seconds,
        Err(_) => query_one::<f64>(conn, &variable("expire_logs_days")).await?.map(|days| (days * 86_400.0) as u64),
    };
    if let Some(seconds) = retention.filter(|seconds| (1..MIN_RETENTION_SECONDS).contains(seconds)) {
        findings.push(Finding::warning(
            format!(
                "the server purges binlog files after {:.1} hours: a pipeline stopped longer than that cannot resume",
                seconds as f64 / 3600.0
            ),
            "keep binlogs at least a day: SET GLOBAL binlog_expire_logs_seconds = 604800 (and in the server's configuration)",
        ));
    }
    if server.server_id == replica_server_id {
        findings.push(Finding::error(
            format!("source.server_id {replica_server_id} is the server's own server_id"),
            "pick a server_id no server or replica in the topology uses",
        ));
    }
    let rows: Vec<mysql_async::Row> =
        conn.query("SHOW GRANTS").await.map_err(|error| MysqlError::sql("SHOW GRANTS", error))?;
    let grants = rows.iter().map(|row| column::<String>(row, 0, "SHOW GRANTS")).collect::<Result<Vec<_>, _>>()?;
    let grants = grants.join("\n").to_ascii_uppercase();
    let all = grants.contains("ALL PRIVILEGES ON *.*");
    // MySQL 8.0.22 also spells REPLICATION SLAVE as REPLICATION REPLICA; MariaDB 10.5 calls
    // REPLICATION CLIENT's binlog part BINLOG MONITOR.
    let needed: [(&str, &[&str]); 2] = [
        ("REPLICATION SLAVE", &["REPLICATION SLAVE", "REPLICATION REPLICA"]),
        ("REPLICATION CLIENT", &["REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"]),
    ];
    for (privilege, spellings) in needed {
        if !all && !spellings.iter().any(|spelling| grants.contains(spelling)) {
            findings.push(Finding::error(
                format!("the user lacks {privilege}"),
                format!("GRANT {privilege} ON *.* TO the user Wellhead connects as"),
            ));
        }
    }
    Ok(findings)
}

/// The first column of the first row of `statement`; `None` without a row or for NULL.
async fn query_one<T: mysql_async::prelude::FromValue>(
    conn: &mut Conn,
    statement: &str,
) -> Result<Option<T>, MysqlError> {
    let row =
        conn.query_first::<mysql_async::Row, _>(statement).await.map_err(|error| MysqlError::sql(statement, error))?;
    match row {
        Some(row) if !matches!(row.as_ref(0), Some(mysql_async::Value::NULL) | None) => {
            column(&row, 0, statement).map(Some)
        }
        _ => Ok(None),
    }
}

/// Column `index` of `row` as a `T`, or an error naming the statement (never a panic).
fn column<T: mysql_async::prelude::FromValue>(
    row: &mysql_async::Row,
    index: usize,
    statement: &str,
) -> Result<T, MysqlError> {
    match row.get_opt::<T, usize>(index) {
        Some(Ok(value)) => Ok(value),
        Some(Err(error)) => Err(MysqlError::Protocol(format!("{statement}: column {}: {error}", index + 1))),
        None => Err(MysqlError::Protocol(format!("{statement}: no column {}", index + 1))),
    }
}
