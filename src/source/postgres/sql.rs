//! The ordinary SQL connection of a PostgreSQL source (tokio-postgres): catalog
//! look-ups, slot and publication management, prerequisite checks, snapshots.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::params::{APPLICATION_NAME, ConnectionParams, KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_RETRIES};
use super::tls::SslMode;
use crate::failure::ErrorClass;

/// Whether a retry may get past a failed SQL call: transient when the server or the
/// connection went away or is busy (connection failures, shutdown and crash, "cannot connect
/// now" while it starts or recovers, too many connections, a slot still held by the previous
/// connection) or when the call never got an answer (I/O, a closed connection); definite for
/// every other answer of the server (a refused password, a missing database, table or
/// privilege) and for failures before the server was reached (TLS, configuration).
pub fn sql_error_class(error: &tokio_postgres::Error) -> ErrorClass {
    if let Some(db) = error.as_db_error() {
        let code = db.code();
        let transient = code.code().starts_with("08")
            || [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::TOO_MANY_CONNECTIONS,
                SqlState::OBJECT_IN_USE,
            ]
            .contains(code);
        return if transient { ErrorClass::Transient } else { ErrorClass::Definite };
    }
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        if inner.is::<std::io::Error>() {
            return ErrorClass::Transient;
        }
        cause = inner.source();
    }
    if error.is_closed() { ErrorClass::Transient } else { ErrorClass::Definite }
}

/// Connects and spawns the connection's driver task; the client lives as long as it is held.
pub async fn connect_sql(params: &ConnectionParams) -> Result<Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&params.host)
        .port(params.port)
        .user(&params.user)
        .dbname(&params.database)
        .application_name(APPLICATION_NAME)
        .options(super::connection::SESSION_OPTIONS)
        .keepalives(true)
        .keepalives_idle(KEEPALIVE_IDLE)
        .keepalives_interval(KEEPALIVE_INTERVAL)
        .keepalives_retries(KEEPALIVE_RETRIES);
    if let Some(password) = &params.password {
        config.password(password.expose());
    }
    match (&params.tls.client_config, params.tls.mode) {
        (Some(client_config), mode) => {
            config.ssl_mode(if mode == SslMode::Prefer {
                tokio_postgres::config::SslMode::Prefer
            } else {
                tokio_postgres::config::SslMode::Require
            });
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new((**client_config).clone());
            let (client, connection) = config.connect(tls).await?;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "SQL connection ended.");
                }
            });
            Ok(client)
        }
        (None, _) => {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "SQL connection ended.");
                }
            });
            Ok(client)
        }
    }
}

/// A tokio-postgres error with the server's message, detail and hint when it has them.
pub fn describe_sql_error(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" (detail: {detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!(" (hint: {hint})"));
            }
            text
        }
        None => {
            // tokio-postgres names only the kind ("error performing TLS handshake"); the cause is in the chain.
            let mut text = error.to_string();
            let mut cause = std::error::Error::source(error);
            while let Some(inner) = cause {
                text.push_str(&format!(": {inner}"));
                cause = inner.source();
            }
            text
        }
    }
}
