//! Why a column value could not be decoded.
//!
//! Every error names the PostgreSQL type, shows the offending input (text
//! quoted and cut to [`EXCERPT_CHARS`] characters; binary as its length and
//! first bytes in hex) and says what is wrong. Parsers below this module
//! report a bare [`Problem`]; `mod.rs` attaches the type and the input.

use std::borrow::Cow;
use std::fmt::Write as _;

/// What is wrong with an input, without the input itself.
pub(crate) type Problem = Cow<'static, str>;

/// How many characters of an offending text an error quotes.
const EXCERPT_CHARS: usize = 60;

/// How many leading bytes of an offending binary value an error shows.
const EXCERPT_BYTES: usize = 16;

/// A column value that is not a valid instance of its column type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The text form (pgoutput's default) is malformed.
    #[error("invalid {type_name} text {excerpt}: {problem}")]
    Text {
        type_name: String,
        /// The input, quoted and truncated.
        excerpt: String,
        problem: String,
    },
    /// The binary (send/recv) form is malformed.
    #[error("invalid {type_name} binary value {excerpt}: {problem}")]
    Binary {
        type_name: String,
        /// The input's length and first bytes.
        excerpt: String,
        problem: String,
    },
    /// The type has no binary decoder here.
    #[error(
        "cannot decode {type_name} from its binary form: {reason}; \
         use pgoutput's text format (publication option binary = false) for this table"
    )]
    BinaryUnsupported { type_name: String, reason: String },
}

impl ValueError {
    pub(crate) fn text(type_name: impl Into<String>, input: &[u8], problem: impl Into<Problem>) -> Self {
        ValueError::Text {
            type_name: type_name.into(),
            excerpt: text_excerpt(input),
            problem: problem.into().into_owned(),
        }
    }

    pub(crate) fn binary(type_name: impl Into<String>, input: &[u8], problem: impl Into<Problem>) -> Self {
        ValueError::Binary {
            type_name: type_name.into(),
            excerpt: binary_excerpt(input),
            problem: problem.into().into_owned(),
        }
    }

    /// The PostgreSQL type the value was decoded as.
    pub fn type_name(&self) -> &str {
        match self {
            ValueError::Text { type_name, .. }
            | ValueError::Binary { type_name, .. }
            | ValueError::BinaryUnsupported { type_name, .. } => type_name,
        }
    }
}

/// `"first 60 characters…"`, with control characters escaped.
fn text_excerpt(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    let ellipsis = if chars.next().is_some() { "…" } else { "" };
    format!("{head:?}{ellipsis}")
}

/// `(12 bytes: 00 01 ff …)`.
fn binary_excerpt(input: &[u8]) -> String {
    let mut excerpt = format!("({} bytes", input.len());
    if !input.is_empty() {
        excerpt.push(':');
    }
    for byte in input.iter().take(EXCERPT_BYTES) {
        let _ = write!(excerpt, " {byte:02x}");
    }
    if input.len() > EXCERPT_BYTES {
        excerpt.push_str(" …");
    }
    excerpt.push(')');
    excerpt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_error_quotes_and_truncates() {
        let long = "x".repeat(100);
        let error = ValueError::text("int4", long.as_bytes(), "not an integer");
        let message = error.to_string();
        assert!(message.starts_with(&format!("invalid int4 text \"{}\"…: ", "x".repeat(60))), "{message}");
        assert!(message.ends_with("not an integer"));
        assert_eq!(error.type_name(), "int4");
    }

    #[test]
    fn text_error_escapes_control_characters() {
        let error = ValueError::text("date", b"1\n2", "bad");
        assert_eq!(error.to_string(), "invalid date text \"1\\n2\": bad");
    }

    #[test]
    fn binary_error_shows_length_and_head() {
        let error = ValueError::binary("int8", &[0, 1, 255], "expected 8 bytes");
        assert_eq!(error.to_string(), "invalid int8 binary value (3 bytes: 00 01 ff): expected 8 bytes");
        let empty = ValueError::binary("int8", &[], "expected 8 bytes");
        assert_eq!(empty.to_string(), "invalid int8 binary value (0 bytes): expected 8 bytes");
    }
}
