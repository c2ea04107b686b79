//! Quiz judging, as pure functions: the chapter's quiz as the learner has it, an answers file
//! read into answers, and answers judged by the feedback digests the quiz carries (the answer
//! key never ships in `lab`). The record keeps the answers, never only a score, so every reader
//! judges them again.

use std::collections::BTreeMap;

use serde::Serialize;

use super::GradeError;
use crate::content::chapter::Chapter;
use crate::content::load::FileKind;
use crate::content::model::{AnswerKey, Choice, Question, Quiz, QuizMode, feedback_digest};
use crate::record::Event;

/// The chapter's quiz, as the learner has it (the lab's `quiz:` file; never its answer key).
pub fn find(chapter: &Chapter) -> Result<(String, Quiz), GradeError> {
    read(chapter, &chapter.lab.quiz.value.0)
}

/// The chapter's practice quiz beside a graded one (`practice_quiz:`), if it names one.
pub fn find_practice(chapter: &Chapter) -> Result<Option<(String, Quiz)>, GradeError> {
    chapter
        .lab
        .practice_quiz
        .as_ref()
        .map(|link| read(chapter, &link.value.0))
        .transpose()
}

/// The quiz file `link` (as the lab file writes it) of `chapter`.
fn read(chapter: &Chapter, link: &str) -> Result<(String, Quiz), GradeError> {
    let id = &chapter.lab.id.value.0;
    let quiz_file = |reason: String| GradeError::QuizFile {
        file: chapter.shown(link),
        reason,
    };
    let rel = chapter
        .resolve(link)
        .map_err(|e| quiz_file(e.to_string()))?;
    let text = chapter.text(&rel).map_err(|e| quiz_file(e.to_string()))?;
    let quiz: Quiz = crate::content::yaml::from_str(text).map_err(|e| GradeError::QuizFile {
        file: chapter.shown(&rel),
        reason: format!(
            "not a quiz: {}",
            crate::content::yaml::to_diagnostic(&rel, text, &e, FileKind::Quiz).message
        ),
    })?;
    if quiz.lab.value.0 != *id {
        return Err(GradeError::QuizOfOtherLab {
            file: chapter.shown(&rel),
            found: quiz.lab.value.0.clone(),
            expected: id.clone(),
        });
    }
    Ok((rel, quiz))
}

/// The answer key beside the quiz `quiz_rel` (`<quiz>.key.yaml`), which only an author's or
/// instructor's checkout holds; `None` when there is none.
pub fn answer_key(
    chapter: &Chapter,
    quiz_rel: &str,
) -> Result<Option<(String, AnswerKey)>, GradeError> {
    let key_rel = format!("{}.key.yaml", quiz_rel.trim_end_matches(".yaml"));
    let Ok(text) = chapter.text(&key_rel) else {
        return Ok(None);
    };
    let key = parse_answer_key(&chapter.shown(&key_rel), text)?;
    Ok(Some((key_rel, key)))
}

/// Reads an answer key's text; `shown` names the file in the error, with the line.
pub fn parse_answer_key(shown: &str, text: &str) -> Result<AnswerKey, GradeError> {
    crate::content::yaml::from_str(text).map_err(|e| {
        let d = crate::content::yaml::to_diagnostic(shown, text, &e, FileKind::AnswerKey);
        GradeError::QuizFile {
            file: format!("{shown}:{}", d.line.max(1)),
            reason: format!("not an answer key: {}", d.message),
        }
    })
}

/// The key's right answers, as answers to judge.
pub fn key_answers(key: &AnswerKey) -> BTreeMap<String, Vec<String>> {
    key.answers
        .iter()
        .map(|a| {
            (
                a.question.value.0.clone(),
                a.correct.value.iter().map(|c| c.value.0.clone()).collect(),
            )
        })
        .collect()
}

/// One judged answer.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    /// The question id.
    pub question: String,
    /// The options picked.
    pub picked: Vec<String>,
    /// Whether they are exactly the right ones.
    pub correct: bool,
    /// Why the right answer is right, when the quiz or the key says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// A whole attempt, judged.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// Each question, in quiz order.
    pub answers: Vec<Judged>,
    /// Right answers.
    pub correct: usize,
    /// Questions.
    pub questions: usize,
    /// The score in percent, rounded down.
    pub score_percent: u8,
    /// The pass mark.
    pub pass_percent: u8,
    /// Whether the score reaches the pass mark.
    pub passed: bool,
}

/// The progress record of a quiz attempt: the answers as given, never a score, so that every
/// reader judges them again.
pub fn attempt_event(answers: &BTreeMap<String, Vec<String>>, first: bool) -> Event {
    Event::QuizAttempt {
        first,
        answers: answers.clone(),
    }
}

/// One answer as written: an option id or a list of them.
struct Picked(Vec<String>);

impl<'de> serde::Deserialize<'de> for Picked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Picked;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an option id, or a list of option ids")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Picked, E> {
                Ok(Picked(vec![v.to_owned()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Picked, A::Error> {
                let mut out = Vec::new();
                while let Some(option) = seq.next_element::<String>()? {
                    out.push(option);
                }
                Ok(Picked(out))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// The answers of a file, in order, each with the line of its question id.
struct Entries(Vec<(crate::spanned::Spanned<String>, Picked)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map from question id to the option ids picked")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// Whether `picked` is the right answer to `question` of the practice quiz of lab `lab`, by
/// its feedback digest; `None` for a question without one (a graded quiz's).
pub fn is_correct(lab: &str, question: &Question, picked: &[String]) -> Option<bool> {
    let feedback = question.feedback.as_ref()?;
    Some(
        !picked.is_empty()
            && feedback_digest(lab, &question.id.0, picked.iter().map(String::as_str))
                == feedback.value,
    )
}

/// Judges `answers` (question id -> option ids) of a practice quiz by its feedback digests;
/// unanswered questions count as wrong. `None` for a graded quiz, which only its key judges.
pub fn judge(quiz: &Quiz, answers: &BTreeMap<String, Vec<String>>) -> Option<Attempt> {
    if quiz.mode == QuizMode::Graded {
        return None;
    }
    let lab = &quiz.lab.value.0;
    Some(score(quiz, answers, |q, picked| {
        (
            is_correct(lab, q, picked).unwrap_or(false),
            q.explanation.as_ref().map(|e| e.value.clone()),
        )
    }))
}

/// Judges `answers` with the instructor's answer `key` (either mode): a question is right when
/// exactly its keyed options are picked. Explanations come from the key, else the quiz.
pub fn judge_with_key(
    quiz: &Quiz,
    key: &AnswerKey,
    answers: &BTreeMap<String, Vec<String>>,
) -> Attempt {
    score(quiz, answers, |q, picked| {
        let keyed = key.answers.iter().find(|a| a.question.value.0 == q.id.0);
        let right = keyed.is_some_and(|a| {
            let mut want: Vec<&str> = a.correct.value.iter().map(|c| c.value.0.as_str()).collect();
            let mut got: Vec<&str> = picked.iter().map(String::as_str).collect();
            want.sort_unstable();
            want.dedup();
            got.sort_unstable();
            got.dedup();
            !got.is_empty() && want == got
        });
        let explanation = keyed
            .and_then(|a| a.explanation.clone())
            .or_else(|| q.explanation.as_ref().map(|e| e.value.clone()));
        (right, explanation)
    })
}

/// An attempt scored by `right` (whether an answer is right, and its explanation).
fn score(
    quiz: &Quiz,
    answers: &BTreeMap<String, Vec<String>>,
    right: impl Fn(&Question, &[String]) -> (bool, Option<String>),
) -> Attempt {
    let judged: Vec<Judged> = quiz
        .questions
        .iter()
        .map(|q| {
            let picked = answers.get(&q.id.0).cloned().unwrap_or_default();
            let (correct, explanation) = right(q, &picked);
            Judged {
                question: q.id.0.clone(),
                correct,
                explanation,
                picked,
            }
        })
        .collect();
    let correct = judged.iter().filter(|j| j.correct).count();
    let questions = judged.len();
    let score_percent = (correct * 100).checked_div(questions).unwrap_or(0) as u8;
    let pass_percent = quiz.pass_percent.value;
    Attempt {
        answers: judged,
        correct,
        questions,
        score_percent,
        pass_percent,
        passed: score_percent >= pass_percent,
    }
}

/// Reads an answers file: a YAML (or JSON) map from question id to one option id or a list of
/// them. Unknown questions or options, and several options for a single-choice question, are
/// errors that name the line.
pub fn parse_answers(
    shown: &str,
    text: &str,
    quiz: &Quiz,
) -> Result<BTreeMap<String, Vec<String>>, GradeError> {
    let raw: Entries = crate::content::yaml::from_str(text).map_err(|e| {
        let d = crate::content::yaml::to_diagnostic(shown, text, &e, FileKind::Unknown);
        GradeError::Answers {
            at: format!("{shown}:{}", d.line.max(1)),
            problem: format!(
                "not an answers file: {}; write one line per question, e.g. `q-promote-by-digest: a` or `q-mutable-tags: [b, c]`",
                d.message
            ),
        }
    })?;
    let mut answers = BTreeMap::new();
    for (id, Picked(picked)) in raw.0 {
        let at = format!("{shown}:{}", id.line);
        let Some(question) = quiz.questions.iter().find(|q| q.id.0 == id.value) else {
            let known: Vec<&str> = quiz.questions.iter().map(|q| q.id.0.as_str()).collect();
            let hint = crate::content::diagnostic::did_you_mean(&id.value, known.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err(GradeError::Answers {
                at,
                problem: format!(
                    "the quiz has no question `{}`; {hint}the questions are: {}",
                    id.value,
                    known.join(", ")
                ),
            });
        };
        for option in &picked {
            if !question
                .options
                .value
                .iter()
                .any(|o| o.id.value.0 == *option)
            {
                let ids: Vec<&str> = question
                    .options
                    .value
                    .iter()
                    .map(|o| o.id.value.0.as_str())
                    .collect();
                return Err(GradeError::Answers {
                    at,
                    problem: format!(
                        "question `{}` has no option `{option}`; its options are {}",
                        id.value,
                        ids.join(", ")
                    ),
                });
            }
        }
        if question.choice == Choice::Single && picked.len() > 1 {
            return Err(GradeError::Answers {
                at,
                problem: format!(
                    "question `{}` takes one answer, not {}",
                    id.value,
                    picked.len()
                ),
            });
        }
        if answers.insert(id.value.clone(), picked).is_some() {
            return Err(GradeError::Answers {
                at,
                problem: format!(
                    "question `{}` is answered twice; keep one line for it",
                    id.value
                ),
            });
        }
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIZ: &str = r#"schema_version: 1
lab: ch99
title: T
pass_percent: 50
questions:
  - id: q1
    objective: o
    choice: single
    prompt: P1
    options: [{id: a, text: A}, {id: b, text: B}]
    explanation: E1
    feedback: FEEDBACK1
  - id: q2
    objective: o
    choice: multiple
    prompt: P2
    options: [{id: a, text: A}, {id: b, text: B}, {id: c, text: C}]
    explanation: E2
    feedback: FEEDBACK2
"#;

    fn quiz() -> Quiz {
        let text = QUIZ
            .replace("FEEDBACK1", &feedback_digest("ch99", "q1", ["b"]))
            .replace("FEEDBACK2", &feedback_digest("ch99", "q2", ["a", "c"]));
        serde_saphyr::from_str(&text).unwrap()
    }

    fn answers(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(q, a)| ((*q).to_owned(), a.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    fn graded() -> (Quiz, AnswerKey) {
        let text = QUIZ
            .replace("pass_percent: 50", "mode: graded\npass_percent: 50")
            .lines()
            .filter(|l| !l.contains("feedback:") && !l.contains("explanation:"))
            .collect::<Vec<_>>()
            .join("\n");
        let quiz: Quiz = serde_saphyr::from_str(&text).unwrap();
        let key: AnswerKey = serde_saphyr::from_str(
            "schema_version: 1\nlab: ch99\nanswers:\n  - {question: q1, correct: [b], explanation: K1}\n  - {question: q2, correct: [c, a]}\n",
        )
        .unwrap();
        (quiz, key)
    }

    // The key could be recovered from the digests; a graded quiz has none, and `lab` cannot
    // judge it: only the instructor's key does.
    #[test]
    fn a_graded_quiz_is_judged_only_with_the_key() {
        let (quiz, key) = graded();
        let a = answers(&[("q1", &["b"]), ("q2", &["a", "c"])]);
        assert!(judge(&quiz, &a).is_none());
        assert_eq!(is_correct("ch99", &quiz.questions[0], &["b".into()]), None);
        let all = judge_with_key(&quiz, &key, &a);
        assert_eq!((all.correct, all.score_percent, all.passed), (2, 100, true));
        assert_eq!(all.answers[0].explanation.as_deref(), Some("K1"));
        assert_eq!(all.answers[1].explanation, None);
        let wrong = judge_with_key(&quiz, &key, &answers(&[("q2", &["a", "c", "b"])]));
        assert_eq!((wrong.correct, wrong.passed), (0, false));
    }

    #[test]
    fn answers_are_judged_by_the_feedback_digests() {
        let q = quiz();
        let judged = |a| judge(&q, &a).expect("a practice quiz is judged");
        let all = judged(answers(&[("q1", &["b"]), ("q2", &["c", "a"])]));
        assert_eq!((all.correct, all.score_percent, all.passed), (2, 100, true));
        let half = judged(answers(&[("q1", &["b"]), ("q2", &["a"])]));
        assert_eq!(
            (half.correct, half.score_percent, half.passed),
            (1, 50, true)
        );
        let none = judged(answers(&[("q2", &["a", "b", "c"])]));
        assert_eq!(
            (none.correct, none.score_percent, none.passed),
            (0, 0, false)
        );
        assert!(
            none.answers[0].picked.is_empty(),
            "unanswered is kept as empty"
        );
    }

    #[test]
    fn an_answers_file_with_a_wrong_id_names_the_line_and_the_choices() {
        let q = quiz();
        let err = parse_answers("answers.yaml", "q1: b\nq3: a\n", &q)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("answers.yaml:2: the quiz has no question `q3`"),
            "{err}"
        );
        assert!(err.contains("did you mean `q1`?") || err.contains("the questions are: q1, q2"));
        let err = parse_answers("answers.yaml", "q2: [a, d]\n", &q)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "answers.yaml:1: question `q2` has no option `d`; its options are a, b, c"
        );
        let err = parse_answers("answers.yaml", "q1: [a, b]\n", &q)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "answers.yaml:1: question `q1` takes one answer, not 2");
        let ok = parse_answers("answers.yaml", "q1: b\nq2: [a, c]\n", &q).unwrap();
        assert_eq!(ok, answers(&[("q1", &["b"]), ("q2", &["a", "c"])]));
    }

    // Answers-file errors showed parser internals ("untagged enum OneOrMany", "set
    // DuplicateKeyPolicy in Options").
    #[test]
    fn answers_file_errors_read_as_sentences_with_a_line() {
        let q = quiz();
        for (text, line) in [("q1: b\nq1: a\n", 2), ("q1: b\nq2: {a: c}\n", 2)] {
            let err = parse_answers("answers.yaml", text, &q)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("answers.yaml:{line}: ")), "{err}");
            for internal in ["untagged", "OneOrMany", "DuplicateKeyPolicy", "Options"] {
                assert!(!err.contains(internal), "{err}");
            }
        }
    }
}
