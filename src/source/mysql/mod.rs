//! MySQL and MariaDB: the binlog, read as a replica reads it.
//!
//! ```text
//!  SQL connection ─► server (identity, prerequisites, binlog end and files)
//!        │               └─► where to start: the acknowledged restart point, or the binlog's end
//!        ▼
//!  binlog connection (COM_BINLOG_DUMP from file + offset) ─► stream::Session ─► Outlet
//! ```
//!
//! Needs `binlog_format=ROW`, `binlog_row_image=FULL` and `binlog_row_metadata=FULL`:
//! every table map then names its columns and keys, so that a restart from an older
//! position decodes each row with the shape it had when it was written.

pub mod connection;
pub mod schema;
pub mod server;
pub mod stream;
pub mod tls;

use tokio::sync::watch;
use wellhead_decoders::binlog::BinlogError;
use wellhead_decoders::change::{PositionMismatch, RestartPoint, SourceOrigin};

use self::connection::{BinlogConnection, MysqlParams, connect_sql};
use self::schema::TableShapes;
use self::server::{BinlogCoordinates, ServerInfo};
use self::stream::{BinlogFile, Session, SessionEnd};
use crate::batch::{AckReceiver, Outlet, wait_until_acknowledged};
use crate::checkpoint::{Checkpoint, CheckpointUpdate};
use crate::config::{MysqlSourceConfig, PipelineConfig, SnapshotMode};
use crate::failure::{Classify, ErrorClass};
use crate::health::PipelineState;
use crate::telemetry::{Metrics, PipelineLabel};

/// What can go wrong with a MySQL or MariaDB source.
#[derive(Debug, thiserror::Error)]
pub enum MysqlError {
    #[error("{0}")]
    Params(String),
    #[error("cannot connect to {address}: {reason}")]
    Connect { address: String, reason: String, class: ErrorClass },
    #[error("TLS to {address} failed: {reason}")]
    Tls { address: String, reason: String },
    #[error("{statement}: {reason}")]
    Sql { statement: String, reason: String, class: ErrorClass },
    #[error("prerequisites not met:\n{0}")]
    Prerequisites(String),
    #[error("{0}")]
    Decode(#[from] BinlogError),
    #[error("replication protocol: {0}")]
    Protocol(String),
    #[error("{0}")]
    Position(#[from] PositionMismatch),
    #[error(
        "the checkpoint was taken from server_id {expected}{expected_uuid}, but this server is server_id {found}{found_uuid}: its binlog positions mean other changes"
    )]
    WrongServer { expected: u32, expected_uuid: String, found: u32, found_uuid: String },
    #[error(
        "the binlog file {file} to resume from is gone from the server (purged, or the server was reset); the server has {oldest} to {newest}: the changes in between are lost to Wellhead"
    )]
    Purged { file: String, oldest: String, newest: String },
    #[error("the server ended the binlog stream")]
    StreamEnded,
    #[error(
        "nothing arrived from the server for {seconds} s (source.receive_timeout_seconds), not even a heartbeat: the connection counts as lost"
    )]
    ReceiveTimeout { seconds: u64 },
    #[error("the sink stopped")]
    SinkStopped,
}

/// MySQL error codes that no retry gets past.
mod server_error {
    pub const ACCESS_DENIED: u16 = 1045;
    pub const DATABASE_ACCESS_DENIED: u16 = 1044;
    pub const SPECIFIC_ACCESS_DENIED: u16 = 1227;
    pub const SYNTAX: u16 = 1064;
    /// `ER_MASTER_FATAL_ERROR_READING_BINLOG`: the position is purged, past the end, or not an event's start.
    pub const FATAL_READING_BINLOG: u16 = 1236;
    pub const UNKNOWN_DATABASE: u16 = 1049;
}

/// A TLS handshake that failed (a certificate that does not verify) or a server without TLS
/// for a mode that needs it; the driver reports rustls' errors inside an I/O error.
fn is_tls_failure(error: &mysql_async::Error) -> bool {
    match error {
        mysql_async::Error::Io(mysql_async::IoError::Tls(_))
        | mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => true,
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => {
            io.get_ref().is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        }
        _ => false,
    }
}

fn class_of(error: &mysql_async::Error) -> ErrorClass {
    match error {
        mysql_async::Error::Server(server) => match server.code {
            server_error::ACCESS_DENIED
            | server_error::DATABASE_ACCESS_DENIED
            | server_error::SPECIFIC_ACCESS_DENIED
            | server_error::SYNTAX
            | server_error::FATAL_READING_BINLOG
            | server_error::UNKNOWN_DATABASE => ErrorClass::Definite,
            _ => ErrorClass::Transient,
        },
        mysql_async::Error::Url(_) => ErrorClass::Definite,
        // A certificate that does not verify, or a server that refuses TLS, stays so.
        error if is_tls_failure(error) => ErrorClass::Definite,
        _ => ErrorClass::Transient,
    }
}

impl MysqlError {
    pub(crate) fn sql(statement: &str, error: mysql_async::Error) -> MysqlError {
        MysqlError::Sql { statement: statement.to_owned(), reason: error.to_string(), class: class_of(&error) }
    }

    pub(crate) fn connect(address: &str, error: mysql_async::Error) -> MysqlError {
        if is_tls_failure(&error) {
            return MysqlError::Tls { address: address.to_owned(), reason: error.to_string() };
        }
        MysqlError::Connect { address: address.to_owned(), reason: error.to_string(), class: class_of(&error) }
    }
}

impl Classify for MysqlError {
    fn class(&self) -> ErrorClass {
        match self {
            MysqlError::Connect { class, .. } | MysqlError::Sql { class, .. } => *class,
            MysqlError::StreamEnded | MysqlError::ReceiveTimeout { .. } => ErrorClass::Transient,
            MysqlError::Params(_)
            | MysqlError::Prerequisites(_)
            | MysqlError::Decode(_)
            | MysqlError::Protocol(_)
            | MysqlError::Position(_)
            | MysqlError::WrongServer { .. }
            | MysqlError::Purged { .. }
            | MysqlError::Tls { .. }
            | MysqlError::SinkStopped => ErrorClass::Definite,
        }
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            MysqlError::Decode(_) | MysqlError::Protocol(_) | MysqlError::Position(_) => {
                Some("Wellhead could not read what the server sent; please report it with this log")
            }
            MysqlError::Connect { class: ErrorClass::Definite, .. } => {
                Some("check the user and password in source.url")
            }
            MysqlError::Tls { .. } => Some(
                "name the server certificate's authority with &ssl-ca=FILE in source.url (verify_ca, verify_identity), use ssl-mode=required to encrypt without checking the certificate, or enable TLS on the server",
            ),
            MysqlError::Purged { .. } => Some(
                "keep binlogs longer (binlog_expire_logs_seconds / expire_logs_days); to start over, remove the pipeline's checkpoint (the rows changed meanwhile then need a snapshot)",
            ),
            MysqlError::WrongServer { .. } => Some(
                "point source.url at the server the checkpoint was taken from, or remove the checkpoint to start over",
            ),
            _ => None,
        }
    }
}

/// A MySQL or MariaDB source of one pipeline.
#[derive(Debug)]
pub struct MysqlSource {
    pipeline: String,
    config: MysqlSourceConfig,
    metrics: Metrics,
    snapshot_mode: SnapshotMode,
    /// The origin the checkpoint recorded, or this process did.
    origin: Option<SourceOrigin>,
}

impl MysqlSource {
    /// A source resuming after `resume_from`.
    pub fn new(
        pipeline: &PipelineConfig,
        config: MysqlSourceConfig,
        resume_from: &Checkpoint,
        metrics: Metrics,
    ) -> MysqlSource {
        MysqlSource {
            pipeline: pipeline.name.clone(),
            config,
            metrics,
            snapshot_mode: pipeline.snapshot.mode,
            origin: resume_from.origin.clone(),
        }
    }

    /// Streams until shutdown or a failure: [`crate::source::ChangeSource::stream`]'s contract.
    pub async fn stream(
        &mut self,
        outlet: &mut Outlet,
        acks: &mut AckReceiver,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), MysqlError> {
        let params = MysqlParams::from_config(&self.config)?;
        let mut shapes = TableShapes::new(&self.config.tables)?;
        let mut conn = connect_sql(&params).await?;
        let server = server::server_info(&mut conn).await?;
        let findings = server::check_prerequisites(&mut conn, &server, params.server_id).await?;
        let errors: Vec<String> = findings
            .iter()
            .filter(|finding| finding.severity == crate::source::finding::Severity::Error)
            .map(ToString::to_string)
            .collect();
        if !errors.is_empty() {
            return Err(MysqlError::Prerequisites(errors.join("\n")));
        }
        self.check_origin(&server, outlet)?;
        let acknowledged = acks.borrow().clone();
        let acknowledged_start = acknowledged.clone();
        let configured_start = self.config.start_at.as_deref().and_then(server::parse_coordinates);
        let start = match (acknowledged, configured_start) {
            (Some(RestartPoint::BinlogFile { file, offset, .. }), _)
            | (None, Some(BinlogCoordinates { file, offset })) => {
                let files = server::binlog_files(&mut conn).await?;
                if !files.contains(&file) {
                    return Err(MysqlError::Purged {
                        file,
                        oldest: files.first().cloned().unwrap_or_default(),
                        newest: files.last().cloned().unwrap_or_default(),
                    });
                }
                BinlogCoordinates { file, offset }
            }
            (Some(other), _) => {
                return Err(MysqlError::Protocol(format!(
                    "the checkpoint resumes from {other}, not a binlog position"
                )));
            }
            (None, None) => {
                if self.snapshot_mode != SnapshotMode::Never {
                    return Err(MysqlError::Prerequisites(format!(
                        "snapshot.mode = \"{}\": the initial snapshot of MySQL and MariaDB tables is not built yet; \
                         set snapshot.mode = \"never\" to stream the changes from now on",
                        self.snapshot_mode
                    )));
                }
                server::binlog_end(&mut conn, &server).await?
            }
        };
        drop(conn);
        if acknowledged_start.is_none() {
            // The first start: make the start durable before reading, so that a crash before
            // the first change resumes here rather than at a later end of the binlog.
            outlet.restart_point(RestartPoint::BinlogFile {
                file_sequence: BinlogFile::new(&start.file).sequence,
                file: start.file.clone(),
                offset: start.offset,
            })?;
            outlet.flush().await.map_err(|_| MysqlError::SinkStopped)?;
            let queued = outlet.queued_restart_point().cloned();
            wait_until_acknowledged(acks, queued.as_ref()).await.map_err(|_| MysqlError::SinkStopped)?;
        }
        tracing::info!(pipeline = %self.pipeline, server = %server.version, file = %start.file, offset = start.offset, "Streaming changes.");
        let connection = BinlogConnection::open(&params, &start, server.mariadb).await?;
        self.metrics.health.set(&self.pipeline, PipelineState::Streaming);
        let session = Session::new(
            connection,
            &mut shapes,
            outlet,
            acks,
            shutdown,
            BinlogFile::new(&start.file),
            params.receive_timeout,
            self.metrics.clone(),
            PipelineLabel { pipeline: self.pipeline.clone() },
        );
        match session.run().await? {
            SessionEnd::Shutdown => Ok(()),
        }
    }

    /// Refuses a server other than the one the checkpoint was taken from; records the
    /// origin at the first connection.
    fn check_origin(&mut self, server: &ServerInfo, outlet: &mut Outlet) -> Result<(), MysqlError> {
        let found = SourceOrigin::Binlog { server_uuid: server.server_uuid.clone(), server_id: server.server_id };
        match &self.origin {
            Some(SourceOrigin::Binlog { server_uuid, server_id }) => {
                let uuid_differs =
                    server_uuid.is_some() && server.server_uuid.is_some() && *server_uuid != server.server_uuid;
                if *server_id != server.server_id || uuid_differs {
                    let uuid =
                        |uuid: &Option<String>| uuid.as_ref().map(|uuid| format!(" ({uuid})")).unwrap_or_default();
                    return Err(MysqlError::WrongServer {
                        expected: *server_id,
                        expected_uuid: uuid(server_uuid),
                        found: server.server_id,
                        found_uuid: uuid(&server.server_uuid),
                    });
                }
                Ok(())
            }
            Some(other) => {
                Err(MysqlError::Protocol(format!("the checkpoint was taken from another kind of source: {other:?}")))
            }
            None => {
                outlet.update_checkpoint(CheckpointUpdate::Origin(found.clone()));
                self.origin = Some(found);
                Ok(())
            }
        }
    }
}
