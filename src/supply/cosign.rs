//! Reading cosign's artifacts for an image: the signature manifest at
//! `<repo>:sha256-<hex>.sig` (one simple-signing layer per signature, the signature in the
//! `dev.cosignproject.cosign/signature` annotation) and the attestation manifest at
//! `<repo>:sha256-<hex>.att` (one DSSE envelope layer per attestation). Only fetching lives
//! here; verification is pure and lives in `signature.rs` and `attestation.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::digest::Digest;
use super::error::SupplyError;
use super::reference::ImageRef;
use super::store::Store;

/// The most layers read from a signature or attestation manifest (cosign's own limit).
pub const MAX_LAYERS: usize = 1000;

/// Media type of a cosign simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Media type of a DSSE envelope layer.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// Layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Layer annotation holding a keyless signer's certificate (PEM).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Layer annotation holding the certificate chain (PEM).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// Layer annotation holding the Rekor bundle (JSON).
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// Layer annotation naming an attestation's predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

/// One signature layer.
#[derive(Debug, Clone)]
pub struct SignatureLayer {
    /// The signed payload (simple-signing JSON), as stored.
    pub payload: Vec<u8>,
    /// The base64 signature over `payload`.
    pub signature: String,
    /// The signer's certificate (keyless), PEM.
    pub certificate: Option<String>,
    /// The certificate chain, PEM.
    pub chain: Option<String>,
    /// The Rekor bundle, JSON.
    pub bundle: Option<String>,
}

/// One attestation layer.
#[derive(Debug, Clone)]
pub struct AttestationLayer {
    /// The DSSE envelope JSON, as stored.
    pub envelope: Vec<u8>,
    /// The predicate type the layer claims in its annotation (the envelope is authoritative).
    pub predicate_type: Option<String>,
    /// The signer's certificate (keyless), PEM.
    pub certificate: Option<String>,
    /// The certificate chain, PEM.
    pub chain: Option<String>,
    /// The Rekor bundle, JSON.
    pub bundle: Option<String>,
}

/// Everything cosign stored about one image digest.
#[derive(Debug, Clone)]
pub struct CosignArtifacts {
    /// The image as asked for.
    pub image: ImageRef,
    /// The digest it resolved to.
    pub digest: Digest,
    /// Signature layers (empty when unsigned).
    pub signatures: Vec<SignatureLayer>,
    /// Attestation layers (empty when there are none).
    pub attestations: Vec<AttestationLayer>,
}

impl CosignArtifacts {
    /// The image pinned to its digest, as cosign prints it.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.image.repository(), self.digest)
    }

    /// The identities (email and URI subjects) the certificates of the keyless signatures
    /// name, each once, read WITHOUT verifying the certificates: what the signatures claim,
    /// for showing and comparing, never for trusting.
    pub fn signer_identities(&self) -> Vec<String> {
        let mut identities: Vec<String> = Vec::new();
        for layer in &self.signatures {
            let Some(pem) = &layer.certificate else {
                continue;
            };
            for san in super::keyless::certificate_identity(pem)
                .map(|i| i.sans)
                .unwrap_or_default()
            {
                if !identities.contains(&san) {
                    identities.push(san);
                }
            }
        }
        identities
    }
}

#[derive(Deserialize)]
struct ManifestDoc {
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Resolves `image` and fetches its signatures and attestations from `store`.
pub async fn fetch_artifacts(
    store: &impl Store,
    image: &ImageRef,
) -> Result<CosignArtifacts, SupplyError> {
    let digest = store.resolve(image).await?;
    artifacts_of(image, digest, store, image).await
}

/// [`fetch_artifacts`] with the signatures and attestations kept in another repository
/// (cosign's `--repository`, `COSIGN_REPOSITORY`; Kyverno's `repository`): the image's digest
/// is resolved where the image is, its `sha256-<hex>.sig` and `.att` read from `repository`.
pub async fn fetch_artifacts_in(
    store: &impl Store,
    image: &ImageRef,
    signatures: &impl Store,
    repository: &ImageRef,
) -> Result<CosignArtifacts, SupplyError> {
    let digest = store.resolve(image).await?;
    artifacts_of(image, digest, signatures, repository).await
}

/// The artifacts of `image` (of `digest`) kept in `repository` of `store`.
async fn artifacts_of(
    image: &ImageRef,
    digest: Digest,
    store: &impl Store,
    repository: &ImageRef,
) -> Result<CosignArtifacts, SupplyError> {
    let mut signatures = Vec::new();
    for (layer, descriptor) in layers(store, repository, &digest, "sig").await? {
        if descriptor.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
            continue;
        }
        let Some(signature) = descriptor.annotations.get(SIGNATURE_ANNOTATION) else {
            continue;
        };
        signatures.push(SignatureLayer {
            payload: layer,
            signature: signature.clone(),
            certificate: descriptor.annotations.get(CERTIFICATE_ANNOTATION).cloned(),
            chain: descriptor.annotations.get(CHAIN_ANNOTATION).cloned(),
            bundle: descriptor.annotations.get(BUNDLE_ANNOTATION).cloned(),
        });
    }
    let mut attestations = Vec::new();
    for (layer, descriptor) in layers(store, repository, &digest, "att").await? {
        if descriptor.media_type != DSSE_MEDIA_TYPE {
            continue;
        }
        attestations.push(AttestationLayer {
            envelope: layer,
            predicate_type: descriptor
                .annotations
                .get(PREDICATE_TYPE_ANNOTATION)
                .cloned(),
            certificate: descriptor.annotations.get(CERTIFICATE_ANNOTATION).cloned(),
            chain: descriptor.annotations.get(CHAIN_ANNOTATION).cloned(),
            bundle: descriptor.annotations.get(BUNDLE_ANNOTATION).cloned(),
        });
    }
    Ok(CosignArtifacts {
        image: image.clone(),
        digest,
        signatures,
        attestations,
    })
}

/// The layers (content and descriptor) of the artifact manifest `sha256-<hex>.<suffix>`.
async fn layers(
    store: &impl Store,
    image: &ImageRef,
    digest: &Digest,
    suffix: &str,
) -> Result<Vec<(Vec<u8>, Descriptor)>, SupplyError> {
    let Some(manifest) = store.manifest(image, &digest.cosign_tag(suffix)).await? else {
        return Ok(Vec::new());
    };
    let what = format!("the {suffix} manifest of {}", image.repository());
    let corrupt = |reason: String| SupplyError::Corrupt {
        what: what.clone(),
        reason,
    };
    let doc: ManifestDoc = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| corrupt(format!("it is not an OCI manifest ({e})")))?;
    if doc.layers.len() > MAX_LAYERS {
        return Err(corrupt(format!(
            "it has {} layers, more than the {MAX_LAYERS} cosign reads",
            doc.layers.len()
        )));
    }
    let mut out = Vec::with_capacity(doc.layers.len());
    for descriptor in doc.layers {
        let layer_digest = Digest::parse(&descriptor.digest)
            .map_err(|e| corrupt(format!("a layer's digest is wrong: {e}")))?;
        let layer = store.blob(image, &layer_digest, descriptor.size).await?;
        out.push((layer, descriptor));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(sans: Vec<rcgen::SanType>) -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = sans;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    fn layer(certificate: Option<String>) -> SignatureLayer {
        SignatureLayer {
            payload: Vec::new(),
            signature: String::new(),
            certificate,
            chain: None,
            bundle: None,
        }
    }

    #[test]
    fn the_signer_identities_are_each_certificates_subjects_once_and_keyed_layers_name_none() {
        let workflow = "https://github.com/ada/labs/.github/workflows/sign.yml@refs/heads/main";
        let artifacts = CosignArtifacts {
            image: ImageRef::parse("kind-registry:5000/courselab/demo:1").unwrap(),
            digest: Digest::sha256_of(b"demo"),
            signatures: vec![
                layer(None),
                layer(Some(certificate(vec![rcgen::SanType::URI(
                    workflow.try_into().unwrap(),
                )]))),
                layer(Some("not a certificate".into())),
                layer(Some(certificate(vec![
                    rcgen::SanType::Rfc822Name("ada@example.edu".try_into().unwrap()),
                    rcgen::SanType::URI(workflow.try_into().unwrap()),
                ]))),
            ],
            attestations: Vec::new(),
        };
        assert_eq!(artifacts.signer_identities(), [workflow, "ada@example.edu"]);
    }
}
