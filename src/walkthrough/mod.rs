//! The learner's walkthrough: the chapter's steps lived through one at a time, each re-checked
//! by the engine when something changes, with hints, solutions, the runbook and the quiz, and a
//! progress record that only grows. One more consumer of engine results, beside `grade`: it
//! reads checks' results and never decides a verdict itself.

pub mod flow;
pub mod markdown;
pub mod screens;
pub mod terminal;

use crate::exit_code;

/// Why the walkthrough could not go on.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// The progress record could not be read or written.
    #[error(transparent)]
    Record(#[from] crate::record::RecordError),
    /// The quiz, or an answers file, is missing or wrong (exit 2).
    #[error(transparent)]
    Quiz(#[from] crate::grade::GradeError),
    /// The user pressed Ctrl-C while checks ran (exit 130).
    #[error("interrupted; your progress is saved, and running the command again resumes")]
    Interrupted,
    /// The terminal could not be read or set up (exit 5).
    #[error("the terminal: {0}")]
    Terminal(String),
}

impl WalkError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            WalkError::Record(e) => e.exit_code(),
            WalkError::Quiz(e) => e.exit_code(),
            WalkError::Interrupted => exit_code::INTERRUPTED,
            WalkError::Terminal(_) => exit_code::WRITE_FAILED,
        }
    }
}

impl From<crate::runtime::Interrupted> for WalkError {
    fn from(_: crate::runtime::Interrupted) -> Self {
        WalkError::Interrupted
    }
}
