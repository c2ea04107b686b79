//! `bundle.json`: what a bundle holds, each file with its SHA-256 and size. It is the first
//! entry of the archive, so that a reader knows what to expect before the first blob.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::submission::archive::check_name;
use crate::supply::Digest;

/// The manifest's name, the archive's first entry.
pub const MANIFEST_FILE: &str = "bundle.json";

/// The version of the manifest's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// The largest manifest read (a bundle of a few hundred blobs needs a few tens of KiB).
pub const MANIFEST_LIMIT: u64 = 16 << 20;

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The lab the bundle is for.
    pub lab: String,
    /// Every other file of the archive, by its path in it.
    pub files: BTreeMap<String, FileDigest>,
}

/// One file's digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
}

impl Manifest {
    /// The manifest read from `bytes`, held to its rules: the version, digests that are
    /// SHA-256, names the archive rules allow, `bundle.json` not listed, and a blob of the OCI
    /// layout named by its own digest.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "its {MANIFEST_FILE} is not a bundle manifest (line {}, column {}: {})",
                e.line(),
                e.column(),
                crate::text::printable(&e.to_string())
            )
        })?;
        if manifest.schema_version != SCHEMA_VERSION {
            return Err(format!(
                "its {MANIFEST_FILE} is version {}, and this lab reads version {SCHEMA_VERSION}; use the lab release that made the bundle, or make it again",
                manifest.schema_version
            ));
        }
        for (path, file) in &manifest.files {
            let shown = crate::text::printable(path);
            check_name(path)
                .map_err(|reason| format!("it lists a file `{shown}` that {reason}"))?;
            if path == MANIFEST_FILE {
                return Err(format!("it lists {MANIFEST_FILE} among its own files"));
            }
            let digest = Digest::parse(&file.digest)
                .ok()
                .filter(|d| d.algorithm() == "sha256")
                .ok_or_else(|| {
                    format!(
                        "`{shown}` is listed with `{}`, not a sha256 digest",
                        crate::text::printable(&file.digest)
                    )
                })?;
            if let Some(hex) = blob_hex(path)
                && hex != digest.hex()
            {
                return Err(format!(
                    "the blob `{shown}` is listed with another digest, {}",
                    digest.as_str()
                ));
            }
        }
        Ok(manifest)
    }

    /// The bytes written as `bundle.json`: pretty JSON and a newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a manifest serializes");
        bytes.push(b'\n');
        bytes
    }

    /// The bytes of every listed file together.
    pub fn total_size(&self) -> u64 {
        self.files.values().map(|f| f.size).sum()
    }
}

/// The hex digest an OCI layout blob's path names (`oci/blobs/sha256/<hex>`), if it is one.
pub fn blob_hex(path: &str) -> Option<&str> {
    path.strip_prefix("oci/blobs/sha256/")
}
