//! The statement's seal: a DSSE envelope over the in-toto statement, written as a Sigstore
//! bundle (v0.3 JSON, what cosign v3 writes and reads by default) whose verification material is
//! a public-key hint. `cosign verify-blob-attestation --bundle --key` verifies what [`seal`]
//! writes; [`open`] reads a bundle from a learner, so it holds it to the protocol: one
//! signature exactly (the bundle spec's rule for DSSE), the in-toto payload type, and a
//! signature over the PAE of both (DSSE v1), checked with the key the grader trusts. The key
//! hint is a hint: it never decides anything, it only explains a failure.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::signing_key::ecdsa::ECDSAKeys;
use sigstore::crypto::{CosignVerificationKey, SigStoreSigner, Signature, SigningScheme};

use crate::supply::attestation::{IN_TOTO_PAYLOAD_TYPE, pae};
use crate::supply::keyless::pem_block;
use crate::supply::public_key::check_pem;

/// The media type of the bundles [`seal`] writes.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Every media type a reader must accept (the bundle spec: 0.1 to 0.3, in both spellings).
const ACCEPTED_MEDIA_TYPES: [&str; 4] = [
    BUNDLE_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
];

/// Why a key could not sign or a bundle could not be opened. Nothing from the bundle or the key
/// is quoted: a learner's bundle is hostile, and a key is a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealError {
    /// The private key could not be read (wrong password, not a key, a kind lab cannot use).
    Key(String),
    /// The public key could not be read.
    PublicKey(String),
    /// The bundle is not JSON of the bundle's shape.
    NotABundle(String),
    /// The bundle's media type is not a Sigstore bundle's.
    MediaType,
    /// The bundle holds a message signature, not a DSSE envelope.
    NoEnvelope,
    /// The envelope's payload type is not the one expected (named here).
    PayloadType(String),
    /// The envelope holds `n` signatures, not one.
    Signatures(usize),
    /// The payload or signature is not base64.
    Base64(&'static str),
    /// The signature does not verify with the key; `other_key` when the bundle's hint names
    /// another key than the one tried.
    BadSignature { other_key: bool },
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::Key(why) => write!(f, "cannot use the signing key: {why}"),
            SealError::PublicKey(why) => write!(f, "cannot read the public key: {why}"),
            SealError::NotABundle(why) => write!(f, "not a Sigstore bundle: {why}"),
            SealError::MediaType => write!(
                f,
                "not a Sigstore bundle: its mediaType is not application/vnd.dev.sigstore.bundle.v0.3+json"
            ),
            SealError::NoEnvelope => write!(
                f,
                "the bundle holds no DSSE envelope (a submission's statement is an in-toto statement in one)"
            ),
            SealError::PayloadType(expected) => {
                write!(f, "the envelope's payloadType is not {expected}")
            }
            SealError::Signatures(n) => {
                write!(
                    f,
                    "the envelope holds {n} signatures; a Sigstore bundle's holds exactly one"
                )
            }
            SealError::Base64(what) => write!(f, "the envelope's {what} is not base64"),
            SealError::BadSignature { other_key: true } => write!(
                f,
                "the signature does not verify with the learner's key: the bundle says another key signed it"
            ),
            SealError::BadSignature { other_key: false } => {
                write!(f, "the signature does not verify with the learner's key")
            }
        }
    }
}

impl std::error::Error for SealError {}

/// A learner's signing key, as `cosign generate-key-pair` writes it (encrypted with
/// `COSIGN_PASSWORD`), or an unencrypted PKCS#8 key.
pub struct SigningKey {
    signer: SigStoreSigner,
    public_der: Vec<u8>,
    public_pem: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Reads a private key: cosign's encrypted format with `password`, or unencrypted PKCS#8.
    pub fn read(pem: &[u8], password: &[u8]) -> Result<Self, SealError> {
        let text = String::from_utf8_lossy(pem);
        let pair = if text.contains("ENCRYPTED SIGSTORE PRIVATE KEY")
            || text.contains("ENCRYPTED COSIGN PRIVATE KEY")
        {
            SigStoreKeyPair::from_encrypted_pem(pem, password).map_err(|_| {
                SealError::Key(
                    "it does not decrypt with the password given (set COSIGN_PASSWORD to the one `cosign generate-key-pair` asked for)"
                        .to_owned(),
                )
            })?
        } else if text.contains("BEGIN PRIVATE KEY") || text.contains("BEGIN EC PRIVATE KEY") {
            SigStoreKeyPair::from_pem(pem)
                .map_err(|_| SealError::Key("it is not a private key lab can read".to_owned()))?
        } else {
            return Err(SealError::Key(
                "it is not a private key (cosign.key, as `cosign generate-key-pair` writes it)"
                    .to_owned(),
            ));
        };
        let scheme = match &pair {
            SigStoreKeyPair::ECDSA(ECDSAKeys::P256(_)) => SigningScheme::ECDSA_P256_SHA256_ASN1,
            SigStoreKeyPair::ECDSA(ECDSAKeys::P384(_)) => SigningScheme::ECDSA_P384_SHA384_ASN1,
            SigStoreKeyPair::ED25519(_) => SigningScheme::ED25519,
            _ => {
                return Err(SealError::Key(
                    "lab signs with ECDSA P-256 or P-384 or Ed25519 keys (cosign generate-key-pair makes P-256)"
                        .to_owned(),
                ));
            }
        };
        let signer = pair
            .to_sigstore_signer(&scheme)
            .map_err(|_| SealError::Key("the key cannot sign".to_owned()))?;
        let public_der = pair
            .public_key_to_der()
            .map_err(|_| SealError::Key("its public key cannot be encoded".to_owned()))?;
        let public_pem = pair
            .public_key_to_pem()
            .map_err(|_| SealError::Key("its public key cannot be encoded".to_owned()))?;
        Ok(SigningKey {
            signer,
            public_der,
            public_pem,
        })
    }

    /// The public key as PEM (what `cosign.pub` holds).
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }
}

/// The key hint cosign writes: base64 of the SHA-256 of the public key's DER encoding.
pub fn key_hint(public_der: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(public_der))
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    media_type: String,
    verification_material: VerificationMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dsse_envelope: Option<Envelope>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_key: Option<KeyHint>,
}

#[derive(Debug, Serialize, Deserialize)]
struct KeyHint {
    #[serde(default)]
    hint: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload: String,
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Serialize, Deserialize)]
struct EnvelopeSignature {
    sig: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyid: Option<String>,
}

/// Signs `statement` (an in-toto statement's JSON) with `key` and returns the Sigstore bundle.
pub fn seal(statement: &[u8], key: &SigningKey) -> Result<Vec<u8>, SealError> {
    seal_as(statement, IN_TOTO_PAYLOAD_TYPE, key)
}

/// Signs `payload` of `payload_type` with `key` and returns the Sigstore bundle.
pub fn seal_as(payload: &[u8], payload_type: &str, key: &SigningKey) -> Result<Vec<u8>, SealError> {
    let signature = key
        .signer
        .sign(&pae(payload_type, payload))
        .map_err(|_| SealError::Key("signing failed".to_owned()))?;
    let bundle = Bundle {
        media_type: BUNDLE_MEDIA_TYPE.to_owned(),
        verification_material: VerificationMaterial {
            public_key: Some(KeyHint {
                hint: key_hint(&key.public_der),
            }),
        },
        dsse_envelope: Some(Envelope {
            payload: STANDARD.encode(payload),
            payload_type: payload_type.to_owned(),
            signatures: vec![EnvelopeSignature {
                sig: STANDARD.encode(signature),
                keyid: None,
            }],
        }),
    };
    let mut out = serde_json::to_vec_pretty(&bundle).expect("a bundle serializes");
    out.push(b'\n');
    Ok(out)
}

/// A public key a grader trusts, read from PEM.
pub struct TrustedKey {
    key: CosignVerificationKey,
    hint: String,
}

impl TrustedKey {
    /// Reads a PEM public key (`cosign.pub`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, SealError> {
        let text = std::str::from_utf8(pem)
            .map_err(|_| SealError::PublicKey("it is not a PEM text file".to_owned()))?;
        check_pem(text).map_err(|e| SealError::PublicKey(e.to_string()))?;
        let der = pem_block(pem).map_err(|_| {
            SealError::PublicKey("it is not a PEM public key (cosign.pub)".to_owned())
        })?;
        let key = CosignVerificationKey::try_from_der(&der).map_err(|_| {
            SealError::PublicKey("it is not a public key lab can verify with".to_owned())
        })?;
        Ok(TrustedKey {
            key,
            hint: key_hint(&der),
        })
    }

    /// The key's hint, as [`key_hint`] computes it.
    pub fn hint(&self) -> &str {
        &self.hint
    }
}

/// Opens a learner's bundle: checks it is a Sigstore bundle holding one DSSE signature over an
/// in-toto payload, and that the signature verifies with `key`. Returns the payload (the
/// statement's JSON, not yet parsed).
pub fn open(bundle: &[u8], key: &TrustedKey) -> Result<Vec<u8>, SealError> {
    open_as(bundle, IN_TOTO_PAYLOAD_TYPE, key)
}

/// Opens a bundle whose envelope must carry a payload of `payload_type`, as [`open`] does.
pub fn open_as(bundle: &[u8], payload_type: &str, key: &TrustedKey) -> Result<Vec<u8>, SealError> {
    let unpacked = Unsealed::read(bundle, payload_type)?;
    unpacked.verify(key)?;
    Ok(unpacked.payload)
}

/// The payload of a bundle of `payload_type`, its signature NOT verified: for a learner's
/// `lab start --token`, whose machine does not hold the instructor's key (`lab grade` verifies
/// the same token with it). Every other rule of [`open`] holds.
pub fn peek_as(bundle: &[u8], payload_type: &str) -> Result<Vec<u8>, SealError> {
    Unsealed::read(bundle, payload_type).map(|u| u.payload)
}

/// A bundle read as [`open_as`] reads it, its signature not yet verified: for a reader that
/// must learn from the payload which key verifies it (`lab grade` reads the statement's
/// public key file), and then verifies it, without reading the bundle twice.
pub struct Unsealed {
    payload_type: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
    hint: Option<String>,
}

impl Unsealed {
    /// `bundle`, which must carry a payload of `payload_type`.
    pub fn read(bundle: &[u8], payload_type: &str) -> Result<Self, SealError> {
        let unpacked = unpack(bundle, payload_type)?;
        Ok(Unsealed {
            payload_type: payload_type.to_owned(),
            payload: unpacked.payload,
            signature: unpacked.signature,
            hint: unpacked.hint,
        })
    }

    /// The payload: not to be trusted before [`Unsealed::verify`] holds.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Whether the signature verifies with `key`.
    pub fn verify(&self, key: &TrustedKey) -> Result<(), SealError> {
        let signed = pae(&self.payload_type, &self.payload);
        if key
            .key
            .verify_signature(Signature::Raw(&self.signature), &signed)
            .is_err()
        {
            return Err(SealError::BadSignature {
                other_key: self.hint.as_ref().is_some_and(|h| *h != key.hint),
            });
        }
        Ok(())
    }
}

struct Unpacked {
    payload: Vec<u8>,
    signature: Vec<u8>,
    hint: Option<String>,
}

fn unpack(bundle: &[u8], payload_type: &str) -> Result<Unpacked, SealError> {
    let bundle: Bundle = super::json::parse(bundle, "a field is missing or of the wrong type")
        .map_err(|p| {
            SealError::NotABundle(format!("line {}, column {}: {}", p.line, p.column, p.why))
        })?;
    if !ACCEPTED_MEDIA_TYPES.contains(&bundle.media_type.as_str()) {
        return Err(SealError::MediaType);
    }
    let envelope = bundle.dsse_envelope.ok_or(SealError::NoEnvelope)?;
    if envelope.payload_type != payload_type {
        return Err(SealError::PayloadType(payload_type.to_owned()));
    }
    let [signature] = envelope.signatures.as_slice() else {
        return Err(SealError::Signatures(envelope.signatures.len()));
    };
    Ok(Unpacked {
        payload: decode(&envelope.payload).ok_or(SealError::Base64("payload"))?,
        signature: decode(&signature.sig).ok_or(SealError::Base64("signature"))?,
        hint: bundle
            .verification_material
            .public_key
            .map(|k| k.hint)
            .filter(|h| !h.is_empty()),
    })
}

/// DSSE: verifiers accept standard and URL-safe base64.
fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .ok()
}

#[cfg(test)]
#[path = "sealed_tests.rs"]
mod tests;
