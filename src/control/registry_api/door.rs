//! Who may change the registry over HTTP: registering, deleting and setting
//! compatibility levels change what every pipeline's drift check enforces, so they
//! are off unless the operator configured credentials, and then need them (HTTP
//! basic auth). Reads, lookups and compatibility checks stay open. Wellhead's own
//! pipelines register in-process and never pass this door.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::wire::ApiError;
use crate::secret::Secret;

/// The credentials a change must carry; `None`: changes over HTTP are off.
#[derive(Debug, Clone, Default)]
pub struct RegistryDoor {
    credentials: Option<(String, Secret)>,
}

impl RegistryDoor {
    /// A door that opens for `user` with `password`, or stays shut when there is no password.
    pub fn new(user: &str, password: Option<Secret>) -> RegistryDoor {
        RegistryDoor { credentials: password.map(|password| (user.to_owned(), password)) }
    }

    /// Whether `headers` carry the operator's credentials.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), DoorRefusal> {
        let Some((user, password)) = &self.credentials else { return Err(DoorRefusal::Off) };
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")))
            .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok())
            .ok_or(DoorRefusal::Unauthorized)?;
        let expected = format!("{user}:{}", password.expose());
        if constant_time_equal(&sent, expected.as_bytes()) { Ok(()) } else { Err(DoorRefusal::Unauthorized) }
    }

    fn admits(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        self.check(headers).map_err(|refusal| match refusal {
            DoorRefusal::Off => ApiError::ChangesOff,
            DoorRefusal::Unauthorized => ApiError::Unauthorized,
        })
    }
}

/// Why the door stayed shut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorRefusal {
    /// The operator configured no credentials: changes over HTTP are off.
    Off,
    /// The request carried none, or the wrong ones.
    Unauthorized,
}

/// Compares without an early exit, so that timing does not tell how much of a guess was right.
fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0_u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The layer in front of every route that changes the registry.
pub(super) async fn guard_change(State(door): State<RegistryDoor>, request: Request, next: Next) -> Response {
    match door.admits(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => {
            tracing::warn!(method = %request.method(), path = %request.uri().path(), "Refused a change to the schema registry: {refused}");
            refused.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(credentials: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        headers.insert(header::AUTHORIZATION, format!("Basic {encoded}").parse().expect("test value"));
        headers
    }

    #[test]
    fn changes_need_the_configured_credentials() {
        let shut = RegistryDoor::new("admin", None);
        assert!(matches!(shut.admits(&basic("admin:x")), Err(ApiError::ChangesOff)));
        let door = RegistryDoor::new("admin", Some(Secret::new("s3cret:with colon".into())));
        assert!(door.admits(&basic("admin:s3cret:with colon")).is_ok());
        assert!(matches!(door.admits(&basic("admin:s3cret")), Err(ApiError::Unauthorized)));
        assert!(matches!(door.admits(&basic("other:s3cret:with colon")), Err(ApiError::Unauthorized)));
        assert!(matches!(door.admits(&HeaderMap::new()), Err(ApiError::Unauthorized)));
    }
}
