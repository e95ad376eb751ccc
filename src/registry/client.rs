//! A client of an external Confluent-compatible schema registry (Confluent,
//! Apicurio's ccompat API, Redpanda, or another Wellhead's embedded one).
//!
//! Calls happen once per new table shape, never per record, from the sink
//! thread (so the client is blocking). Transient failures (connection errors,
//! timeouts, HTTP 5xx) are retried with capped exponential backoff and jitter;
//! a 4xx answer is definite.

use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use wellhead_schema::compatibility::CompatibilityLevel;
use wellhead_schema::registry::Registration;

use crate::secret::{Secret, SecretUrl};

/// Attempts per call before a transient failure is reported.
const ATTEMPTS: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The content type Confluent's API speaks.
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// An external registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("schema registry {url} answered {status} (error code {error_code}): {message}")]
    Answer { url: String, status: u16, error_code: u32, message: String },
    #[error("schema registry {url} unreachable after {ATTEMPTS} attempts: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("schema registry {url} sent an unexpected body: {reason}")]
    Body { url: String, reason: String },
}

impl ClientError {
    /// The Confluent error code, when the registry answered with one.
    pub fn error_code(&self) -> Option<u32> {
        match self {
            ClientError::Answer { error_code, .. } => Some(*error_code),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error_code: u32,
    message: String,
}

#[derive(Deserialize)]
struct IdBody {
    id: u32,
}

#[derive(Deserialize)]
struct LookupBody {
    id: u32,
    version: u32,
}

#[derive(Deserialize)]
struct ConfigBody {
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: CompatibilityLevel,
}

/// A blocking client of one registry.
#[derive(Debug)]
pub struct RegistryClient {
    base: String,
    shown: String,
    agent: ureq::Agent,
    authorization: Option<Secret>,
}

impl RegistryClient {
    /// A client of the registry at `url`; basic-auth credentials may be in the URL.
    pub fn new(url: &SecretUrl, timeout: Duration) -> RegistryClient {
        let parsed = url.url();
        let authorization = (!parsed.username().is_empty()).then(|| {
            let password = url.password().map(|p| p.expose().to_owned()).unwrap_or_default();
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{password}", parsed.username()));
            Secret::new(format!("Basic {token}"))
        });
        let mut base = parsed.clone();
        // Credentials travel in the header, not in the URL of every request.
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let base = base.as_str().trim_end_matches('/').to_owned();
        let config = ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build();
        RegistryClient { shown: url.to_string(), base, agent: config.into(), authorization }
    }

    /// Registers `schema` under `subject` (the registry checks compatibility; 409 when incompatible).
    pub fn register(&self, subject: &str, schema: &str) -> Result<Registration, ClientError> {
        let body = json!({ "schema": schema }).to_string();
        let existing = self.lookup(subject, &body)?;
        if let Some((id, version)) = existing {
            return Ok(Registration { id, version, created: false });
        }
        let answer = self.call("POST", &format!("/subjects/{}/versions", encode(subject)), Some(&body))?;
        let IdBody { id } = self.parse(&answer)?;
        let (_, version) = self.lookup(subject, &body)?.unwrap_or((id, 0));
        Ok(Registration { id, version, created: true })
    }

    fn lookup(&self, subject: &str, body: &str) -> Result<Option<(u32, u32)>, ClientError> {
        match self.call("POST", &format!("/subjects/{}", encode(subject)), Some(body)) {
            Ok(answer) => self.parse::<LookupBody>(&answer).map(|found| Some((found.id, found.version))),
            // 40401 subject not found, 40403 schema not found.
            Err(error) if matches!(error.error_code(), Some(40401 | 40403)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The subject's own level, if it has one.
    pub fn subject_level(&self, subject: &str) -> Result<Option<CompatibilityLevel>, ClientError> {
        match self.call("GET", &format!("/config/{}", encode(subject)), None) {
            Ok(answer) => self.parse::<ConfigBody>(&answer).map(|config| Some(config.compatibility_level)),
            Err(error) if matches!(error.error_code(), Some(40401 | 40408)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The level that applies to `subject` (its own, else the global one).
    pub fn effective_level(&self, subject: &str) -> Result<CompatibilityLevel, ClientError> {
        match self.subject_level(subject)? {
            Some(level) => Ok(level),
            None => self.parse::<ConfigBody>(&self.call("GET", "/config", None)?).map(|c| c.compatibility_level),
        }
    }

    /// Sets the subject's own level.
    pub fn set_level(&self, subject: &str, level: CompatibilityLevel) -> Result<(), ClientError> {
        let body = json!({ "compatibility": level }).to_string();
        self.call("PUT", &format!("/config/{}", encode(subject)), Some(&body)).map(|_| ())
    }

    /// Removes the subject's own level (it falls back to the global one).
    pub fn delete_level(&self, subject: &str) -> Result<(), ClientError> {
        self.call("DELETE", &format!("/config/{}", encode(subject)), None).map(|_| ())
    }

    fn parse<T: for<'de> Deserialize<'de>>(&self, body: &str) -> Result<T, ClientError> {
        serde_json::from_str(body)
            .map_err(|error| ClientError::Body { url: self.shown.clone(), reason: error.to_string() })
    }

    /// One call with retries of transient failures; a 2xx body, or the registry's error.
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> Result<String, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut backoff = FIRST_BACKOFF;
        let mut last_failure = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.send(method, &url, body) {
                Ok((status, text)) if (200..300).contains(&status) => return Ok(text),
                Ok((status, text)) if status < 500 => {
                    let parsed: Option<ErrorBody> = serde_json::from_str(&text).ok();
                    let (error_code, message) =
                        parsed.map_or((u32::from(status), text), |body| (body.error_code, body.message));
                    return Err(ClientError::Answer { url: self.shown.clone(), status, error_code, message });
                }
                Ok((status, text)) => last_failure = format!("HTTP {status}: {text}"),
                Err(reason) => last_failure = reason,
            }
            if attempt < ATTEMPTS {
                let jitter = Duration::from_millis(rand::random_range(0..=backoff.as_millis() as u64 / 4));
                tracing::warn!(registry = %self.shown, attempt, failure = %last_failure, "Schema registry call failed; retrying.");
                std::thread::sleep(backoff + jitter);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        Err(ClientError::Unreachable { url: self.shown.clone(), reason: last_failure })
    }

    fn send(&self, method: &str, url: &str, body: Option<&str>) -> Result<(u16, String), String> {
        let authorization = self.authorization.as_ref().map(|a| a.expose().to_owned());
        let response = match (method, body) {
            ("GET", _) => with_auth(self.agent.get(url), authorization).call(),
            ("DELETE", _) => with_auth(self.agent.delete(url), authorization).call(),
            ("PUT", Some(body)) => {
                with_auth(self.agent.put(url), authorization).header("Content-Type", CONTENT_TYPE).send(body)
            }
            (_, body) => with_auth(self.agent.post(url), authorization)
                .header("Content-Type", CONTENT_TYPE)
                .send(body.unwrap_or("{}")),
        };
        let mut response = response.map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(|error| error.to_string())?;
        Ok((status, text))
    }
}

fn with_auth<B>(request: ureq::RequestBuilder<B>, authorization: Option<String>) -> ureq::RequestBuilder<B> {
    let request = request.header("Accept", CONTENT_TYPE);
    match authorization {
        Some(value) => request.header("Authorization", value),
        None => request,
    }
}

/// Percent-encodes a subject for a URL path segment.
fn encode(subject: &str) -> String {
    subject
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
