//! What a check found, as data: the status, what was observed, a message, a hint for the
//! learner, and the evidence the verdict rests on. Reporters and the walkthrough render it.

use serde::{Deserialize, Serialize};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The learner's work shows what the check asks for.
    Pass,
    /// It does not (yet).
    Fail,
    /// The check could not look: the cluster or registry was unreachable or refused.
    Error,
}

/// Why a check could not look, so that the exit code tells a tool that could not look from
/// a learner whose work fell short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// The cluster or registry did not answer (exit 3).
    Unreachable,
    /// The cluster or registry answered but refused (a 401 or 403) or failed (a server error,
    /// an object `lab` cannot read): a setup problem, not the learner's work (exit 7).
    Refused,
    /// The course content asks for something `lab` will not do, such as reading outside the
    /// working folder (exit 2).
    Content,
    /// The learner's progress record is not intact (exit 6).
    Tampered,
}

impl Cause {
    /// The exit code of a run whose errors have this cause.
    pub fn exit_code(self) -> u8 {
        match self {
            Cause::Unreachable => crate::exit_code::UNREACHABLE,
            Cause::Refused => crate::exit_code::REFUSED,
            Cause::Content => crate::exit_code::BAD_CONTENT_OR_USAGE,
            Cause::Tampered => crate::exit_code::PROGRESS_TAMPERED,
        }
    }
}

/// The exit code of a set of results: the first error's cause (0 never), else 1 for a fail,
/// else 0.
pub fn exit_code(results: &[CheckResult]) -> u8 {
    if let Some(r) = results.iter().find(|r| r.status == Status::Error) {
        return r.cause.unwrap_or(Cause::Refused).exit_code();
    }
    if results.iter().any(|r| r.status == Status::Fail) {
        crate::exit_code::WORK_FELL_SHORT
    } else {
        crate::exit_code::SUCCESS
    }
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
    /// Why an error could not look.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
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
    /// Why an error could not look.
    pub cause: Option<Cause>,
}

impl Verdict {
    /// A pass.
    pub fn pass(message: impl Into<String>) -> Self {
        Verdict {
            status: Status::Pass,
            message: message.into(),
            hint: None,
            evidence: Vec::new(),
            cause: None,
        }
    }

    /// A fail, with what to try next.
    pub fn fail(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Verdict {
            status: Status::Fail,
            message: message.into(),
            hint: Some(hint.into()),
            evidence: Vec::new(),
            cause: None,
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
