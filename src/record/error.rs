//! Why the learner's record could not be read or written.

use std::path::PathBuf;

use crate::exit_code;

/// Why the learner's record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file could not be read (not a file, too large, unreadable): exit 2.
    #[error("{0}")]
    Unreadable(String),
    /// The file is not a progress record `lab` understands: exit 2. It is never overwritten.
    #[error(
        "{} is not a progress file ({reason}); `lab` will not overwrite it: move it away to start the lab's progress again",
        path.display()
    )]
    NotARecord {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, without quoting it.
        reason: String,
    },
    /// Another format version: exit 2.
    #[error(
        "{} is progress format {found}, and this `lab` reads format {}; use the `lab` that wrote it",
        path.display(),
        crate::record::PROGRESS_VERSION
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version it says.
        found: u32,
    },
    /// Another chapter's record: exit 2.
    #[error("{} is the progress of chapter `{found}`, not `{expected}`; move it back where it belongs", path.display())]
    OtherChapter {
        /// The file.
        path: PathBuf,
        /// The chapter it says.
        found: String,
        /// The chapter asked for.
        expected: String,
    },
    /// The file could not be written: exit 5.
    #[error("cannot write {}: {source}; check that the folder is writable", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another `lab` kept the record locked for longer than a write takes: exit 5.
    #[error(
        "{} is locked by another `lab` for more than {seconds} s; let it finish (or end it), then run this again",
        path.display()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// How long this one waited.
        seconds: u64,
    },
    /// Appending would make the record larger than `lab` reads back: exit 5.
    #[error(
        "{} would grow past {limit} bytes, more than `lab` reads back; nothing was added. Keep the file (it is your record) and ask your instructor",
        path.display()
    )]
    Full {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
}

impl RecordError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            RecordError::Unreadable(_)
            | RecordError::NotARecord { .. }
            | RecordError::Version { .. }
            | RecordError::OtherChapter { .. } => exit_code::BAD_CONTENT_OR_USAGE,
            RecordError::Write { .. } | RecordError::Locked { .. } | RecordError::Full { .. } => {
                exit_code::WRITE_FAILED
            }
        }
    }
}
