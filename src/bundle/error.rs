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
    /// Reading an image or chart from its registry failed (unreachable, absent, corrupt).
    #[error("{what}: {source}")]
    Supply {
        /// What was being copied.
        what: String,
        /// Why it failed.
        source: crate::supply::SupplyError,
    },
    /// A publisher's signature did not verify: the bundle is not made.
    #[error(
        "{what} did not verify against {signer}'s signing identity, so no bundle was made: {reason}"
    )]
    NotVerified {
        /// The image or chart.
        what: String,
        /// Whose identity it had to carry (`Kyverno`).
        signer: String,
        /// What the verifier said.
        reason: String,
    },
    /// The verifier could not be run (not installed, too old, no answer).
    #[error("{0}")]
    Tool(String),
    /// The chart is not one this lab knows how to bundle.
    #[error("the chart {reference} {reason}")]
    Chart {
        /// The chart's reference.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A limit of the bundle format would be passed.
    #[error("{0}; a bundle that large could not be read back")]
    TooLarge(String),
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
    /// (4), nor did a publisher's signature or a chart that is not what the lab expects; one that
    /// cannot be read, or a verifier that cannot run, is bad input (2); a registry that cannot
    /// be reached, 3; a bundle that cannot be written, 5.
    pub fn exit_code(&self) -> u8 {
        match self {
            BundleError::Input(_) | BundleError::Unreadable { .. } | BundleError::Tool(_) => {
                exit_code::BAD_CONTENT_OR_USAGE
            }
            BundleError::Supply { source, .. } => source.exit_code(),
            BundleError::Archive { .. }
            | BundleError::Manifest { .. }
            | BundleError::NotVerified { .. }
            | BundleError::Chart { .. }
            | BundleError::TooLarge(_) => exit_code::VERIFICATION_FAILED,
            BundleError::Write { .. } => exit_code::WRITE_FAILED,
        }
    }
}
