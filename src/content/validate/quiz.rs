//! Rules for quizzes and their answer keys.

use std::collections::{BTreeMap, BTreeSet};

use crate::content::diagnostic::{Diagnostic, did_you_mean};
use crate::content::load::{LoadedCourse, at};
use crate::content::model::{AnswerKey, Choice, Lab, Question, Quiz, QuizMode, feedback_digest};

/// Where the answer key of a quiz lives: `quizzes/ch14.yaml` -> `quizzes/ch14.key.yaml`.
pub(super) fn key_path(quiz_file: &str) -> String {
    let stem = quiz_file
        .strip_suffix(".yaml")
        .or_else(|| quiz_file.strip_suffix(".yml"))
        .unwrap_or(quiz_file);
    format!("{stem}.key.yaml")
}

pub(super) fn check(
    course: &LoadedCourse,
    file: &str,
    quiz: &Quiz,
    lab: Option<&Lab>,
    out: &mut Vec<Diagnostic>,
) {
    if quiz.schema_version.value != 1 {
        out.push(
            Diagnostic::error(
                "schema/version",
                file,
                at(&quiz.schema_version),
                "unsupported schema_version",
            )
            .help("set `schema_version: 1`"),
        );
    }
    if !(1..=100).contains(&quiz.pass_percent.value) {
        out.push(
            Diagnostic::error(
                "quiz/pass-mark",
                file,
                at(&quiz.pass_percent),
                format!("pass mark {}% is outside 1-100", quiz.pass_percent.value),
            )
            .help("set `pass_percent` to a percentage between 1 and 100, e.g. 75"),
        );
    }
    let mut ids = BTreeMap::new();
    for question in &quiz.questions {
        if let Some(first) = ids.insert(question.id.0.as_str(), question.id.line) {
            out.push(
                Diagnostic::error(
                    "id/duplicate",
                    file,
                    at(&question.id),
                    format!(
                        "question id `{}` is already used on line {first}",
                        question.id.0
                    ),
                )
                .help("give each question its own id"),
            );
        }
        check_options(file, question, out);
        check_mode(file, quiz.mode, question, out);
    }
    if let Some(lab) = lab {
        check_against_lab(file, quiz, lab, out);
    }
    let key_file = key_path(file);
    match course.keys.get(&key_file) {
        Some(key) => check_key(&key_file, key, file, quiz, out),
        // The key is there but did not parse; its own error says so.
        None if course.exists(&key_file) => {}
        None => out.push(
            Diagnostic::warning("quiz/no-answer-key", file, (0, 0), format!("no answer key found at {key_file}"))
                .help("instructors grade with the key; course authors keep it beside the quiz (it is never embedded in `lab`)"),
        ),
    }
}

/// A practice question says right or not at once, so it needs its digest and explanation; a
/// graded one must hold neither, since both give the answer away before grading.
fn check_mode(file: &str, mode: QuizMode, question: &Question, out: &mut Vec<Diagnostic>) {
    match mode {
        QuizMode::Practice => {
            match &question.feedback {
                Some(feedback) if !is_digest(feedback) => out.push(
                    Diagnostic::error(
                        "quiz/feedback-format",
                        file,
                        at(feedback),
                        "`feedback` is not a `sha256:<64 hex>` digest",
                    )
                    .help("run `lab validate` with the answer key present; it prints the digest to use"),
                ),
                Some(_) => {}
                None => out.push(
                    Diagnostic::error(
                        "quiz/feedback-missing",
                        file,
                        at(&question.id),
                        format!("practice question `{}` has no `feedback` digest", question.id.0),
                    )
                    .help("add `feedback:` (`lab validate` prints the digest when the answer key is present), or make the quiz `mode: graded`"),
                ),
            }
            if question.explanation.is_none() {
                out.push(
                    Diagnostic::error(
                        "quiz/explanation-missing",
                        file,
                        at(&question.id),
                        format!("practice question `{}` has no `explanation`", question.id.0),
                    )
                    .help("add `explanation:`: a practice quiz shows it after each answer"),
                );
            }
        }
        QuizMode::Graded => {
            if let Some(feedback) = &question.feedback {
                out.push(
                    Diagnostic::error(
                        "quiz/graded-feedback",
                        file,
                        at(feedback),
                        "a graded quiz must not carry `feedback`: its digest lets anyone recover the answer offline",
                    )
                    .help("delete the line; the answer key judges a graded quiz"),
                );
            }
            if let Some(explanation) = &question.explanation {
                out.push(
                    Diagnostic::error(
                        "quiz/graded-explanation",
                        file,
                        at(explanation),
                        "a graded quiz must not carry `explanation`: it gives the answer away before grading",
                    )
                    .help("move it to the answer key, as this question's `explanation:`; the learner reads it with the grade"),
                );
            }
        }
    }
}

fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

fn check_options(file: &str, question: &Question, out: &mut Vec<Diagnostic>) {
    let options = &question.options;
    if options.len() < 2 {
        out.push(
            Diagnostic::error(
                "quiz/too-few-options",
                file,
                at(options),
                format!(
                    "question `{}` has {} option(s)",
                    question.id.0,
                    options.len()
                ),
            )
            .help("give every question at least two options"),
        );
    }
    let mut ids = BTreeMap::new();
    let mut texts = BTreeMap::new();
    for option in options.iter() {
        if let Some(first) = ids.insert(option.id.0.as_str(), option.id.line) {
            out.push(
                Diagnostic::error(
                    "quiz/duplicate-option",
                    file,
                    at(&option.id),
                    format!(
                        "option id `{}` is already used on line {first}",
                        option.id.0
                    ),
                )
                .help("give each option of a question its own id"),
            );
        }
        let normalized = option
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        if let Some(first) = texts.insert(normalized, option.text.line) {
            out.push(
                Diagnostic::error(
                    "quiz/duplicate-option",
                    file,
                    at(&option.text),
                    format!("this option repeats the option on line {first}"),
                )
                .help(
                    "reword or remove one of them; identical options cannot both be right or wrong",
                ),
            );
        }
    }
}

fn check_against_lab(file: &str, quiz: &Quiz, lab: &Lab, out: &mut Vec<Diagnostic>) {
    if quiz.lab.0 != lab.id.0 {
        out.push(
            Diagnostic::error(
                "ref/unknown-lab",
                file,
                at(&quiz.lab),
                format!(
                    "the quiz says it belongs to `{}` but lab `{}` uses it",
                    quiz.lab.0, lab.id.0
                ),
            )
            .help(format!("set `lab: {}`", lab.id.0)),
        );
    }
    let objectives: Vec<&str> = lab.objectives.iter().map(|o| o.id.0.as_str()).collect();
    let mut covered = BTreeSet::new();
    for question in &quiz.questions {
        let objective = question.objective.0.as_str();
        covered.insert(objective);
        if !objectives.contains(&objective) {
            let help = did_you_mean(objective, objectives.iter().copied()).map_or_else(
                || format!("use one of the lab's objectives: {}", objectives.join(", ")),
                |b| format!("did you mean `{b}`?"),
            );
            out.push(
                Diagnostic::error(
                    "ref/unknown-objective",
                    file,
                    at(&question.objective),
                    format!("lab `{}` has no objective `{objective}`", lab.id.0),
                )
                .help(help),
            );
        }
    }
    for objective in &lab.objectives {
        if !covered.contains(objective.id.0.as_str()) {
            out.push(
                Diagnostic::error(
                    "quiz/objective-uncovered",
                    file,
                    (0, 0),
                    format!(
                        "no question tests objective `{}` of lab `{}`",
                        objective.id.0, lab.id.0
                    ),
                )
                .help("add a question with `objective: ` set to it"),
            );
        }
    }
}

fn check_key(
    key_file: &str,
    key: &AnswerKey,
    quiz_file: &str,
    quiz: &Quiz,
    out: &mut Vec<Diagnostic>,
) {
    if key.lab.0 != quiz.lab.0 {
        out.push(
            Diagnostic::error(
                "ref/unknown-lab",
                key_file,
                at(&key.lab),
                format!(
                    "the key is for lab `{}` but its quiz is for `{}`",
                    key.lab.0, quiz.lab.0
                ),
            )
            .help(format!("set `lab: {}`", quiz.lab.0)),
        );
    }
    let questions: BTreeMap<&str, &Question> = quiz
        .questions
        .iter()
        .map(|q| (q.id.0.as_str(), q))
        .collect();
    let mut answered = BTreeSet::new();
    for answer in &key.answers {
        let name = answer.question.0.as_str();
        let Some(question) = questions.get(name) else {
            let help = did_you_mean(name, questions.keys().copied()).map_or_else(
                || "remove this entry".to_owned(),
                |b| format!("did you mean `{b}`?"),
            );
            out.push(
                Diagnostic::error(
                    "ref/unknown-question",
                    key_file,
                    at(&answer.question),
                    format!("{quiz_file} has no question `{name}`"),
                )
                .help(help),
            );
            continue;
        };
        if !answered.insert(name) {
            out.push(
                Diagnostic::error(
                    "id/duplicate",
                    key_file,
                    at(&answer.question),
                    format!("question `{name}` is answered twice"),
                )
                .help("keep one entry per question"),
            );
        }
        check_answer(key_file, quiz_file, quiz, question, answer, out);
    }
    for question in &quiz.questions {
        if !answered.contains(question.id.0.as_str()) {
            out.push(
                Diagnostic::error(
                    "quiz/missing-answer",
                    key_file,
                    (0, 0),
                    format!("question `{}` has no answer in the key", question.id.0),
                )
                .help(format!(
                    "add `- question: {}` with its `correct:` option ids",
                    question.id.0
                )),
            );
        }
    }
}

fn check_answer(
    key_file: &str,
    quiz_file: &str,
    quiz: &Quiz,
    question: &Question,
    answer: &crate::content::model::KeyedAnswer,
    out: &mut Vec<Diagnostic>,
) {
    let options: Vec<&str> = question.options.iter().map(|o| o.id.0.as_str()).collect();
    let mut seen = BTreeSet::new();
    for correct in answer.correct.iter() {
        if !options.contains(&correct.0.as_str()) {
            let help = did_you_mean(&correct.0, options.iter().copied()).map_or_else(
                || format!("the options are: {}", options.join(", ")),
                |b| format!("did you mean `{b}`?"),
            );
            out.push(
                Diagnostic::error(
                    "quiz/answer-not-an-option",
                    key_file,
                    at(correct),
                    format!(
                        "`{}` is not an option of question `{}`",
                        correct.0, question.id.0
                    ),
                )
                .help(help),
            );
        }
        if !seen.insert(correct.0.as_str()) {
            out.push(
                Diagnostic::error(
                    "quiz/answer-count",
                    key_file,
                    at(correct),
                    format!("`{}` is listed twice", correct.0),
                )
                .help("list each correct option once"),
            );
        }
    }
    let count_ok = match question.choice {
        Choice::Single => seen.len() == 1,
        Choice::Multiple => !seen.is_empty(),
    };
    if !count_ok {
        let want = if question.choice == Choice::Single {
            "exactly one correct option"
        } else {
            "at least one correct option"
        };
        out.push(
            Diagnostic::error(
                "quiz/answer-count",
                key_file,
                at(&answer.correct),
                format!(
                    "question `{}` is `{:?}` choice and needs {want}, not {}",
                    question.id.0,
                    question.choice,
                    seen.len()
                )
                .to_lowercase(),
            )
            .help("fix the key, or change `choice:` in the quiz"),
        );
    }
    let expected = feedback_digest(&quiz.lab.0, &question.id.0, seen.iter().copied());
    if let Some(feedback) = &question.feedback
        && is_digest(feedback)
        && feedback.value != expected
    {
        out.push(
            Diagnostic::error("quiz/feedback-mismatch", quiz_file, at(feedback), format!("the feedback digest of `{}` does not match the answer key", question.id.0))
                .help(format!("self-study would mark the keyed answer wrong; if the key is right, set `feedback: \"{expected}\"`")),
        );
    }
    if quiz.mode == QuizMode::Graded && answer.explanation.is_none() {
        out.push(
            Diagnostic::warning(
                "quiz/key-explanation",
                key_file,
                at(&answer.question),
                format!("question `{}` of a graded quiz has no `explanation` in the key", question.id.0),
            )
            .help("add `explanation:`: the learner reads it with the grade, since the quiz itself explains nothing"),
        );
    }
}

/// An answer key with no quiz beside it.
pub(super) fn check_orphan_key(
    course: &LoadedCourse,
    file: &str,
    key: &AnswerKey,
    out: &mut Vec<Diagnostic>,
) {
    let quiz_file = file.replace(".key.yaml", ".yaml");
    // A quiz that exists but did not parse has its own error; the key waits for it.
    if !course.exists(&quiz_file) {
        out.push(
            Diagnostic::error(
                "ref/missing-file",
                file,
                at(&key.lab),
                format!("answer key without a quiz: {quiz_file} does not exist"),
            )
            .help("name the key after its quiz (`<quiz>.key.yaml`) in the same folder"),
        );
    }
}
