//! The two kinds of failure (STYLE.md rule 8), as the restart policy reads them.
//!
//! ```text
//!  component error ──Failure::from (its Classify)──► Transient ─► reconnect / restart after the backoff
//!                                                  └► Definite  ─► stop, with the hint
//! ```
//!
//! Components keep their own error enums with the detail an operator needs; each
//! says once, in [`Classify`], which of its failures a retry may get past. The
//! pipeline never asks an error a yes/no question: it matches on the type that
//! the classification produced, so a definite failure cannot be retried by mistake
//! and a transient one cannot end the process.

use std::fmt;

/// Whether trying again may get past a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A network cut, a server or broker restarting or busy: the same work may succeed later.
    Transient,
    /// Bad configuration, refused credentials, data the output cannot take, a source
    /// that is not the one the checkpoint names: no retry gets past it.
    Definite,
}

/// Errors that know their class.
pub trait Classify {
    /// Which kind of failure this is.
    fn class(&self) -> ErrorClass;

    /// What the operator can do about a definite failure, when the message does not say it.
    fn hint(&self) -> Option<&'static str> {
        None
    }
}

/// A failure that trying again later may get past.
#[derive(Debug)]
pub struct Transient<E>(pub E);

/// A failure no retry gets past: the pipeline stops with it.
#[derive(Debug)]
pub struct Definite<E> {
    pub error: E,
    pub hint: Option<&'static str>,
}

/// A classified failure.
#[derive(Debug)]
pub enum Failure<E> {
    Transient(Transient<E>),
    Definite(Definite<E>),
}

impl<E: Classify> From<E> for Failure<E> {
    fn from(error: E) -> Self {
        match error.class() {
            ErrorClass::Transient => Failure::Transient(Transient(error)),
            ErrorClass::Definite => Failure::Definite(Definite { hint: error.hint(), error }),
        }
    }
}

impl<E> Failure<E> {
    /// The same failure, of the same class, with its error wrapped in more context.
    pub fn map<F>(self, wrap: impl FnOnce(E) -> F) -> Failure<F> {
        match self {
            Failure::Transient(Transient(error)) => Failure::Transient(Transient(wrap(error))),
            Failure::Definite(definite) => Failure::Definite(definite.map(wrap)),
        }
    }
}

impl<E> Definite<E> {
    /// The same failure with its error wrapped in more context.
    pub fn map<F>(self, wrap: impl FnOnce(E) -> F) -> Definite<F> {
        Definite { error: wrap(self.error), hint: self.hint }
    }
}

impl<E: fmt::Display> fmt::Display for Transient<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: fmt::Display> fmt::Display for Definite<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)?;
        match self.hint {
            Some(hint) => write!(f, " (hint: {hint})"),
            None => Ok(()),
        }
    }
}

impl<E: fmt::Display> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Transient(failure) => failure.fmt(f),
            Failure::Definite(failure) => failure.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Definite<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Example {
        #[error("connection refused")]
        Refused,
        #[error("password authentication failed")]
        Password,
    }

    impl Classify for Example {
        fn class(&self) -> ErrorClass {
            match self {
                Example::Refused => ErrorClass::Transient,
                Example::Password => ErrorClass::Definite,
            }
        }
        fn hint(&self) -> Option<&'static str> {
            matches!(self, Example::Password).then_some("check the password")
        }
    }

    #[test]
    fn classification_decides_the_type_and_carries_the_hint() {
        assert!(matches!(Failure::from(Example::Refused), Failure::Transient(Transient(Example::Refused))));
        let Failure::Definite(definite) = Failure::from(Example::Password) else { panic!("definite") };
        assert_eq!(definite.to_string(), "password authentication failed (hint: check the password)");
        let wrapped = definite.map(|error| format!("pipeline p: {error}"));
        assert_eq!(wrapped.to_string(), "pipeline p: password authentication failed (hint: check the password)");
    }
}
