//! The `lab quiz --json` report: the attempt just recorded, and its judgement when the quiz
//! is a practice one (a graded quiz is judged by `lab grade`, never here).

use serde::Serialize;

use crate::content::model::QuizMode;
use crate::grade::quiz::Attempt;

/// The version of the `lab quiz --json` document (2: `mode`; a graded attempt carries no
/// judgement).
pub const QUIZ_DOCUMENT_VERSION: u32 = 2;

#[derive(Serialize)]
struct QuizDocument<'a> {
    schema_version: u32,
    chapter: &'a str,
    mode: QuizMode,
    first: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    attempt: Option<&'a Attempt>,
}

/// The attempt as one JSON document: whether it was the first, and the judgement if any.
pub fn json(chapter: &str, mode: QuizMode, first: bool, attempt: Option<&Attempt>) -> String {
    super::json::document(&QuizDocument {
        schema_version: QUIZ_DOCUMENT_VERSION,
        chapter,
        mode,
        first,
        attempt,
    })
}
