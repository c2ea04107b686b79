//! A chapter quiz (`quizzes/<chapter>.yaml`) and its answer key (`quizzes/<chapter>.key.yaml`).
//!
//! A quiz is one of two modes. A *practice* quiz says "right" or "not yet" at once: each
//! question carries a *feedback digest* (a hash of its correct option ids) and its explanation.
//! The digest hides answers from casual reading only: with a handful of options anyone can try
//! every combination, so a practice quiz is never graded. A *graded* quiz carries no
//! correctness information at all, neither digest nor explanation: the learner's files and `lab`
//! hold nothing to recover. The answer key, which only course authors and instructors hold,
//! judges it (`lab grade`) and carries the explanations that reach the learner with the grade.

use schemars::JsonSchema;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{LabId, Spanned};

/// A quiz: the root of `quizzes/<chapter>.yaml`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quiz {
    /// Version of this file format; only `1` exists.
    pub schema_version: Spanned<u32>,
    /// The id of the lab this quiz belongs to.
    pub lab: Spanned<LabId>,
    /// Title shown above the questions.
    pub title: String,
    /// `practice` (immediate feedback, never graded; the default) or `graded` (answers are
    /// recorded and judged by the instructor's key).
    #[serde(default)]
    pub mode: QuizMode,
    /// The lowest score, in percent, that passes.
    pub pass_percent: Spanned<u8>,
    /// The questions, in order.
    pub questions: Vec<Question>,
}

/// One question.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Question id, unique in the quiz.
    pub id: Spanned<LabId>,
    /// The id of the lab objective this question tests.
    pub objective: Spanned<LabId>,
    /// `single` (exactly one correct option) or `multiple` (one or more).
    pub choice: Choice,
    /// The question text, in Markdown.
    pub prompt: String,
    /// The options, at least two.
    pub options: Spanned<Vec<QuizOption>>,
    /// Practice only: why the right answer is right, shown after the learner answers (a graded
    /// quiz keeps it in the answer key).
    #[serde(default)]
    pub explanation: Option<Spanned<String>>,
    /// Practice only: `sha256:<hex>` of the correct option ids (see [`feedback_digest`]).
    #[serde(default)]
    pub feedback: Option<Spanned<String>>,
}

/// How a quiz is taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum QuizMode {
    /// Immediate feedback from digests in the quiz file; never graded.
    #[default]
    Practice,
    /// Answers recorded as given; judged only with the instructor's answer key.
    Graded,
}

/// How many options a learner picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    /// Exactly one option is correct.
    Single,
    /// One or more options are correct; all of them must be picked.
    Multiple,
}

/// An answer option.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuizOption {
    /// Option id, unique in the question, e.g. `a`.
    pub id: Spanned<LabId>,
    /// The option text.
    pub text: Spanned<String>,
}

/// An answer key: the root of `quizzes/<chapter>.key.yaml`. Never embedded in the `lab` binary.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerKey {
    /// Version of this file format; only `1` exists.
    pub schema_version: Spanned<u32>,
    /// The id of the lab whose quiz this key answers.
    pub lab: Spanned<LabId>,
    /// The correct option ids of each question.
    pub answers: Vec<KeyedAnswer>,
}

/// The correct options of one question.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyedAnswer {
    /// The question id.
    pub question: Spanned<LabId>,
    /// The ids of the correct options.
    pub correct: Spanned<Vec<Spanned<LabId>>>,
    /// Why the right answer is right: for a graded quiz, shown to the learner with the grade.
    #[serde(default)]
    pub explanation: Option<String>,
}

/// The feedback digest of a question: `sha256:` and the hex SHA-256 of
/// `courselab-quiz-v1\0<lab>\0<question>\0<sorted option ids joined by ",">`.
pub fn feedback_digest<'a>(
    lab: &str,
    question: &str,
    correct: impl IntoIterator<Item = &'a str>,
) -> String {
    let mut ids: Vec<&str> = correct.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut hasher = Sha256::new();
    for part in ["courselab-quiz-v1", lab, question] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.update(ids.join(",").as_bytes());
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_ignores_order_and_repeats_but_not_content() {
        let a = feedback_digest("ch14", "q1", ["b", "a"]);
        assert_eq!(a, feedback_digest("ch14", "q1", ["a", "b", "a"]));
        assert_ne!(a, feedback_digest("ch14", "q1", ["a"]));
        assert_ne!(a, feedback_digest("ch14", "q2", ["a", "b"]));
        assert_ne!(a, feedback_digest("ch15", "q1", ["a", "b"]));
        assert!(a.starts_with("sha256:") && a.len() == 7 + 64);
    }
}
