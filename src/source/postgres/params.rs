//! Connection parameters of a PostgreSQL source, read once from the config and
//! shared by the replication connection and the SQL connection.

use crate::config::PostgresSourceConfig;
use crate::secret::{Secret, SecretUrl};

use super::tls::{TlsSettings, TlsSetupError};

/// Default PostgreSQL port.
pub const DEFAULT_PORT: u16 = 5432;
/// TCP keepalive of every connection to the server: a peer that vanished without closing
/// (a host powered off, a NAT entry dropped) is noticed after about a minute of silence
/// instead of the system's two hours.
pub const KEEPALIVE_IDLE: std::time::Duration = std::time::Duration::from_secs(30);
pub const KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
pub const KEEPALIVE_RETRIES: u32 = 3;

/// `application_name` Wellhead's connections announce (visible in pg_stat_activity).
pub const APPLICATION_NAME: &str = "wellhead";

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct ConnectionParams {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
    pub password: Option<Secret>,
    pub tls: TlsSettings,
    /// The URL with its password redacted, for messages.
    pub display_url: String,
    /// `logical_decoding_work_mem` for the replication session, when configured.
    pub logical_decoding_work_mem: Option<String>,
    /// Silence from the server after which the replication connection counts as dead.
    pub receive_timeout: Option<std::time::Duration>,
}

/// Why the source's connection settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    #[error("source.url {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("source.url {url}: {source}")]
    Tls { url: String, source: TlsSetupError },
    #[error(transparent)]
    Password(#[from] crate::config::ConfigError),
}

impl ConnectionParams {
    /// Reads the URL, the password settings and the TLS settings.
    pub fn from_config(config: &PostgresSourceConfig) -> Result<ConnectionParams, ParamsError> {
        let mut params = Self::from_url(&config.url, config.resolve_password()?)?;
        params.logical_decoding_work_mem = config.logical_decoding_work_mem.clone();
        params.receive_timeout =
            Some(std::time::Duration::from_secs(config.receive_timeout_seconds)).filter(|timeout| !timeout.is_zero());
        Ok(params)
    }

    /// Reads a URL; `password` overrides the URL's own.
    pub fn from_url(url: &SecretUrl, password: Option<Secret>) -> Result<ConnectionParams, ParamsError> {
        let display_url = url.to_string();
        let parsed = url.url();
        let host = match url.query_parameter("host") {
            Some(host) => host,
            None => parsed.host_str().unwrap_or("localhost").trim_matches(['[', ']']).to_owned(),
        };
        let port = parsed.port().unwrap_or(DEFAULT_PORT);
        let user = if parsed.username().is_empty() {
            std::env::var("USER").map_err(|_| ParamsError::Url {
                url: display_url.clone(),
                reason: "no user name: put one in the URL, postgres://USER@host/db".into(),
            })?
        } else {
            parsed.username().to_owned()
        };
        let database = match parsed.path().trim_start_matches('/') {
            "" => user.clone(),
            name => name.to_owned(),
        };
        let tls = TlsSettings::from_url(url).map_err(|source| ParamsError::Tls { url: display_url.clone(), source })?;
        Ok(ConnectionParams {
            host,
            port,
            user,
            database,
            password: password.or_else(|| url.password()),
            tls,
            display_url,
            logical_decoding_work_mem: None,
            receive_timeout: None,
        })
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}
