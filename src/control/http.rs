//! The HTTP control address: `GET /health` and `/health/live` (the process answers),
//! `GET /health/ready` (every pipeline streams: 200, else 503; each pipeline's state
//! and reason in the body), `GET /metrics` (Prometheus text), and the embedded schema
//! registry's Confluent REST API.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::watch;

use super::registry_api::RegistryDoor;
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
