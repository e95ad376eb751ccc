//! The registry API's wire side: how requests are read (JSON bodies under
//! Confluent's media types, query flags) and how answers and errors are
//! written (Confluent's shapes, `{"error_code", "message"}`).
//!
//! Invariant: every answer, errors included, carries [`MEDIA_TYPE`]; a
//! `RegistryError` is answered with its own status and body, nothing added.

use axum::extract::rejection::PathRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wellhead_schema::registry::{ErrorBody, RegisteredSchema, RegistryError, SchemaId, SchemaType, Version};

use crate::registry::embedded::EmbeddedRegistryError;

/// The media type of every answer (Confluent's v1 API).
const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Request media types taken as JSON; a request without one is taken as JSON too.
const ACCEPTED_MEDIA_TYPES: [&str; 4] =
    [MEDIA_TYPE, "application/vnd.schemaregistry+json", "application/json", "application/octet-stream"];

/// What a 401 asks for.
const BASIC_CHALLENGE: &str = "Basic realm=\"wellhead schema registry\"";

/// Confluent's `error_code` for a failure of the registry's own storage.
const BACKEND_ERROR_CODE: u32 = 50001;

/// A request the API refuses, answered as Confluent does.
#[derive(Debug, thiserror::Error)]
pub(super) enum ApiError {
    /// Refused by the registry's rules: 404, 409 or 422 with Confluent's code.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The event log could not be read or written: 500 / 50001.
    #[error("Error in the backend data store: {0}")]
    Backend(EmbeddedRegistryError),
    /// No such resource (also a schema id that is not a number), as Jersey answers.
    #[error("HTTP 404 Not Found")]
    RouteNotFound,
    #[error("HTTP 405 Method Not Allowed")]
    MethodNotAllowed,
    #[error("HTTP 415 Unsupported Media Type")]
    UnsupportedMediaType,
    /// The body is not the JSON the route expects, or a path segment is not UTF-8.
    #[error("Unrecognized request: {reason}")]
    BadRequest { reason: String },
    /// A change to the registry without the operator's credentials (none or wrong sent).
    #[error(
        "changing the schema registry needs the credentials of control.registry_user: send them with HTTP basic auth"
    )]
    Unauthorized,
    /// A change to the registry while the operator configured no credentials for it.
    #[error(
        "changes to the schema registry over HTTP are off; Wellhead registers its own schemas. To allow them, set control.registry_password (or registry_password_file) and send it with HTTP basic auth"
    )]
    ChangesOff,
}

impl From<EmbeddedRegistryError> for ApiError {
    fn from(error: EmbeddedRegistryError) -> Self {
        match error {
            EmbeddedRegistryError::Registry(refused) => Self::Registry(refused),
            local => Self::Backend(local),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::BadRequest { reason: rejection.body_text() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            Self::Registry(refused) => (refused.http_status(), refused.body()),
            Self::Backend(error) => {
                tracing::error!(%error, "The embedded schema registry's log failed.");
                (500, ErrorBody { error_code: BACKEND_ERROR_CODE, message: self.to_string() })
            }
            Self::RouteNotFound => (404, ErrorBody { error_code: 404, message: self.to_string() }),
            Self::MethodNotAllowed => (405, ErrorBody { error_code: 405, message: self.to_string() }),
            Self::UnsupportedMediaType => (415, ErrorBody { error_code: 415, message: self.to_string() }),
            Self::BadRequest { .. } => (400, ErrorBody { error_code: 400, message: self.to_string() }),
            Self::Unauthorized => {
                let body = ErrorBody { error_code: 40101, message: self.to_string() };
                let mut answer = json(StatusCode::UNAUTHORIZED, &body);
                answer.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(BASIC_CHALLENGE));
                return answer;
            }
            Self::ChangesOff => (403, ErrorBody { error_code: 40301, message: self.to_string() }),
        };
        json(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &body)
    }
}

pub(super) type Answer = Result<Response, ApiError>;

/// A 200 answer with `value` as JSON.
pub(super) fn ok<T: Serialize>(value: &T) -> Answer {
    Ok(json(StatusCode::OK, value))
}

pub(super) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, MEDIA_TYPE)], body).into_response(),
        Err(error) => {
            let body = ErrorBody { error_code: BACKEND_ERROR_CODE, message: error.to_string() };
            let text = serde_json::to_vec(&body).unwrap_or_default();
            (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, MEDIA_TYPE)], text).into_response()
        }
    }
}

/// The body of every request that carries a schema (register, look up, check).
#[derive(Debug, Deserialize)]
pub(super) struct SchemaRequest {
    schema: Option<String>,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    references: Option<Vec<serde_json::Value>>,
}

impl SchemaRequest {
    /// The schema text; 42201 for a missing schema, a type other than AVRO, or references.
    pub(super) fn schema(&self) -> Result<&str, RegistryError> {
        if let Some(schema_type) = &self.schema_type {
            schema_type.parse::<SchemaType>()?;
        }
        if self.references.as_ref().is_some_and(|references| !references.is_empty()) {
            return Err(RegistryError::InvalidSchema { reason: "schema references are not supported".to_owned() });
        }
        match self.schema.as_deref() {
            Some(text) if !text.trim().is_empty() => Ok(text),
            _ => Err(RegistryError::InvalidSchema { reason: "the request has no schema".to_owned() }),
        }
    }
}

/// Parses a request body as JSON when its media type is one of [`ACCEPTED_MEDIA_TYPES`].
pub(super) fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    if let Some(value) = headers.get(header::CONTENT_TYPE) {
        let essence = value.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if !ACCEPTED_MEDIA_TYPES.contains(&essence.as_str()) {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    serde_json::from_slice(body).map_err(|error| ApiError::BadRequest { reason: error.to_string() })
}

/// The query string's parameters.
#[derive(Debug, Default)]
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn parse(raw: Option<String>) -> Self {
        let pairs = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect();
        Self(pairs)
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// A boolean flag: true when given as `true` in any letter case.
    pub(super) fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }

    /// `offset` and `limit` (non-positive: no limit) applied to a list.
    pub(super) fn page<T>(&self, items: Vec<T>) -> Vec<T> {
        let number = |name| self.get(name).and_then(|value| value.parse::<i64>().ok()).unwrap_or(0);
        let offset = usize::try_from(number("offset")).unwrap_or(0);
        let limit = usize::try_from(number("limit")).ok().filter(|limit| *limit > 0).unwrap_or(usize::MAX);
        items.into_iter().skip(offset).take(limit).collect()
    }
}

/// A version of a subject as Confluent sends it (`schemaType` only when not AVRO).
#[derive(Debug, Serialize)]
pub(super) struct VersionBody {
    subject: String,
    version: Version,
    id: SchemaId,
    #[serde(rename = "schemaType", skip_serializing_if = "Option::is_none")]
    schema_type: Option<SchemaType>,
    schema: String,
}

impl From<RegisteredSchema> for VersionBody {
    fn from(registered: RegisteredSchema) -> Self {
        VersionBody {
            subject: registered.subject,
            version: registered.version,
            id: registered.id,
            schema_type: shown_type(registered.schema_type),
            schema: registered.schema,
        }
    }
}

/// The answer of `GET /schemas/ids/{id}`.
#[derive(Debug, Serialize)]
pub(super) struct SchemaBody {
    schema: String,
    #[serde(rename = "schemaType", skip_serializing_if = "Option::is_none")]
    schema_type: Option<SchemaType>,
}

impl SchemaBody {
    pub(super) fn new(schema: String, schema_type: SchemaType) -> Self {
        SchemaBody { schema, schema_type: shown_type(schema_type) }
    }
}

/// The answer of `POST /subjects/{subject}/versions`.
#[derive(Debug, Serialize)]
pub(super) struct IdBody {
    pub(super) id: SchemaId,
}

/// Confluent leaves the schema type out when it is AVRO.
fn shown_type(schema_type: SchemaType) -> Option<SchemaType> {
    (schema_type != SchemaType::Avro).then_some(schema_type)
}

pub(super) fn schema_id(text: &str) -> Result<SchemaId, ApiError> {
    text.parse::<SchemaId>().map_err(|_| ApiError::RouteNotFound)
}

pub(super) fn raw_text(text: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, MEDIA_TYPE)], text).into_response()
}
