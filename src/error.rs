//! The top-level error of `lab`: every layer's error converts into it, and it alone decides
//! the process exit code (see [`crate::exit_code`]).

use crate::content::ContentError;
use crate::exit_code;
use crate::supply::SupplyError;

/// Anything that stops a `lab` command before it produced its result.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The course content could not be loaded (missing folder, unreadable file).
    #[error(transparent)]
    Content(#[from] ContentError),
    /// An artifact could not be fetched or did not verify.
    #[error(transparent)]
    Supply(#[from] SupplyError),
    /// A chapter's tests or the admission playground could not run.
    #[error(transparent)]
    Suite(#[from] crate::suite::SuiteError),
    /// The cluster could not be reached, refused, or a wait ran out.
    #[cfg(feature = "live")]
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    /// The walkthrough, its progress file or the quiz could not go on.
    #[error(transparent)]
    Walk(#[from] crate::walkthrough::WalkError),
    /// The user pressed Ctrl-C; what was done so far is recorded.
    #[error("interrupted; what was done so far is recorded, and running the command again resumes")]
    Interrupted,
    /// The async runtime could not start.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeUnavailable),
    /// The command line asked for something impossible.
    #[error("{0}")]
    Usage(String),
    /// Writing output failed (for example a closed pipe or a full disk).
    #[error("could not write {what}: {source}")]
    Output {
        /// What was being written.
        what: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

impl LabError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            LabError::Supply(e) => e.exit_code(),
            LabError::Suite(e) => e.exit_code(),
            #[cfg(feature = "live")]
            LabError::Backend(e) => e.exit_code(),
            LabError::Walk(e) => e.exit_code(),
            LabError::Interrupted => exit_code::INTERRUPTED,
            LabError::Content(_) | LabError::Usage(_) | LabError::Runtime(_) => {
                exit_code::BAD_CONTENT_OR_USAGE
            }
            LabError::Output { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe => {
                exit_code::SUCCESS
            }
            LabError::Output { .. } => exit_code::WRITE_FAILED,
        }
    }
}
