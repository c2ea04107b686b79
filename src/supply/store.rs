//! Where cosign artifacts are read from: a live registry or an OCI image layout on disk. The
//! verification code sees only this trait, so evidence saved with `cosign save` verifies the
//! same way, offline.

use super::digest::Digest;
use super::error::SupplyError;
use super::reference::ImageRef;

/// Media types accepted when fetching manifests.
pub const MANIFEST_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// A fetched manifest and its digest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The raw bytes, exactly as stored (their hash is the digest).
    pub bytes: Vec<u8>,
    /// The digest of `bytes`.
    pub digest: Digest,
}

/// A source of manifests and blobs.
#[allow(async_fn_in_trait)] // used with concrete types only; no dyn, no Send bound needed
pub trait Store {
    /// What the store is, for messages (`registry 127.0.0.1:5000`, `layout ./evidence/image`).
    fn describe(&self) -> String;

    /// The digest an image reference denotes: its own digest, or what its tag points to now.
    async fn resolve(&self, image: &ImageRef) -> Result<Digest, SupplyError>;

    /// The manifest stored under `tag_or_digest` in the image's repository, or `None` if absent.
    async fn manifest(
        &self,
        image: &ImageRef,
        tag_or_digest: &str,
    ) -> Result<Option<Manifest>, SupplyError>;

    /// A blob of the image's repository, checked against its digest.
    async fn blob(&self, image: &ImageRef, digest: &Digest) -> Result<Vec<u8>, SupplyError>;
}
