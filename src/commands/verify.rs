//! `lab verify IMAGE --key PUB [--attestation-type T]`: verifies an image's cosign signatures
//! (and optionally its attestations) and prints the verified claims as cosign does.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::emit;
use crate::supply::attestation::{VerifiedAttestation, predicate_type, verify_attestations};
use crate::supply::cosign::{CosignArtifacts, collect};
use crate::supply::registry::{RegistryStore, Retry};
use crate::supply::signature::{SimpleSigning, Verifier, verify_signatures};
use crate::supply::{ImageRef, SupplyError};
use crate::{LabError, exit_code};

/// What `lab verify` was asked to do.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// The image reference.
    pub image: String,
    /// The public key file.
    pub key: PathBuf,
    /// An attestation type to verify as well (URI or cosign shorthand).
    pub attestation_type: Option<String>,
    /// Allow plain HTTP to this registry.
    pub insecure: bool,
    /// Print JSON.
    pub json: bool,
}

/// The JSON form of a successful verification.
#[derive(Serialize)]
struct Verified<'a> {
    schema_version: u32,
    image: String,
    digest: String,
    signatures: &'a [SimpleSigning],
    #[serde(skip_serializing_if = "Option::is_none")]
    attestations: Option<&'a [VerifiedAttestation]>,
}

/// Runs the verification; exit 0 when verified.
pub fn run(request: &VerifyRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let image = ImageRef::parse(&request.image).map_err(|e| {
        LabError::Usage(format!(
            "{e}; write it as registry/repository:tag or @sha256:<digest>"
        ))
    })?;
    let key = std::fs::read(&request.key).map_err(|e| {
        LabError::Usage(format!(
            "cannot read the key {}: {e}",
            request.key.display()
        ))
    })?;
    let verifier = Verifier::from_public_key_pem(&key)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LabError::Usage(format!("cannot start the async runtime: {e}")))?;
    let store = RegistryStore::new(&image, request.insecure, Retry::default());
    let artifacts = runtime.block_on(collect(&store, &image))?;
    let not_verified = |reason| SupplyError::NotVerified {
        image: artifacts.pinned(),
        reason,
    };
    let signatures = verify_signatures(&artifacts, &verifier).map_err(not_verified)?;
    let attestations = match &request.attestation_type {
        Some(wanted) => {
            Some(verify_attestations(&artifacts, &verifier, wanted).map_err(not_verified)?)
        }
        None => None,
    };
    let text = if request.json {
        let doc = Verified {
            schema_version: 1,
            image: request.image.clone(),
            digest: artifacts.digest.to_string(),
            signatures: &signatures,
            attestations: attestations.as_deref(),
        };
        serde_json::to_string_pretty(&doc).expect("verification serializes") + "\n"
    } else {
        human(
            &artifacts,
            &verifier,
            &signatures,
            attestations.as_deref(),
            request.attestation_type.as_deref(),
        )
    };
    emit(out, &text)?;
    Ok(exit_code::SUCCESS)
}

fn human(
    artifacts: &CosignArtifacts,
    verifier: &Verifier,
    signatures: &[SimpleSigning],
    attestations: Option<&[VerifiedAttestation]>,
    wanted: Option<&str>,
) -> String {
    let mut out = format!(
        "Verification for {} --\nThe following checks were performed on each of these signatures:\n  - The cosign claims were validated\n  - {}\n\n{}\n",
        artifacts.pinned(),
        verifier.description(),
        serde_json::to_string(signatures).expect("payloads serialize")
    );
    if let (Some(attestations), Some(wanted)) = (attestations, wanted) {
        out.push_str(&format!(
            "\nVerified {} attestation(s) of type {}:\n  - The DSSE signatures were verified against the specified public key\n  - The in-toto subject is {}\n",
            attestations.len(),
            predicate_type(wanted),
            artifacts.digest
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
    out
}
