//! Verifying cosign image signatures as cosign v3.1.2's `verifySignatures` does
//! (`pkg/cosign/verify.go`): each layer's transparency-log entry and signature over its
//! simple-signing payload, then the payload's claim that `docker-manifest-digest` is this image's
//! digest (`SimpleClaimVerifier`, `pkg/cosign/verifiers.go`), which is what makes a signature
//! useless on any other image. When no layer verifies, every layer's error is reported.

use std::borrow::Cow;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use sigstore::crypto::{CosignVerificationKey, Signature};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

use super::cosign::{CosignArtifacts, SignatureLayer};
use super::error::{NotVerified, SupplyError};
use super::keyless::{
    ChainError, KeylessPolicy, RekorKey, SignedLayer, pem_block, verify_bundle, verify_chain,
};

/// The `critical.type` of a cosign image signature payload.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// Who must have signed.
pub enum Verifier {
    /// A public key (ECDSA P-256/P-384, RSA or Ed25519, as sigstore reads cosign keys).
    Key(Box<PublicKey>),
    /// A certificate identity under given roots (keyless).
    Keyless(Box<KeylessPolicy>),
    /// The public key of a given certificate (Kyverno's `certificates` attestor).
    Certificate(Box<CertificateKey>),
}

impl Verifier {
    /// A verifier for a PEM public key (`cosign.pub`), with the transparency log skipped.
    pub fn from_public_key_pem(pem: &[u8]) -> Result<Self, SupplyError> {
        PublicKey::from_pem(pem).map(|key| Verifier::Key(Box::new(key)))
    }

    /// Checks one signed layer; `Err` carries cosign's (or Kyverno's) wording of the failure.
    pub fn check(&self, layer: &SignedLayer<'_>) -> Result<(), String> {
        let key = self.signing_key(layer)?;
        verify_with(&key, layer.signature(), layer.message)
    }

    /// Everything cosign's `verifyInternal` checks of a layer before the signature itself: the
    /// transparency-log entry and, for a keyless signature, its certificate's chain and
    /// identity. Returns the key the signature must verify with.
    pub fn signing_key(
        &self,
        layer: &SignedLayer<'_>,
    ) -> Result<Cow<'_, CosignVerificationKey>, String> {
        match self {
            Verifier::Key(key) => {
                check_logged(key.rekor.as_ref(), &key.spki, layer)?;
                Ok(Cow::Borrowed(&key.key))
            }
            Verifier::Keyless(policy) => policy
                .certificate_key(layer)
                .map(|(key, _)| Cow::Owned(key)),
            Verifier::Certificate(cert) => {
                check_logged(cert.rekor.as_ref(), &cert.spki, layer)?;
                Ok(Cow::Borrowed(&cert.key))
            }
        }
    }

    /// What the verifier checked, as cosign reports it.
    pub fn description(&self) -> &'static str {
        match self {
            Verifier::Key(key) if key.rekor.is_some() => {
                "The signatures were verified against the specified public key, and the Rekor bundle verified offline"
            }
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

/// Verifies `signature` over `message` with `key`; `Err` is the wording of the sigstore
/// verifier cosign loads for that key type (`pkg/signature/{ecdsa,rsapkcs1v15,ed25519}.go` of
/// sigstore/sigstore v1.10.8, through `signature.LoadVerifier`).
pub fn verify_with(
    key: &CosignVerificationKey,
    signature: Signature<'_>,
    message: &[u8],
) -> Result<(), String> {
    key.verify_signature(signature, message).map_err(|_| {
        match key {
            CosignVerificationKey::RSA_PSS_SHA256(_)
            | CosignVerificationKey::RSA_PKCS1_SHA256(_) => "crypto/rsa: verification error",
            CosignVerificationKey::ED25519(_) => "failed to verify signature",
            _ => "invalid signature when validating ASN.1 encoded signature",
        }
        .to_owned()
    })
}

/// A public key given by the verifier (`cosign verify --key`, Kyverno's `keys` attestor).
pub struct PublicKey {
    key: CosignVerificationKey,
    spki: Vec<u8>,
    /// The Rekor key, or `None` to skip the transparency log (`rekor.ignoreTlog`).
    pub rekor: Option<RekorKey>,
}

impl PublicKey {
    /// Reads a PEM public key (`cosign.pub`).
    pub fn from_pem(pem_text: &[u8]) -> Result<Self, SupplyError> {
        let unusable = |e: String| {
            SupplyError::BadInput(format!(
                "not a public key cosign can use ({e}); pass the `cosign.pub` written by `cosign generate-key-pair`"
            ))
        };
        let key =
            CosignVerificationKey::try_from_pem(pem_text).map_err(|e| unusable(e.to_string()))?;
        let spki = pem_block(pem_text).map_err(unusable)?;
        Ok(PublicKey {
            key,
            spki,
            rekor: None,
        })
    }
}

/// cosign's transparency-log step (`verifyInternal`, `VerifyBundle`), offline: with a Rekor key,
/// the layer's bundle must verify with it and record the signer (cosign `keyBytes`): the
/// signature's own certificate when it carries one, whose key must then be `spki`, or else the
/// public key `spki` itself. Cosign would search Rekor online for a layer without a bundle; offline
/// that layer fails.
fn check_logged(
    rekor: Option<&RekorKey>,
    spki: &[u8],
    layer: &SignedLayer<'_>,
) -> Result<(), String> {
    let Some(rekor) = rekor else {
        return Ok(());
    };
    let bundle = layer.bundle.ok_or(
        "the signature has no Rekor bundle, and offline evaluation cannot search Rekor for it; attach the bundle when signing or set `rekor.ignoreTlog: true`",
    )?;
    let (logged, noun) = logged_signer(spki, layer)?;
    verify_bundle(rekor, bundle, layer, &logged, noun).map(|_| ())
}

/// What the Rekor entry must record (cosign `keyBytes`): the signature's own certificate when it
/// carries one, and then its key must be `spki`; otherwise the public key `spki`.
fn logged_signer(spki: &[u8], layer: &SignedLayer<'_>) -> Result<(Vec<u8>, &'static str), String> {
    let Some(pem_text) = layer.certificate else {
        return Ok((spki.to_vec(), "key"));
    };
    let der = pem_block(pem_text.as_bytes())
        .map_err(|e| format!("the signature's certificate is not PEM: {e}"))?;
    let same_key = Certificate::from_der(&der)
        .ok()
        .and_then(|c| c.tbs_certificate().subject_public_key_info().to_der().ok())
        .is_some_and(|theirs| theirs == spki);
    if !same_key {
        return Err("both public key and certificate were provided but did not match".into());
    }
    Ok((der, "certificate"))
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
}

/// The simple-signing payload cosign signs. Like Go's `json.Unmarshal` into sigstore's
/// `payload.SimpleContainerImage`, a missing field reads as empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SimpleSigning {
    /// The claims that must be checked.
    #[serde(default)]
    pub critical: Critical,
    /// Free-form annotations (`-a key=value` at signing time).
    #[serde(default)]
    pub optional: Option<serde_json::Value>,
}

/// `critical` of a simple-signing payload.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Critical {
    /// The reference the signer named.
    #[serde(default)]
    pub identity: Identity,
    /// The signed image.
    #[serde(default)]
    pub image: Image,
    /// `cosign container image signature` (cosign does not check it).
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// `critical.identity`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Identity {
    /// The repository (cosign) or reference (sigstore-rs) the signer named.
    #[serde(rename = "docker-reference", default)]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Image {
    /// The digest the signature is for.
    #[serde(rename = "docker-manifest-digest", default)]
    pub docker_manifest_digest: String,
}

/// Verifies the image's signatures; returns the payloads of those that verify. When none does,
/// the error carries every layer's reason in layer order, joined with `"\n "` and not
/// deduplicated, as cosign's `verifySignatures` joins them (`pkg/cosign/verify.go`).
pub fn verify_signatures(
    artifacts: &CosignArtifacts,
    verifier: &Verifier,
) -> Result<Vec<SimpleSigning>, NotVerified> {
    if artifacts.signatures.is_empty() {
        return Err(NotVerified::NoSignatures);
    }
    let mut verified = Vec::new();
    let mut failures = Vec::new();
    for layer in &artifacts.signatures {
        match verify_one(layer, verifier, artifacts.digest.as_str()) {
            Ok(payload) => verified.push(payload),
            Err(why) => failures.push(why),
        }
    }
    if verified.is_empty() {
        return Err(NotVerified::NoMatchingSignatures(failures.join("\n ")));
    }
    Ok(verified)
}

/// One layer, in cosign's order (`verifyInternal`): the log entry and signature, then the
/// claims (`SimpleClaimVerifier`: the payload names this digest; its `critical.type` is not
/// read).
fn verify_one(
    layer: &SignatureLayer,
    verifier: &Verifier,
    digest: &str,
) -> Result<SimpleSigning, String> {
    verifier.check(&SignedLayer {
        message: &layer.payload,
        signature: layer.signature.as_bytes(),
        signature_is_base64: true,
        certificate: layer.certificate.as_deref(),
        chain: layer.chain.as_deref(),
        bundle: layer.bundle.as_deref(),
    })?;
    let payload: SimpleSigning = serde_json::from_slice(&layer.payload)
        .map_err(|e| format!("the signed payload is not a simple-signing document: {e}"))?;
    let claimed = &payload.critical.image.docker_manifest_digest;
    if claimed != digest {
        return Err(format!("invalid or missing digest in claim: {claimed}"));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigstore::crypto::SigningScheme;

    // Kyverno loads its verifier with sigstore's signature.LoadVerifier, and cosign reports the
    // verifier's own error: pkg/signature/ecdsa.go, rsapkcs1v15.go (crypto/rsa) and ed25519.go
    // of sigstore/sigstore v1.10.8 word a mismatch differently.
    #[test]
    fn a_mismatch_is_worded_as_the_go_verifier_for_the_key_type() {
        for (scheme, wording) in [
            (
                SigningScheme::ECDSA_P256_SHA256_ASN1,
                "invalid signature when validating ASN.1 encoded signature",
            ),
            (SigningScheme::ED25519, "failed to verify signature"),
            (
                SigningScheme::RSA_PKCS1_SHA256(2048),
                "crypto/rsa: verification error",
            ),
        ] {
            let signer = scheme.create_signer().unwrap();
            let key = signer.to_verification_key().unwrap();
            let signature = signer.sign(b"payload").unwrap();
            assert_eq!(
                verify_with(&key, Signature::Raw(&signature), b"payload"),
                Ok(())
            );
            assert_eq!(
                verify_with(&key, Signature::Raw(&signature), b"another payload"),
                Err(wording.to_owned()),
                "{scheme}"
            );
        }
    }
}
