//! The replication connection: PostgreSQL's wire protocol in
//! `replication=database` mode, driven over pgwire's message codecs
//! (tokio-postgres cannot speak the CopyBoth sub-protocol).
//!
//! ```text
//!   connect ─► [SSLRequest ─► TLS] ─► Startup ─► auth (trust | password | md5 | SCRAM-SHA-256)
//!           ─► ParameterStatus… ReadyForQuery ─► simple queries (IDENTIFY_SYSTEM, …)
//!           ─► START_REPLICATION ─► CopyBothResponse ─► CopyData both ways
//! ```
//!
//! This module only moves bytes: it hands CopyData payloads to the caller and
//! sends the ones it is given; decoding them is `decoders::pgoutput`'s job.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use pgwire::messages::copy::CopyData;
use pgwire::messages::response::ErrorResponse;
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::{
    Authentication, Password, PasswordMessageFamily, SASLInitialResponse, SASLResponse, Startup,
};
use pgwire::messages::{DecodeContext, PgWireBackendMessage, PgWireFrontendMessage};
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::params::{APPLICATION_NAME, ConnectionParams, KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_RETRIES};
use super::tls::SslMode;
use crate::failure::{Classify, ErrorClass};

/// Session settings that fix the text forms pgoutput sends, so that
/// `decoders::pgvalue` parses one known format (see its module doc).
pub const SESSION_OPTIONS: &str = "-c DateStyle=ISO,YMD -c IntervalStyle=iso_8601 -c TimeZone=UTC \
     -c extra_float_digits=3 -c lc_monetary=C -c bytea_output=hex";

const SSL_REQUEST_CODE: i32 = 80_877_103;
const READ_CHUNK: usize = 256 * 1024;

/// An error the server sent, with its SQLSTATE.
#[derive(Debug, Clone)]
pub struct ServerError {
    pub severity: String,
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.severity, self.code, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, " (detail: {detail})")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl From<ErrorResponse> for ServerError {
    fn from(response: ErrorResponse) -> ServerError {
        let field = |tag: u8| response.fields.iter().find(|(t, _)| *t == tag).map(|(_, v)| v.clone());
        ServerError {
            severity: field(b'S').unwrap_or_else(|| "ERROR".into()),
            code: field(b'C').unwrap_or_default(),
            message: field(b'M').unwrap_or_default(),
            detail: field(b'D'),
            hint: field(b'H'),
        }
    }
}

/// What went wrong on the replication connection.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationConnectionError {
    #[error("cannot connect to PostgreSQL at {address}: {source}")]
    Connect { address: String, source: std::io::Error },
    #[error("replication connection I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("replication connection closed by the server")]
    Closed,
    #[error("unexpected replication protocol traffic: {0}")]
    Protocol(String),
    #[error("PostgreSQL: {0}")]
    Server(Box<ServerError>),
    #[error("authentication as {user} failed: {reason}")]
    Authentication { user: String, reason: String },
    #[error("TLS to {address}: {reason}")]
    Tls { address: String, reason: String },
}

impl Classify for ReplicationConnectionError {
    /// Transient: the network, restarts, a server shutting down or full.
    fn class(&self) -> ErrorClass {
        match self {
            Self::Connect { .. } | Self::Io(_) | Self::Closed => ErrorClass::Transient,
            // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now,
            // 53300 too many connections, 55006 slot in use by another process.
            Self::Server(error) if matches!(error.code.as_str(), "57P01" | "57P02" | "57P03" | "53300" | "55006") => {
                ErrorClass::Transient
            }
            Self::Server(_) | Self::Protocol(_) | Self::Authentication { .. } | Self::Tls { .. } => {
                ErrorClass::Definite
            }
        }
    }
}

type Result<T, E = ReplicationConnectionError> = std::result::Result<T, E>;

enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Rows of a simple query, every field as text (`None` for NULL).
pub type TextRows = Vec<Vec<Option<String>>>;

/// A replication-mode connection to one database.
pub struct ReplicationConnection {
    transport: Transport,
    read_buffer: BytesMut,
    write_buffer: BytesMut,
    decode_context: DecodeContext,
    /// Server parameters reported at startup (server_version, ...).
    parameters: BTreeMap<String, String>,
    /// The server process serving this connection (its walsender), from BackendKeyData.
    backend_pid: Option<i32>,
}

impl fmt::Debug for ReplicationConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplicationConnection").field("parameters", &self.parameters).finish_non_exhaustive()
    }
}

impl ReplicationConnection {
    /// Connects, negotiates TLS as `sslmode` asks, authenticates and waits for ReadyForQuery.
    pub async fn connect(params: &ConnectionParams) -> Result<ReplicationConnection> {
        let address = params.address();
        let tcp = TcpStream::connect((params.host.as_str(), params.port))
            .await
            .map_err(|source| ReplicationConnectionError::Connect { address: address.clone(), source })?;
        tcp.set_nodelay(true)?;
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(KEEPALIVE_IDLE)
            .with_interval(KEEPALIVE_INTERVAL)
            .with_retries(KEEPALIVE_RETRIES);
        socket2::SockRef::from(&tcp).set_tcp_keepalive(&keepalive)?;
        let transport = negotiate_tls(tcp, params).await?;
        let mut connection = ReplicationConnection {
            transport,
            read_buffer: BytesMut::with_capacity(READ_CHUNK),
            write_buffer: BytesMut::with_capacity(8 * 1024),
            decode_context: DecodeContext::default(),
            parameters: BTreeMap::new(),
            backend_pid: None,
        };
        connection.start_up(params).await?;
        Ok(connection)
    }

    /// The process id of the server process serving this connection.
    pub fn backend_pid(&self) -> Option<i32> {
        self.backend_pid
    }

    /// A server parameter reported at startup, e.g. `server_version`.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.get(name).map(String::as_str)
    }

    async fn start_up(&mut self, params: &ConnectionParams) -> Result<()> {
        let mut options = SESSION_OPTIONS.to_owned();
        if let Some(memory) = &params.logical_decoding_work_mem {
            options.push_str(&format!(" -c logical_decoding_work_mem={memory}"));
        }
        let mut startup = Startup::new();
        for (key, value) in [
            ("user", params.user.as_str()),
            ("database", params.database.as_str()),
            ("replication", "database"),
            ("application_name", APPLICATION_NAME),
            ("client_encoding", "UTF8"),
            ("options", options.as_str()),
        ] {
            startup.parameters.insert(key.to_owned(), value.to_owned());
        }
        self.send(PgWireFrontendMessage::Startup(startup)).await?;
        let mut scram: Option<ScramSha256> = None;
        let auth_error =
            |reason: String| ReplicationConnectionError::Authentication { user: params.user.clone(), reason };
        let password = || {
            params.password.as_ref().map(|p| p.expose().to_owned()).ok_or_else(|| {
                auth_error(
                    "the server asks for a password; put it in the URL, source.password or source.password_file".into(),
                )
            })
        };
        loop {
            match self.receive().await? {
                PgWireBackendMessage::Authentication(authentication) => match authentication {
                    Authentication::Ok => {}
                    Authentication::CleartextPassword => {
                        let message = PasswordMessageFamily::Password(Password::new(password()?));
                        self.send(PgWireFrontendMessage::PasswordMessageFamily(message)).await?;
                    }
                    Authentication::MD5Password(salt) => {
                        let salt: [u8; 4] =
                            salt.as_slice().try_into().map_err(|_| auth_error("MD5 salt is not 4 bytes".into()))?;
                        let hash = postgres_protocol::authentication::md5_hash(
                            params.user.as_bytes(),
                            password()?.as_bytes(),
                            salt,
                        );
                        let message = PasswordMessageFamily::Password(Password::new(hash));
                        self.send(PgWireFrontendMessage::PasswordMessageFamily(message)).await?;
                    }
                    Authentication::SASL(mechanisms) => {
                        if !mechanisms.iter().any(|m| m == SCRAM_SHA_256) {
                            return Err(auth_error(format!(
                                "server offers SASL mechanisms {mechanisms:?}; Wellhead speaks SCRAM-SHA-256"
                            )));
                        }
                        let exchange = ScramSha256::new(password()?.as_bytes(), ChannelBinding::unsupported());
                        let initial = SASLInitialResponse::new(
                            SCRAM_SHA_256.to_owned(),
                            Some(Bytes::copy_from_slice(exchange.message())),
                        );
                        scram = Some(exchange);
                        self.send(PgWireFrontendMessage::PasswordMessageFamily(
                            PasswordMessageFamily::SASLInitialResponse(initial),
                        ))
                        .await?;
                    }
                    Authentication::SASLContinue(data) => {
                        let exchange =
                            scram.as_mut().ok_or_else(|| auth_error("SASL continue without SASL start".into()))?;
                        exchange.update(&data).map_err(|e| auth_error(format!("SCRAM: {e}")))?;
                        let response = SASLResponse::new(Bytes::copy_from_slice(exchange.message()));
                        self.send(PgWireFrontendMessage::PasswordMessageFamily(PasswordMessageFamily::SASLResponse(
                            response,
                        )))
                        .await?;
                    }
                    Authentication::SASLFinal(data) => {
                        let mut exchange =
                            scram.take().ok_or_else(|| auth_error("SASL final without SASL start".into()))?;
                        exchange.finish(&data).map_err(|e| auth_error(format!("SCRAM server signature: {e}")))?;
                    }
                    other => return Err(auth_error(format!("unsupported authentication request {other:?}"))),
                },
                PgWireBackendMessage::ParameterStatus(status) => {
                    self.parameters.insert(status.name, status.value);
                }
                PgWireBackendMessage::BackendKeyData(key) => self.backend_pid = Some(key.pid),
                PgWireBackendMessage::NoticeResponse(_) => {}
                PgWireBackendMessage::ReadyForQuery(_) => return Ok(()),
                PgWireBackendMessage::ErrorResponse(error) => {
                    let error = ServerError::from(error);
                    return Err(if error.code.starts_with("28") {
                        auth_error(error.to_string())
                    } else {
                        ReplicationConnectionError::Server(Box::new(error))
                    });
                }
                other => return Err(ReplicationConnectionError::Protocol(format!("during startup: {other:?}"))),
            }
        }
    }

    /// Runs a replication command or query with the simple query protocol; returns its rows as text.
    pub async fn simple_query(&mut self, sql: &str) -> Result<TextRows> {
        self.send(PgWireFrontendMessage::Query(Query::new(sql.to_owned()))).await?;
        let mut rows = Vec::new();
        let mut failure = None;
        loop {
            match self.receive().await? {
                PgWireBackendMessage::DataRow(row) => rows.push(parse_data_row(row.data.freeze(), row.field_count)?),
                PgWireBackendMessage::ErrorResponse(error) => failure = Some(ServerError::from(error)),
                PgWireBackendMessage::ReadyForQuery(_) => {
                    return match failure {
                        Some(error) => Err(ReplicationConnectionError::Server(Box::new(error))),
                        None => Ok(rows),
                    };
                }
                _ => {}
            }
        }
    }

    /// Sends `START_REPLICATION ...` and waits for the server to enter CopyBoth mode.
    pub async fn start_copy_both(&mut self, command: &str) -> Result<()> {
        self.send(PgWireFrontendMessage::Query(Query::new(command.to_owned()))).await?;
        loop {
            match self.receive().await? {
                PgWireBackendMessage::CopyBothResponse(_) => return Ok(()),
                PgWireBackendMessage::ErrorResponse(error) => {
                    return Err(ReplicationConnectionError::Server(Box::new(error.into())));
                }
                PgWireBackendMessage::NoticeResponse(_) | PgWireBackendMessage::ParameterStatus(_) => {}
                other => {
                    return Err(ReplicationConnectionError::Protocol(format!(
                        "waiting for CopyBothResponse: {other:?}"
                    )));
                }
            }
        }
    }

    /// The next CopyData payload of the replication stream; `None` when the server ends the copy.
    pub async fn next_copy_data(&mut self) -> Result<Option<Bytes>> {
        loop {
            match self.receive().await? {
                PgWireBackendMessage::CopyData(data) => return Ok(Some(data.data)),
                // The server ends the stream (at shutdown it may complete the COPY without
                // a CopyDone first): the source reconnects.
                PgWireBackendMessage::CopyDone(_)
                | PgWireBackendMessage::CommandComplete(_)
                | PgWireBackendMessage::ReadyForQuery(_) => return Ok(None),
                PgWireBackendMessage::ErrorResponse(error) => {
                    return Err(ReplicationConnectionError::Server(Box::new(error.into())));
                }
                PgWireBackendMessage::NoticeResponse(_) | PgWireBackendMessage::ParameterStatus(_) => {}
                other => {
                    return Err(ReplicationConnectionError::Protocol(format!("in the replication stream: {other:?}")));
                }
            }
        }
    }

    /// Sends one CopyData payload (a standby status update) and flushes.
    pub async fn send_copy_data(&mut self, payload: Bytes) -> Result<()> {
        self.send(PgWireFrontendMessage::CopyData(CopyData::new(payload))).await
    }

    async fn send(&mut self, message: PgWireFrontendMessage) -> Result<()> {
        self.write_buffer.clear();
        message.encode(&mut self.write_buffer).map_err(|error| {
            ReplicationConnectionError::Protocol(format!("cannot encode a frontend message: {error}"))
        })?;
        self.transport.write_all(&self.write_buffer).await?;
        self.transport.flush().await?;
        Ok(())
    }

    async fn receive(&mut self) -> Result<PgWireBackendMessage> {
        loop {
            let decoded =
                PgWireBackendMessage::decode(&mut self.read_buffer, &self.decode_context).map_err(|error| {
                    ReplicationConnectionError::Protocol(format!("cannot decode a backend message: {error}"))
                })?;
            if let Some(message) = decoded {
                return Ok(message);
            }
            self.read_buffer.reserve(READ_CHUNK);
            if self.transport.read_buf(&mut self.read_buffer).await? == 0 {
                return Err(ReplicationConnectionError::Closed);
            }
        }
    }
}

async fn negotiate_tls(mut tcp: TcpStream, params: &ConnectionParams) -> Result<Transport> {
    let Some(client_config) = params.tls.client_config.clone() else {
        return Ok(Transport::Plain(tcp));
    };
    let mut request = BytesMut::with_capacity(8);
    request.extend_from_slice(&8_i32.to_be_bytes());
    request.extend_from_slice(&SSL_REQUEST_CODE.to_be_bytes());
    tcp.write_all(&request).await?;
    let answer = tcp.read_u8().await?;
    let tls_error = |reason: String| ReplicationConnectionError::Tls { address: params.address(), reason };
    match answer {
        b'S' => {
            let server_name = rustls::pki_types::ServerName::try_from(params.host.clone())
                .map_err(|e| tls_error(format!("host name {:?}: {e}", params.host)))?;
            let stream = tokio_rustls::TlsConnector::from(client_config)
                .connect(server_name, tcp)
                .await
                .map_err(|e| tls_error(e.to_string()))?;
            Ok(Transport::Tls(Box::new(stream)))
        }
        b'N' if params.tls.mode == SslMode::Prefer => Ok(Transport::Plain(tcp)),
        b'N' => Err(tls_error(
            "the server does not accept TLS (ssl=off); use sslmode=prefer or disable, or enable ssl on the server"
                .into(),
        )),
        other => Err(tls_error(format!("unexpected answer {other:#04x} to SSLRequest"))),
    }
}

/// Splits a DataRow body into its fields, as text.
fn parse_data_row(mut body: Bytes, field_count: i16) -> Result<Vec<Option<String>>> {
    let malformed = || ReplicationConnectionError::Protocol("malformed DataRow".into());
    let mut fields = Vec::with_capacity(usize::try_from(field_count).unwrap_or(0));
    for _ in 0..field_count {
        if body.remaining() < 4 {
            return Err(malformed());
        }
        let length = body.get_i32();
        if length < 0 {
            fields.push(None);
            continue;
        }
        let length = usize::try_from(length).map_err(|_| malformed())?;
        if body.remaining() < length {
            return Err(malformed());
        }
        let field = body.split_to(length);
        fields.push(Some(String::from_utf8_lossy(&field).into_owned()));
    }
    Ok(fields)
}
