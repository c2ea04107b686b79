//! An OCI image layout on disk as a [`Store`], so that saved evidence verifies offline with the
//! same code as a registry. Two writers are understood:
//! - `cosign save`, which marks the entries of `index.json` with a `kind` annotation
//!   (`dev.cosignproject.cosign/image` or `/imageIndex`, `/sigs`, `/atts`);
//! - tools that name entries by tag with `org.opencontainers.image.ref.name` (skopeo, crane,
//!   `oras`), where cosign's artifacts are the tags `sha256-<hex>.sig` and `.att`.
//!
//! Nothing in a layout is trusted: every file read must be a regular file inside the layout
//! (a symbolic link may point elsewhere in it, never out), of the size its descriptor gives,
//! and every blob is checked against its digest.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::digest::Digest;
use super::error::SupplyError;
use super::reference::ImageRef;
use super::store::{Limit, MAX_MANIFEST_SIZE, Manifest, Store, check_blob_size, not_a_manifest};

/// The annotation `cosign save` uses to say what an index entry is.
pub const COSIGN_KIND_ANNOTATION: &str = "kind";
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
        matches!(
            self.kind(),
            Some("dev.cosignproject.cosign/image" | "dev.cosignproject.cosign/imageIndex")
        )
    }
}

/// An OCI image layout directory.
pub struct LayoutStore {
    /// The folder as given, for messages.
    dir: PathBuf,
    /// The folder with every symbolic link resolved: no file outside it is read.
    root: PathBuf,
    entries: Vec<Entry>,
}

impl LayoutStore {
    /// Opens the layout in `dir` (it must hold `oci-layout` and `index.json`).
    pub fn open(dir: &Path) -> Result<Self, SupplyError> {
        let unreadable = |what: &str| {
            SupplyError::BadInput(format!(
                "{} is not an OCI image layout ({what}); pass the folder `cosign save --dir` or `skopeo copy ... oci:DIR` wrote",
                dir.display()
            ))
        };
        let root = dir
            .canonicalize()
            .map_err(|e| unreadable(&format!("cannot open the folder: {e}")))?;
        let limit = Limit::AtMost(MAX_MANIFEST_SIZE);
        read_file(&root, &dir.join("oci-layout"), limit)?
            .ok_or_else(|| unreadable("no oci-layout file"))?;
        let index = read_file(&root, &dir.join("index.json"), limit)?
            .ok_or_else(|| unreadable("no index.json"))?;
        let index: Index = serde_json::from_slice(&index)
            .map_err(|e| unreadable(&format!("index.json does not parse: {e}")))?;
        Ok(LayoutStore {
            dir: dir.to_owned(),
            root,
            entries: index.manifests,
        })
    }

    /// The blob named `digest`, if the layout has it, read up to `limit` and checked.
    fn read_blob(&self, digest: &Digest, limit: Limit) -> Result<Option<Vec<u8>>, SupplyError> {
        let path = self
            .dir
            .join("blobs")
            .join(digest.algorithm())
            .join(digest.hex());
        let Some(bytes) = read_file(&self.root, &path, limit)? else {
            return Ok(None);
        };
        if !digest.matches(&bytes) {
            return Err(SupplyError::Corrupt {
                what: path.display().to_string(),
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
            Some((prefix, "sig")) if prefix.starts_with("sha256-") => {
                "dev.cosignproject.cosign/sigs"
            }
            Some((prefix, "att")) if prefix.starts_with("sha256-") => {
                "dev.cosignproject.cosign/atts"
            }
            _ => return None,
        };
        self.entries.iter().find(|e| e.kind() == Some(kind))
    }
}

impl Store for LayoutStore {
    fn describe(&self) -> String {
        format!("layout {}", self.dir.display())
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

/// The file at `path`, or `None` if there is none, refusing what a layout never holds: a path
/// that leads out of `root` (through a symbolic link), anything but a regular file (a FIFO
/// would block the read, a device never end it), or a size outside `limit`. No more than the
/// limit is read, even from a file that grows meanwhile.
fn read_file(root: &Path, path: &Path, limit: Limit) -> Result<Option<Vec<u8>>, SupplyError> {
    let shown = path.display();
    let cannot = |e: std::io::Error| SupplyError::BadInput(format!("cannot read {shown}: {e}"));
    let again = "save the image again with `cosign save --dir` or `skopeo copy ... oci:DIR`";
    let real = match path.canonicalize() {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    if !real.starts_with(root) {
        return Err(SupplyError::BadInput(format!(
            "{shown} leads to {}, outside the layout, which is not read; {again}",
            real.display()
        )));
    }
    let metadata = std::fs::metadata(&real).map_err(cannot)?;
    if !metadata.is_file() {
        return Err(SupplyError::BadInput(format!(
            "{shown} is {}, not a regular file; {again}",
            file_kind(metadata.file_type())
        )));
    }
    let corrupt = |reason: String| SupplyError::Corrupt {
        what: shown.to_string(),
        reason,
    };
    let len = metadata.len();
    match limit {
        Limit::Exactly(n) if len != n => {
            return Err(corrupt(format!(
                "it holds {len} bytes, not {}",
                limit.describe()
            )));
        }
        Limit::AtMost(n) if len > n => {
            return Err(corrupt(format!(
                "it holds {len} bytes, more than {}",
                limit.describe()
            )));
        }
        _ => {}
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&real)
        .map_err(cannot)?
        .take(limit.max() + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 != len {
        return Err(corrupt("it changed while it was read".to_owned()));
    }
    Ok(Some(bytes))
}

/// What a file that is not a regular file is, for messages.
fn file_kind(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else {
        "something other than a file"
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
