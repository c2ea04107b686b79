//! Errors of the supply-chain layer. The split matters to graders: an unreachable registry
//! (exit 3) is not a failed verification (exit 4), and neither is bad input (exit 2). An
//! artifact that is not what its digest or descriptor says is a failed verification.

use crate::exit_code;

/// Why an artifact could not be fetched or verified.
#[derive(Debug, thiserror::Error)]
pub enum SupplyError {
    /// The input could not be understood (a malformed reference, key or file).
    #[error("{0}")]
    BadInput(String),
    /// The registry (or layout) could not be reached or read, after retries.
    #[error(
        "cannot reach {target}: {reason}; check that the registry is running and the address is right (use --insecure for a plain-HTTP registry)"
    )]
    Unreachable {
        /// What was being contacted.
        target: String,
        /// The last error.
        reason: String,
    },
    /// The image itself does not exist.
    #[error("{image} was not found in the registry; check the repository and tag")]
    NotFound {
        /// The image asked for.
        image: String,
    },
    /// The registry or layout answered with something that is not what was asked for: bytes
    /// that do not hash to their digest or differ from their descriptor's size, a manifest
    /// that is not one or is larger than any manifest may be. Nothing from it is trusted.
    #[error(
        "{what}: {reason}; nothing from it was trusted: push or save the image again from a source you trust"
    )]
    Corrupt {
        /// The artifact (an image, manifest or blob, in its registry or layout).
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Verification ran and failed.
    #[error("{image}: {reason}")]
    NotVerified {
        /// The image, by digest.
        image: String,
        /// Why, in cosign's and Kyverno's words (e.g. `no signatures found`).
        reason: NotVerified,
    },
}

/// The reasons a verification fails, worded as cosign and Kyverno word them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotVerified {
    /// The image has no signature artifact, or it holds no signature layers.
    #[error("no signatures found")]
    NoSignatures,
    /// Signatures exist but none verifies with the given key or identity, or names this digest
    /// (cosign's `ErrNoMatchingSignatures`: every signature's reason, joined with `"\n "`).
    #[error("no matching signatures: {0}")]
    NoMatchingSignatures(String),
    /// No attestation verifies, or names this digest in its subject (cosign's
    /// `ErrNoMatchingAttestations`; empty when the image has no attestations at all).
    #[error("no matching attestations: {0}")]
    NoMatchingAttestations(String),
    /// Attestations verify, but none has the predicate type asked for (`cosign
    /// verify-attestation`, `cmd/cosign/cli/verify/verify_attestation.go`).
    #[error("none of the attestations matched the predicate type: {wanted}, found: {found}")]
    NoMatchingPredicateType {
        /// The `--type` as given (a URI or a cosign shorthand).
        wanted: String,
        /// The predicate types of the verified attestations, joined with `,`.
        found: String,
    },
}

impl SupplyError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            SupplyError::BadInput(_) => exit_code::BAD_CONTENT_OR_USAGE,
            SupplyError::Unreachable { .. } => exit_code::UNREACHABLE,
            SupplyError::NotFound { .. }
            | SupplyError::Corrupt { .. }
            | SupplyError::NotVerified { .. } => exit_code::VERIFICATION_FAILED,
        }
    }
}
