//! Why grading could not judge: the chapter's quiz or an answers file is missing or wrong.
//! The learner-facing advice around these lives with the screens that show them.

use crate::exit_code;

/// Why a quiz or an answers file could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    /// The lab names no quiz that `lab` can read.
    #[error("{file}: {reason}; `lab validate` says more")]
    QuizFile {
        /// The quiz file as the user sees it.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The quiz file is another lab's.
    #[error("{file} is the quiz of lab `{found}`, not `{expected}`; `lab validate` says more")]
    QuizOfOtherLab {
        /// The quiz file.
        file: String,
        /// The lab it names.
        found: String,
        /// The lab asked for.
        expected: String,
    },
    /// An answers file is not one the quiz can take.
    #[error("{at}: {problem}")]
    Answers {
        /// `file:line`.
        at: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The lab has no quiz to take.
    #[error("lab {lab} has no quiz")]
    NoQuiz {
        /// The lab.
        lab: String,
    },
}

impl GradeError {
    /// The process exit code: every one is bad content or usage.
    pub fn exit_code(&self) -> u8 {
        exit_code::BAD_CONTENT_OR_USAGE
    }
}
