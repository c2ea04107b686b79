//! Verifying cosign image signatures: each layer's signature over its simple-signing payload,
//! then the payload's claims (its type, and that `docker-manifest-digest` is this image's
//! digest, which is what makes a signature useless on any other image).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use sigstore::crypto::CosignVerificationKey;
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

use super::cosign::CosignArtifacts;
use super::error::{NotVerified, SupplyError};
use super::keyless::{
    ChainError, KeylessPolicy, RekorKey, SignedLayer, pem_block, verify_bundle, verify_chain,
};

/// The `critical.type` of a cosign image signature payload.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// Who must have signed.
pub enum Verifier {
    /// A public key (ECDSA P-256/P-384, RSA or Ed25519, as sigstore reads cosign keys).
    Key(CosignVerificationKey),
    /// A certificate identity under given roots (keyless).
    Keyless(Box<KeylessPolicy>),
    /// The public key of a given certificate (Kyverno's `certificates` attestor).
    Certificate(Box<CertificateKey>),
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
            Verifier::Certificate(cert) => cert.check(layer),
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
            Verifier::Certificate(cert) if cert.rekor.is_some() => {
                "The signatures were verified against the public key of the specified certificate, and the Rekor bundle verified offline"
            }
            Verifier::Certificate(_) => {
                "The signatures were verified against the public key of the specified certificate (transparency log skipped)"
            }
        }
    }
}

/// The embedded signed certificate timestamp extension (RFC 6962), 1.3.6.1.4.1.11129.2.4.2.
const OID_EMBEDDED_SCT: &str = "1.3.6.1.4.1.11129.2.4.2";

/// A certificate given by the verifier, as Kyverno's `certificates.cert` is used
/// (`pkg/image/verifiers/cpol/cosign/cosign.go`, `buildCosignOptions`): its public key becomes
/// cosign's signature verifier, so a signature counts when that key made it, whatever
/// certificate the signature itself carries. Neither this certificate's validity nor that of a
/// certificate on the signature is checked against the clock: cosign checks only the latter,
/// against the bundle's time or now, and an offline evaluation should not depend on when it runs.
pub struct CertificateKey {
    der: Vec<u8>,
    spki: Vec<u8>,
    key: CosignVerificationKey,
    not_before: Duration,
    embedded_sct: bool,
    /// The Rekor key, or `None` to skip the transparency log (`rekor.ignoreTlog`).
    pub rekor: Option<RekorKey>,
}

impl CertificateKey {
    /// Reads the first certificate of `text`: PEM, or base64 of PEM as Kyverno's `loadCert`
    /// also accepts. `Err` says why, in one line.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let compact: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        let decoded = STANDARD.decode(compact.trim()).ok();
        let pem_text = decoded.as_deref().unwrap_or(text.as_bytes());
        let der = pem_block(pem_text)?;
        let cert = Certificate::from_der(&der)
            .map_err(|e| format!("the certificate does not parse: {e}"))?;
        let tbs = cert.tbs_certificate();
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| e.to_string())?;
        let key = CosignVerificationKey::try_from_der(&spki)
            .map_err(|e| format!("the certificate's key is not usable: {e}"))?;
        let embedded_sct = tbs
            .extensions()
            .into_iter()
            .flatten()
            .any(|ext| ext.extn_id.to_string() == OID_EMBEDDED_SCT);
        Ok(CertificateKey {
            not_before: tbs.validity().not_before.to_unix_duration(),
            embedded_sct,
            der,
            spki,
            key,
            rekor: None,
        })
    }

    /// cosign's `ValidateAndUnpackCertWithChain`: the last certificate of `chain` is the root,
    /// those before it intermediates, and the chain is verified at the certificate's
    /// `notBefore` for code signing (cosign `TrustedCert`).
    pub fn check_chain(&self, chain: &[CertificateDer<'static>]) -> Result<(), ChainError> {
        let Some((root, intermediates)) = chain.split_last() else {
            return Err(ChainError::NoUsableRoot);
        };
        verify_chain(
            &self.der,
            std::slice::from_ref(root),
            intermediates,
            self.not_before,
            false,
        )
    }

    /// Whether the certificate embeds a signed certificate timestamp (cosign `ContainsSCT`).
    pub fn has_embedded_sct(&self) -> bool {
        self.embedded_sct
    }

    /// Checks one signed layer, in cosign's order (`verifyInternal`): the transparency log
    /// first, then the signature with the certificate's key.
    fn check(&self, layer: &SignedLayer<'_>) -> Result<(), String> {
        if let Some(rekor) = &self.rekor {
            let bundle = layer.bundle.ok_or(
                "the signature has no Rekor bundle, and offline evaluation cannot search Rekor for it; attach the bundle when signing or set `rekor.ignoreTlog: true`",
            )?;
            let (logged, noun) = self.logged_signer(layer)?;
            verify_bundle(rekor, bundle, layer, &logged, noun)?;
        }
        self.key
            .verify_signature(layer.signature(), layer.message)
            .map_err(|_| "invalid signature when validating ASN.1 encoded signature".to_owned())
    }

    /// What the Rekor entry must record (cosign `keyBytes`): the signature's own certificate
    /// when it carries one, and then its key must be this one; otherwise this public key.
    fn logged_signer(&self, layer: &SignedLayer<'_>) -> Result<(Vec<u8>, &'static str), String> {
        let Some(pem_text) = layer.certificate else {
            return Ok((self.spki.clone(), "key"));
        };
        let der = pem_block(pem_text.as_bytes())
            .map_err(|e| format!("the signature's certificate is not PEM: {e}"))?;
        let same_key = Certificate::from_der(&der)
            .ok()
            .and_then(|c| c.tbs_certificate().subject_public_key_info().to_der().ok())
            .is_some_and(|spki| spki == self.spki);
        if !same_key {
            return Err("both public key and certificate were provided but did not match".into());
        }
        Ok((der, "certificate"))
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
