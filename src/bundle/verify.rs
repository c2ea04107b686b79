//! `lab bundle verify`: every file of a bundle hashed against its manifest, as the archive is
//! read (nothing is unpacked, nothing is held whole in memory), within the archive reader's
//! limits for untrusted input.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use super::error::BundleError;
use super::manifest::{MANIFEST_FILE, MANIFEST_LIMIT, Manifest};
use super::pack::digest_of;
use crate::submission::archive::{self, ArchiveError, Format, Limits};

/// What a bundle may be: 64 GiB in all, 16 GiB a file (a node image is about 1 GiB), 100,000
/// files. The contents are stored, not compressed, so what is read is what is produced.
pub const LIMITS: Limits = Limits {
    compressed_bytes: 64 << 30,
    inflated_bytes: 64 << 30,
    entry_bytes: 16 << 30,
    entries: 100_000,
    ratio: u64::MAX,
};

/// A bundle read to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Its manifest.
    pub manifest: Manifest,
    /// Files read (the manifest's own entry aside).
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// What does not match the manifest; empty when the bundle is what it says.
    pub problems: Vec<Problem>,
}

/// A file that does not match the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// In the archive, not in the manifest.
    NotListed(String),
    /// In the manifest, not in the archive.
    Missing(String),
    /// Another size than listed.
    Size {
        /// The file.
        path: String,
        /// As listed.
        listed: u64,
        /// As found.
        found: u64,
    },
    /// Another SHA-256 than listed.
    Digest {
        /// The file.
        path: String,
        /// As listed.
        listed: String,
        /// As computed.
        found: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::text::printable;
        match self {
            Problem::NotListed(path) => write!(
                f,
                "{}: in the archive, not in {MANIFEST_FILE}",
                printable(path)
            ),
            Problem::Missing(path) => write!(
                f,
                "{}: listed in {MANIFEST_FILE}, not in the archive",
                printable(path)
            ),
            Problem::Size {
                path,
                listed,
                found,
            } => write!(
                f,
                "{}: {found} bytes, {MANIFEST_FILE} lists {listed}",
                printable(path)
            ),
            Problem::Digest {
                path,
                listed,
                found,
            } => write!(
                f,
                "{}: its SHA-256 is {found}, {MANIFEST_FILE} lists {listed}",
                printable(path)
            ),
        }
    }
}

/// Why a walk stopped early.
enum Stop {
    Archive(ArchiveError),
    Manifest(String),
}

impl From<ArchiveError> for Stop {
    fn from(e: ArchiveError) -> Self {
        Stop::Archive(e)
    }
}

/// Verifies the bundle at `path`.
pub fn verify(path: &Path) -> Result<Verified, BundleError> {
    let file = crate::input::open_file(path)?;
    verify_reader(BufReader::with_capacity(super::pack::CHUNK, file), path)
}

/// Where each file's bytes lie in a bundle: its offset from the archive's start and its size.
pub type Positions = BTreeMap<String, (u64, u64)>;

/// [`verify`] of an open bundle, also saying where each listed file's bytes lie in the archive
/// (a tar stores them whole, uncompressed), so that they can be served from it without
/// unpacking.
/// `file` is read from its start through its own handle (`&File` reads), so the caller can
/// go on reading the very file that was verified, whatever happens to `path` meanwhile.
pub fn verify_indexed(
    file: &std::fs::File,
    path: &Path,
) -> Result<(Verified, Positions), BundleError> {
    let consumed = Rc::new(Cell::new(0u64));
    let tracked = Tracked {
        inner: BufReader::with_capacity(super::pack::CHUNK, file),
        consumed: Rc::clone(&consumed),
    };
    let mut positions = Positions::new();
    let verified = verify_walk(tracked, path, &mut |name, size| {
        positions.insert(name.to_owned(), (consumed.get(), size));
    })?;
    Ok((verified, positions))
}

/// Counts what the archive reader takes: when it hands over an entry, that count is where
/// the entry's bytes start (tar headers are read whole, and nothing ahead of them).
struct Tracked<R> {
    inner: R,
    consumed: Rc<Cell<u64>>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}

/// Verifies the bundle `input` (`path` names it in errors).
pub fn verify_reader(input: impl Read, path: &Path) -> Result<Verified, BundleError> {
    verify_walk(input, path, &mut |_, _| {})
}

/// The walk of [`verify_reader`]; `at` hears each file of the manifest as it is reached.
fn verify_walk(
    input: impl Read,
    path: &Path,
    at: &mut dyn FnMut(&str, u64),
) -> Result<Verified, BundleError> {
    let mut manifest: Option<Manifest> = None;
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    let (mut files, mut bytes) = (0usize, 0u64);
    let walked = archive::walk(input, LIMITS, Format::Bundle, |name, size, entry| {
        let Some(listed) = &manifest else {
            if name != MANIFEST_FILE {
                return Err(Stop::Manifest(format!(
                    "its first entry is `{}`, where {MANIFEST_FILE} must be",
                    crate::text::printable(name)
                )));
            }
            if size > MANIFEST_LIMIT {
                return Err(Stop::Manifest(format!(
                    "its {MANIFEST_FILE} is {size} bytes, more than the {} MiB a manifest may be",
                    MANIFEST_LIMIT >> 20
                )));
            }
            let mut text = Vec::with_capacity(size as usize);
            entry
                .read_to_end(&mut text)
                .map_err(|e| archive::explain(&e))?;
            manifest = Some(Manifest::parse(&text).map_err(Stop::Manifest)?);
            return Ok(());
        };
        files += 1;
        bytes += size;
        seen.insert(name.to_owned());
        let Some(expected) = listed.files.get(name) else {
            problems.push(Problem::NotListed(name.to_owned()));
            return Ok(());
        };
        at(name, size);
        let (digest, found) = digest_of(entry).map_err(|e| archive::explain(&e))?;
        if found != expected.size {
            problems.push(Problem::Size {
                path: name.to_owned(),
                listed: expected.size,
                found,
            });
        } else if digest != expected.digest {
            problems.push(Problem::Digest {
                path: name.to_owned(),
                listed: expected.digest.clone(),
                found: digest,
            });
        }
        Ok(())
    });
    match walked {
        Ok(()) => {}
        Err(Stop::Archive(source)) => {
            return Err(BundleError::Archive {
                path: path.to_path_buf(),
                source,
            });
        }
        Err(Stop::Manifest(reason)) => {
            return Err(BundleError::Manifest {
                path: path.to_path_buf(),
                reason,
            });
        }
    }
    let manifest = manifest.ok_or_else(|| BundleError::Manifest {
        path: path.to_path_buf(),
        reason: format!("it is empty (a bundle starts with its {MANIFEST_FILE})"),
    })?;
    for name in manifest.files.keys().filter(|n| !seen.contains(*n)) {
        problems.push(Problem::Missing(name.clone()));
    }
    Ok(Verified {
        manifest,
        files,
        bytes,
        problems,
    })
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
