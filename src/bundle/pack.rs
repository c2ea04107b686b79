//! Writing a bundle: `bundle.json` first, then every file of a folder (an OCI layout under
//! `oci/`, charts under `charts/`) in name order, each as a plain file of mode 0644 with no
//! owner or time, so that the same folder always gives the same bytes. Files are hashed once
//! to write the manifest, then streamed into the archive, never held whole in memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::error::BundleError;
use super::manifest::{FileDigest, MANIFEST_FILE, Manifest, SCHEMA_VERSION};
use crate::submission::archive::check_name;

/// The size of the reads that hash and copy files.
pub(crate) const CHUNK: usize = 1 << 20;

/// SHA-256 (`sha256:<hex>`) and size of what `reader` gives, read in chunks.
pub(crate) fn digest_of(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size))
}

/// Every regular file under `dir`, by its `/`-separated path from `dir`. A link or anything
/// else that is not a folder or a file is refused: a bundle holds only files.
fn files_under(dir: &Path) -> Result<BTreeMap<String, PathBuf>, BundleError> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let unreadable = |e: io::Error| BundleError::Unreadable {
            path: folder.clone(),
            reason: e.to_string(),
        };
        for entry in std::fs::read_dir(&folder).map_err(unreadable)? {
            let entry = entry.map_err(unreadable)?;
            let path = entry.path();
            let kind = entry.file_type().map_err(unreadable)?;
            if kind.is_dir() {
                pending.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .expect("found under the folder")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if !kind.is_file() {
                return Err(BundleError::Unreadable {
                    path,
                    reason: "it is not a regular file (a bundle holds only files)".into(),
                });
            }
            check_name(&rel).map_err(|reason| BundleError::Unreadable {
                path: path.clone(),
                reason: format!("a bundle cannot hold a file whose name {reason}"),
            })?;
            if rel == MANIFEST_FILE {
                return Err(BundleError::Unreadable {
                    path,
                    reason: format!("{MANIFEST_FILE} is the name of the bundle's own manifest"),
                });
            }
            out.insert(rel, path);
        }
    }
    Ok(out)
}

/// Writes the bundle of `lab` made of the files under `dir` to `out` (`shown` names it in
/// errors), and returns its manifest.
pub fn pack(dir: &Path, lab: &str, out: impl Write, shown: &Path) -> Result<Manifest, BundleError> {
    let contents = Manifest {
        schema_version: SCHEMA_VERSION,
        lab: lab.to_owned(),
        images: Vec::new(),
        charts: Vec::new(),
        files: BTreeMap::new(),
    };
    pack_with(dir, contents, out, shown)
}

/// [`pack`] with the images and charts `contents` lists (its `files` are filled in here, and
/// the whole checked as a reader will check it).
pub fn pack_with(
    dir: &Path,
    contents: Manifest,
    out: impl Write,
    shown: &Path,
) -> Result<Manifest, BundleError> {
    let files = files_under(dir)?;
    let mut manifest = Manifest {
        files: BTreeMap::new(),
        ..contents
    };
    for (rel, path) in &files {
        let (digest, size) =
            File::open(path)
                .and_then(digest_of)
                .map_err(|e| BundleError::Unreadable {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
        manifest
            .files
            .insert(rel.clone(), FileDigest { digest, size });
    }
    let failed = |e: io::Error| BundleError::Write {
        path: shown.to_path_buf(),
        reason: e.to_string(),
    };
    let mut builder = tar::Builder::new(out);
    builder.mode(tar::HeaderMode::Deterministic);
    let header = |size: u64| {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(size);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header
    };
    let bytes = manifest.to_bytes();
    // What a reader would refuse is never written.
    Manifest::parse(&bytes).map_err(|reason| BundleError::Write {
        path: shown.to_path_buf(),
        reason: format!("the manifest would not read back: {reason}"),
    })?;
    builder
        .append_data(
            &mut header(bytes.len() as u64),
            MANIFEST_FILE,
            bytes.as_slice(),
        )
        .map_err(failed)?;
    for (rel, path) in &files {
        let listed = manifest.files[rel].size;
        let file = File::open(path).map_err(|e| BundleError::Unreadable {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        // Exactly the bytes that were hashed: a file that shrank since is an error rather
        // than an archive whose entry is shorter than its header says.
        let exact = Exact {
            inner: file.take(listed),
            left: listed,
        };
        builder
            .append_data(&mut header(listed), rel, exact)
            .map_err(failed)?;
    }
    builder
        .into_inner()
        .map_err(failed)?
        .flush()
        .map_err(failed)?;
    Ok(manifest)
}

/// A reader that must give exactly `left` more bytes.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a file changed while it was packed",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
