//! An OCI image layout as a [`Store`], so that saved evidence verifies offline with the same
//! code as a registry: a folder on disk, or the files of a submission archive in memory
//! ([`super::layout_source`]). Two writers are understood:
//! - `cosign save`, which marks the entries of `index.json` with a `kind` annotation
//!   (`dev.cosignproject.cosign/image` or `/imageIndex`, `/sigs`, `/atts`);
//! - tools that name entries by tag with `org.opencontainers.image.ref.name` (skopeo, crane,
//!   `oras`), where cosign's artifacts are the tags `sha256-<hex>.sig` and `.att`.
//!
//! Nothing in a layout is trusted: every file read must be of the size its descriptor gives
//! (on disk, a regular file inside the layout: a symbolic link may point elsewhere in it,
//! never out), and every blob is checked against its digest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::digest::Digest;
use super::error::SupplyError;
use super::layout_source::{LayoutFiles, LayoutSource, Opened};
use super::reference::ImageRef;
use super::store::{Limit, MAX_MANIFEST_SIZE, Manifest, Store, check_blob_size, not_a_manifest};

/// The annotation `cosign save` uses to say what an index entry is.
pub const COSIGN_KIND_ANNOTATION: &str = "kind";
/// `cosign save`'s `kind` of the image's entry.
pub const KIND_IMAGE: &str = "dev.cosignproject.cosign/image";
/// `cosign save`'s `kind` of an image index's entry.
pub const KIND_IMAGE_INDEX: &str = "dev.cosignproject.cosign/imageIndex";
/// `cosign save`'s `kind` of the signature manifest's entry.
pub const KIND_SIGS: &str = "dev.cosignproject.cosign/sigs";
/// `cosign save`'s `kind` of the attestation manifest's entry.
pub const KIND_ATTS: &str = "dev.cosignproject.cosign/atts";
/// The OCI annotation naming an entry by tag.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize)]
struct Entry {
    digest: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

impl Entry {
    fn kind(&self) -> Option<&str> {
        self.annotations
            .get(COSIGN_KIND_ANNOTATION)
            .map(String::as_str)
    }
    fn ref_name(&self) -> Option<&str> {
        self.annotations
            .get(REF_NAME_ANNOTATION)
            .map(String::as_str)
    }
    fn is_image(&self) -> bool {
        matches!(self.kind(), Some(KIND_IMAGE | KIND_IMAGE_INDEX))
    }
}

/// An OCI image layout, on disk or in memory.
pub struct LayoutStore {
    source: Opened,
    entries: Vec<Entry>,
}

impl LayoutStore {
    /// Opens the layout in `dir` (it must hold `oci-layout` and `index.json`).
    pub fn open(dir: &Path) -> Result<Self, SupplyError> {
        Self::open_source(&LayoutSource::Dir(dir.to_owned()))
    }

    /// Opens the layout whose files are those of `files` named under `prefix` (`layout` for
    /// `layout/index.json`), with the same checks as a folder's: nothing is written to disk.
    pub fn in_memory(files: Arc<LayoutFiles>, prefix: &str) -> Result<Self, SupplyError> {
        Self::open_source(&LayoutSource::Files {
            files,
            prefix: prefix.to_owned(),
        })
    }

    /// Opens the layout `source` names.
    pub fn open_source(source: &LayoutSource) -> Result<Self, SupplyError> {
        let source = Opened::open(source)?;
        let limit = Limit::AtMost(MAX_MANIFEST_SIZE);
        source
            .read("oci-layout", limit)?
            .ok_or_else(|| source.not_a_layout("no oci-layout file"))?;
        let index = source
            .read("index.json", limit)?
            .ok_or_else(|| source.not_a_layout("no index.json"))?;
        let index: Index = serde_json::from_slice(&index)
            .map_err(|e| source.not_a_layout(&format!("index.json does not parse: {e}")))?;
        Ok(LayoutStore {
            source,
            entries: index.manifests,
        })
    }

    /// The blob named `digest`, if the layout has it, read up to `limit` and checked.
    fn read_blob(&self, digest: &Digest, limit: Limit) -> Result<Option<Vec<u8>>, SupplyError> {
        let name = format!("blobs/{}/{}", digest.algorithm(), digest.hex());
        let Some(bytes) = self.source.read(&name, limit)? else {
            return Ok(None);
        };
        if !digest.matches(&bytes) {
            return Err(SupplyError::Corrupt {
                what: self.source.shown(&name),
                reason: "it does not hash to its name: the layout is corrupt".to_owned(),
            });
        }
        Ok(Some(bytes))
    }

    /// The manifest named `digest`, of the size its index entry gives (if it has one).
    fn read_manifest(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<Option<Manifest>, SupplyError> {
        let what = format!("manifest {digest} in {}", self.describe());
        let size = size.or_else(|| {
            self.entries
                .iter()
                .find(|e| e.digest == digest.as_str())
                .and_then(|e| e.size)
        });
        let Some(bytes) = self.read_blob(digest, Limit::manifest(&what, size)?)? else {
            return Ok(None);
        };
        if let Some(why) = not_a_manifest(&bytes) {
            return Err(SupplyError::Corrupt {
                what,
                reason: format!("it is {why}"),
            });
        }
        Ok(Some(Manifest {
            bytes,
            digest: digest.clone(),
        }))
    }

    fn entry_for_tag(&self, tag: &str) -> Option<&Entry> {
        if let Some(entry) = self.entries.iter().find(|e| e.ref_name() == Some(tag)) {
            return Some(entry);
        }
        // `cosign save` keeps one image per layout, so its sigs/atts entries are that image's.
        let kind = match tag.rsplit_once('.') {
            Some((prefix, "sig")) if prefix.starts_with("sha256-") => KIND_SIGS,
            Some((prefix, "att")) if prefix.starts_with("sha256-") => KIND_ATTS,
            _ => return None,
        };
        self.entries.iter().find(|e| e.kind() == Some(kind))
    }
}

impl Store for LayoutStore {
    fn describe(&self) -> String {
        self.source.describe()
    }

    async fn resolve(&self, image: &ImageRef) -> Result<Digest, SupplyError> {
        let bad = |e: super::reference::ReferenceError| SupplyError::BadInput(e.to_string());
        if let Some(digest) = &image.digest {
            let digest = Digest::parse(digest).map_err(bad)?;
            return match self.read_manifest(&digest, None)? {
                Some(_) => Ok(digest),
                None => Err(SupplyError::NotFound {
                    image: format!("{} in {}", image, self.describe()),
                }),
            };
        }
        let tag = image.tag.as_deref().unwrap_or("latest");
        let by_tag = self.entries.iter().find(|e| e.ref_name() == Some(tag));
        let images: Vec<&Entry> = self.entries.iter().filter(|e| e.is_image()).collect();
        let entry = by_tag.or(match images.as_slice() {
            [only] => Some(*only),
            _ => None,
        });
        match entry {
            Some(entry) => Digest::parse(&entry.digest).map_err(bad),
            None => Err(SupplyError::NotFound {
                image: format!("tag `{tag}` in {}", self.describe()),
            }),
        }
    }

    async fn manifest(
        &self,
        _image: &ImageRef,
        tag_or_digest: &str,
    ) -> Result<Option<Manifest>, SupplyError> {
        let bad = |e: super::reference::ReferenceError| SupplyError::BadInput(e.to_string());
        let (digest, size) = if tag_or_digest.contains(':') {
            (Digest::parse(tag_or_digest).map_err(bad)?, None)
        } else {
            match self.entry_for_tag(tag_or_digest) {
                Some(entry) => (Digest::parse(&entry.digest).map_err(bad)?, entry.size),
                None => return Ok(None),
            }
        };
        self.read_manifest(&digest, size)
    }

    async fn blob(
        &self,
        image: &ImageRef,
        digest: &Digest,
        size: u64,
    ) -> Result<Vec<u8>, SupplyError> {
        let what = format!(
            "blob {digest} of {} in {}",
            image.repository(),
            self.describe()
        );
        check_blob_size(&what, size)?;
        self.read_blob(digest, Limit::Exactly(size))?
            .ok_or(SupplyError::NotFound { image: what })
    }
}

/// Writes an OCI image layout whose entries are named by tag, as skopeo writes them, so that
/// [`LayoutStore`] and `skopeo copy oci:DIR:TAG` both read it.
pub struct LayoutWriter {
    dir: PathBuf,
    entries: Vec<serde_json::Value>,
}

impl LayoutWriter {
    /// Starts a layout in `dir`, which must not exist yet.
    pub fn create(dir: &Path) -> Result<Self, SupplyError> {
        let io = |e: std::io::Error| {
            SupplyError::BadInput(format!("cannot write the layout {}: {e}", dir.display()))
        };
        if dir.exists() {
            return Err(SupplyError::BadInput(format!(
                "{} already exists; a new layout is only written to a new folder",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir.join("blobs").join("sha256")).map_err(io)?;
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io)?;
        Ok(LayoutWriter {
            dir: dir.to_owned(),
            entries: Vec::new(),
        })
    }

    fn write_blob(&self, bytes: &[u8]) -> Result<Digest, SupplyError> {
        let digest = Digest::sha256_of(bytes);
        let path = self.dir.join("blobs").join("sha256").join(digest.hex());
        std::fs::write(&path, bytes)
            .map_err(|e| SupplyError::BadInput(format!("cannot write {}: {e}", path.display())))?;
        Ok(digest)
    }

    /// Adds a manifest and its blobs under `tag`.
    pub fn add(
        &mut self,
        manifest: &super::fixture::BuiltManifest,
        media_type: &str,
        tag: &str,
    ) -> Result<(), SupplyError> {
        for blob in &manifest.blobs {
            self.write_blob(blob)?;
        }
        let digest = self.write_blob(&manifest.bytes)?;
        self.entries.push(serde_json::json!({
            "mediaType": media_type,
            "digest": digest.as_str(),
            "size": manifest.bytes.len(),
            "annotations": {REF_NAME_ANNOTATION: tag},
        }));
        Ok(())
    }

    /// Writes `index.json`.
    pub fn finish(self) -> Result<(), SupplyError> {
        let index = serde_json::json!({"schemaVersion": 2, "manifests": self.entries});
        let mut text = serde_json::to_string_pretty(&index).expect("a JSON value serializes");
        text.push('\n');
        std::fs::write(self.dir.join("index.json"), text).map_err(|e| {
            SupplyError::BadInput(format!(
                "cannot write the layout {}: {e}",
                self.dir.display()
            ))
        })
    }
}

impl LayoutStore {
    /// The tags the layout names, in index order.
    pub fn tags(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|e| e.ref_name().map(str::to_owned))
            .collect()
    }

    /// The manifest under `tag`, its media type and the blobs it refers to (config first), for
    /// copying the entry elsewhere.
    pub fn export(&self, tag: &str) -> Result<super::fixture::BuiltManifest, SupplyError> {
        #[derive(Deserialize)]
        struct Doc {
            config: Desc,
            #[serde(default)]
            layers: Vec<Desc>,
        }
        #[derive(Deserialize)]
        struct Desc {
            digest: String,
            size: u64,
        }
        let entry = self
            .entries
            .iter()
            .find(|e| e.ref_name() == Some(tag))
            .ok_or_else(|| SupplyError::NotFound {
                image: format!("tag `{tag}` in {}", self.describe()),
            })?;
        let bad =
            |e: &dyn std::fmt::Display| SupplyError::BadInput(format!("{}: {e}", self.describe()));
        let digest = Digest::parse(&entry.digest).map_err(|e| bad(&e))?;
        let missing =
            |d: &Digest| SupplyError::BadInput(format!("{} lacks blob {d}", self.describe()));
        let manifest = self
            .read_manifest(&digest, entry.size)?
            .ok_or_else(|| missing(&digest))?;
        let doc: Doc = serde_json::from_slice(&manifest.bytes).map_err(|e| bad(&e))?;
        let mut blobs = Vec::new();
        for d in std::iter::once(&doc.config).chain(&doc.layers) {
            let size = d.size;
            let d = Digest::parse(&d.digest).map_err(|e| bad(&e))?;
            check_blob_size(&format!("blob {d} in {}", self.describe()), size)?;
            let blob = self.read_blob(&d, Limit::Exactly(size))?;
            blobs.push(blob.ok_or_else(|| missing(&d))?);
        }
        let bytes = manifest.bytes;
        Ok(super::fixture::BuiltManifest {
            bytes,
            digest,
            blobs,
        })
    }
}
