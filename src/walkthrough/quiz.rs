//! The chapter quiz for self-study: answers are judged by the feedback digests the learner's
//! quiz file carries (the answer key never ships in `lab`), the explanation follows each answer,
//! and the first attempt is what the progress records as counting; later ones are practice.

use std::collections::BTreeMap;

use serde::Serialize;

use super::WalkError;
use super::progress::Event;
use crate::content::chapter::Chapter;
use crate::content::model::{Choice, Question, Quiz, feedback_digest};

/// The chapter's quiz, as the learner has it (the lab's `quiz:` file; never its answer key).
pub fn find(chapter: &Chapter) -> Result<(String, Quiz), WalkError> {
    let id = &chapter.lab.id.value.0;
    let rel = chapter
        .resolve(&chapter.lab.quiz.value.0)
        .map_err(|e| WalkError::Quiz(e.to_string()))?;
    let text = chapter
        .text(&rel)
        .map_err(|e| WalkError::Quiz(e.to_string()))?;
    let quiz: Quiz = serde_saphyr::from_str(text).map_err(|e| {
        WalkError::Quiz(format!(
            "{}: not a quiz ({e}); `lab validate` says more",
            chapter.shown(&rel)
        ))
    })?;
    if quiz.lab.value.0 != *id {
        return Err(WalkError::Quiz(format!(
            "{} is the quiz of lab `{}`, not `{id}`; `lab validate` says more",
            chapter.shown(&rel),
            quiz.lab.value.0
        )));
    }
    Ok((rel, quiz))
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

impl Attempt {
    /// The progress record of this attempt.
    pub fn event(&self, first: bool) -> Event {
        Event::QuizAttempt {
            first,
            answers: self
                .answers
                .iter()
                .map(|a| (a.question.clone(), a.picked.clone()))
                .collect(),
            correct: self.correct,
            questions: self.questions,
            score_percent: self.score_percent,
            pass_percent: self.pass_percent,
        }
    }
}

/// One answer as written: an option id or a list of them.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The answers of a file, in order, each with the line of its question id.
struct Entries(Vec<(crate::spanned::Spanned<String>, OneOrMany)>);

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

/// Whether `picked` is the right answer to `question` of the quiz of lab `lab`.
pub fn is_correct(lab: &str, question: &Question, picked: &[String]) -> bool {
    !picked.is_empty()
        && feedback_digest(lab, &question.id.0, picked.iter().map(String::as_str))
            == question.feedback.value
}

/// Judges `answers` (question id -> option ids); unanswered questions count as wrong.
pub fn judge(quiz: &Quiz, answers: &BTreeMap<String, Vec<String>>) -> Attempt {
    let lab = &quiz.lab.value.0;
    let judged: Vec<Judged> = quiz
        .questions
        .iter()
        .map(|q| {
            let picked = answers.get(&q.id.0).cloned().unwrap_or_default();
            Judged {
                question: q.id.0.clone(),
                correct: is_correct(lab, q, &picked),
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
) -> Result<BTreeMap<String, Vec<String>>, WalkError> {
    let raw: Entries = serde_saphyr::from_str(text).map_err(|e| {
        WalkError::Quiz(format!(
            "{shown}: not an answers file ({e}); write one line per question, e.g. `q-promote-by-digest: a` or `q-mutable-tags: [b, c]`"
        ))
    })?;
    let mut answers = BTreeMap::new();
    for (id, picked) in raw.0 {
        let picked = match picked {
            OneOrMany::One(o) => vec![o],
            OneOrMany::Many(v) => v,
        };
        let at = format!("{shown}:{}", id.line);
        let Some(question) = quiz.questions.iter().find(|q| q.id.0 == id.value) else {
            let known: Vec<&str> = quiz.questions.iter().map(|q| q.id.0.as_str()).collect();
            let hint = crate::content::diagnostic::did_you_mean(&id.value, known.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err(WalkError::Quiz(format!(
                "{at}: the quiz has no question `{}`; {hint}the questions are: {}",
                id.value,
                known.join(", ")
            )));
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
                return Err(WalkError::Quiz(format!(
                    "{at}: question `{}` has no option `{option}`; its options are {}",
                    id.value,
                    ids.join(", ")
                )));
            }
        }
        if question.choice == Choice::Single && picked.len() > 1 {
            return Err(WalkError::Quiz(format!(
                "{at}: question `{}` takes one answer, not {}",
                id.value,
                picked.len()
            )));
        }
        if answers.insert(id.value.clone(), picked).is_some() {
            return Err(WalkError::Quiz(format!(
                "{at}: question `{}` is answered twice; keep one line for it",
                id.value
            )));
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

    #[test]
    fn answers_are_judged_by_the_feedback_digests() {
        let q = quiz();
        let all = judge(&q, &answers(&[("q1", &["b"]), ("q2", &["c", "a"])]));
        assert_eq!((all.correct, all.score_percent, all.passed), (2, 100, true));
        let half = judge(&q, &answers(&[("q1", &["b"]), ("q2", &["a"])]));
        assert_eq!(
            (half.correct, half.score_percent, half.passed),
            (1, 50, true)
        );
        let none = judge(&q, &answers(&[("q2", &["a", "b", "c"])]));
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
}
