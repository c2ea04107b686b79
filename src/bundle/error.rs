//! Why a bundle could not be made or read, with the exit code each means.

use std::path::PathBuf;

use crate::exit_code;
use crate::submission::archive::ArchiveError;

/// A bundle's problem.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bundle file could not be opened.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    /// A file to pack could not be read.
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The archive is not one `lab` reads: its reason (a bad name, a link, a limit passed,
    /// truncated). A bundle that is not what it says did not verify.
    #[error("{} is not a bundle lab can read: {source}; copy the bundle again from where it was made", path.display())]
    Archive {
        /// The bundle.
        path: PathBuf,
        /// What the archive reader refused.
        source: ArchiveError,
    },
    /// The archive has no valid manifest as its first entry.
    #[error("{} is not a bundle: {reason}; copy the bundle again from where it was made, or check that the file is a bundle", path.display())]
    Manifest {
        /// The bundle.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Writing the bundle failed.
    #[error("could not write {}: {reason}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl BundleError {
    /// The exit code (`src/exit_code.rs`): a bundle that is not what it says did not verify
    /// (4); one that cannot be read is bad input (2); one that cannot be written, 5.
    pub fn exit_code(&self) -> u8 {
        match self {
            BundleError::Input(_) | BundleError::Unreadable { .. } => {
                exit_code::BAD_CONTENT_OR_USAGE
            }
            BundleError::Archive { .. } | BundleError::Manifest { .. } => {
                exit_code::VERIFICATION_FAILED
            }
            BundleError::Write { .. } => exit_code::WRITE_FAILED,
        }
    }
}
