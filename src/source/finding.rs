//! What `wellhead check` (and every start) reports about a source's server: each
//! prerequisite that is not met, with the fix an operator can apply.

use std::fmt;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Streaming cannot work until it is fixed.
    Error,
    /// Streaming works, with a limitation the operator should know.
    Warning,
}

/// One prerequisite that is not met.
#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl Finding {
    pub fn error(problem: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding { severity: Severity::Error, problem: problem.into(), fix: fix.into() }
    }

    pub fn warning(problem: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding { severity: Severity::Warning, problem: problem.into(), fix: fix.into() }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}: {}\n  fix: {}", self.problem, self.fix)
    }
}
