//! The HTTP control address: `GET /health` and `/health/live` (the process answers),
//! `GET /health/ready` (every pipeline streams: 200, else 503; each pipeline's state
//! and reason in the body), `GET /metrics` (Prometheus text), `POST
//! /pipelines/{pipeline}/snapshots` (copy a table again: the operator's credentials, as
//! for changes to the registry), and the embedded schema registry's Confluent REST API.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::watch;

use super::registry_api::RegistryDoor;
use wellhead_decoders::change::TableName;

use crate::registry::embedded::EmbeddedRegistry;
use crate::telemetry::Metrics;

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct ControlState {
    pub metrics: Metrics,
    /// The embedded schema registry served under its Confluent REST paths.
    pub registry: Arc<EmbeddedRegistry>,
    /// Who may change that registry over HTTP.
    pub registry_door: RegistryDoor,
}

/// Serving the control address failed.
#[derive(Debug, thiserror::Error)]
#[error("control.http {address}: {source}")]
pub struct HttpError {
    address: String,
    source: std::io::Error,
}

/// Binds `address` (fails at once when it is taken) and serves until `shutdown` turns true.
pub async fn serve(
    address: &str,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, HttpError> {
    let error = |source| HttpError { address: address.to_owned(), source };
    let socket: SocketAddr = address
        .parse()
        .map_err(|e| error(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("not host:port: {e}"))))?;
    let listener = tokio::net::TcpListener::bind(socket).await.map_err(error)?;
    tracing::info!(%address, "Serving the HTTP control address.");
    Ok(tokio::spawn(async move {
        let stopped = async move { while shutdown.changed().await.is_ok() && !*shutdown.borrow() {} };
        if let Err(error) = axum::serve(listener, router).with_graceful_shutdown(stopped).await {
            tracing::error!(%error, "HTTP control address failed.");
        }
    }))
}

/// `/health`, `/metrics` and the registry's REST API (see `registry_api`).
pub fn router(state: ControlState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(health))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/pipelines/{pipeline}/snapshots", post(request_snapshot))
        .with_state(state.clone())
        .merge(super::registry_api::router(state.registry, state.registry_door))
}

async fn health() -> impl IntoResponse {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{\"status\":\"UP\"}")
}

async fn ready(State(state): State<ControlState>) -> impl IntoResponse {
    let readiness = state.metrics.health.readiness();
    let status = if readiness.status == "UP" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [(header::CONTENT_TYPE, "application/json")], serde_json::to_string(&readiness).unwrap_or_default())
}

async fn metrics(State(state): State<ControlState>) -> impl IntoResponse {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.encode())
}

/// The body of a snapshot request.
#[derive(Debug, serde::Deserialize)]
struct SnapshotRequestBody {
    /// The table, as SQL names it: `schema.table`, parts with dots or capitals in double quotes.
    table: String,
}

/// `POST /pipelines/{pipeline}/snapshots` with `{"table": "schema.table"}`: 202 when queued.
async fn request_snapshot(
    State(state): State<ControlState>,
    Path(pipeline): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let answer = |status: StatusCode, body: serde_json::Value| {
        (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    };
    if let Err(refused) = state.registry_door.check(&headers) {
        tracing::warn!(%pipeline, "Refused a snapshot request without the operator's credentials.");
        let (status, reason) = match refused {
            super::registry_api::DoorRefusal::Off => (
                StatusCode::FORBIDDEN,
                "snapshot requests are off: set control.registry_password (or registry_password_file), the operator's credentials, and send them with HTTP basic auth as control.registry_user",
            ),
            super::registry_api::DoorRefusal::Unauthorized => {
                (StatusCode::UNAUTHORIZED, "snapshot requests need the operator's credentials (HTTP basic auth)")
            }
        };
        return answer(status, serde_json::json!({"error": reason}));
    }
    if !state.metrics.health.readiness().pipelines.contains_key(&pipeline) {
        return answer(StatusCode::NOT_FOUND, serde_json::json!({"error": format!("no pipeline named {pipeline:?}")}));
    }
    let table = match serde_json::from_slice::<SnapshotRequestBody>(&body) {
        Ok(request) => parse_table_name(&request.table),
        Err(error) => Err(format!("expected {{\"table\": \"schema.table\"}}: {error}")),
    };
    match table {
        Ok(table) => {
            tracing::info!(%pipeline, %table, "Snapshot requested.");
            state.metrics.snapshot_requests.request(&pipeline, table.clone());
            answer(
                StatusCode::ACCEPTED,
                serde_json::json!({"pipeline": pipeline, "table": table.to_string(), "status": "queued"}),
            )
        }
        Err(reason) => answer(StatusCode::BAD_REQUEST, serde_json::json!({"error": reason})),
    }
}

/// `schema.table` as SQL spells it: each part bare (folded to lower case, as PostgreSQL
/// does) or in double quotes (`""` for a quote inside).
pub fn parse_table_name(text: &str) -> Result<TableName, String> {
    let mut parts = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    Some('"') => break,
                    Some(other) => part.push(other),
                    None => return Err(format!("{text:?}: a quoted name is not closed")),
                }
            }
        } else {
            while let Some(&next) = chars.peek() {
                if next == '.' {
                    break;
                }
                part.extend(next.to_lowercase());
                chars.next();
            }
        }
        if part.is_empty() {
            return Err(format!("{text:?}: expected schema.table"));
        }
        parts.push(part);
        match chars.next() {
            None => break,
            Some('.') => {}
            Some(other) => return Err(format!("{text:?}: unexpected {other:?} after a quoted name")),
        }
    }
    match <[String; 2]>::try_from(parts) {
        Ok([namespace, name]) => Ok(TableName { namespace, name }),
        Err(_) => Err(format!("{text:?}: expected schema.table")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_parse_as_sql_spells_them() {
        let name = |namespace: &str, name: &str| TableName { namespace: namespace.into(), name: name.into() };
        assert_eq!(parse_table_name("public.orders"), Ok(name("public", "orders")));
        assert_eq!(parse_table_name("Public.Orders"), Ok(name("public", "orders")));
        assert_eq!(parse_table_name("public.\"a.b\""), Ok(name("public", "a.b")));
        assert_eq!(parse_table_name("\"my \"\"x\"\"\".T"), Ok(name("my \"x\"", "t")));
        assert!(parse_table_name("orders").is_err());
        assert!(parse_table_name("a.b.c").is_err());
        assert!(parse_table_name("public.\"open").is_err());
        assert!(parse_table_name("public.").is_err());
    }
}
