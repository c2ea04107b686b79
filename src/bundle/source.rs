//! Where `lab start --bundle` and `lab start --mirror` take what a lab would otherwise
//! download: a bundle file (hashed whole against its manifest before anything is read from
//! it), or a venue's `lab bundle serve` over the room's network, asked by the full names the
//! bundle gives (`HOST:PORT/docker.io/kindest/node`).
//!
//! Either way every manifest asked for by digest is checked against it, and every blob
//! against its digest and size; what the lab pins by digest (the node image, the base image)
//! is therefore exactly what it was written for, wherever it came from.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use super::create::{canonical_repository, media_type};
use super::error::BundleError;
use super::serve::Registry;
use crate::supply::registry::{RegistryStore, Retry};
use crate::supply::store::{Manifest, Store, check_blob_size, not_a_manifest};
use crate::supply::{Digest, ImageRef, SupplyError};

/// A source of a lab's downloads.
pub enum Source {
    /// A bundle file, verified and indexed.
    Bundle(Arc<Registry>),
    /// A venue's `lab bundle serve` at `host` (`HOST:PORT`), over plain HTTP.
    Mirror {
        /// `HOST:PORT`.
        host: String,
        /// The client.
        store: Box<RegistryStore>,
        /// Where blobs are downloaded to (`.blob-*` files, each removed when used).
        scratch: std::path::PathBuf,
    },
}

/// A manifest from a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Their digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
}

/// A blob's bytes in a file: a stretch of the bundle itself, or a copy downloaded from the
/// venue (removed when this is dropped).
pub struct BlobFile {
    file: File,
    offset: u64,
    size: u64,
    _copy: Option<tempfile::NamedTempFile>,
}

impl BlobFile {
    /// Its bytes, read from the start (a new reader each time).
    pub fn reader(&self) -> std::io::Result<std::io::Take<File>> {
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(self.offset))?;
        Ok(file.take(self.size))
    }

    /// How many bytes it has.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Source {
    /// The bundle at `path`, verified whole: one that is not what its manifest says is not
    /// used.
    pub fn bundle(path: &Path) -> Result<Source, BundleError> {
        Ok(Source::Bundle(Arc::new(Registry::open(path)?)))
    }

    /// The venue at `host` (`HOST:PORT`, as `lab bundle serve` printed it); blobs are
    /// downloaded into `scratch`.
    pub fn mirror(host: &str, scratch: &Path) -> Result<Source, BundleError> {
        let valid = !host.is_empty()
            && !host.starts_with('-')
            && host.contains(':')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
        if !valid {
            return Err(BundleError::Usage(format!(
                "`{}` is not HOST:PORT (the address `lab bundle serve` prints, e.g. 192.168.1.20:5050)",
                crate::text::printable(host)
            )));
        }
        let at = ImageRef {
            registry: host.to_owned(),
            path: "v2".into(),
            tag: None,
            digest: None,
        };
        Ok(Source::Mirror {
            host: host.to_owned(),
            store: Box::new(RegistryStore::new(&at, true, Retry::default())),
            scratch: scratch.to_owned(),
        })
    }

    /// What the source is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Bundle(registry) => format!("the bundle {}", registry.verified.manifest.lab),
            Source::Mirror { host, .. } => format!("the venue's registry {host}"),
        }
    }

    /// `name` (a full repository name, `docker.io/kindest/node`) as the venue serves it.
    fn at_venue(host: &str, name: &str) -> ImageRef {
        ImageRef {
            registry: host.to_owned(),
            path: name.to_owned(),
            tag: None,
            digest: None,
        }
    }

    /// The manifest `reference` (a tag or a digest) of `name`, or `None` when the source does
    /// not have it.
    pub async fn manifest(
        &self,
        name: &str,
        reference: &str,
    ) -> Result<Option<Fetched>, BundleError> {
        let what = format!(
            "{name}{}{reference}",
            if reference.contains(':') { '@' } else { ':' }
        );
        let corrupt = |reason: String| BundleError::Load {
            what: what.clone(),
            source: SupplyError::Corrupt {
                what: what.clone(),
                reason,
            },
        };
        match self {
            Source::Bundle(registry) => {
                let Some(at) = registry.locate(name, reference) else {
                    return Ok(None);
                };
                let bytes = registry
                    .read_manifest(at.offset, at.size)
                    .map_err(&corrupt)?;
                let digest = Digest::sha256_of(&bytes);
                if digest.as_str() != at.digest {
                    return Err(corrupt(format!(
                        "the bundle changed since it was verified: it hashes to {digest}"
                    )));
                }
                Ok(Some(Fetched {
                    bytes,
                    digest,
                    media_type: at.media_type,
                }))
            }
            Source::Mirror { host, store, .. } => {
                let image = Self::at_venue(host, name);
                let found = store.manifest(&image, reference).await.map_err(|source| {
                    BundleError::Load {
                        what: what.clone(),
                        source,
                    }
                })?;
                Ok(found.map(|Manifest { bytes, digest }| Fetched {
                    media_type: media_type(&bytes),
                    bytes,
                    digest,
                }))
            }
        }
    }

    /// The blob `digest` of `name`, exactly `size` bytes, in a file.
    pub async fn blob(
        &self,
        name: &str,
        digest: &Digest,
        size: u64,
    ) -> Result<BlobFile, BundleError> {
        let what = format!("blob {digest} of {name}");
        match self {
            Source::Bundle(registry) => {
                let (offset, found) =
                    registry
                        .blob_at(digest.as_str())
                        .ok_or_else(|| BundleError::Load {
                            what: what.clone(),
                            source: SupplyError::NotFound {
                                image: format!("{what} in {}", self.describe()),
                            },
                        })?;
                if found != size {
                    return Err(BundleError::Load {
                        what: what.clone(),
                        source: SupplyError::Corrupt {
                            what,
                            reason: format!(
                                "the bundle holds {found} bytes, not the {size} its descriptor gives"
                            ),
                        },
                    });
                }
                let file = registry
                    .file()
                    .try_clone()
                    .map_err(|e| BundleError::Unreadable {
                        path: format!("the bundle ({what})").into(),
                        reason: e.to_string(),
                    })?;
                Ok(BlobFile {
                    file,
                    offset,
                    size,
                    _copy: None,
                })
            }
            Source::Mirror {
                host,
                store,
                scratch,
            } => {
                // The venue's descriptors are not trusted with this machine's disk: no blob
                // larger than a bundle may hold.
                if size > super::layout::MAX_BLOB {
                    return Err(BundleError::Load {
                        what: what.clone(),
                        source: SupplyError::Corrupt {
                            what,
                            reason: format!(
                                "its descriptor gives {size} bytes, more than the {} a bundle may hold in one file",
                                crate::supply::store::human_size(super::layout::MAX_BLOB)
                            ),
                        },
                    });
                }
                let copy = tempfile::Builder::new()
                    .prefix(".blob-")
                    .tempfile_in(scratch)
                    .map_err(|e| BundleError::Write {
                        path: scratch.clone(),
                        reason: e.to_string(),
                    })?;
                let image = Self::at_venue(host, name);
                store
                    .blob_into(&image, digest, size, copy.as_file())
                    .await
                    .map_err(|source| BundleError::Load {
                        what: what.clone(),
                        source,
                    })?;
                let file = copy.reopen().map_err(|e| BundleError::Write {
                    path: copy.path().to_owned(),
                    reason: e.to_string(),
                })?;
                Ok(BlobFile {
                    file,
                    offset: 0,
                    size,
                    _copy: Some(copy),
                })
            }
        }
    }
}

fn supply(e: BundleError) -> SupplyError {
    match e {
        BundleError::Load { source, .. } | BundleError::Supply { source, .. } => source,
        other => SupplyError::BadInput(other.to_string()),
    }
}

/// The source read as the supply layer reads an image store, by the names images have in
/// the bundle (so that the base image is derived from it as from its registry).
impl Store for Source {
    fn describe(&self) -> String {
        Source::describe(self)
    }

    async fn resolve(&self, image: &ImageRef) -> Result<Digest, SupplyError> {
        let reference = image
            .digest
            .clone()
            .or_else(|| image.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let name = canonical_repository(image);
        self.manifest(&name, &reference)
            .await
            .map_err(supply)?
            .map(|m| m.digest)
            .ok_or_else(|| SupplyError::NotFound {
                image: format!("{name}:{reference} in {}", Source::describe(self)),
            })
    }

    async fn manifest(
        &self,
        image: &ImageRef,
        tag_or_digest: &str,
    ) -> Result<Option<Manifest>, SupplyError> {
        let found = Source::manifest(self, &canonical_repository(image), tag_or_digest)
            .await
            .map_err(supply)?;
        match found {
            Some(f) => {
                if let Some(why) = not_a_manifest(&f.bytes) {
                    return Err(SupplyError::Corrupt {
                        what: format!("{}@{}", image.repository(), f.digest),
                        reason: format!("it is {why}"),
                    });
                }
                Ok(Some(Manifest {
                    bytes: f.bytes,
                    digest: f.digest,
                }))
            }
            None => Ok(None),
        }
    }

    async fn blob(
        &self,
        image: &ImageRef,
        digest: &Digest,
        size: u64,
    ) -> Result<Vec<u8>, SupplyError> {
        let what = format!("blob {digest} of {}", image.repository());
        check_blob_size(&what, size)?;
        let file = Source::blob(self, &canonical_repository(image), digest, size)
            .await
            .map_err(supply)?;
        let mut bytes = Vec::with_capacity(size as usize);
        file.reader()
            .and_then(|mut r| r.read_to_end(&mut bytes))
            .map_err(|e| SupplyError::BadInput(format!("{what}: cannot be read ({e})")))?;
        if bytes.len() as u64 != size || !digest.matches(&bytes) {
            return Err(SupplyError::Corrupt {
                what,
                reason: "its bytes do not hash to it".into(),
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_venue_is_host_and_port_and_its_descriptors_do_not_get_the_disk() {
        let scratch = tempfile::tempdir().unwrap();
        for bad in ["venue", "-venue:5050", "venue:5050/x", ""] {
            let err = Source::mirror(bad, scratch.path())
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("is not HOST:PORT"), "{bad}: {err}");
        }
        // Refused before anything is asked: the venue here would not even answer.
        let venue = Source::mirror("127.0.0.1:1", scratch.path()).unwrap();
        let digest = Digest::sha256_of(b"a layer");
        let err = crate::runtime::block_on(venue.blob(
            "docker.io/kindest/node",
            &digest,
            crate::bundle::layout::MAX_BLOB + 1,
        ))
        .unwrap()
        .err()
        .unwrap();
        let text = err.to_string();
        assert!(text.contains("a bundle may hold in one file"), "{text}");
        assert!(matches!(
            err,
            BundleError::Load {
                source: SupplyError::Corrupt { .. },
                ..
            }
        ));
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
    }
}
