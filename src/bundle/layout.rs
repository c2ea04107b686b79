//! The OCI image layout a bundle is made of, while it is written: blobs under
//! `oci/blobs/sha256/<hex>`, and `oci/index.json` naming each top-level manifest by its full
//! reference (`docker.io/kindest/node:v1.35.8`) in `org.opencontainers.image.ref.name`, as
//! Zarf and `oras copy --to-oci-layout` name them, so that one layout holds many repositories.
//! A blob is written under a temporary name and renamed once complete and checked, so a blob
//! file that exists is whole.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::BundleError;
use crate::supply::Digest;
use crate::supply::layout::REF_NAME_ANNOTATION;

/// The most bytes one blob may have (what `lab bundle verify` accepts for one file).
pub const MAX_BLOB: u64 = 16 << 30;
/// The most bytes a bundle may hold (what `lab bundle verify` accepts in all).
pub const MAX_TOTAL: u64 = 64 << 30;

/// An OCI descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The media type of what it points at.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
    /// An artifact's type (OCI 1.1), when it has one.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
}

/// A layout being written into a bundle's folder.
pub struct Staging {
    root: PathBuf,
    names: BTreeMap<String, Descriptor>,
    bytes: u64,
}

impl Staging {
    /// Starts the layout under `root/oci` (and `root/charts`); `root` must be empty.
    pub fn create(root: &Path) -> Result<Self, BundleError> {
        let blobs = root.join("oci").join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs)
            .and_then(|()| std::fs::create_dir_all(root.join("charts")))
            .map_err(|e| write_error(&blobs, &e))?;
        Ok(Staging {
            root: root.to_owned(),
            names: BTreeMap::new(),
            bytes: 0,
        })
    }

    /// The folder the bundle is packed from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` is (or will be).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("oci")
            .join("blobs")
            .join("sha256")
            .join(digest.hex())
    }

    /// Whether the blob is already in the layout.
    pub fn has(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Counts `size` more bytes against [`MAX_BLOB`] and [`MAX_TOTAL`], before they are read.
    pub fn reserve(&mut self, what: &str, size: u64) -> Result<(), BundleError> {
        if size > MAX_BLOB {
            return Err(BundleError::TooLarge(format!(
                "{what} has {} bytes, more than the 16 GiB a bundle's file may have",
                size
            )));
        }
        self.bytes = self.bytes.saturating_add(size);
        if self.bytes > MAX_TOTAL {
            return Err(BundleError::TooLarge(format!(
                "with {what} the bundle would pass the 64 GiB a bundle may hold"
            )));
        }
        Ok(())
    }

    /// A file to stream the blob `digest` into; [`Self::commit`] puts it in place.
    pub fn partial(&self, digest: &Digest) -> Result<(PathBuf, File), BundleError> {
        let path = self
            .root
            .join("oci")
            .join("blobs")
            .join("sha256")
            .join(format!(".partial-{}", digest.hex()));
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| write_error(&path, &e))?;
        Ok((path, file))
    }

    /// Renames a complete, checked partial blob into place.
    pub fn commit(&self, partial: &Path, digest: &Digest) -> Result<(), BundleError> {
        let path = self.blob_path(digest);
        std::fs::rename(partial, &path).map_err(|e| write_error(&path, &e))
    }

    /// Writes a small blob held in memory (a manifest, a config) and returns its digest.
    pub fn put(&mut self, bytes: &[u8]) -> Result<Digest, BundleError> {
        let digest = Digest::sha256_of(bytes);
        if !self.has(&digest) {
            self.reserve(&format!("blob {digest}"), bytes.len() as u64)?;
            let path = self.blob_path(&digest);
            std::fs::write(&path, bytes).map_err(|e| write_error(&path, &e))?;
        }
        Ok(digest)
    }

    /// Names a top-level manifest in `index.json`.
    pub fn name(&mut self, name: &str, descriptor: Descriptor) {
        self.names.insert(name.to_owned(), descriptor);
    }

    /// Whether `name` is in the index.
    pub fn is_named(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    /// Copies a file into `charts/` under `name` and returns its path in the bundle.
    pub fn put_chart(&mut self, name: &str, bytes: &[u8]) -> Result<String, BundleError> {
        self.reserve(name, bytes.len() as u64)?;
        let path = self.root.join("charts").join(name);
        std::fs::write(&path, bytes).map_err(|e| write_error(&path, &e))?;
        Ok(format!("charts/{name}"))
    }

    /// Writes `oci-layout` and `index.json` (its entries in name order, so the same contents
    /// always give the same bytes).
    pub fn finish(&self) -> Result<(), BundleError> {
        #[derive(Serialize)]
        struct Entry<'a> {
            #[serde(flatten)]
            descriptor: &'a Descriptor,
            annotations: BTreeMap<&'static str, &'a str>,
        }
        let manifests: Vec<Entry<'_>> = self
            .names
            .iter()
            .map(|(name, descriptor)| Entry {
                descriptor,
                annotations: BTreeMap::from([(REF_NAME_ANNOTATION, name.as_str())]),
            })
            .collect();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        });
        let oci = self.root.join("oci");
        let mut text = serde_json::to_string_pretty(&index).expect("an index serializes");
        text.push('\n');
        std::fs::write(oci.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
            .and_then(|()| std::fs::write(oci.join("index.json"), text))
            .map_err(|e| write_error(&oci, &e))
    }
}

fn write_error(path: &Path, e: &std::io::Error) -> BundleError {
    BundleError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}
