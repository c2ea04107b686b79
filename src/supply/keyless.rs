//! Keyless (Fulcio-style) verification, offline: the signer's short-lived certificate must
//! chain to roots the user gives, carry the expected identity and OIDC issuer, and its key must
//! verify the signature; the Rekor bundle's signed entry timestamp must verify with the
//! transparency-log key the user gives, and its body must name this payload and signature.
//!
//! What needs no network: all of the above, given the CA roots (`--ca-roots`) and the Rekor
//! public key (`--rekor-public-key`). What is not done: fetching roots from Sigstore's TUF
//! repository, Rekor inclusion proofs (only the SET is checked), SCTs from the CT log.
//!
//! Identity matching follows Kyverno (`pkg/image/verifiers/cpol/cosign/cosign.go`): `subject` is
//! a wildcard pattern matched against every SAN (email or URI), `subjectRegExp` an unanchored
//! regular expression; the same for the issuer, read from the Fulcio extension.
//! sigstore-rs 0.15's `CertSubjectUrlVerifier` compares only identity and never checks the
//! signature with the certificate's key (a genuine certificate copied onto another signature
//! passes); here [`KeylessPolicy::certificate_key`] returns that key and the caller
//! (`signature::Verifier`) always checks the signature with it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use regex::Regex;
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Deserialize;
use sigstore::crypto::{CosignVerificationKey, Signature};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use super::digest::Digest;
use crate::wildcard;

/// The code-signing extended key usage, 1.3.6.1.5.5.7.3.3, as OID value bytes.
const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
/// Fulcio's OIDC issuer extension (v1: the raw string).
const OID_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
/// Fulcio's OIDC issuer extension (v2: a DER UTF8String).
const OID_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";

/// Who may have signed, and how the transparency log is checked.
pub struct KeylessPolicy {
    /// Trusted root certificates (DER).
    pub roots: Vec<CertificateDer<'static>>,
    /// Wildcard pattern for a SAN.
    pub subject: Option<String>,
    /// Unanchored regular expression for a SAN.
    pub subject_regexp: Option<Regex>,
    /// Wildcard pattern for the OIDC issuer.
    pub issuer: Option<String>,
    /// Unanchored regular expression for the OIDC issuer.
    pub issuer_regexp: Option<Regex>,
    /// The Rekor key, or `None` to skip the transparency log (`--insecure-ignore-tlog`).
    pub rekor: Option<RekorKey>,
}

/// A Rekor public key and its log id (hex SHA-256 of its DER SubjectPublicKeyInfo).
pub struct RekorKey {
    key: CosignVerificationKey,
    log_id: String,
}

impl RekorKey {
    /// Reads a PEM public key.
    pub fn from_pem(pem_text: &[u8]) -> Result<Self, String> {
        let der =
            pem_block(pem_text).map_err(|e| format!("the Rekor public key is not PEM: {e}"))?;
        let key = CosignVerificationKey::try_from_der(&der)
            .map_err(|e| format!("the Rekor public key is not usable: {e}"))?;
        Ok(RekorKey {
            key,
            log_id: Digest::sha256_of(&der).hex().to_owned(),
        })
    }
}

/// One signed thing to verify: a payload (or a DSSE PAE) and what came with it.
pub struct SignedLayer<'a> {
    /// The bytes the signature covers.
    pub message: &'a [u8],
    /// The signature: raw bytes, or base64 text as cosign stores it in annotations.
    pub signature: &'a [u8],
    /// Whether `signature` is base64 text.
    pub signature_is_base64: bool,
    /// The signer's certificate, PEM.
    pub certificate: Option<&'a str>,
    /// Intermediate certificates, PEM.
    pub chain: Option<&'a str>,
    /// The Rekor bundle, JSON.
    pub bundle: Option<&'a str>,
}

impl SignedLayer<'_> {
    /// The signature in sigstore's form.
    pub fn signature(&self) -> Signature<'_> {
        if self.signature_is_base64 {
            Signature::Base64Encoded(self.signature)
        } else {
            Signature::Raw(self.signature)
        }
    }

    /// The signature as base64 text, as a Rekor entry records it.
    fn signature_b64(&self) -> String {
        if self.signature_is_base64 {
            String::from_utf8_lossy(self.signature).into_owned()
        } else {
            STANDARD.encode(self.signature)
        }
    }
}

/// The identity a verified certificate carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// Email and URI SANs.
    pub sans: Vec<String>,
    /// The OIDC issuer.
    pub issuer: Option<String>,
}

#[derive(Deserialize)]
struct Bundle {
    #[serde(rename = "SignedEntryTimestamp")]
    signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    payload: BundlePayload,
}

#[derive(Deserialize, serde::Serialize)]
struct BundlePayload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logIndex")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

impl KeylessPolicy {
    /// Everything about one layer but its signature, in cosign's order (`verifyInternal`): the
    /// Rekor bundle, the certificate's validity at the logged time, its chain to the roots, and
    /// its identity. Returns the certificate's key, which the signature must verify with, and
    /// the identity. `Err` says why, in one line.
    pub fn certificate_key(
        &self,
        layer: &SignedLayer<'_>,
    ) -> Result<(CosignVerificationKey, CertificateIdentity), String> {
        let cert_pem = layer.certificate.ok_or(
            "the signature carries no certificate (was it signed with a key? then use --key)",
        )?;
        let leaf_der = pem_block(cert_pem.as_bytes())
            .map_err(|e| format!("the certificate is not PEM: {e}"))?;
        let leaf = Certificate::from_der(&leaf_der)
            .map_err(|e| format!("the certificate does not parse: {e}"))?;
        let not_before = leaf
            .tbs_certificate()
            .validity()
            .not_before
            .to_unix_duration();
        let not_after = leaf
            .tbs_certificate()
            .validity()
            .not_after
            .to_unix_duration();
        let signed_at = match (&self.rekor, layer.bundle) {
            (Some(rekor), Some(bundle)) => Duration::from_secs(verify_bundle(rekor, bundle, layer, &leaf_der, "certificate")?),
            (Some(_), None) => return Err("the signature has no Rekor bundle; pass --insecure-ignore-tlog to accept signatures without one".into()),
            (None, _) => not_before,
        };
        if signed_at < not_before || signed_at > not_after {
            return Err("the signature was logged outside the certificate's validity".into());
        }
        self.check_chain(&leaf_der, layer.chain, signed_at)?;
        let spki = leaf
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| e.to_string())?;
        let key = CosignVerificationKey::try_from_der(&spki)
            .map_err(|e| format!("the certificate's key is not usable: {e}"))?;
        let identity = identity_of(&leaf)?;
        self.check_identity(&identity)?;
        Ok((key, identity))
    }

    fn check_chain(
        &self,
        leaf_der: &[u8],
        chain: Option<&str>,
        at: Duration,
    ) -> Result<(), String> {
        let intermediates: Vec<CertificateDer<'static>> = match chain {
            Some(pem_text) => roots_from_pem(pem_text.as_bytes()),
            None => Vec::new(),
        };
        verify_chain(leaf_der, &self.roots, &intermediates, at, true).map_err(|e| match e {
            ChainError::NoUsableRoot => "no usable root certificate was given".to_owned(),
            ChainError::Leaf(e) => format!("the certificate is not usable: {e:?}"),
            ChainError::Path(e) => {
                format!("the certificate does not chain to the given roots ({e:?})")
            }
        })
    }

    fn check_identity(&self, identity: &CertificateIdentity) -> Result<(), String> {
        let any_san = |f: &dyn Fn(&str) -> bool| {
            identity.sans.is_empty() || identity.sans.iter().any(|s| f(s))
        };
        if let Some(pattern) = &self.subject
            && !any_san(&|s| wildcard::matches(pattern, s))
        {
            return Err(format!(
                "subject mismatch: expected {pattern}, received {}",
                identity.sans.join(", ")
            ));
        }
        if let Some(re) = &self.subject_regexp
            && !any_san(&|s| re.is_match(s))
        {
            return Err(format!(
                "subject mismatch: expected {re}, received {}",
                identity.sans.join(", ")
            ));
        }
        let issuer = identity.issuer.as_deref().unwrap_or("");
        if let Some(pattern) = &self.issuer
            && !wildcard::matches(pattern, issuer)
        {
            return Err(format!(
                "issuer mismatch: expected {pattern}, received {issuer}"
            ));
        }
        if let Some(re) = &self.issuer_regexp
            && !re.is_match(issuer)
        {
            return Err(format!("issuer mismatch: expected {re}, received {issuer}"));
        }
        Ok(())
    }
}

/// Why a certificate does not chain to the trusted roots.
#[derive(Debug)]
pub enum ChainError {
    /// None of the roots is usable as a trust anchor.
    NoUsableRoot,
    /// The certificate itself cannot be used as an end entity.
    Leaf(webpki::Error),
    /// No path leads from the certificate to a root.
    Path(webpki::Error),
}

impl ChainError {
    /// The error as Go's `crypto/x509` words it, which is what cosign and Kyverno report.
    pub fn x509_wording(&self) -> String {
        match self {
            ChainError::NoUsableRoot | ChainError::Path(webpki::Error::UnknownIssuer) => {
                "x509: certificate signed by unknown authority".into()
            }
            ChainError::Path(
                webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. },
            ) => "x509: certificate has expired or is not yet valid".into(),
            ChainError::Path(webpki::Error::RequiredEkuNotFoundContext(_)) => {
                "x509: certificate specifies an incompatible key usage".into()
            }
            ChainError::Leaf(e) | ChainError::Path(e) => format!("{e:?}"),
        }
    }
}

/// Verifies that the certificate `leaf_der` chains to one of `roots` through `intermediates`
/// at time `at`, for code signing. `eku_required`: the code-signing EKU must be present (Fulcio
/// certificates always carry it); otherwise it is only checked when the certificate has an
/// EKU extension, as Go's `x509.Verify` treats a certificate without one (cosign `TrustedCert`).
pub fn verify_chain(
    leaf_der: &[u8],
    roots: &[CertificateDer<'_>],
    intermediates: &[CertificateDer<'_>],
    at: Duration,
    eku_required: bool,
) -> Result<(), ChainError> {
    let leaf = CertificateDer::from(leaf_der);
    let end_entity = webpki::EndEntityCert::try_from(&leaf).map_err(ChainError::Leaf)?;
    let anchors: Vec<_> = roots
        .iter()
        .filter_map(|r| webpki::anchor_from_trusted_cert(r).ok())
        .collect();
    if anchors.is_empty() {
        return Err(ChainError::NoUsableRoot);
    }
    let usage = if eku_required {
        webpki::KeyUsage::required(EKU_CODE_SIGNING)
    } else {
        webpki::KeyUsage::required_if_present(EKU_CODE_SIGNING)
    };
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            intermediates,
            UnixTime::since_unix_epoch(at),
            usage,
            None,
            None,
        )
        .map(|_| ())
        .map_err(ChainError::Path)
}

/// Verifies a Rekor bundle offline: its signed entry timestamp with the Rekor key, and that a
/// `hashedrekord` body names this payload, this signature and the signer `logged_der` (the DER
/// of the certificate or public key the entry must record; `noun` names it in errors).
/// Returns the integrated time.
pub fn verify_bundle(
    rekor: &RekorKey,
    bundle: &str,
    layer: &SignedLayer<'_>,
    logged_der: &[u8],
    noun: &str,
) -> Result<u64, String> {
    let bundle: Bundle = serde_json::from_str(bundle)
        .map_err(|e| format!("the Rekor bundle does not parse: {e}"))?;
    if bundle.payload.log_id != rekor.log_id {
        return Err("the Rekor bundle is from another log than the given Rekor key".into());
    }
    let canonical = serde_json_canonicalizer::to_vec(&bundle.payload).map_err(|e| e.to_string())?;
    rekor
        .key
        .verify_signature(
            Signature::Base64Encoded(bundle.signed_entry_timestamp.as_bytes()),
            &canonical,
        )
        .map_err(|_| {
            "the Rekor bundle's signed entry timestamp does not verify with the Rekor key"
                .to_owned()
        })?;
    check_body(&bundle.payload.body, layer, logged_der, noun)?;
    u64::try_from(bundle.payload.integrated_time)
        .map_err(|_| "the Rekor bundle has a negative time".to_owned())
}

/// A `hashedrekord` entry must name this message's hash, this signature and this signer;
/// other entry kinds (DSSE attestations) are only covered by the SET.
fn check_body(
    body_b64: &str,
    layer: &SignedLayer<'_>,
    logged_der: &[u8],
    noun: &str,
) -> Result<(), String> {
    let body = STANDARD
        .decode(body_b64)
        .map_err(|_| "the Rekor entry body is not base64".to_owned())?;
    let body: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| "the Rekor entry body is not JSON".to_owned())?;
    if body.get("kind").and_then(|k| k.as_str()) != Some("hashedrekord") {
        return Ok(());
    }
    let spec = &body["spec"];
    let hash = spec["data"]["hash"]["value"].as_str().unwrap_or_default();
    if hash != Digest::sha256_of(layer.message).hex() {
        return Err("the Rekor entry is for another payload".into());
    }
    if spec["signature"]["content"].as_str() != Some(layer.signature_b64().as_str()) {
        return Err("the Rekor entry is for another signature".into());
    }
    let same_signer = spec["signature"]["publicKey"]["content"]
        .as_str()
        .and_then(|c| STANDARD.decode(c).ok())
        .and_then(|pem_text| pem_block(&pem_text).ok())
        .is_some_and(|der| der == logged_der);
    if !same_signer {
        return Err(format!("the Rekor entry is for another {noun}"));
    }
    Ok(())
}

/// The identity a certificate (PEM) names, read without verifying it: for showing and comparing
/// what a signature claims, never for trusting it (that is [`KeylessPolicy::certificate_key`]).
pub fn certificate_identity(pem: &str) -> Result<CertificateIdentity, String> {
    let der = pem_block(pem.as_bytes()).map_err(|e| format!("the certificate is not PEM: {e}"))?;
    let cert =
        Certificate::from_der(&der).map_err(|e| format!("the certificate does not parse: {e}"))?;
    identity_of(&cert)
}

fn identity_of(cert: &Certificate) -> Result<CertificateIdentity, String> {
    let tbs = cert.tbs_certificate();
    let mut sans = Vec::new();
    if let Ok(Some((_, SubjectAltName(names)))) = tbs.get_extension::<SubjectAltName>() {
        for name in names {
            match name {
                GeneralName::Rfc822Name(s) | GeneralName::UniformResourceIdentifier(s) => {
                    sans.push(s.to_string())
                }
                _ => {}
            }
        }
    }
    let mut issuer = None;
    for ext in tbs.extensions().into_iter().flatten() {
        let oid = ext.extn_id.to_string();
        let raw = ext.extn_value.as_bytes();
        if oid == OID_ISSUER_V2 {
            issuer = x509_cert::der::asn1::Utf8StringRef::from_der(raw)
                .ok()
                .map(|s| s.as_str().to_owned());
        } else if oid == OID_ISSUER_V1 && issuer.is_none() {
            issuer = std::str::from_utf8(raw).ok().map(str::to_owned);
        }
    }
    Ok(CertificateIdentity { sans, issuer })
}

/// The DER of the first PEM block.
pub fn pem_block(text: &[u8]) -> Result<Vec<u8>, String> {
    pem_blocks(text)
        .into_iter()
        .next()
        .ok_or_else(|| "no PEM block found".to_owned())
}

/// The DER of every PEM block.
pub fn pem_blocks(text: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(text);
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with("-----BEGIN ") {
            current = Some(String::new());
        } else if line.starts_with("-----END ") {
            if let Some(b64) = current.take()
                && let Ok(der) = STANDARD.decode(b64)
            {
                blocks.push(der);
            }
        } else if let Some(b64) = current.as_mut() {
            b64.push_str(line);
        }
    }
    blocks
}

/// Reads root certificates from a PEM bundle.
pub fn roots_from_pem(text: &[u8]) -> Vec<CertificateDer<'static>> {
    pem_blocks(text)
        .into_iter()
        .map(CertificateDer::from)
        .collect()
}
