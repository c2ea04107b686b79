//! The `lab verify` report: the verified claims as cosign prints them, or one JSON document.

use serde::Serialize;

use crate::supply::attestation::{VerifiedAttestation, predicate_type};
use crate::supply::cosign::CosignArtifacts;
use crate::supply::signature::{SimpleSigning, Verifier};

/// The version of the `lab verify --json` document.
pub const VERIFY_VERSION: u32 = 1;

/// A successful verification: what was asked for and what was verified.
pub struct Verification<'a> {
    /// The image as given.
    pub image: &'a str,
    /// What the registry (or layout) holds for it.
    pub artifacts: &'a CosignArtifacts,
    /// Who had to have signed.
    pub verifier: &'a Verifier,
    /// The verified signatures' payloads.
    pub signatures: &'a [SimpleSigning],
    /// The verified attestations, when some were asked for.
    pub attestations: Option<&'a [VerifiedAttestation]>,
    /// The attestation type asked for (URI or cosign shorthand).
    pub attestation_type: Option<&'a str>,
}

/// The JSON document.
#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    image: &'a str,
    digest: String,
    signatures: &'a [SimpleSigning],
    #[serde(skip_serializing_if = "Option::is_none")]
    attestations: Option<&'a [VerifiedAttestation]>,
}

/// The verification as one JSON document.
pub fn json(v: &Verification<'_>) -> String {
    super::json::document(&Document {
        schema_version: VERIFY_VERSION,
        image: v.image,
        digest: v.artifacts.digest.to_string(),
        signatures: v.signatures,
        attestations: v.attestations,
    })
}

/// The verification as cosign prints it. The claims and the SBOMs' words are the registry's,
/// so their control characters are shown, not obeyed.
pub fn human(v: &Verification<'_>) -> String {
    let mut out = format!(
        "Verification for {} --\nThe following checks were performed on each of these signatures:\n  - The cosign claims were validated\n  - {}\n\n{}\n",
        v.artifacts.pinned(),
        v.verifier.description(),
        serde_json::to_string(v.signatures).expect("payloads serialize")
    );
    if let (Some(attestations), Some(wanted)) = (v.attestations, v.attestation_type) {
        out.push_str(&format!(
            "\nVerified {} attestation(s) of type {}:\n  - The DSSE signatures were verified against the specified public key\n  - The in-toto subject is {}\n",
            attestations.len(),
            predicate_type(wanted),
            v.artifacts.digest
        ));
        for sbom in attestations.iter().filter_map(|a| a.sbom.as_ref()) {
            out.push_str(&format!(
                "  - SBOM `{}` ({}): {} package(s), created {} by {}\n",
                sbom.name,
                sbom.spdx_version,
                sbom.packages,
                sbom.created,
                sbom.creators.join(", ")
            ));
        }
    }
    crate::text::printable_block(&out).into_owned()
}
