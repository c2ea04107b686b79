//! What a check found, as data: the status, what was observed, a message, a hint for the
//! learner, and the evidence the verdict rests on. Reporters and the walkthrough render it.

use serde::{Deserialize, Serialize};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The learner's work shows what the check asks for.
    Pass,
    /// It does not (yet).
    Fail,
    /// The check could not look: the cluster or registry was unreachable or refused.
    Error,
}

/// One fact a verdict rests on, e.g. `running digest = sha256:...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// What it is.
    pub what: String,
    /// Its value, as observed.
    pub value: String,
}

/// The result of one check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The step the check belongs to.
    pub step: String,
    /// The check's id.
    pub check: String,
    /// What passing means, from the lab file.
    pub title: String,
    /// The check's kind, as the lab file names it (`running-digest`).
    pub kind: &'static str,
    /// Pass, fail or error.
    pub status: Status,
    /// What the check saw, in one line.
    pub message: String,
    /// What to try next, when it did not pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The facts the verdict rests on.
    pub evidence: Vec<Evidence>,
    /// Whether the cause of an error was an unreachable cluster or registry.
    #[serde(skip)]
    pub unreachable: bool,
    /// How long the check took, in milliseconds (retries included).
    pub elapsed_ms: u64,
}

/// A verdict before it is tied to its check: what a check kind decides.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Pass, fail or error.
    pub status: Status,
    /// What was seen.
    pub message: String,
    /// What to try next.
    pub hint: Option<String>,
    /// The facts behind it.
    pub evidence: Vec<Evidence>,
    /// Whether an error means the cluster or registry could not be reached.
    pub unreachable: bool,
}

impl Verdict {
    /// A pass.
    pub fn pass(message: impl Into<String>) -> Self {
        Verdict {
            status: Status::Pass,
            message: message.into(),
            hint: None,
            evidence: Vec::new(),
            unreachable: false,
        }
    }

    /// A fail, with what to try next.
    pub fn fail(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Verdict {
            status: Status::Fail,
            message: message.into(),
            hint: Some(hint.into()),
            evidence: Vec::new(),
            unreachable: false,
        }
    }

    /// Adds one piece of evidence.
    pub fn with(mut self, what: &str, value: impl Into<String>) -> Self {
        self.evidence.push(Evidence {
            what: what.to_owned(),
            value: value.into(),
        });
        self
    }
}
