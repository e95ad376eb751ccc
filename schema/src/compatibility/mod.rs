//! Avro schema compatibility: the specification's schema-resolution rules
//! ([`can_read`]) and the Confluent compatibility levels built on them
//! ([`check`]).
//!
//! ```text
//!                 BACKWARD: new reads existing      FORWARD: existing reads new
//!  new schema ───────────────────────────────► can_read(reader, writer) ──► Ok | Incompatibility{path, rule}
//!                 FULL: both; *_TRANSITIVE: against every existing schema, else the newest only
//! ```
//!
//! Invariants:
//! - Pure: schemas in, verdict out. No registry, no I/O.
//! - Every schema is compatible with itself under every level.
//! - An [`Incompatibility`] names the first broken rule found, with its path in
//!   the reader schema and, from [`check`], the existing schema and direction.
//! - Logical types: ignored, as the specification says, except decimal: the
//!   scales must be equal and the reader's precision at least the writer's (a
//!   widened numeric(p,s) column stays compatible; see [`resolution`]).
//!
//! Specification: <https://avro.apache.org/docs/1.11.1/specification/#schema-resolution>;
//! levels: Confluent's "Schema Evolution and Compatibility" documentation.

mod incompatibility;
mod resolution;

use std::fmt;
use std::str::FromStr;

use apache_avro::Schema;
use serde::{Deserialize, Serialize};

pub use incompatibility::{CheckContext, Direction, Incompatibility, Rule};
pub use resolution::can_read;

/// A Confluent compatibility level: which existing schemas a new schema is
/// checked against, and in which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    /// The new schema reads data written with the newest existing schema. The default.
    #[default]
    Backward,
    /// The new schema reads data written with every existing schema.
    BackwardTransitive,
    /// The newest existing schema reads data written with the new schema.
    Forward,
    /// Every existing schema reads data written with the new schema.
    ForwardTransitive,
    /// Backward and forward against the newest existing schema.
    Full,
    /// Backward and forward against every existing schema.
    FullTransitive,
    /// No check.
    None,
}

impl CompatibilityLevel {
    /// Every level, in Confluent's documentation order.
    pub const ALL: [Self; 7] = [
        Self::Backward,
        Self::BackwardTransitive,
        Self::Forward,
        Self::ForwardTransitive,
        Self::Full,
        Self::FullTransitive,
        Self::None,
    ];

    /// The name as Confluent spells it (`BACKWARD_TRANSITIVE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
            Self::None => "NONE",
        }
    }

    /// Whether the check runs against every existing schema, not only the newest.
    pub fn is_transitive(self) -> bool {
        matches!(self, Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive)
    }

    fn directions(self) -> &'static [Direction] {
        match self {
            Self::Backward | Self::BackwardTransitive => &[Direction::NewReadsExisting],
            Self::Forward | Self::ForwardTransitive => &[Direction::ExistingReadsNew],
            Self::Full | Self::FullTransitive => &[Direction::NewReadsExisting, Direction::ExistingReadsNew],
            Self::None => &[],
        }
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compatibility level name that is none of Confluent's seven.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown compatibility level `{0}`; valid values are NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE"
)]
pub struct UnknownCompatibilityLevel(pub String);

impl FromStr for CompatibilityLevel {
    type Err = UnknownCompatibilityLevel;

    /// Case-insensitive, as Confluent's registry accepts `backward` as well as `BACKWARD`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownCompatibilityLevel(text.to_owned()))
    }
}

/// Checks `new` against the existing schemas of a subject, newest first, as
/// `level` requires: non-transitive levels look at `existing_newest_first[0]`
/// only, transitive ones at all; no existing schema means compatible. The
/// error's `context` says which existing schema (by index) failed in which
/// direction.
pub fn check(level: CompatibilityLevel, new: &Schema, existing_newest_first: &[Schema]) -> Result<(), Incompatibility> {
    let against = if level.is_transitive() { existing_newest_first.len() } else { 1 };
    for (existing_index, existing) in existing_newest_first.iter().enumerate().take(against) {
        for &direction in level.directions() {
            let verdict = match direction {
                Direction::NewReadsExisting => can_read(new, existing),
                Direction::ExistingReadsNew => can_read(existing, new),
            };
            verdict.map_err(|incompatibility| Incompatibility {
                context: Some(CheckContext { existing_index, direction }),
                ..incompatibility
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod level_tests;
#[cfg(test)]
mod tests;
