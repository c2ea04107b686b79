//! Building cosign artifacts in cosign's own formats: OCI image manifests, the signature
//! manifest (`sha256-<hex>.sig`, simple-signing layers) and the attestation manifest
//! (`sha256-<hex>.att`, DSSE envelopes over in-toto statements). `lab test --write-fixtures`
//! uses it to build a chapter's fixture images, signed with the test keys committed beside
//! them; the tests and benchmarks use it too. Nothing here is a mock: what it writes verifies
//! with `cosign verify` and is read back by [`super::cosign::fetch_artifacts`].

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigstore::crypto::signing_key::ecdsa::ECDSAKeys;
use sigstore::crypto::{SigStoreSigner, SigningScheme};

use super::attestation::pae;
use super::cosign::{
    DSSE_MEDIA_TYPE, PREDICATE_TYPE_ANNOTATION, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE,
};
use super::digest::Digest;
use super::error::SupplyError;

/// Media type of an OCI image manifest.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an OCI image config.
pub const OCI_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of an uncompressed layer.
pub const OCI_LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
/// The in-toto payload type of a DSSE envelope.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The SPDX predicate type.
pub const SPDX_PREDICATE_TYPE: &str = "https://spdx.dev/Document";

/// An ECDSA P-256 signing key (what `cosign generate-key-pair` makes), unencrypted.
pub struct SigningKey {
    signer: SigStoreSigner,
    keys: ECDSAKeys,
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Result<Self, SupplyError> {
        let keys = ECDSAKeys::new(sigstore::crypto::signing_key::ecdsa::EllipticCurve::P256)
            .map_err(|e| SupplyError::BadInput(format!("cannot generate a key: {e}")))?;
        Self::from_keys(keys)
    }

    /// Reads an unencrypted PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, SupplyError> {
        let keys = ECDSAKeys::from_pem(pem).map_err(|e| {
            SupplyError::BadInput(format!("not an unencrypted PKCS#8 ECDSA private key ({e})"))
        })?;
        Self::from_keys(keys)
    }

    fn from_keys(keys: ECDSAKeys) -> Result<Self, SupplyError> {
        let signer = keys
            .to_sigstore_signer()
            .map_err(|e| SupplyError::BadInput(format!("unusable key: {e}")))?;
        Ok(SigningKey { signer, keys })
    }

    /// The private key as PKCS#8 PEM. Only for writing test keys; never print it.
    pub fn private_pem(&self) -> Result<String, SupplyError> {
        self.keys
            .as_inner()
            .private_key_to_pem()
            .map(|p| p.to_string())
            .map_err(|e| SupplyError::BadInput(format!("cannot encode the key: {e}")))
    }

    /// The public key as PEM, as `cosign.pub` holds it.
    pub fn public_pem(&self) -> Result<String, SupplyError> {
        self.keys
            .as_inner()
            .public_key_to_pem()
            .map_err(|e| SupplyError::BadInput(format!("cannot encode the public key: {e}")))
    }

    /// Signs `data`; returns the base64 signature as cosign stores it.
    pub fn sign(&self, data: &[u8]) -> Result<String, SupplyError> {
        self.signer
            .sign(data)
            .map(|s| STANDARD.encode(s))
            .map_err(|e| SupplyError::BadInput(format!("cannot sign: {e}")))
    }
}

/// A manifest with the blobs it refers to, ready to write to a layout or push.
#[derive(Debug, Clone)]
pub struct BuiltManifest {
    /// The manifest bytes.
    pub bytes: Vec<u8>,
    /// Their digest.
    pub digest: Digest,
    /// The config blob and the layers, in that order.
    pub blobs: Vec<Vec<u8>>,
}

/// A layer: bytes, media type, annotations.
pub type Layer = (Vec<u8>, &'static str, BTreeMap<&'static str, String>);

/// An OCI image manifest over `config` and `layers`.
pub fn manifest(config: Vec<u8>, layers: Vec<Layer>) -> BuiltManifest {
    let descriptor = |bytes: &[u8], media_type: &str| json!({"mediaType": media_type, "size": bytes.len(), "digest": Digest::sha256_of(bytes).as_str()});
    let mut descriptors = Vec::new();
    let mut blobs = vec![config.clone()];
    for (bytes, media_type, annotations) in layers {
        let mut d = descriptor(&bytes, media_type);
        if !annotations.is_empty() {
            d["annotations"] = json!(annotations);
        }
        descriptors.push(d);
        blobs.push(bytes);
    }
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_MEDIA_TYPE,
        "config": descriptor(&config, OCI_CONFIG_MEDIA_TYPE),
        "layers": descriptors,
    });
    let bytes = serde_json::to_vec(&doc).expect("a JSON value serializes");
    BuiltManifest {
        digest: Digest::sha256_of(&bytes),
        bytes,
        blobs,
    }
}

/// A runnable-shaped image whose only layer is an empty tar archive; `label` goes into the
/// config, so that each fixture image has its own digest.
pub fn image(label: &str) -> BuiltManifest {
    let layer = vec![0u8; 1024]; // two zero blocks: a valid, empty tar archive
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"dev.courselab.fixture": label}},
        "rootfs": {"type": "layers", "diff_ids": [Digest::sha256_of(&layer).as_str()]}
    }))
    .expect("a JSON value serializes");
    manifest(config, vec![(layer, OCI_LAYER_MEDIA_TYPE, BTreeMap::new())])
}

/// cosign's simple-signing payload for `repository@digest`.
pub fn signing_payload(repository: &str, digest: &Digest) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest.as_str()},
            "type": "cosign container image signature"
        },
        "optional": null
    }))
    .expect("a JSON value serializes")
}

/// The signature manifest holding one simple-signing layer per key.
pub fn signature_manifest(
    repository: &str,
    digest: &Digest,
    keys: &[&SigningKey],
) -> Result<BuiltManifest, SupplyError> {
    let payload = signing_payload(repository, digest);
    let mut layers = Vec::new();
    for key in keys {
        layers.push((
            payload.clone(),
            SIMPLE_SIGNING_MEDIA_TYPE,
            BTreeMap::from([(SIGNATURE_ANNOTATION, key.sign(&payload)?)]),
        ));
    }
    Ok(manifest(b"{}".to_vec(), layers))
}

/// An in-toto v0.1 statement about `repository@digest`.
pub fn statement(
    repository: &str,
    digest: &Digest,
    predicate_type: &str,
    predicate: Value,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": predicate_type,
        "subject": [{"name": repository, "digest": {"sha256": digest.hex()}}],
        "predicate": predicate
    }))
    .expect("a JSON value serializes")
}

/// A DSSE envelope over `statement`, signed by `key`.
pub fn envelope(statement: &[u8], key: &SigningKey) -> Result<Vec<u8>, SupplyError> {
    let signature = key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, statement))?;
    Ok(serde_json::to_vec(&json!({
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "payload": STANDARD.encode(statement),
        "signatures": [{"keyid": "", "sig": signature}]
    }))
    .expect("a JSON value serializes"))
}

/// The attestation manifest: one DSSE layer per (envelope, predicate type).
pub fn attestation_manifest(envelopes: Vec<(Vec<u8>, String)>) -> BuiltManifest {
    let layers = envelopes
        .into_iter()
        .map(|(envelope, predicate_type)| {
            (
                envelope,
                DSSE_MEDIA_TYPE,
                BTreeMap::from([
                    (SIGNATURE_ANNOTATION, String::new()),
                    (PREDICATE_TYPE_ANNOTATION, predicate_type),
                ]),
            )
        })
        .collect();
    manifest(b"{}".to_vec(), layers)
}

/// A small, valid SPDX 2.3 document describing the fixture image `name`.
pub fn spdx_document(name: &str) -> Value {
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("https://courselab.dev/spdx/{name}"),
        "creationInfo": {"created": "2026-11-22T00:00:00Z", "creators": ["Tool: courselab-fixtures"]},
        "packages": [
            {"SPDXID": "SPDXRef-Package-demo", "name": "demo", "versionInfo": "1.4.2", "downloadLocation": "NOASSERTION", "filesAnalyzed": false}
        ],
        "relationships": [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-Package-demo"}]
    })
}

/// The signing scheme of every key made here.
pub const SCHEME: SigningScheme = SigningScheme::ECDSA_P256_SHA256_ASN1;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supply::cosign::{AttestationLayer, CosignArtifacts, SignatureLayer};
    use crate::supply::signature::{Verifier, verify_signatures};
    use crate::supply::{ImageRef, attestation::verify_attestations};

    #[test]
    fn a_key_survives_its_pem_round_trip_and_signs_verifiably() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_pem(key.private_pem().unwrap().as_bytes()).unwrap();
        assert_eq!(key.public_pem().unwrap(), again.public_pem().unwrap());
        assert!(SigningKey::from_pem(b"not a key").is_err());
        let image = ImageRef::parse("reg.example/demo:1").unwrap();
        let built = super::image("demo:1");
        let payload = signing_payload(&image.repository(), &built.digest);
        let statement = statement(
            &image.repository(),
            &built.digest,
            SPDX_PREDICATE_TYPE,
            spdx_document("demo"),
        );
        let artifacts = CosignArtifacts {
            image,
            digest: built.digest.clone(),
            signatures: vec![SignatureLayer {
                signature: again.sign(&payload).unwrap(),
                payload,
                certificate: None,
                chain: None,
                bundle: None,
            }],
            attestations: vec![AttestationLayer {
                envelope: envelope(&statement, &again).unwrap(),
                predicate_type: Some(SPDX_PREDICATE_TYPE.into()),
                certificate: None,
                chain: None,
                bundle: None,
            }],
        };
        let verifier = Verifier::from_public_key_pem(key.public_pem().unwrap().as_bytes()).unwrap();
        verify_signatures(&artifacts, &verifier).unwrap();
        verify_attestations(&artifacts, &verifier, "spdxjson").unwrap();
        let other = SigningKey::generate().unwrap();
        let stranger =
            Verifier::from_public_key_pem(other.public_pem().unwrap().as_bytes()).unwrap();
        assert!(verify_signatures(&artifacts, &stranger).is_err());
    }

    #[test]
    fn images_with_different_labels_have_different_digests() {
        assert_ne!(super::image("a").digest, super::image("b").digest);
        assert_eq!(super::image("a").digest, super::image("a").digest);
    }
}
