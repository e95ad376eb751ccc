//! Connections to a MySQL or MariaDB server: SQL ones for the control queries, and the
//! binlog connection, which registers as a replica and streams events as the server
//! writes them. Moves bytes only: events go to `decoders::binlog` as the server sent them.

use std::time::Duration;

use futures_util::StreamExt as _;
use mysql_async::binlog::events::Event;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, Opts, OptsBuilder, SslOpts};
use wellhead_decoders::binlog::header::event_type;

use super::MysqlError;
use super::server::BinlogCoordinates;
use super::tls::{SslMode, TlsSettings};
use crate::config::MysqlSourceConfig;
use crate::secret::{Secret, percent_decode};

/// Default MySQL port.
pub const DEFAULT_PORT: u16 = 3306;
/// TCP keepalive, as for PostgreSQL: a vanished peer is noticed in about a minute.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct MysqlParams {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: Option<String>,
    pub password: Option<Secret>,
    /// The URL with its password redacted, for messages.
    pub display_url: String,
    /// The replica id the binlog connection announces.
    pub server_id: u32,
    /// Silence after which the binlog connection counts as lost.
    pub receive_timeout: Option<Duration>,
    pub tls: TlsSettings,
}

impl MysqlParams {
    /// Reads the URL and the password settings.
    pub fn from_config(config: &MysqlSourceConfig) -> Result<MysqlParams, MysqlError> {
        let url = config.url.url();
        let bad = |reason: &str| MysqlError::Params(format!("source.url {}: {reason}", config.url));
        if url.scheme() != "mysql" && url.scheme() != "mariadb" {
            return Err(bad("must start with mysql:// (or mariadb://)"));
        }
        let host = url.host_str().filter(|host| !host.is_empty()).ok_or_else(|| bad("has no host"))?;
        let user = match url.username() {
            "" => return Err(bad("has no user (mysql://user@host:port)")),
            user => percent_decode(user),
        };
        let database = url.path().trim_start_matches('/');
        let password = config.resolve_password().map_err(|error| MysqlError::Params(error.to_string()))?;
        let tls =
            TlsSettings::from_query(url.query_pairs().map(|(name, value)| (name.into_owned(), value.into_owned())))
                .map_err(|reason| bad(&reason))?;
        Ok(MysqlParams {
            host: host.trim_start_matches('[').trim_end_matches(']').to_owned(),
            port: url.port().unwrap_or(DEFAULT_PORT),
            user,
            database: (!database.is_empty()).then(|| percent_decode(database)),
            password,
            display_url: config.url.to_string(),
            server_id: config.server_id,
            receive_timeout: Some(Duration::from_secs(config.receive_timeout_seconds))
                .filter(|timeout| !timeout.is_zero()),
            tls,
        })
    }

    fn opts(&self, ssl: Option<SslOpts>) -> Opts {
        OptsBuilder::default()
            .ssl_opts(ssl)
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(self.password.as_ref().map(|password| password.expose().to_owned()))
            .db_name(self.database.clone())
            .prefer_socket(false)
            .tcp_keepalive(Some(KEEPALIVE))
            .tcp_nodelay(true)
            .into()
    }
}

/// Opens an SQL connection (TLS as `params.tls` says; `preferred` falls back to plain TCP
/// when the server offers no TLS).
pub async fn connect_sql(params: &MysqlParams) -> Result<Conn, MysqlError> {
    let ssl = params.tls.ssl_opts();
    let tried_tls = ssl.is_some();
    match Conn::new(params.opts(ssl)).await {
        Ok(conn) => Ok(conn),
        Err(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer))
            if tried_tls && params.tls.mode == SslMode::Preferred =>
        {
            Conn::new(params.opts(None)).await.map_err(|error| MysqlError::connect(&params.display_url, error))
        }
        Err(error) => Err(MysqlError::connect(&params.display_url, error)),
    }
}

/// The binlog connection: events from `start`, as a replica with `params.server_id`.
pub struct BinlogConnection {
    stream: BinlogStream,
    /// Events of a transaction payload that the driver hands over one by one after the
    /// payload itself; the decoder reads them from the payload, so they are skipped.
    skip_inner_events: usize,
}

impl std::fmt::Debug for BinlogConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinlogConnection").field("skip_inner_events", &self.skip_inner_events).finish_non_exhaustive()
    }
}

impl BinlogConnection {
    /// Registers as a replica and asks for the binlog from `start`.
    pub async fn open(
        params: &MysqlParams,
        start: &BinlogCoordinates,
        mariadb: bool,
    ) -> Result<BinlogConnection, MysqlError> {
        let mut conn = connect_sql(params).await?;
        let mut setup = vec!["SET @master_binlog_checksum = @@global.binlog_checksum".to_owned()];
        if mariadb {
            // GTID events and the other MariaDB 10 events, rather than their MySQL 5.5 stand-ins.
            setup.push("SET @mariadb_slave_capability = 4".to_owned());
        }
        if let Some(timeout) = params.receive_timeout {
            // Heartbeats while the binlog is quiet, so that silence means a lost connection.
            let nanos = (timeout / 4).max(Duration::from_secs(1)).as_nanos();
            setup.push(format!("SET @master_heartbeat_period = {nanos}"));
        }
        for statement in &setup {
            conn.query_drop(statement).await.map_err(|error| MysqlError::sql(statement, error))?;
        }
        let request =
            BinlogStreamRequest::new(params.server_id).with_filename(start.file.as_bytes()).with_pos(start.offset);
        let stream =
            conn.get_binlog_stream(request).await.map_err(|error| MysqlError::sql("COM_BINLOG_DUMP", error))?;
        Ok(BinlogConnection { stream, skip_inner_events: 0 })
    }

    /// The next event's bytes as the server sent them; `None` when the server ends the stream.
    pub async fn next_event(&mut self) -> Result<Option<Vec<u8>>, MysqlError> {
        loop {
            let Some(event) = self.stream.next().await else { return Ok(None) };
            let event = event.map_err(|error| MysqlError::sql("reading the binlog", error))?;
            if self.skip_inner_events > 0 {
                self.skip_inner_events -= 1;
                continue;
            }
            return Ok(Some(event_bytes(&event)));
        }
    }

    /// The driver will hand over `count` events of the payload just read: skip them.
    pub fn skip_payload_events(&mut self, count: usize) {
        self.skip_inner_events = count;
    }
}

/// An event's bytes as they were on the wire: the driver keeps the header, the body and
/// the checksum apart (and a format description's checksum algorithm byte in its footer).
fn event_bytes(event: &Event) -> Vec<u8> {
    let header = event.header();
    let is_format = header.event_type_raw() == event_type::FORMAT_DESCRIPTION;
    let mut bytes = Vec::with_capacity(header.event_size() as usize);
    bytes.extend_from_slice(&header.timestamp().to_le_bytes());
    bytes.push(header.event_type_raw());
    bytes.extend_from_slice(&header.server_id().to_le_bytes());
    bytes.extend_from_slice(&header.event_size().to_le_bytes());
    bytes.extend_from_slice(&header.log_pos().to_le_bytes());
    bytes.extend_from_slice(&header.flags_raw().to_le_bytes());
    bytes.extend_from_slice(event.data());
    if is_format && let Ok(Some(algorithm)) = event.footer().get_checksum_alg() {
        bytes.push(algorithm as u8);
    }
    if let Some(checksum) = event.checksum()
        && bytes.len() + checksum.len() <= header.event_size() as usize
    {
        bytes.extend_from_slice(&checksum);
    }
    bytes
}
