//! Where cosign artifacts are read from: a live registry or an OCI image layout on disk. The
//! verification code sees only this trait, so evidence saved with `cosign save` verifies the
//! same way, offline. Neither store trusts what it reads: the limits below hold for both.

use serde::Deserialize;

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

/// The largest manifest read (containerd's limit): a larger answer is refused, not buffered.
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// The largest blob read, whatever its descriptor says (cosign's default
/// `COSIGN_MAX_ATTACHMENT_SIZE`): signature and attestation layers are small documents.
pub const MAX_BLOB_SIZE: u64 = 128 << 20;

/// A size in bytes as people read it (`4 MiB`, `1.5 KiB`, `17 bytes`).
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / f64::from(1 << 10)),
        b => format!("{b} bytes"),
    }
}

/// How many bytes a manifest or blob may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// At most this many (a manifest whose size is not known beforehand).
    AtMost(u64),
    /// Exactly this many (as its descriptor gives).
    Exactly(u64),
}

impl Limit {
    /// The most bytes allowed.
    pub fn max(self) -> u64 {
        match self {
            Limit::AtMost(n) | Limit::Exactly(n) => n,
        }
    }

    /// The limit in words, after "more than" or "not".
    pub fn describe(self) -> String {
        match self {
            Limit::AtMost(n) => format!("the {} a manifest may have", human_size(n)),
            Limit::Exactly(n) => format!("the {n} bytes its descriptor gives"),
        }
    }

    /// The limit for a manifest whose descriptor gives `size` (if there is a descriptor).
    pub fn manifest(what: &str, size: Option<u64>) -> Result<Limit, SupplyError> {
        match size {
            Some(n) if n > MAX_MANIFEST_SIZE => Err(SupplyError::Corrupt {
                what: what.to_owned(),
                reason: format!(
                    "its descriptor gives {n} bytes, more than {}",
                    Limit::AtMost(MAX_MANIFEST_SIZE).describe()
                ),
            }),
            Some(n) => Ok(Limit::Exactly(n)),
            None => Ok(Limit::AtMost(MAX_MANIFEST_SIZE)),
        }
    }
}

/// Why `bytes` are not a manifest `lab` reads (a JSON object with `schemaVersion` 2 and, if it
/// says so, one of [`MANIFEST_MEDIA_TYPES`]), or `None` when they are one.
pub fn not_a_manifest(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Versioned {
        #[serde(rename = "schemaVersion")]
        schema_version: u64,
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    match serde_json::from_slice::<Versioned>(bytes) {
        Err(e) => Some(format!("not an OCI manifest ({e})")),
        Ok(v) if v.schema_version != 2 => Some(format!(
            "a manifest of schema version {}, not 2",
            v.schema_version
        )),
        Ok(Versioned {
            media_type: Some(t),
            ..
        }) if !MANIFEST_MEDIA_TYPES.contains(&t.as_str()) => Some(format!(
            "of media type `{t}`, not an image manifest or index"
        )),
        Ok(_) => None,
    }
}

/// Refuses a blob whose descriptor claims more than [`MAX_BLOB_SIZE`], before reading it.
pub fn check_blob_size(what: &str, size: u64) -> Result<(), SupplyError> {
    if size > MAX_BLOB_SIZE {
        return Err(SupplyError::Corrupt {
            what: what.to_owned(),
            reason: format!(
                "its descriptor gives {size} bytes, more than the {} a signature or attestation layer may have",
                human_size(MAX_BLOB_SIZE)
            ),
        });
    }
    Ok(())
}

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

    /// The manifest stored under `tag_or_digest` in the image's repository, or `None` if absent;
    /// at most [`MAX_MANIFEST_SIZE`], checked to be a manifest (and against the digest, if given).
    async fn manifest(
        &self,
        image: &ImageRef,
        tag_or_digest: &str,
    ) -> Result<Option<Manifest>, SupplyError>;

    /// A blob of the image's repository, checked against its descriptor: exactly `size` bytes
    /// (at most [`MAX_BLOB_SIZE`]) that hash to `digest`.
    async fn blob(
        &self,
        image: &ImageRef,
        digest: &Digest,
        size: u64,
    ) -> Result<Vec<u8>, SupplyError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_told_from_other_answers() {
        let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#;
        assert_eq!(not_a_manifest(manifest), None);
        assert_eq!(not_a_manifest(br#"{"schemaVersion":2}"#), None);
        let random = [0x9f, 0x12, 0xff, 0x00, 0x41];
        assert!(
            not_a_manifest(&random)
                .unwrap()
                .starts_with("not an OCI manifest (expected value")
        );
        assert!(not_a_manifest(b"{}").unwrap().contains("schemaVersion"));
        assert_eq!(
            not_a_manifest(br#"{"schemaVersion":1}"#).unwrap(),
            "a manifest of schema version 1, not 2"
        );
        assert!(
            not_a_manifest(br#"{"schemaVersion":2,"mediaType":"text/html"}"#)
                .unwrap()
                .contains("`text/html`")
        );
    }

    #[test]
    fn oversized_descriptors_are_refused_before_reading() {
        assert!(check_blob_size("blob", MAX_BLOB_SIZE).is_ok());
        let err = check_blob_size("blob", MAX_BLOB_SIZE + 1).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_code::VERIFICATION_FAILED);
        assert!(err.to_string().contains("more than the 128 MiB"), "{err}");
    }

    #[test]
    fn limits_say_what_they_hold() {
        assert_eq!(
            Limit::AtMost(MAX_MANIFEST_SIZE).describe(),
            "the 4 MiB a manifest may have"
        );
        assert_eq!(
            Limit::Exactly(312).describe(),
            "the 312 bytes its descriptor gives"
        );
        assert_eq!(
            Limit::manifest("m", Some(312)).unwrap(),
            Limit::Exactly(312)
        );
        assert_eq!(
            Limit::manifest("m", None).unwrap(),
            Limit::AtMost(MAX_MANIFEST_SIZE)
        );
        let err = Limit::manifest("m", Some(MAX_MANIFEST_SIZE + 1)).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_code::VERIFICATION_FAILED);
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(MAX_MANIFEST_SIZE), "4 MiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(17), "17 bytes");
    }
}
