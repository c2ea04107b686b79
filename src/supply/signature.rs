//! Verifying cosign image signatures: each layer's signature over its simple-signing payload,
//! then the payload's claims (its type, and that `docker-manifest-digest` is this image's
//! digest, which is what makes a signature useless on any other image).

use serde::{Deserialize, Serialize};
use sigstore::crypto::CosignVerificationKey;

use super::cosign::CosignArtifacts;
use super::error::{NotVerified, SupplyError};
use super::keyless::{KeylessPolicy, SignedLayer};

/// The `critical.type` of a cosign image signature payload.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// Who must have signed.
pub enum Verifier {
    /// A public key (ECDSA P-256/P-384, RSA or Ed25519, as sigstore reads cosign keys).
    Key(CosignVerificationKey),
    /// A certificate identity under given roots (keyless).
    Keyless(Box<KeylessPolicy>),
}

impl Verifier {
    /// A verifier for a PEM public key (`cosign.pub`).
    pub fn from_public_key_pem(pem: &[u8]) -> Result<Self, SupplyError> {
        CosignVerificationKey::try_from_pem(pem)
            .map(Verifier::Key)
            .map_err(|e| SupplyError::BadInput(format!("not a public key cosign can use ({e}); pass the `cosign.pub` written by `cosign generate-key-pair`")))
    }

    /// Checks one signed layer; `Err` carries cosign's (or Kyverno's) wording of the failure.
    pub fn check(&self, layer: &SignedLayer<'_>) -> Result<(), String> {
        match self {
            Verifier::Key(key) => key
                .verify_signature(layer.signature(), layer.message)
                .map_err(|_| {
                    "invalid signature when validating ASN.1 encoded signature".to_owned()
                }),
            Verifier::Keyless(policy) => policy.verify(layer).map(|_| ()),
        }
    }

    /// What the verifier checked, as cosign reports it.
    pub fn description(&self) -> &'static str {
        match self {
            Verifier::Key(_) => "The signatures were verified against the specified public key",
            Verifier::Keyless(policy) if policy.rekor.is_some() => {
                "The code-signing certificate was verified against the given roots, its identity matched, and the Rekor bundle verified offline"
            }
            Verifier::Keyless(_) => {
                "The code-signing certificate was verified against the given roots and its identity matched (transparency log skipped)"
            }
        }
    }
}

/// The simple-signing payload cosign signs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimpleSigning {
    /// The claims that must be checked.
    pub critical: Critical,
    /// Free-form annotations (`-a key=value` at signing time).
    #[serde(default)]
    pub optional: Option<serde_json::Value>,
}

/// `critical` of a simple-signing payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Critical {
    /// The reference the signer named.
    pub identity: Identity,
    /// The signed image.
    pub image: Image,
    /// Always `cosign container image signature`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `critical.identity`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    /// The repository (cosign) or reference (sigstore-rs) the signer named.
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Image {
    /// The digest the signature is for.
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// Verifies the image's signatures; returns the payloads of those that verify.
pub fn verify_signatures(
    artifacts: &CosignArtifacts,
    verifier: &Verifier,
) -> Result<Vec<SimpleSigning>, NotVerified> {
    if artifacts.signatures.is_empty() {
        return Err(NotVerified::NoSignatures);
    }
    let mut verified = Vec::new();
    let mut failures = Vec::new();
    let mut mismatch = None;
    for layer in &artifacts.signatures {
        let signed = SignedLayer {
            message: &layer.payload,
            signature: layer.signature.as_bytes(),
            signature_is_base64: true,
            certificate: layer.certificate.as_deref(),
            chain: layer.chain.as_deref(),
            bundle: layer.bundle.as_deref(),
        };
        if let Err(why) = verifier.check(&signed) {
            failures.push(why);
            continue;
        }
        let payload: SimpleSigning = match serde_json::from_slice(&layer.payload) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!(
                    "the signed payload is not a simple-signing document: {e}"
                ));
                continue;
            }
        };
        if payload.critical.kind != SIGNATURE_TYPE {
            failures.push(format!(
                "the signed payload has type `{}`, not `{SIGNATURE_TYPE}`",
                payload.critical.kind
            ));
        } else if payload.critical.image.docker_manifest_digest != artifacts.digest.as_str() {
            mismatch = Some(NotVerified::DigestMismatch {
                signed: payload.critical.image.docker_manifest_digest.clone(),
                actual: artifacts.digest.to_string(),
            });
        } else {
            verified.push(payload);
        }
    }
    match (verified.is_empty(), mismatch) {
        (false, _) => Ok(verified),
        (true, Some(mismatch)) => Err(mismatch),
        (true, None) => {
            failures.dedup();
            Err(NotVerified::NoMatchingSignatures(failures.join("\n")))
        }
    }
}
