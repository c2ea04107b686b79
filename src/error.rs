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
    /// A submission could not be packed or read.
    #[error(transparent)]
    Submission(#[from] crate::submission::SubmissionError),
    /// A venue bundle could not be read, or is not what it says.
    #[error(transparent)]
    Bundle(#[from] crate::bundle::BundleError),
    /// The user pressed Ctrl-C; what was done so far is recorded.
    #[error("interrupted; what was done so far is recorded, and running the command again resumes")]
    Interrupted,
    /// The async runtime could not start.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeUnavailable),
    /// The command line asked for something impossible.
    #[error("{0}")]
    Usage(String),
    /// This machine lacks what the command needs of it: a tool that is missing or will not
    /// run (bash, cosign), a working folder that is gone, no file descriptors left. Like a
    /// missing docker in `lab doctor`, it is neither the content's fault nor the learner's.
    #[error("{0}")]
    Environment(String),
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
            LabError::Submission(e) => e.exit_code(),
            LabError::Bundle(e) => e.exit_code(),
            LabError::Interrupted => exit_code::INTERRUPTED,
            LabError::Content(_) | LabError::Usage(_) => exit_code::BAD_CONTENT_OR_USAGE,
            LabError::Environment(_) => exit_code::UNREACHABLE,
            LabError::Runtime(e) => e.exit_code(),
            LabError::Output { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe => {
                exit_code::SUCCESS
            }
            LabError::Output { .. } => exit_code::WRITE_FAILED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A missing bash or cosign, a vanished working folder and a failed helm call exited 2,
    // "bad content or usage", while a missing docker exits 3: a grader blamed the course.
    #[test]
    fn an_environment_failure_exits_3_like_a_missing_docker() {
        let error = LabError::Environment("cannot run bash: not found; install bash".into());
        assert_eq!(error.exit_code(), exit_code::UNREACHABLE);
    }

    // A runtime the system could not start (no threads or file descriptors) exited 2.
    #[test]
    fn a_runtime_that_cannot_start_exits_3_not_2() {
        let error = LabError::Runtime(crate::runtime::RuntimeUnavailable(std::io::Error::other(
            "too many open files",
        )));
        assert_eq!(error.exit_code(), exit_code::UNREACHABLE);
        let error = LabError::Suite(crate::suite::SuiteError::Runtime(
            crate::runtime::RuntimeUnavailable(std::io::Error::other("too many open files")),
        ));
        assert_eq!(error.exit_code(), exit_code::UNREACHABLE);
    }

    // Bad flags and bad content keep their code.
    #[test]
    fn bad_usage_still_exits_2() {
        assert_eq!(
            LabError::Usage("--push needs --registry HOST".into()).exit_code(),
            exit_code::BAD_CONTENT_OR_USAGE
        );
    }
}
