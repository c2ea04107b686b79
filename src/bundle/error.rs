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
    /// The supply layer's own next steps are for `lab verify`; a bundle's are its own.
    #[error("{what}: {}", copy_failure(.source))]
    Supply {
        /// What was being copied.
        what: String,
        /// Why it failed.
        source: crate::supply::SupplyError,
    },
    /// Taking an image from a bundle or a venue into the lab failed (absent, corrupt, the venue
    /// or the lab registry unreachable).
    #[error("{what}: {}", load_failure(.source))]
    Load {
        /// What was being taken.
        what: String,
        /// Why it failed.
        source: crate::supply::SupplyError,
    },
    /// Docker did not take an image from the bundle.
    #[error("{what}: {reason}")]
    Docker {
        /// The image.
        what: String,
        /// What went wrong, with what to do.
        reason: String,
    },
    /// A flag's value is not what it must be.
    #[error("{0}")]
    Usage(String),
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

/// Why a copy from a publisher failed, with what to do about it when making a bundle.
fn copy_failure(source: &crate::supply::SupplyError) -> String {
    use crate::supply::SupplyError;
    match source {
        SupplyError::Unreachable { target, reason } => format!(
            "cannot reach {target}: {reason}; a bundle is made where the publishers' registries can be reached: run it on a machine with network, or through a pull-through cache (--registry-mirror {target}=HOST:PORT)"
        ),
        SupplyError::NotFound { image } => format!(
            "{image} is not in the registry; check that the lab's pins name a published image, or that the mirror holds it"
        ),
        SupplyError::Corrupt { what, reason } => format!(
            "{what}: {reason}; nothing was packed: run `lab bundle create` again, or through another mirror"
        ),
        other => other.to_string(),
    }
}

/// Why taking an image into the lab failed, with what to do about it.
fn load_failure(source: &crate::supply::SupplyError) -> String {
    use crate::supply::SupplyError;
    match source {
        SupplyError::Unreachable { target, reason } => format!(
            "cannot reach {target}: {reason}; if it is the venue's registry, check that `lab bundle serve` runs there and that this machine is on the room's network; if it is the lab registry, `docker ps` shows whether its container runs, and `lab start` again resumes"
        ),
        SupplyError::NotFound { image } => format!(
            "{image} is not there; the bundle was made for another version of the lab: make it again with `lab bundle create` (`lab doctor --bundle FILE` lists what it lacks)"
        ),
        SupplyError::Corrupt { what, reason } => format!(
            "{what}: {reason}; nothing of it was used: copy the bundle again from where it was made (`lab bundle verify FILE` checks it)"
        ),
        other => other.to_string(),
    }
}

impl BundleError {
    /// The exit code (`src/exit_code.rs`): a bundle that is not what it says did not verify
    /// (4), nor did a publisher's signature or a chart that is not what the lab expects; one that
    /// cannot be read, or a verifier that cannot run, is bad input (2); a registry that cannot
    /// be reached, 3; a bundle that cannot be written, 5.
    pub fn exit_code(&self) -> u8 {
        match self {
            BundleError::Input(_)
            | BundleError::Unreadable { .. }
            | BundleError::Tool(_)
            | BundleError::Usage(_) => exit_code::BAD_CONTENT_OR_USAGE,
            BundleError::Supply { source, .. } | BundleError::Load { source, .. } => {
                source.exit_code()
            }
            BundleError::Docker { .. } => exit_code::UNREACHABLE,
            BundleError::Archive { .. }
            | BundleError::Manifest { .. }
            | BundleError::NotVerified { .. }
            | BundleError::Chart { .. }
            | BundleError::TooLarge(_) => exit_code::VERIFICATION_FAILED,
            BundleError::Write { .. } => exit_code::WRITE_FAILED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supply::SupplyError;

    #[test]
    fn a_failed_copy_says_what_to_do_when_making_a_bundle() {
        let unreachable = BundleError::Supply {
            what: "ghcr.io/kyverno/charts/kyverno:3.9.0".into(),
            source: SupplyError::Unreachable {
                target: "ghcr.io".into(),
                reason: "dns error".into(),
            },
        };
        assert_eq!(unreachable.exit_code(), exit_code::UNREACHABLE);
        assert_eq!(
            unreachable.to_string(),
            "ghcr.io/kyverno/charts/kyverno:3.9.0: cannot reach ghcr.io: dns error; a bundle is made where the publishers' registries can be reached: run it on a machine with network, or through a pull-through cache (--registry-mirror ghcr.io=HOST:PORT)"
        );
        // `lab verify`'s own advice (`--insecure`) is not a flag of `lab bundle create`.
        assert!(!unreachable.to_string().contains("--insecure"));
        let corrupt = BundleError::Supply {
            what: "x".into(),
            source: SupplyError::Corrupt {
                what: "blob sha256:1 of r/x".into(),
                reason: "the registry sent bytes that do not hash to it".into(),
            },
        };
        assert_eq!(corrupt.exit_code(), exit_code::VERIFICATION_FAILED);
        assert!(corrupt.to_string().ends_with(
            "do not hash to it; nothing was packed: run `lab bundle create` again, or through another mirror"
        ));
    }
}
