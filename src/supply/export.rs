//! An image's signed evidence as an OCI image layout in memory, for a submission to carry: the
//! image's manifest and config, and cosign's signature and attestation manifests of its digest
//! with every blob they name (their layers are the signatures and the DSSE envelopes). The
//! image's own layers are left out: a signature covers the manifest, which names each layer by
//! digest, so a grader re-verifying the signature needs none of their bytes.
//!
//! The index is `cosign save`'s: one entry per manifest, marked with a `kind` annotation. That
//! is the form `cosign verify --local-image` and `cosign verify-attestation --local-image`
//! read (cosign v3 `pkg/oci/layout/index.go` finds the image, the `.sig` and the `.att` by
//! `kind`; go-containerregistry reads a manifest's layers only when asked for them, and cosign
//! never asks for the image's), and the form [`LayoutStore`](super::layout::LayoutStore) reads.
//! Exporting from a layout store reads every blob of the layout through the store's checks, so
//! exporting a layout again is also how to check all of it.

use serde::Deserialize;

use super::cosign::MAX_LAYERS;
use super::digest::Digest;
use super::error::SupplyError;
use super::fixture::OCI_MANIFEST_MEDIA_TYPE;
use super::layout::{COSIGN_KIND_ANNOTATION, KIND_ATTS, KIND_IMAGE, KIND_IMAGE_INDEX, KIND_SIGS};
use super::layout_source::{LayoutFiles, join};
use super::reference::ImageRef;
use super::store::{Manifest, Store, human_size};

/// The most bytes an export holds in all (the archive reader's limit for one file): an image's
/// signatures and attestations are a few kilobytes, an SPDX SBOM of a large image a few MiB.
pub const MAX_EXPORT_SIZE: u64 = 64 << 20;

/// Media type of an OCI image index.
const OCI_INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of a Docker manifest list.
const DOCKER_LIST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// An exported layout.
#[derive(Debug, Clone)]
pub struct ExportedLayout {
    /// The layout's files, named under the prefix: `oci-layout`, `index.json` and
    /// `blobs/sha256/<hex>`.
    pub files: LayoutFiles,
    /// The image has a signature manifest (`sha256-<hex>.sig`), and it is in the layout.
    pub signed: bool,
    /// The image has an attestation manifest (`sha256-<hex>.att`), and it is in the layout.
    pub attested: bool,
    /// The image's layers left out (for an image index, the manifests it lists).
    pub left_out: usize,
}

/// Exports the image `digest` of `image`'s repository in `store`, with its signatures and
/// attestations, as a layout whose files are named under `prefix` (`layout` for
/// `layout/index.json`; plain components of letters, digits, `.`, `_`, `-`, `+`, or empty).
/// Everything is read through the store's limits; the whole is at most [`MAX_EXPORT_SIZE`].
pub async fn export_layout(
    store: &impl Store,
    image: &ImageRef,
    digest: &Digest,
    prefix: &str,
) -> Result<ExportedLayout, SupplyError> {
    export_within(store, image, digest, prefix, MAX_EXPORT_SIZE).await
}

async fn export_within(
    store: &impl Store,
    image: &ImageRef,
    digest: &Digest,
    prefix: &str,
    budget: u64,
) -> Result<ExportedLayout, SupplyError> {
    check_prefix(prefix)?;
    let mut out = Writer {
        prefix,
        image: format!("{}@{digest}", image.repository()),
        files: LayoutFiles::new(),
        entries: Vec::new(),
        budget,
        used: 0,
    };
    let manifest = store
        .manifest(image, digest.as_str())
        .await?
        .ok_or_else(|| SupplyError::NotFound {
            image: format!("{} in {}", out.image, store.describe()),
        })?;
    let doc = Doc::parse(&manifest, "the image's manifest")?;
    let is_index = doc.manifests.is_some()
        || matches!(
            doc.media_type.as_deref(),
            Some(OCI_INDEX_MEDIA_TYPE | DOCKER_LIST_MEDIA_TYPE)
        );
    let left_out = if is_index {
        doc.manifests.as_ref().map_or(0, Vec::len)
    } else {
        doc.layers.len()
    };
    if is_index {
        let media_type = doc.media_type.as_deref().unwrap_or(OCI_INDEX_MEDIA_TYPE);
        out.manifest(&manifest, media_type, KIND_IMAGE_INDEX)?;
    } else {
        let config = doc.config.as_ref().ok_or_else(|| SupplyError::Corrupt {
            what: format!("the manifest of {}", out.image),
            reason: "it names no config".to_owned(),
        })?;
        out.blob(store, image, config).await?;
        out.manifest(&manifest, doc.media_type(), KIND_IMAGE)?;
    }
    let mut found = [false; 2];
    for (found, (suffix, kind)) in found
        .iter_mut()
        .zip([("sig", KIND_SIGS), ("att", KIND_ATTS)])
    {
        let Some(manifest) = store.manifest(image, &digest.cosign_tag(suffix)).await? else {
            continue;
        };
        let doc = Doc::parse(&manifest, &format!("the {suffix} manifest"))?;
        if doc.layers.len() > MAX_LAYERS {
            return Err(SupplyError::Corrupt {
                what: format!("the {suffix} manifest of {}", out.image),
                reason: format!(
                    "it has {} layers, more than the {MAX_LAYERS} cosign reads",
                    doc.layers.len()
                ),
            });
        }
        for descriptor in doc.config.iter().chain(&doc.layers) {
            out.blob(store, image, descriptor).await?;
        }
        out.manifest(&manifest, doc.media_type(), kind)?;
        *found = true;
    }
    let [signed, attested] = found;
    Ok(ExportedLayout {
        files: out.finish(),
        signed,
        attested,
        left_out,
    })
}

/// Refuses a prefix that is not a plain relative folder name.
fn check_prefix(prefix: &str) -> Result<(), SupplyError> {
    let plain = |part: &str| {
        !part.is_empty()
            && !part.starts_with('.')
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
    };
    if prefix.is_empty() || prefix.split('/').all(plain) {
        Ok(())
    } else {
        Err(SupplyError::BadInput(format!(
            "`{prefix}` is not a folder name for a layout: use plain names of letters, digits, `.`, `_`, `-` and `+`, separated by `/`"
        )))
    }
}

/// What the export reads of a manifest.
#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
    size: u64,
}

impl Doc {
    fn parse(manifest: &Manifest, what: &str) -> Result<Doc, SupplyError> {
        serde_json::from_slice(&manifest.bytes).map_err(|e| SupplyError::Corrupt {
            what: format!("{what} {}", manifest.digest),
            reason: format!("it is not an OCI manifest ({e})"),
        })
    }

    /// The manifest's media type; an OCI manifest when it does not say.
    fn media_type(&self) -> &str {
        self.media_type
            .as_deref()
            .unwrap_or(OCI_MANIFEST_MEDIA_TYPE)
    }
}

/// The layout being written.
struct Writer<'a> {
    prefix: &'a str,
    /// The image by digest, for messages.
    image: String,
    files: LayoutFiles,
    entries: Vec<serde_json::Value>,
    budget: u64,
    used: u64,
}

impl Writer<'_> {
    /// Counts `size` more bytes against the budget, before they are read.
    fn spend(&mut self, size: u64, what: &str) -> Result<(), SupplyError> {
        self.used = self.used.saturating_add(size);
        if self.used > self.budget {
            return Err(SupplyError::BadInput(format!(
                "the signatures and attestations of {} come to more than the {} a submission carries (at {what}); remove old ones with `cosign clean`, then sign and attest the image again",
                self.image,
                human_size(self.budget)
            )));
        }
        Ok(())
    }

    fn put(&mut self, digest: &Digest, bytes: Vec<u8>) {
        let name = format!("blobs/{}/{}", digest.algorithm(), digest.hex());
        self.files.insert(join(self.prefix, &name), bytes);
    }

    /// Reads the blob `descriptor` names (checked against it by the store) into the layout.
    async fn blob(
        &mut self,
        store: &impl Store,
        image: &ImageRef,
        descriptor: &Descriptor,
    ) -> Result<(), SupplyError> {
        let digest = Digest::parse(&descriptor.digest).map_err(|e| SupplyError::Corrupt {
            what: format!("a manifest of {}", self.image),
            reason: format!("a descriptor's digest is wrong: {e}"),
        })?;
        self.spend(descriptor.size, &format!("blob {digest}"))?;
        let bytes = store.blob(image, &digest, descriptor.size).await?;
        self.put(&digest, bytes);
        Ok(())
    }

    /// Adds `manifest` to the layout and its entry, marked `kind`, to the index.
    fn manifest(
        &mut self,
        manifest: &Manifest,
        media_type: &str,
        kind: &str,
    ) -> Result<(), SupplyError> {
        let size = manifest.bytes.len() as u64;
        self.spend(size, &format!("manifest {}", manifest.digest))?;
        self.entries.push(serde_json::json!({
            "mediaType": media_type,
            "size": size,
            "digest": manifest.digest.as_str(),
            "annotations": {COSIGN_KIND_ANNOTATION: kind},
        }));
        self.put(&manifest.digest, manifest.bytes.clone());
        Ok(())
    }

    fn finish(mut self) -> LayoutFiles {
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX_MEDIA_TYPE,
            "manifests": self.entries,
        });
        let mut text = serde_json::to_vec_pretty(&index).expect("a JSON value serializes");
        text.push(b'\n');
        self.files
            .insert(join(self.prefix, "oci-layout"), OCI_LAYOUT.to_vec());
        self.files.insert(join(self.prefix, "index.json"), text);
        self.files
    }
}

/// The `oci-layout` file every layout holds.
const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
