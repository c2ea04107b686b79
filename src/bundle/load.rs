//! What `lab start --bundle` (or `--mirror`) does with a [`Source`]: the kind node image and
//! the registry image written as an archive `docker load` reads, the lab registry filled with
//! Kyverno's images and their cosign artifacts, and Kyverno's chart with the values that point
//! its images at the lab registry.
//!
//! The archive Docker loads is the one `docker save` has written since Docker 25: an OCI image
//! layout (`oci-layout`, `index.json`, `blobs/sha256/`) that is also Docker's own format
//! (`manifest.json` naming the config and layers by those same paths), so that both of
//! Docker's image stores read it: the classic one reads `manifest.json`, the containerd one the
//! layout. It holds one platform (Docker's own), tagged in a namespace of the lab's
//! (`courselab.invalid/...`, a registry name that cannot exist), so that no tag of the
//! learner's is ever moved.

use std::collections::BTreeSet;
use std::io::Write;

use serde::Deserialize;
use serde_json::json;

use super::create::{COSIGN_SUFFIXES, MAX_CHILDREN, MAX_DEPTH, canonical_repository};
use super::error::BundleError;
use super::kyverno;
use super::source::Source;
use crate::supply::registry::RegistryStore;
use crate::supply::store::Store;
use crate::supply::{Digest, ImageRef, SupplyError};

/// The registry name of the tags the lab loads images under.
pub const LOADED_NAMESPACE: &str = "courselab.invalid";

#[derive(Deserialize)]
struct Shape {
    #[serde(default)]
    manifests: Vec<Entry>,
    #[serde(default)]
    config: Option<Blob>,
    #[serde(default)]
    layers: Vec<Blob>,
}

#[derive(Deserialize, Clone)]
struct Entry {
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize, Clone)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
}

#[derive(Deserialize, Clone)]
struct Blob {
    digest: String,
    size: u64,
}

fn parse_shape(what: &str, bytes: &[u8]) -> Result<Shape, BundleError> {
    serde_json::from_slice(bytes)
        .map_err(|e| corrupt(what, format!("it does not parse as an OCI manifest ({e})")))
}

fn corrupt(what: &str, reason: String) -> BundleError {
    BundleError::Load {
        what: what.to_owned(),
        source: SupplyError::Corrupt {
            what: what.to_owned(),
            reason,
        },
    }
}

fn digest(what: &str, text: &str) -> Result<Digest, BundleError> {
    Digest::parse(text)
        .ok()
        .filter(|d| d.algorithm() == "sha256")
        .ok_or_else(|| {
            corrupt(
                what,
                format!(
                    "it refers to `{}`, not a sha256 digest",
                    crate::text::printable(text)
                ),
            )
        })
}

/// The tag an image of the bundle (`docker.io/kindest/node:v1.35.8`, or pinned by digest
/// only) is loaded into Docker under: `courselab.invalid/kindest/node:v1.35.8`.
pub fn docker_tag(reference: &str) -> String {
    let (repository, tag) = match reference.split_once('@') {
        Some((repository, digest)) => (
            repository,
            digest
                .replace(':', "-")
                .chars()
                .take(71)
                .collect::<String>(),
        ),
        None => match reference.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, tag.to_owned()),
            _ => (reference, "latest".to_owned()),
        },
    };
    let path = repository.split_once('/').map_or(repository, |(_, p)| p);
    format!("{LOADED_NAMESPACE}/{path}:{tag}")
}

/// An image ready to be written for Docker: one platform's manifest, its config and layers.
pub struct ForDocker {
    name: String,
    manifest: super::source::Fetched,
    config: Blob,
    layers: Vec<Blob>,
    /// The IDs Docker may give it: its config's digest (the classic image store) or its
    /// manifest's (the containerd image store).
    pub ids: [String; 2],
    /// The bytes of its config and layers.
    pub bytes: u64,
}

/// The image `name@image_digest` of `source` (its `platform` manifest, `linux/amd64`, when it
/// is an index), ready to be written for Docker.
pub async fn for_docker(
    source: &Source,
    name: &str,
    image_digest: &str,
    platform: &str,
) -> Result<ForDocker, BundleError> {
    let what = format!("{name}@{image_digest}");
    let (os, architecture) = platform.split_once('/').unwrap_or(("linux", platform));
    let mut fetched = source
        .manifest(name, image_digest)
        .await?
        .ok_or_else(|| not_there(&what, source))?;
    let mut shape = parse_shape(&what, &fetched.bytes)?;
    if !shape.manifests.is_empty() {
        let pick = shape
            .manifests
            .iter()
            .find(|m| {
                m.platform
                    .as_ref()
                    .is_some_and(|p| p.os == os && p.architecture == architecture)
            })
            .cloned()
            .ok_or_else(|| BundleError::Docker {
                what: what.clone(),
                reason: format!(
                    "it has no image for Docker's platform {platform}; a bundle holds the platforms its publisher builds"
                ),
            })?;
        fetched = source
            .manifest(name, &pick.digest)
            .await?
            .ok_or_else(|| not_there(&format!("{what} ({platform})"), source))?;
        shape = parse_shape(&what, &fetched.bytes)?;
        if !shape.manifests.is_empty() {
            return Err(corrupt(
                &what,
                "its platform entry is an index again".into(),
            ));
        }
    }
    let config = shape
        .config
        .clone()
        .ok_or_else(|| corrupt(&what, "its manifest has no config".into()))?;
    if shape.layers.len() > MAX_CHILDREN {
        return Err(corrupt(
            &what,
            format!("it has more than {MAX_CHILDREN} layers"),
        ));
    }
    let config_digest = digest(&what, &config.digest)?;
    for layer in &shape.layers {
        digest(&what, &layer.digest)?;
    }
    let bytes = config.size + shape.layers.iter().map(|l| l.size).sum::<u64>();
    Ok(ForDocker {
        name: name.to_owned(),
        ids: [
            config_digest.as_str().to_owned(),
            fetched.digest.as_str().to_owned(),
        ],
        manifest: fetched,
        config,
        layers: shape.layers,
        bytes,
    })
}

impl ForDocker {
    /// Writes the image to `out` as an archive `docker load` reads, tagged `tag`.
    pub async fn write(
        &self,
        source: &Source,
        tag: &str,
        out: impl Write,
    ) -> Result<(), BundleError> {
        let what = format!("{}@{}", self.name, self.manifest.digest);
        let blob_path = |d: &str| format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
        let write_err = |e: std::io::Error| BundleError::Write {
            path: "the archive for docker load".into(),
            reason: e.to_string(),
        };
        let mut archive = tar::Builder::new(out);
        let add =
            |archive: &mut tar::Builder<_>, path: &str, size: u64, data: &mut dyn std::io::Read| {
                let mut header = tar::Header::new_ustar();
                header.set_size(size);
                header.set_mode(0o644);
                header.set_mtime(0);
                header.set_cksum();
                archive
                    .append_data(&mut header, path, data)
                    .map_err(write_err)
            };
        let mut written = BTreeSet::new();
        for blob in std::iter::once(&self.config).chain(&self.layers) {
            if !written.insert(blob.digest.clone()) {
                continue;
            }
            let d = digest(&what, &blob.digest)?;
            let file = source.blob(&self.name, &d, blob.size).await?;
            let mut reader = file.reader().map_err(|e| BundleError::Unreadable {
                path: format!("blob {d}").into(),
                reason: e.to_string(),
            })?;
            add(
                &mut archive,
                &blob_path(&blob.digest),
                blob.size,
                &mut reader,
            )?;
        }
        let manifest = &self.manifest;
        add(
            &mut archive,
            &blob_path(manifest.digest.as_str()),
            manifest.bytes.len() as u64,
            &mut manifest.bytes.as_slice(),
        )?;
        let (_, short_tag) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": manifest.media_type,
                "digest": manifest.digest.as_str(),
                "size": manifest.bytes.len(),
                "annotations": {
                    "io.containerd.image.name": tag,
                    crate::supply::layout::REF_NAME_ANNOTATION: short_tag,
                },
            }],
        })
        .to_string();
        let docker_manifest = json!([{
            "Config": blob_path(&self.config.digest),
            "RepoTags": [tag],
            "Layers": self.layers.iter().map(|l| blob_path(&l.digest)).collect::<Vec<_>>(),
        }])
        .to_string();
        let layout = r#"{"imageLayoutVersion":"1.0.0"}"#;
        for (path, text) in [
            ("oci-layout", layout),
            ("index.json", index.as_str()),
            ("manifest.json", docker_manifest.as_str()),
        ] {
            add(&mut archive, path, text.len() as u64, &mut text.as_bytes())?;
        }
        archive
            .into_inner()
            .map_err(write_err)?
            .flush()
            .map_err(write_err)
    }
}

fn not_there(what: &str, source: &Source) -> BundleError {
    BundleError::Load {
        what: what.to_owned(),
        source: SupplyError::NotFound {
            image: format!("{what} in {}", source.describe()),
        },
    }
}

/// What a copy into the lab registry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copied {
    /// Pushed now: manifests and blobs pushed.
    Pushed {
        /// Manifests pushed.
        manifests: usize,
        /// Blobs pushed (those the registry had are not sent again).
        blobs: usize,
    },
    /// The lab registry had it already, under that tag.
    Present,
}

/// Copies the manifest `reference` (tag or digest) of `name` from `source`, with all it refers
/// to, into `to` (the lab registry's repository) under `tag`. `None` when the source does not
/// have it.
pub async fn copy_image(
    source: &Source,
    name: &str,
    reference: &str,
    lab: &RegistryStore,
    to: &ImageRef,
    tag: &str,
) -> Result<Option<(Digest, Copied)>, BundleError> {
    let what = format!("{name}:{reference}");
    let target = |source| BundleError::Load {
        what: format!("{} in the lab registry", to.repository()),
        source,
    };
    let Some(top) = source.manifest(name, reference).await? else {
        return Ok(None);
    };
    if lab
        .manifest(to, tag)
        .await
        .map_err(target)?
        .is_some_and(|m| m.digest == top.digest)
    {
        return Ok(Some((top.digest, Copied::Present)));
    }
    let (mut manifests, mut blobs) = (0, 0);
    // Blobs before their manifest, children before their index: the registry checks that
    // what a manifest names is there.
    let mut order: Vec<(super::source::Fetched, Vec<Digest>)> = Vec::new();
    let mut seen = BTreeSet::from([top.digest.clone()]);
    let mut pending = vec![(top.clone(), 1usize)];
    while let Some((fetched, depth)) = pending.pop() {
        let shape = parse_shape(&what, &fetched.bytes)?;
        if shape.manifests.len() > MAX_CHILDREN
            || (!shape.manifests.is_empty() && depth >= MAX_DEPTH)
        {
            return Err(corrupt(
                &what,
                format!(
                    "it lists more than {MAX_CHILDREN} entries or nests indexes more than {MAX_DEPTH} deep"
                ),
            ));
        }
        let mut children = Vec::new();
        for child in &shape.manifests {
            let d = digest(&what, &child.digest)?;
            children.push(d.clone());
            // An index may list one manifest twice (or two indexes share one): read it once.
            if !seen.insert(d.clone()) {
                continue;
            }
            let found = source
                .manifest(name, d.as_str())
                .await?
                .ok_or_else(|| not_there(&format!("{what} ({d})"), source))?;
            if found.bytes.len() as u64 != child.size && child.size != 0 {
                return Err(corrupt(
                    &what,
                    format!(
                        "{d} has {} bytes, not the {} its index gives",
                        found.bytes.len(),
                        child.size
                    ),
                ));
            }
            pending.push((found, depth + 1));
        }
        for blob in shape.config.iter().chain(&shape.layers) {
            let d = digest(&what, &blob.digest)?;
            if lab.has_blob(to, &d).await.map_err(target)? {
                continue;
            }
            let file = source.blob(name, &d, blob.size).await?;
            lab.push_blob_from(to, &d, blob.size, move || file.reader())
                .await
                .map_err(target)?;
            blobs += 1;
        }
        order.push((fetched, children));
    }
    // Each pass pushes the manifests whose children are all pushed; content addressing
    // leaves no cycle, so every pass pushes at least one.
    let mut pushed = BTreeSet::new();
    while pushed.len() < order.len() {
        let before = pushed.len();
        for (fetched, children) in &order {
            if pushed.contains(&fetched.digest) || !children.iter().all(|c| pushed.contains(c)) {
                continue;
            }
            let reference = if fetched.digest == top.digest {
                tag
            } else {
                fetched.digest.as_str()
            };
            lab.push_manifest(to, reference, &fetched.bytes, &fetched.media_type)
                .await
                .map_err(target)?;
            pushed.insert(fetched.digest.clone());
            manifests += 1;
        }
        if pushed.len() == before {
            return Err(corrupt(&what, "its indexes refer to each other".into()));
        }
    }
    Ok(Some((top.digest, Copied::Pushed { manifests, blobs })))
}

/// One image copied into the lab registry, for the learner's screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filled {
    /// As the chart named it.
    pub from: String,
    /// In the lab registry, as the cluster pulls it.
    pub to: String,
    /// Its digest.
    pub digest: String,
    /// What the copy did.
    pub copied: Copied,
    /// How many cosign artifacts came with it.
    pub cosign: usize,
}

/// Where Kyverno's image `reference` (as the chart names it) lies in the lab registry: the
/// same repository path and tag (`kyverno/kyverno:v1.19.0`), as the chart renders it when its
/// registry value is the lab registry's.
pub fn in_lab_registry(reference: &str) -> Result<(ImageRef, String), BundleError> {
    let image = ImageRef::parse(reference).map_err(|e| BundleError::Chart {
        reference: reference.to_owned(),
        reason: format!("names an image that does not parse ({e})"),
    })?;
    let tag = image.tag.clone().unwrap_or_else(|| "latest".into());
    Ok((image, tag))
}

/// Fills the lab registry (reached as `lab_host`, e.g. `localhost:5001`) with the images of
/// Kyverno's chart (`images`, as the chart names them) and their cosign artifacts: each
/// image's own, and those in Kyverno's signatures repository (there, as
/// `kyverno/signatures`).
pub async fn fill_kyverno(
    source: &Source,
    images: &[String],
    lab_host: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Filled>, BundleError> {
    let signatures = ImageRef::parse(kyverno::SIGNATURES).expect("a constant reference");
    let at_lab = |path: &str| ImageRef {
        registry: lab_host.to_owned(),
        path: path.to_owned(),
        tag: None,
        digest: None,
    };
    let lab = RegistryStore::new(
        &at_lab("v2"),
        false,
        crate::supply::registry::Retry::default(),
    );
    let mut filled = Vec::new();
    let mut seen = BTreeSet::new();
    for reference in images {
        if !seen.insert(reference.clone()) {
            continue;
        }
        let (image, tag) = in_lab_registry(reference)?;
        let to = at_lab(&image.path);
        progress(&format!("{}/{}:{tag}", lab_host, image.path));
        let name = canonical_repository(&image);
        let (digest, copied) = copy_image(source, &name, &tag, &lab, &to, &tag)
            .await?
            .ok_or_else(|| not_there(reference, source))?;
        let mut cosign = 0;
        for (from, to) in [
            (name.clone(), to.clone()),
            (canonical_repository(&signatures), at_lab(&signatures.path)),
        ] {
            for suffix in COSIGN_SUFFIXES {
                let artifact = format!("sha256-{}{suffix}", digest.hex());
                if copy_image(source, &from, &artifact, &lab, &to, &artifact)
                    .await?
                    .is_some()
                {
                    cosign += 1;
                }
            }
        }
        filled.push(Filled {
            from: reference.clone(),
            to: format!("{}:{tag}", image.path),
            digest: digest.as_str().to_owned(),
            copied,
            cosign,
        });
    }
    Ok(filled)
}

/// Kyverno's chart archive (`.tgz`) from `source`: the Helm layer of the chart's OCI artifact
/// `ghcr.io/kyverno/charts/kyverno:<version>`.
pub async fn chart_archive(source: &Source, version: &str) -> Result<Vec<u8>, BundleError> {
    let name = kyverno::CHART_REPOSITORY;
    let what = format!("Kyverno's chart {name}:{version}");
    let fetched = source
        .manifest(name, version)
        .await?
        .ok_or_else(|| not_there(&what, source))?;
    #[derive(Deserialize)]
    struct Layer {
        #[serde(rename = "mediaType")]
        media_type: String,
        digest: String,
        size: u64,
    }
    #[derive(Deserialize)]
    struct ChartManifest {
        #[serde(default)]
        layers: Vec<Layer>,
    }
    let manifest: ChartManifest = serde_json::from_slice(&fetched.bytes)
        .map_err(|e| corrupt(&what, format!("its manifest does not parse ({e})")))?;
    let layer = manifest
        .layers
        .iter()
        .find(|l| l.media_type == kyverno::CHART_LAYER)
        .ok_or_else(|| {
            corrupt(
                &what,
                format!("its manifest has no {} layer", kyverno::CHART_LAYER),
            )
        })?;
    if layer.size > kyverno::MAX_CHART {
        return Err(corrupt(
            &what,
            format!(
                "its archive has {} bytes, more than a chart may",
                layer.size
            ),
        ));
    }
    let d = digest(&what, &layer.digest)?;
    let file = source.blob(name, &d, layer.size).await?;
    let mut bytes = Vec::new();
    file.reader()
        .and_then(|mut r| std::io::Read::read_to_end(&mut r, &mut bytes))
        .map_err(|e| BundleError::Unreadable {
            path: what.clone().into(),
            reason: e.to_string(),
        })?;
    if !d.matches(&bytes) {
        return Err(corrupt(
            &what,
            "its archive does not hash to its digest".into(),
        ));
    }
    Ok(bytes)
}

/// The `--set` values that point every image of Kyverno's chart at `registry` (the lab
/// registry as the cluster's nodes reach it, `kind-registry:5000`): each image's own
/// `registry` value, which the chart's `_image.tpl` takes before the global one.
pub fn chart_values(registry: &str) -> Vec<String> {
    kyverno::IMAGE_VALUES
        .iter()
        .map(|path| format!("{path}.registry={registry}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::io::Read;
    use std::path::Path;

    /// A bundle of `docker.io/kindest/node:v1` as an index of two platforms, each a config
    /// and a gzip layer; returns its path and, by architecture, (manifest, config) digests.
    fn node_bundle(dir: &Path) -> (std::path::PathBuf, BTreeMap<String, (String, String)>) {
        let folder = dir.join("venue");
        let blobs = folder.join("oci/blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |bytes: &[u8]| {
            let d = Digest::sha256_of(bytes);
            std::fs::write(blobs.join(d.hex()), bytes).unwrap();
            d
        };
        let mut platforms = BTreeMap::new();
        let mut entries = Vec::new();
        for arch in ["amd64", "arm64"] {
            let plain = format!("the {arch} root file system");
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, plain.as_bytes()).unwrap();
            let layer = gz.finish().unwrap();
            let layer_digest = put(&layer);
            let config = json!({"architecture": arch, "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [Digest::sha256_of(plain.as_bytes()).as_str()]}})
            .to_string();
            let config_digest = put(config.as_bytes());
            let manifest = json!({"schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.as_str(), "size": config.len()},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest.as_str(), "size": layer.len()}]})
            .to_string();
            let manifest_digest = put(manifest.as_bytes());
            entries.push(
                json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest.as_str(), "size": manifest.len(),
                "platform": {"os": "linux", "architecture": arch}}),
            );
            platforms.insert(
                arch.to_owned(),
                (
                    manifest_digest.as_str().to_owned(),
                    config_digest.as_str().to_owned(),
                ),
            );
        }
        let index = json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries})
        .to_string();
        let index_digest = put(index.as_bytes());
        platforms.insert(
            "index".into(),
            (index_digest.as_str().to_owned(), String::new()),
        );
        let top = json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": index_digest.as_str(), "size": index.len(),
            "annotations": {"org.opencontainers.image.ref.name": "docker.io/kindest/node:v1"}
        }]});
        std::fs::write(folder.join("oci/index.json"), top.to_string()).unwrap();
        let path = dir.join("venue.tar");
        crate::bundle::pack::pack(
            &folder,
            "ch14",
            std::fs::File::create(&path).unwrap(),
            &path,
        )
        .unwrap();
        (path, platforms)
    }

    #[test]
    fn docker_gets_its_own_platform_as_an_archive_both_image_stores_read() {
        let dir = tempfile::tempdir().unwrap();
        let (path, platforms) = node_bundle(dir.path());
        let source = Source::bundle(&path).unwrap();
        let index = &platforms["index"].0;
        let tag = "courselab.invalid/kindest/node:v1";
        let mut archive = Vec::new();
        let prepared = crate::runtime::block_on(async {
            let prepared =
                for_docker(&source, "docker.io/kindest/node", index, "linux/arm64").await?;
            prepared.write(&source, tag, &mut archive).await?;
            Ok::<_, BundleError>(prepared)
        })
        .unwrap()
        .unwrap();
        let (manifest, config) = &platforms["arm64"];
        assert_eq!(prepared.ids, [config.clone(), manifest.clone()]);
        let mut files = BTreeMap::new();
        let mut tar = tar::Archive::new(archive.as_slice());
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            files.insert(name, bytes);
        }
        // Every blob is named by its digest; only arm64's are there.
        let blobs: Vec<&String> = files.keys().filter(|k| k.starts_with("blobs/")).collect();
        assert_eq!(blobs.len(), 3, "{blobs:?}");
        for (name, bytes) in &files {
            if let Some(hex) = name.strip_prefix("blobs/sha256/") {
                assert_eq!(Digest::sha256_of(bytes).hex(), hex);
            }
        }
        // Docker's own format: the config and layers by their paths, and the tag.
        let docker: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        let config_path = format!("blobs/sha256/{}", config.trim_start_matches("sha256:"));
        assert_eq!(docker[0]["Config"], config_path.as_str());
        assert_eq!(docker[0]["RepoTags"], json!([tag]));
        let layer = docker[0]["Layers"][0].as_str().unwrap();
        assert!(files.contains_key(layer) && files.contains_key(&config_path));
        // The OCI layout: one manifest, named for containerd's image store.
        let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
        assert_eq!(index["manifests"][0]["digest"], manifest.as_str());
        assert_eq!(
            index["manifests"][0]["annotations"]["io.containerd.image.name"],
            tag
        );
        assert!(files.contains_key("oci-layout"));

        let err = crate::runtime::block_on(for_docker(
            &source,
            "docker.io/kindest/node",
            index_digest_of(&platforms),
            "linux/s390x",
        ))
        .unwrap()
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("no image for Docker's platform linux/s390x"),
            "{err}"
        );
    }

    fn index_digest_of(platforms: &BTreeMap<String, (String, String)>) -> &str {
        &platforms["index"].0
    }

    #[test]
    fn loaded_images_are_tagged_in_the_labs_own_namespace() {
        assert_eq!(
            docker_tag("docker.io/kindest/node:v1.35.8"),
            "courselab.invalid/kindest/node:v1.35.8"
        );
        assert_eq!(
            docker_tag("docker.io/library/registry:3"),
            "courselab.invalid/library/registry:3"
        );
        let pinned = format!("docker.io/kindest/node@sha256:{}", "a".repeat(64));
        assert_eq!(
            docker_tag(&pinned),
            format!("courselab.invalid/kindest/node:sha256-{}", "a".repeat(64))
        );
        assert_eq!(
            docker_tag("127.0.0.1:5000/kindest/node:v1"),
            "courselab.invalid/kindest/node:v1"
        );
    }

    #[test]
    fn every_image_value_of_the_chart_is_pointed_at_the_lab_registry() {
        let values = chart_values("kind-registry:5000");
        assert_eq!(values.len(), kyverno::IMAGE_VALUES.len());
        assert!(values.contains(
            &"admissionController.container.image.registry=kind-registry:5000".to_owned()
        ));
    }
}
