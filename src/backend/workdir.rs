//! The learner's working folder, where evidence files are saved, and their progress record.
//! Reads are bounded and never leave the folder: a path that climbs out is refused, and a
//! symbolic link that leads out of it is not followed. Offline: the grader reads a
//! submission's files through the same code.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::content::chapter::Chapter;
use crate::content::model::{AnswerKey, Quiz};
use crate::engine::{ObserveError, QuizSeen};
use crate::input::{self, InputError};
use crate::record::{Break, Event, Progress, RecordError};

/// The most an evidence file may hold.
pub const EVIDENCE_LIMIT: u64 = 1024 * 1024;

/// A working folder.
pub struct FileWorkdir {
    /// Its root.
    pub root: PathBuf,
    /// The chapter whose progress record holds the quiz attempt.
    pub chapter: String,
    /// The chapter's step ids, in order, to verify the record's chain.
    pub steps: Vec<String>,
    /// The chapter's quiz, to judge the recorded answers again.
    pub quiz: Option<Quiz>,
}

impl FileWorkdir {
    /// The working folder `root` of `chapter`.
    pub fn of(root: PathBuf, chapter: &Chapter) -> Self {
        FileWorkdir {
            root,
            chapter: chapter.lab.id.value.0.clone(),
            steps: chapter
                .lab
                .step_ids()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            quiz: crate::grade::quiz::find(chapter).ok().map(|(_, q)| q),
        }
    }

    /// The file at `path` (relative to the root) as a path that stays inside the root once
    /// every link is followed, or `None` when it does not exist.
    fn inside(&self, path: &str) -> Result<Option<PathBuf>, ObserveError> {
        let rel = evidence_path(path)?;
        let unusable = |reason: String| ObserveError::Unusable {
            what: path.to_owned(),
            reason,
        };
        let root = std::fs::canonicalize(&self.root)
            .map_err(|e| unusable(format!("the working folder cannot be read: {e}")))?;
        let resolved = match std::fs::canonicalize(root.join(rel)) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A dangling link is there, but leads nowhere.
                return match std::fs::symlink_metadata(root.join(rel)) {
                    Ok(_) => Err(unusable(
                        "it is a link to nothing; save the step's output as a regular file".into(),
                    )),
                    Err(_) => Ok(None),
                };
            }
            Err(e) => return Err(unusable(format!("cannot be read: {e}"))),
        };
        if !resolved.starts_with(&root) {
            return Err(unusable(
                "it is a link that leads outside the working folder, and `lab` reads evidence only inside it; save the step's output as a regular file".into(),
            ));
        }
        Ok(Some(resolved))
    }
}

impl crate::engine::Workdir for FileWorkdir {
    fn read(&self, path: &str) -> Result<Option<String>, ObserveError> {
        let Some(resolved) = self.inside(path)? else {
            return Ok(None);
        };
        match input::read_text(&resolved, EVIDENCE_LIMIT, "an evidence file") {
            Ok(text) => Ok(Some(text)),
            Err(InputError::Unreadable { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(None)
            }
            Err(e) => Err(ObserveError::Unusable {
                what: path.to_owned(),
                reason: match e {
                    InputError::NotAFile { what, .. } => {
                        format!("it is {what}, not a regular file")
                    }
                    InputError::TooLarge { size, limit, .. } => {
                        format!(
                            "it is {size} bytes, more than the {limit} an evidence file may hold"
                        )
                    }
                    InputError::NotUtf8 { .. } => "it is not UTF-8 text".into(),
                    InputError::Unreadable { source, .. } => format!("cannot be read: {source}"),
                },
            }),
        }
    }

    /// The first quiz attempt of the progress record, judged again from its answers; the
    /// record must be intact up to it.
    fn quiz(&self) -> Result<Option<QuizSeen>, ObserveError> {
        // A record `lab` cannot read is not as `lab` wrote it.
        let progress = Progress::load(&self.root, &self.chapter)
            .map_err(|e: RecordError| ObserveError::Tampered(e.to_string()))?;
        let shown = Progress::path(Path::new(""), &self.chapter);
        let steps: Vec<&str> = self.steps.iter().map(String::as_str).collect();
        let breaks = progress.verify(&steps);
        let Some(answers) = first_attempt(&progress, &breaks, &shown.display().to_string())? else {
            return Ok(None);
        };
        quiz_seen(&self.chapter, self.quiz.as_ref(), None, answers).map(Some)
    }
}

/// `path` as a relative path inside the working folder; a lab file's path that is empty or
/// climbs out is the course's mistake.
pub(super) fn evidence_path(path: &str) -> Result<&Path, ObserveError> {
    let rel = Path::new(path);
    if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(ObserveError::Content {
            what: format!("the evidence path `{path}`"),
            reason: "it must be a relative path inside the working folder".into(),
        });
    }
    Ok(rel)
}

/// The answers of the first quiz attempt of `progress` (`record` names it in messages); the
/// record must be intact up to it.
pub(super) fn first_attempt<'p>(
    progress: &'p Progress,
    breaks: &[Break],
    record: &str,
) -> Result<Option<&'p BTreeMap<String, Vec<String>>>, ObserveError> {
    let first = progress
        .records
        .iter()
        .position(|r| matches!(r.event, Event::QuizAttempt { first: true, .. }));
    let Some(at) = first else {
        return Ok(None);
    };
    // The chain up to the attempt (its record at position `at + 1`): the record's breaks
    // there are those of the records up to it (see `Break::position`).
    if let Some(first_break) = breaks
        .iter()
        .find(|b| b.position() <= at + 1 && !matches!(b, Break::Skipped { .. }))
    {
        return Err(ObserveError::Tampered(format!(
            "{record} is not intact ({first_break}); `lab status` shows where the chain breaks"
        )));
    }
    match &progress.records[at].event {
        Event::QuizAttempt { answers, .. } => Ok(Some(answers)),
        _ => Ok(None),
    }
}

/// `answers` to the quiz of lab `chapter` as a quiz check sees them: judged with the
/// instructor's answer `key` when there is one, else by the quiz's own feedback digests (a
/// practice quiz), else only counted (a graded quiz, which only its key judges).
pub(super) fn quiz_seen(
    chapter: &str,
    quiz: Option<&Quiz>,
    key: Option<&AnswerKey>,
    answers: &BTreeMap<String, Vec<String>>,
) -> Result<QuizSeen, ObserveError> {
    let Some(quiz) = quiz else {
        return Err(ObserveError::Content {
            what: "the quiz".into(),
            reason: format!("lab {chapter} has no quiz to judge the answers with"),
        });
    };
    let judged = match key {
        Some(key) => Some(crate::grade::quiz::judge_with_key(quiz, key, answers)),
        None => crate::grade::quiz::judge(quiz, answers),
    };
    Ok(match judged {
        Some(attempt) => QuizSeen::Judged {
            score: attempt.score_percent,
            pass_mark: attempt.pass_percent,
        },
        None => QuizSeen::Recorded {
            answered: quiz
                .questions
                .iter()
                .filter(|q| answers.get(&q.id.0).is_some_and(|a| !a.is_empty()))
                .count(),
            questions: quiz.questions.len(),
        },
    })
}
