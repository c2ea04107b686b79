//! Errors of the backends. Unreachable (exit 3) is told from a refusal by the API server and
//! from a wait that ran out, and each says what to look at next.

use std::time::Duration;

use crate::exit_code;

/// Why a backend could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No usable kubeconfig, or no such context.
    #[error(
        "{0}; pass --context NAME or set KUBECONFIG to a kubeconfig that reaches the lab's cluster"
    )]
    Kubeconfig(String),
    /// The cluster did not answer, after retries.
    #[error(
        "cannot reach the cluster ({what}): {reason}; check that it is running (`kubectl cluster-info`)"
    )]
    Unreachable {
        /// What was asked.
        what: String,
        /// The last error.
        reason: String,
    },
    /// The API server refused a request.
    #[error("the cluster refused {what}: {reason}")]
    Refused {
        /// What was asked.
        what: String,
        /// The server's message.
        reason: String,
    },
    /// A wait ran out.
    #[error("waited {} s for {what}; {look_at}", waited.as_secs())]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        waited: Duration,
        /// What to look at.
        look_at: String,
    },
    /// A container tool (docker, kind, helm) failed.
    #[error("{what} failed: {detail}")]
    Host {
        /// The command.
        what: String,
        /// What it said, and what to do.
        detail: String,
    },
    /// The preflight found problems; nothing was created.
    #[error("{0}")]
    Preflight(String),
    /// An object the lab would change exists and is somebody else's.
    #[error("{0}")]
    NotOurs(String),
    /// Kyverno in the cluster is not the version the lab pins.
    #[error("{0}")]
    Kyverno(String),
    /// A kubeconfig that cannot be used as it is: named by file and line, never quoted.
    #[error("{0}")]
    BadKubeconfig(String),
    /// A lab state file that belongs to another chapter than the folder it was read from.
    #[error("{0}")]
    ForeignState(String),
    /// A submission lacks what its checks need to be run again.
    #[error("{0}")]
    Submission(String),
    /// A lab state file could not be read or written.
    #[error("{what}: {source}")]
    State {
        /// The file and what was done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl BackendError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            BackendError::Kubeconfig(_)
            | BackendError::BadKubeconfig(_)
            | BackendError::ForeignState(_)
            | BackendError::Submission(_)
            | BackendError::Kyverno(_)
            | BackendError::NotOurs(_) => exit_code::BAD_CONTENT_OR_USAGE,
            BackendError::State { .. } => exit_code::WRITE_FAILED,
            BackendError::Unreachable { .. }
            | BackendError::Refused { .. }
            | BackendError::Timeout { .. }
            | BackendError::Host { .. }
            | BackendError::Preflight(_) => exit_code::UNREACHABLE,
        }
    }
}
