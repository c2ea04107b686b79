//! `lab bundle create`: everything `lab start` downloads for a lab, copied from its publishers
//! into a bundle's folder, by digest: the kind node image (as the lab's kind config pins it),
//! the lab registry's image, the base image, Kyverno's chart and every image it deploys, each
//! with all its platforms and layers and the cosign artifacts found beside it. Kyverno's chart
//! and images are verified against Kyverno's signing identity before anything is packed; one
//! that does not verify stops the bundle.
//!
//! A publisher's registry can be reached through another (`--registry-mirror
//! docker.io=mirror.example:5000`, a pull-through cache, or a loopback registry in tests); the
//! bundle always names images as the lab and the chart name them.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::error::BundleError;
use super::kyverno;
use super::layout::{Descriptor, Staging};
use super::manifest::{BundledChart, BundledImage, Role};
use super::signed::{Cosign, Signer};
use crate::backend::host::Host;
use crate::supply::registry::{RegistryStore, Retry};
use crate::supply::store::Store;
use crate::supply::{Digest, ImageRef};

/// The registry image `lab start` runs (kind's local-registry pattern).
pub const REGISTRY_IMAGE: &str = "registry:3";

/// The most manifests one index may list, and layers one manifest may have.
pub(crate) const MAX_CHILDREN: usize = 1000;
/// How deep indexes may nest (an index of indexes of manifests).
pub(crate) const MAX_DEPTH: usize = 3;
/// The tags cosign keeps an image's artifacts under, after `sha256-<hex>`: signatures,
/// attestations, SBOMs, and (no suffix) the OCI 1.1 referrers index cosign v3 writes when the
/// registry has no referrers API.
pub(crate) const COSIGN_SUFFIXES: [&str; 4] = [".sig", ".att", ".sbom", ""];

/// What a bundle of a lab holds, before its files are listed.
#[derive(Debug, Default)]
pub struct Contents {
    /// The images.
    pub images: Vec<BundledImage>,
    /// The charts.
    pub charts: Vec<BundledChart>,
}

/// What the lab needs from outside, read from its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    /// The kind node images (pinned by digest, as the kind config names them).
    pub node_images: Vec<String>,
    /// The base image, if the lab seeds images.
    pub base_image: Option<String>,
    /// Kyverno's chart version.
    pub chart_version: String,
}

/// Reads a mapping `FROM=TO` of publisher registries to the registries that serve them.
pub fn parse_mirror(text: &str) -> Result<(String, String), String> {
    // A registry host: letters, digits, `.`, `-`, `:` and IPv6 brackets, not starting with `-`.
    let host = |h: &str| {
        !h.is_empty()
            && !h.starts_with('-')
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
    };
    let (from, to) = text
        .split_once('=')
        .filter(|(f, t)| host(f) && host(t))
        .ok_or_else(|| {
            format!("`{text}` is not REGISTRY=MIRROR (two registry hosts, e.g. docker.io=127.0.0.1:5000)")
        })?;
    Ok((from.to_owned(), to.to_owned()))
}

/// Copies images from registries into a [`Staging`] layout.
pub struct Copier {
    mirrors: BTreeMap<String, String>,
    retry: Retry,
    stores: HashMap<String, RegistryStore>,
}

#[derive(Deserialize)]
struct ManifestShape {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

impl Copier {
    /// A copier that reaches each publisher registry through `mirrors` when one is given.
    pub fn new(mirrors: BTreeMap<String, String>, retry: Retry) -> Self {
        Copier {
            mirrors,
            retry,
            stores: HashMap::new(),
        }
    }

    /// Where `image` is reached: its registry, or the mirror given for it.
    pub fn reached(&self, image: &ImageRef) -> ImageRef {
        let mut reached = image.clone();
        if let Some(mirror) = self.mirrors.get(&image.registry) {
            if image.registry == "docker.io" && !image.path.contains('/') {
                reached.path = format!("library/{}", image.path);
            }
            reached.registry = mirror.clone();
        }
        reached
    }

    fn store(&mut self, reached: &ImageRef) -> &RegistryStore {
        let retry = self.retry;
        self.stores
            .entry(reached.registry.clone())
            .or_insert_with(|| RegistryStore::new(reached, false, retry))
    }

    /// Copies the manifest `tag_or_digest` of `image` (as the publisher names it) with
    /// everything it refers to; `None` when the registry does not have it.
    pub async fn copy(
        &mut self,
        staging: &mut Staging,
        image: &ImageRef,
        tag_or_digest: &str,
    ) -> Result<Option<Descriptor>, BundleError> {
        let reached = self.reached(image);
        let at = if tag_or_digest.contains(':') {
            '@'
        } else {
            ':'
        };
        let what = format!("{}{at}{tag_or_digest}", image.repository());
        let supply = |source| BundleError::Supply {
            what: what.clone(),
            source,
        };
        let store = self.store(&reached);
        let Some(top) = store
            .manifest(&reached, tag_or_digest)
            .await
            .map_err(supply)?
        else {
            return Ok(None);
        };
        let top_descriptor = Descriptor {
            media_type: media_type(&top.bytes),
            digest: top.digest.as_str().to_owned(),
            size: top.bytes.len() as u64,
            artifact_type: None,
        };
        let mut pending = vec![(top.bytes, top.digest, 1usize)];
        while let Some((bytes, digest, depth)) = pending.pop() {
            let shape: ManifestShape =
                serde_json::from_slice(&bytes).map_err(|e| BundleError::Supply {
                    what: format!("{} of {what}", digest.as_str()),
                    source: crate::supply::SupplyError::Corrupt {
                        what: format!("manifest {digest}"),
                        reason: format!("it does not parse as an OCI manifest ({e})"),
                    },
                })?;
            if shape.manifests.len() > MAX_CHILDREN || shape.layers.len() > MAX_CHILDREN {
                return Err(too_many(&what, &digest));
            }
            for child in &shape.manifests {
                if depth >= MAX_DEPTH {
                    return Err(too_many(&what, &digest));
                }
                let child_digest = parse_digest(&what, &child.digest)?;
                if staging.has(&child_digest) {
                    continue;
                }
                let store = self.store(&reached);
                let fetched = store
                    .manifest(&reached, child_digest.as_str())
                    .await
                    .map_err(supply)?
                    .ok_or_else(|| {
                        supply(crate::supply::SupplyError::NotFound {
                            image: format!("{} (listed in {digest})", child_digest.as_str()),
                        })
                    })?;
                if fetched.bytes.len() as u64 != child.size {
                    return Err(supply(crate::supply::SupplyError::Corrupt {
                        what: format!("manifest {child_digest}"),
                        reason: format!(
                            "it has {} bytes, not the {} its index gives",
                            fetched.bytes.len(),
                            child.size
                        ),
                    }));
                }
                pending.push((fetched.bytes, fetched.digest, depth + 1));
            }
            for blob in shape.config.iter().chain(&shape.layers) {
                let blob_digest = parse_digest(&what, &blob.digest)?;
                if staging.has(&blob_digest) {
                    continue;
                }
                staging.reserve(&format!("blob {blob_digest} of {what}"), blob.size)?;
                let (partial, file) = staging.partial(&blob_digest)?;
                let store = self.store(&reached);
                store
                    .blob_into(&reached, &blob_digest, blob.size, &file)
                    .await
                    .map_err(supply)?;
                drop(file);
                staging.commit(&partial, &blob_digest)?;
            }
            // Written last, so that a manifest in the layout means all it refers to is there.
            staging.put(&bytes)?;
        }
        Ok(Some(top_descriptor))
    }

    /// Copies the cosign artifacts of `digest` found in `repositories` (as the publisher names
    /// them), names each in the layout, and returns their names.
    pub async fn copy_cosign(
        &mut self,
        staging: &mut Staging,
        repositories: &[ImageRef],
        digest: &Digest,
    ) -> Result<Vec<String>, BundleError> {
        let mut names = Vec::new();
        for repository in repositories {
            for suffix in COSIGN_SUFFIXES {
                let tag = format!("sha256-{}{suffix}", digest.hex());
                let name = format!("{}:{tag}", canonical_repository(repository));
                if staging.is_named(&name) {
                    continue;
                }
                if let Some(descriptor) = self.copy(staging, repository, &tag).await? {
                    staging.name(&name, descriptor);
                    names.push(name);
                }
            }
        }
        Ok(names)
    }
}

fn too_many(what: &str, digest: &Digest) -> BundleError {
    BundleError::Supply {
        what: what.to_owned(),
        source: crate::supply::SupplyError::Corrupt {
            what: format!("manifest {digest}"),
            reason: format!(
                "it lists more than {MAX_CHILDREN} entries or nests indexes more than {MAX_DEPTH} deep"
            ),
        },
    }
}

fn parse_digest(what: &str, text: &str) -> Result<Digest, BundleError> {
    Digest::parse(text)
        .ok()
        .filter(|d| d.algorithm() == "sha256")
        .ok_or_else(|| BundleError::Supply {
            what: what.to_owned(),
            source: crate::supply::SupplyError::Corrupt {
                what: what.to_owned(),
                reason: format!(
                    "it refers to `{}`, not a sha256 digest",
                    crate::text::printable(text)
                ),
            },
        })
}

/// The manifest's media type, as it says (or as its shape tells).
pub(crate) fn media_type(bytes: &[u8]) -> String {
    let shape: Option<ManifestShape> = serde_json::from_slice(bytes).ok();
    match shape {
        Some(ManifestShape {
            media_type: Some(m),
            ..
        }) => m,
        Some(ManifestShape { manifests, .. }) if !manifests.is_empty() => {
            "application/vnd.oci.image.index.v1+json".to_owned()
        }
        _ => "application/vnd.oci.image.manifest.v1+json".to_owned(),
    }
}

/// `docker.io/library/registry`: a repository with its registry, as the bundle names it.
pub fn canonical_repository(image: &ImageRef) -> String {
    if image.registry == "docker.io" && !image.path.contains('/') {
        format!("docker.io/library/{}", image.path)
    } else {
        format!("{}/{}", image.registry, image.path)
    }
}

/// `docker.io/kindest/node:v1.35.8`: the name an image has in the bundle (its tag, or its
/// digest when it has no tag).
pub fn canonical_name(image: &ImageRef) -> String {
    match (&image.tag, &image.digest) {
        (Some(tag), _) => format!("{}:{tag}", canonical_repository(image)),
        (None, Some(digest)) => format!("{}@{digest}", canonical_repository(image)),
        (None, None) => format!("{}:latest", canonical_repository(image)),
    }
}

/// Copies one image by reference (pinned by digest when it has one) with its cosign artifacts
/// from `signatures` (besides its own repository), names it, and describes it.
async fn bundle_image(
    copier: &mut Copier,
    staging: &mut Staging,
    role: Role,
    reference: &str,
    signatures: Option<&ImageRef>,
) -> Result<(BundledImage, ImageRef), BundleError> {
    let image = ImageRef::parse(reference).map_err(|e| BundleError::Supply {
        what: reference.to_owned(),
        source: crate::supply::SupplyError::BadInput(e.to_string()),
    })?;
    let wanted = image
        .digest
        .clone()
        .or_else(|| image.tag.clone())
        .unwrap_or_else(|| "latest".to_owned());
    let name = canonical_name(&image);
    let descriptor = copier
        .copy(staging, &image, &wanted)
        .await?
        .ok_or_else(|| BundleError::Supply {
            what: format!("the {} {reference}", role.describe()),
            source: crate::supply::SupplyError::NotFound {
                image: copier.reached(&image).repository() + ":" + &wanted,
            },
        })?;
    staging.name(&name, descriptor.clone());
    let digest = parse_digest(reference, &descriptor.digest)?;
    let mut repositories = vec![ImageRef {
        tag: None,
        digest: None,
        ..image.clone()
    }];
    repositories.extend(signatures.cloned());
    let cosign = copier.copy_cosign(staging, &repositories, &digest).await?;
    Ok((
        BundledImage {
            role,
            reference: name,
            digest: descriptor.digest,
            cosign,
            verified: None,
        },
        image.with_digest(digest.as_str()),
    ))
}

/// What the lab's files say it needs: its kind config's node images, its base image, its
/// Kyverno chart version. `kind_config` is the kind config's text; `shown` names it.
pub fn needs(
    kind_config: &str,
    shown: &str,
    base_image: Option<&str>,
    chart_version: &str,
) -> Result<Needs, String> {
    let config: serde_json::Value =
        serde_saphyr::from_str(kind_config).map_err(|e| format!("{shown} does not parse: {e}"))?;
    let mut node_images = Vec::new();
    for node in config
        .get("nodes")
        .and_then(|n| n.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(image) = node.get("image").and_then(|i| i.as_str())
            && !node_images.iter().any(|n| n == image)
        {
            node_images.push(image.to_owned());
        }
    }
    if node_images.is_empty() {
        return Err(format!(
            "{shown} names no node image; a bundle needs the exact one (`nodes[].image`, pinned by digest), as kind's default changes with kind's version"
        ));
    }
    for image in &node_images {
        let parsed = ImageRef::parse(image).map_err(|e| format!("{shown}: {e}"))?;
        if parsed.digest.is_none() {
            return Err(format!(
                "{shown} names the node image `{image}` without a digest; pin it (`@sha256:...`), so that the bundle holds exactly the image the lab was written for"
            ));
        }
    }
    Ok(Needs {
        node_images,
        base_image: base_image.map(str::to_owned),
        chart_version: chart_version.to_owned(),
    })
}

/// Copies everything `needs` names into `staging`, verifying Kyverno's chart and images with
/// `cosign`; `progress` hears each step. Returns what the manifest lists.
pub async fn collect<H: Host>(
    copier: &mut Copier,
    staging: &mut Staging,
    cosign: &Cosign<'_, H>,
    needs: &Needs,
    progress: &mut dyn FnMut(&str),
) -> Result<Contents, BundleError> {
    let mut contents = Contents::default();
    let signatures = ImageRef::parse(kyverno::SIGNATURES).expect("a constant reference");

    // Kyverno's chart first: it says which images come with it.
    let chart_reference = format!("{}:{}", kyverno::CHART_REPOSITORY, needs.chart_version);
    progress(&format!("chart {chart_reference}"));
    let (chart_image, chart_pinned) = bundle_image(
        copier,
        staging,
        Role::Kyverno,
        &chart_reference,
        Some(&signatures),
    )
    .await?;
    let reached_signatures = canonical_repository(&copier.reached(&signatures));
    let verify = |copier: &Copier, what: &str, pinned: &ImageRef, identity: &str| {
        let reached = copier.reached(pinned);
        let digest = pinned.digest.as_deref().unwrap_or_default();
        let at = format!("{}/{}@{digest}", reached.registry, reached.path);
        let signer = Signer {
            name: "Kyverno",
            identity,
            issuer: kyverno::ISSUER,
            signatures: &reached_signatures,
        };
        cosign.verify(what, &at, digest, &signer)
    };
    let chart_verified = verify(
        copier,
        &format!("Kyverno's chart {chart_reference}"),
        &chart_pinned,
        kyverno::CHART_IDENTITY,
    )?;
    let tgz = chart_archive(staging, &chart_image.digest, &chart_reference)?;
    let chart = kyverno::read_chart(&tgz, "kyverno").map_err(|reason| BundleError::Chart {
        reference: chart_reference.clone(),
        reason,
    })?;
    if chart.version != needs.chart_version {
        return Err(BundleError::Chart {
            reference: chart_reference.clone(),
            reason: format!("says it is version {}", chart.version),
        });
    }
    let file = staging.put_chart(&format!("kyverno-{}.tgz", chart.version), &tgz)?;
    contents.charts.push(BundledChart {
        name: chart.name.clone(),
        version: chart.version.clone(),
        reference: chart_image.reference.clone(),
        digest: chart_image.digest.clone(),
        file,
        images: chart.images.clone(),
        cosign: chart_image.cosign.clone(),
        verified: Some(chart_verified),
    });
    // The chart's artifact stays in the layout (a registry can serve it to `helm`), but it is
    // listed as a chart, not as an image.
    let mut kyverno_images: Vec<&String> = chart.images.values().collect();
    kyverno_images.sort();
    kyverno_images.dedup();
    for reference in kyverno_images {
        progress(&format!("Kyverno image {reference}"));
        let (mut image, pinned) =
            bundle_image(copier, staging, Role::Kyverno, reference, Some(&signatures)).await?;
        image.verified = Some(verify(
            copier,
            &format!("Kyverno's image {reference}"),
            &pinned,
            kyverno::IMAGE_IDENTITY,
        )?);
        contents.images.push(image);
    }
    for node in &needs.node_images {
        progress(&format!("kind node image {node}"));
        let (image, _) = bundle_image(copier, staging, Role::KindNode, node, None).await?;
        contents.images.push(image);
    }
    progress(&format!("registry image {REGISTRY_IMAGE}"));
    let (image, _) = bundle_image(copier, staging, Role::Registry, REGISTRY_IMAGE, None).await?;
    contents.images.push(image);
    if let Some(base) = &needs.base_image {
        progress(&format!("base image {base}"));
        let (image, _) = bundle_image(copier, staging, Role::BaseImage, base, None).await?;
        contents.images.push(image);
    }
    staging.finish()?;
    Ok(contents)
}

/// The chart's archive: the Helm chart layer of its OCI manifest, read from the staging layout.
fn chart_archive(staging: &Staging, digest: &str, reference: &str) -> Result<Vec<u8>, BundleError> {
    let chart_error = |reason: String| BundleError::Chart {
        reference: reference.to_owned(),
        reason,
    };
    let read = |digest: &Digest, limit: u64| -> Result<Vec<u8>, BundleError> {
        let path = staging.blob_path(digest);
        let meta = std::fs::metadata(&path).map_err(|e| BundleError::Unreadable {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if meta.len() > limit {
            return Err(chart_error(format!("has a part larger than {limit} bytes")));
        }
        std::fs::read(&path).map_err(|e| BundleError::Unreadable {
            path,
            reason: e.to_string(),
        })
    };
    let manifest_digest = parse_digest(reference, digest)?;
    let manifest: ManifestShape = serde_json::from_slice(&read(&manifest_digest, 4 << 20)?)
        .map_err(|e| chart_error(format!("has a manifest that does not parse ({e})")))?;
    let layer = manifest
        .layers
        .iter()
        .find(|l| l.media_type == kyverno::CHART_LAYER)
        .ok_or_else(|| {
            chart_error(format!(
                "is not a Helm chart: its manifest has no {} layer",
                kyverno::CHART_LAYER
            ))
        })?;
    read(&parse_digest(reference, &layer.digest)?, kyverno::MAX_CHART)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_publishers_with_docker_hubs_library() {
        let name = |r: &str| canonical_name(&ImageRef::parse(r).unwrap());
        assert_eq!(name("registry:3"), "docker.io/library/registry:3");
        assert_eq!(
            name(
                "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0"
            ),
            "docker.io/kindest/node:v1.35.8"
        );
        assert_eq!(
            name(
                "ghcr.io/kyverno/kyverno@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0"
            ),
            "ghcr.io/kyverno/kyverno@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0"
        );
    }

    #[test]
    fn a_mirror_is_reached_instead_of_the_publisher() {
        let copier = Copier::new(
            BTreeMap::from([("docker.io".to_owned(), "127.0.0.1:5000".to_owned())]),
            Retry::default(),
        );
        let reached = copier.reached(&ImageRef::parse("registry:3").unwrap());
        assert_eq!(reached.registry, "127.0.0.1:5000");
        assert_eq!(reached.path, "library/registry");
        let other = copier.reached(&ImageRef::parse("ghcr.io/kyverno/kyverno:v1").unwrap());
        assert_eq!(other.registry, "ghcr.io");
        assert_eq!(
            parse_mirror("docker.io=127.0.0.1:5000").unwrap(),
            ("docker.io".to_owned(), "127.0.0.1:5000".to_owned())
        );
        assert!(
            parse_mirror("docker.io")
                .unwrap_err()
                .contains("REGISTRY=MIRROR")
        );
        assert!(parse_mirror("docker.io=host/path").is_err());
        assert!(parse_mirror("docker.io=--allow-insecure").is_err());
        assert!(parse_mirror("docker.io=[::1]:5000").is_ok());
    }

    #[test]
    fn the_lab_must_pin_its_node_image() {
        let pinned = "nodes:\n  - role: control-plane\n    image: kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0\n";
        let needs = needs(pinned, "kind.yaml", Some("b"), "3.9.0").unwrap();
        assert_eq!(needs.node_images.len(), 1);
        let tag_only = "nodes:\n  - role: control-plane\n    image: kindest/node:v1.35.8\n";
        assert!(
            super::needs(tag_only, "kind.yaml", None, "3.9.0")
                .unwrap_err()
                .contains("without a digest; pin it")
        );
        assert!(
            super::needs("nodes: []\n", "kind.yaml", None, "3.9.0")
                .unwrap_err()
                .contains("names no node image")
        );
    }
}
