//! Secrets that never show: passwords and URLs that may carry one.
//!
//! `Debug` and `Display` print `***` in place of the password, so configs,
//! errors and logs can include these values without leaking them.

use std::fmt;

use serde::Deserialize;

/// A secret string (a password); `expose()` is the only way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Reads a string; any other type is refused without showing the value (serde's own
/// message would print it, e.g. "invalid type: integer `987654321987`").
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;
        impl serde::de::Visitor<'_> for SecretVisitor {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Secret, E> {
                Ok(Secret(value.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, value: String) -> Result<Secret, E> {
                Ok(Secret(value))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(not_a_string())
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(not_a_string())
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(not_a_string())
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(not_a_string())
            }
        }
        fn not_a_string<E: serde::de::Error>() -> E {
            E::custom("a secret must be a string: write it in quotes (the value is not shown)")
        }
        deserializer.deserialize_any(SecretVisitor)
    }
}

impl Secret {
    /// Wraps a secret.
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A connection URL whose password, if any, is redacted when shown.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(url::Url);

impl SecretUrl {
    /// Parses a URL.
    pub fn parse(text: &str) -> Result<SecretUrl, url::ParseError> {
        url::Url::parse(text).map(SecretUrl)
    }
    /// The URL with its password; handle with care.
    pub fn url(&self) -> &url::Url {
        &self.0
    }
    /// The password in the URL, percent-decoded.
    pub fn password(&self) -> Option<Secret> {
        let raw = self.0.password()?;
        let decoded = percent_decode(raw);
        Some(Secret::new(decoded))
    }
    /// A query parameter of the URL (e.g. `sslmode`).
    pub fn query_parameter(&self, name: &str) -> Option<String> {
        self.0.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
    }
}

/// `%XX` escapes of a URL part decoded (a `+` stays a `+`: it is not a form).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let hex = bytes.get(index + 1..index + 3).and_then(|pair| std::str::from_utf8(pair).ok());
        match (byte, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(value)) => {
                decoded.push(value);
                index += 3;
            }
            _ => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.clone();
        if shown.password().is_some() {
            // Setting a password only fails for URLs that cannot have one.
            let _ = shown.set_password(Some("***"));
        }
        f.write_str(shown.as_str())
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({self})")
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        // The parse error never contains the input, so no secret leaks through it.
        SecretUrl::parse(&text).map_err(|error| serde::de::Error::custom(format!("invalid URL: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_shows() {
        let url = SecretUrl::parse("postgres://alice:s%40cret@db:5432/shop").expect("valid URL");
        assert_eq!(url.to_string(), "postgres://alice:***@db:5432/shop");
        assert!(!format!("{url:?}").contains("s%40cret"));
        assert_eq!(url.password().expect("has password").expose(), "s@cret");
        assert_eq!(format!("{:?}", Secret::new("x".into())), "***");
    }
}
