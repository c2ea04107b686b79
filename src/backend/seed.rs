//! Seeding the lab registry with the scenario's images without `docker build`: one base
//! image is copied and each scenario image is derived from it by a config label
//! (`dev.courselab.build`), so the layers are shared and every image has a digest of its own.
//! Deterministic (no timestamps), so a second start derives the same digests; a tag that
//! already points elsewhere is the learner's and is never overwritten.

use std::path::Path;

use serde_json::Value;

use crate::supply::fixture::BuiltManifest;
use crate::supply::layout::LayoutStore;
use crate::supply::registry::{RegistryStore, Retry};
use crate::supply::store::Store;
use crate::supply::{Digest, ImageRef, SupplyError};

/// The label that tells the scenario's builds apart.
pub const BUILD_LABEL: &str = "dev.courselab.build";
pub use super::NONCE_LABEL;

/// What happened to one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeded {
    /// Pushed now.
    Pushed(Digest),
    /// Already there, the same digest.
    Present(Digest),
    /// The tag points at something else, which was left alone.
    Kept {
        /// What the tag points at.
        found: Digest,
        /// What `lab` would have pushed.
        derived: Digest,
    },
}

/// The base image from an OCI layout: its first tagged image (one platform of an index:
/// `arch`).
pub async fn base_from_layout(dir: &Path, arch: &str) -> Result<BuiltManifest, SupplyError> {
    let layout = LayoutStore::open(dir)?;
    let tag = layout.tags().into_iter().next().ok_or_else(|| {
        SupplyError::BadInput(format!(
            "{} names no image (no `org.opencontainers.image.ref.name` in index.json); save it with a tag",
            dir.display()
        ))
    })?;
    let image = ImageRef::parse(&format!("layout.invalid/base:{tag}"))
        .map_err(|e| SupplyError::BadInput(e.to_string()))?;
    export(&layout, &image, arch).await
}

/// The base image from its registry (`image` pinned by digest), `arch`'s image of an index.
pub async fn base_from_registry(image: &str, arch: &str) -> Result<BuiltManifest, SupplyError> {
    let reference = ImageRef::parse(image).map_err(|e| SupplyError::BadInput(e.to_string()))?;
    export(
        &RegistryStore::new(&reference, false, Retry::default()),
        &reference,
        arch,
    )
    .await
}

/// The manifest `image` names in `store`, with its config and layers; for an index, the
/// `linux/<arch>` manifest.
pub async fn export(
    store: &impl Store,
    image: &ImageRef,
    arch: &str,
) -> Result<BuiltManifest, SupplyError> {
    let not_found = || SupplyError::NotFound {
        image: format!("{} in {}", image.repository(), store.describe()),
    };
    let bad = |why: String| {
        SupplyError::BadInput(format!("the base image {}: {why}", image.repository()))
    };
    let mut digest = store.resolve(image).await?;
    for _ in 0..2 {
        let manifest = store
            .manifest(image, digest.as_str())
            .await?
            .ok_or_else(not_found)?;
        let doc: Value = serde_json::from_slice(&manifest.bytes).map_err(|e| bad(e.to_string()))?;
        if let Some(list) = doc.get("manifests").and_then(Value::as_array) {
            let pick = list.iter().find(|m| {
                m.pointer("/platform/os").and_then(Value::as_str) == Some("linux")
                    && m.pointer("/platform/architecture").and_then(Value::as_str) == Some(arch)
            });
            let d = pick
                .and_then(|m| m.get("digest").and_then(Value::as_str))
                .ok_or_else(|| bad(format!("its index has no linux/{arch} image")))?;
            digest = Digest::parse(d).map_err(|e| bad(e.to_string()))?;
            continue;
        }
        let mut blobs = Vec::new();
        let config = doc.get("config").into_iter();
        let layers = doc
            .get("layers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for descriptor in config.chain(layers) {
            let d = descriptor
                .get("digest")
                .and_then(Value::as_str)
                .unwrap_or("");
            let d = Digest::parse(d).map_err(|e| bad(e.to_string()))?;
            let size = descriptor.get("size").and_then(Value::as_u64).unwrap_or(0);
            blobs.push(store.blob(image, &d, size).await?);
        }
        return Ok(BuiltManifest {
            bytes: manifest.bytes,
            digest: manifest.digest,
            blobs,
        });
    }
    Err(bad("an index inside an index".into()))
}

/// The architecture of this machine as OCI platforms name it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        "x86_64" => "amd64",
        other => other,
    }
}

/// `base` with the build label set to `build`, and the nonce label to `nonce` when given.
pub fn derive(
    base: &BuiltManifest,
    build: &str,
    nonce: Option<&str>,
) -> Result<BuiltManifest, SupplyError> {
    let bad = |why: String| SupplyError::BadInput(format!("the base image: {why}"));
    let mut manifest: Value =
        serde_json::from_slice(&base.bytes).map_err(|e| bad(format!("manifest: {e}")))?;
    if manifest.get("manifests").is_some() {
        return Err(bad(
            "it is an image index; save one platform's image (`crane pull --platform linux/amd64 --format oci`)".into(),
        ));
    }
    let config_bytes = base
        .blobs
        .first()
        .ok_or_else(|| bad("no config blob".into()))?;
    let mut config: Value =
        serde_json::from_slice(config_bytes).map_err(|e| bad(format!("config: {e}")))?;
    let labels = config
        .as_object_mut()
        .ok_or_else(|| bad("the config is not an object".into()))?
        .entry("config")
        .or_insert_with(|| Value::Object(Default::default()))
        .as_object_mut()
        .ok_or_else(|| bad("config.config is not an object".into()))?
        .entry("Labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if labels.is_null() {
        *labels = Value::Object(Default::default());
    }
    let labels = labels
        .as_object_mut()
        .ok_or_else(|| bad("config.config.Labels is not an object".into()))?;
    labels.insert(BUILD_LABEL.into(), Value::String(build.to_owned()));
    if let Some(nonce) = nonce {
        labels.insert(NONCE_LABEL.into(), Value::String(nonce.to_owned()));
    }
    let config_bytes = serde_json::to_vec(&config).expect("a JSON value serializes");
    manifest["config"]["digest"] = Value::String(Digest::sha256_of(&config_bytes).to_string());
    manifest["config"]["size"] = Value::from(config_bytes.len());
    let bytes = serde_json::to_vec(&manifest).expect("a JSON value serializes");
    let mut blobs = base.blobs.clone();
    blobs[0] = config_bytes;
    Ok(BuiltManifest {
        digest: Digest::sha256_of(&bytes),
        bytes,
        blobs,
    })
}

/// Pushes `image` (`registry/path:tag`) as `manifest`, unless the tag already exists.
pub async fn push_once(image: &str, manifest: &BuiltManifest) -> Result<Seeded, SupplyError> {
    let reference = ImageRef::parse(image).map_err(|e| SupplyError::BadInput(e.to_string()))?;
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let store = RegistryStore::new(&reference, false, Retry::default());
    if let Some(found) = store.manifest(&reference, &tag).await? {
        return Ok(if found.digest == manifest.digest {
            Seeded::Present(found.digest)
        } else {
            Seeded::Kept {
                found: found.digest,
                derived: manifest.digest.clone(),
            }
        });
    }
    let media_type = serde_json::from_slice::<Value>(&manifest.bytes)
        .ok()
        .and_then(|m| {
            m.get("mediaType")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into());
    store
        .push(
            &reference,
            &tag,
            &manifest.bytes,
            &media_type,
            &manifest.blobs,
        )
        .await?;
    Ok(Seeded::Pushed(manifest.digest.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_build_gets_its_own_digest_and_the_same_layers() {
        let base = crate::supply::fixture::image("base");
        let ci = derive(&base, "ci", None).unwrap();
        let ws = derive(&base, "workstation", None).unwrap();
        assert_ne!(ci.digest, ws.digest);
        assert_eq!(ci.blobs[1..], ws.blobs[1..]);
        assert_eq!(
            derive(&base, "ci", None).unwrap().digest,
            ci.digest,
            "deterministic"
        );
        let config: Value = serde_json::from_slice(&ci.blobs[0]).unwrap();
        assert_eq!(config["config"]["Labels"][BUILD_LABEL], "ci");
        assert_eq!(config["config"]["Labels"]["dev.courselab.fixture"], "base");
        let manifest: Value = serde_json::from_slice(&ci.bytes).unwrap();
        assert_eq!(
            manifest["config"]["digest"],
            Digest::sha256_of(&ci.blobs[0]).to_string()
        );
    }

    #[test]
    fn a_token_nonce_makes_each_learners_build_their_own_and_the_same_again() {
        let base = crate::supply::fixture::image("base");
        let plain = derive(&base, "ci", None).unwrap();
        let ada = derive(&base, "ci", Some("aa11")).unwrap();
        let bob = derive(&base, "ci", Some("bb22")).unwrap();
        assert_ne!(ada.digest, plain.digest);
        assert_ne!(ada.digest, bob.digest);
        assert_eq!(
            derive(&base, "ci", Some("aa11")).unwrap().digest,
            ada.digest
        );
        let config: Value = serde_json::from_slice(&ada.blobs[0]).unwrap();
        assert_eq!(config["config"]["Labels"][NONCE_LABEL], "aa11");
        assert_eq!(config["config"]["Labels"][BUILD_LABEL], "ci");
    }

    #[test]
    fn an_index_is_refused_with_what_to_do() {
        let mut base = crate::supply::fixture::image("base");
        base.bytes = br#"{"schemaVersion":2,"manifests":[]}"#.to_vec();
        let err = derive(&base, "ci", None).unwrap_err().to_string();
        assert!(err.contains("save one platform"), "{err}");
    }
}
