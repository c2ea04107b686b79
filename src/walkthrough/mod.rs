//! The learner's walkthrough: the chapter's steps lived through one at a time, each re-checked
//! by the engine when something changes, with hints, solutions, the runbook and the quiz, and a
//! progress record that only grows. One more consumer of engine results, beside `grade`: it
//! reads checks' results and never decides a verdict itself.

pub mod done_when;
pub mod flow;
pub mod markdown;
pub mod progress;
pub mod quiz;
pub mod screens;

use crate::exit_code;

/// Why the walkthrough could not go on.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// The progress file is not one `lab` can read (exit 2).
    #[error("{0}")]
    Progress(String),
    /// The progress file could not be written (exit 5).
    #[error("{0}")]
    ProgressWrite(String),
    /// The quiz, or an answers file, is missing or wrong (exit 2).
    #[error("{0}")]
    Quiz(String),
    /// The terminal could not be read or set up (exit 5).
    #[error("the terminal: {0}")]
    Terminal(String),
}

impl WalkError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            WalkError::Progress(_) | WalkError::Quiz(_) => exit_code::BAD_CONTENT_OR_USAGE,
            WalkError::ProgressWrite(_) | WalkError::Terminal(_) => exit_code::WRITE_FAILED,
        }
    }
}
