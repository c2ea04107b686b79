//! The learner's working folder, where evidence files are saved. Reads are bounded and never
//! leave the folder.

use std::path::{Component, Path, PathBuf};

use crate::engine::ObserveError;
use crate::input::{self, InputError};
use crate::walkthrough::progress::{Event, Progress};

/// The most an evidence file may hold.
pub const EVIDENCE_LIMIT: u64 = 1024 * 1024;

/// A working folder.
pub struct FileWorkdir {
    /// Its root.
    pub root: PathBuf,
    /// The chapter whose progress record holds the quiz attempt.
    pub chapter: String,
}

impl crate::engine::Workdir for FileWorkdir {
    fn read(&self, path: &str) -> Result<Option<String>, ObserveError> {
        let rel = Path::new(path);
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(ObserveError::Failed {
                what: format!("the evidence path `{path}`"),
                reason: "it must stay inside the working folder".into(),
            });
        }
        match input::read_text(&self.root.join(rel), EVIDENCE_LIMIT, "an evidence file") {
            Ok(text) => Ok(Some(text)),
            Err(InputError::Unreadable { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(None)
            }
            Err(e) => Err(ObserveError::Failed {
                what: path.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    /// The first quiz attempt of the progress record (`lab quiz`, the walkthrough's `t`).
    fn quiz(&self) -> Result<Option<(u8, u8)>, ObserveError> {
        let progress =
            Progress::load(&self.root, &self.chapter).map_err(|e| ObserveError::Failed {
                what: "the progress record".into(),
                reason: e.to_string(),
            })?;
        Ok(match progress.first_quiz() {
            Some(Event::QuizAttempt {
                score_percent,
                pass_percent,
                ..
            }) => Some((*score_percent, *pass_percent)),
            _ => None,
        })
    }
}
