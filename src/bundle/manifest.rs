//! `bundle.json`: what a bundle holds, each file with its SHA-256 and size. It is the first
//! entry of the archive, so that a reader knows what to expect before the first blob.

use std::collections::BTreeMap;

use schemars::JsonSchema;
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The lab the bundle is for.
    pub lab: String,
    /// The images `lab start` takes from the bundle (each in the OCI layout, named by its
    /// reference), with the cosign artifacts copied beside them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<BundledImage>,
    /// The Helm charts the lab installs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charts: Vec<BundledChart>,
    /// Every other file of the archive, by its path in it.
    pub files: BTreeMap<String, FileDigest>,
}

/// What an image is for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// kind's node image, from the lab's kind config.
    KindNode,
    /// The lab registry's container image.
    Registry,
    /// The base image the scenario's images are derived from.
    BaseImage,
    /// An image Kyverno's chart deploys.
    Kyverno,
}

impl Role {
    /// The role in words, for lists.
    pub fn describe(self) -> &'static str {
        match self {
            Role::KindNode => "kind node image",
            Role::Registry => "registry image",
            Role::BaseImage => "base image",
            Role::Kyverno => "Kyverno image",
        }
    }
}

/// One image of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BundledImage {
    /// What `lab start` uses it for.
    pub role: Role,
    /// The reference the lab (or the chart) names it by, with its registry and tag
    /// (`docker.io/kindest/node:v1.35.8`); its name in the bundle's OCI layout.
    pub reference: String,
    /// The digest of its manifest or index, as the lab pins it or as its tag named it when
    /// the bundle was made.
    pub digest: String,
    /// The names, in the OCI layout, of the cosign artifacts copied with it (signatures,
    /// attestations, SBOMs, and the Sigstore bundles cosign v3 keeps as referrers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cosign: Vec<String>,
    /// How its signature was verified before it was packed, if it had to be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verification>,
}

/// A Helm chart of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BundledChart {
    /// The chart's name (`kyverno`).
    pub name: String,
    /// Its version (`3.9.0`).
    pub version: String,
    /// The OCI reference it was pulled from; its name in the bundle's OCI layout.
    pub reference: String,
    /// The digest of its OCI manifest.
    pub digest: String,
    /// The chart archive in the bundle (`charts/kyverno-3.9.0.tgz`), for `helm install`.
    pub file: String,
    /// The images the chart deploys, by the values path that sets each
    /// (`admissionController.container.image`).
    pub images: BTreeMap<String, String>,
    /// The names, in the OCI layout, of the cosign artifacts copied with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cosign: Vec<String>,
    /// How its signature was verified before it was packed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verification>,
}

/// A signature check made before packing, by the real cosign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    /// The verifier and its version (`cosign v3.1.2`).
    pub by: String,
    /// The regular expression the signer's certificate identity had to match.
    pub identity: String,
    /// The OIDC issuer it had to carry.
    pub issuer: String,
    /// The trust root: Sigstore's public-good instance (through cosign's TUF client), or a
    /// file's name and SHA-256.
    pub trusted_root: String,
    /// Checks skipped on request (`transparency log`, `SCT`); empty for a full check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// One file's digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
        manifest.check_contents()?;
        Ok(manifest)
    }

    /// Every image and chart is in the bundle: its manifest is a listed blob, its reference
    /// parses, its cosign artifacts are named once.
    fn check_contents(&self) -> Result<(), String> {
        let listed = |digest: &str, what: &str| -> Result<(), String> {
            let hex = Digest::parse(digest)
                .ok()
                .filter(|d| d.algorithm() == "sha256")
                .map(|d| d.hex().to_owned())
                .ok_or_else(|| {
                    format!(
                        "{what} is listed with `{}`, not a sha256 digest",
                        crate::text::printable(digest)
                    )
                })?;
            if self.files.contains_key(&format!("oci/blobs/sha256/{hex}")) {
                Ok(())
            } else {
                Err(format!(
                    "{what} is listed, but its manifest {digest} is not in the bundle"
                ))
            }
        };
        for image in &self.images {
            let shown = crate::text::printable(&image.reference);
            crate::supply::ImageRef::parse(&image.reference)
                .map_err(|e| format!("it lists an image `{shown}` that is not a reference: {e}"))?;
            listed(
                &image.digest,
                &format!("the {} {shown}", image.role.describe()),
            )?;
        }
        for chart in &self.charts {
            let shown = crate::text::printable(&chart.reference);
            listed(&chart.digest, &format!("the chart {shown}"))?;
            if !self.files.contains_key(&chart.file) {
                return Err(format!(
                    "the chart {shown} is listed, but its archive `{}` is not in the bundle",
                    crate::text::printable(&chart.file)
                ));
            }
        }
        Ok(())
    }

    /// The image named `reference`, if the bundle has it.
    pub fn image(&self, reference: &str) -> Option<&BundledImage> {
        self.images.iter().find(|i| i.reference == reference)
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

/// The JSON Schema of `bundle.json`, as committed in `schemas/`.
pub fn schema() -> (&'static str, String) {
    (
        "bundle.schema.json",
        crate::content::schema::render::<Manifest>("courselab venue bundle manifest (bundle.json)"),
    )
}

/// The hex digest an OCI layout blob's path names (`oci/blobs/sha256/<hex>`), if it is one.
pub fn blob_hex(path: &str) -> Option<&str> {
    path.strip_prefix("oci/blobs/sha256/")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0";

    fn with_image(listed: bool, reference: &str) -> Vec<u8> {
        let mut files = serde_json::Map::new();
        if listed {
            files.insert(
                format!("oci/blobs/sha256/{HEX}"),
                serde_json::json!({"digest": format!("sha256:{HEX}"), "size": 3}),
            );
        }
        serde_json::to_vec(&serde_json::json!({
            "schema_version": 1,
            "lab": "ch14",
            "images": [{"role": "kind-node", "reference": reference, "digest": format!("sha256:{HEX}")}],
            "files": files,
        }))
        .unwrap()
    }

    #[test]
    fn an_image_or_chart_listed_must_be_in_the_bundle() {
        let whole = Manifest::parse(&with_image(true, "docker.io/kindest/node:v1")).unwrap();
        assert_eq!(whole.images[0].role, Role::KindNode);
        assert!(whole.image("docker.io/kindest/node:v1").is_some());
        assert_eq!(
            Manifest::parse(&with_image(false, "docker.io/kindest/node:v1")).unwrap_err(),
            format!(
                "the kind node image docker.io/kindest/node:v1 is listed, but its manifest sha256:{HEX} is not in the bundle"
            )
        );
        assert!(
            Manifest::parse(&with_image(true, "Not A Reference"))
                .unwrap_err()
                .starts_with("it lists an image `Not A Reference` that is not a reference")
        );
        let mut chart: serde_json::Value =
            serde_json::from_slice(&with_image(true, "docker.io/kindest/node:v1")).unwrap();
        chart["charts"] = serde_json::json!([{
            "name": "kyverno", "version": "3.9.0", "reference": "ghcr.io/kyverno/charts/kyverno:3.9.0",
            "digest": format!("sha256:{HEX}"), "file": "charts/kyverno-3.9.0.tgz", "images": {}
        }]);
        assert_eq!(
            Manifest::parse(&serde_json::to_vec(&chart).unwrap()).unwrap_err(),
            "the chart ghcr.io/kyverno/charts/kyverno:3.9.0 is listed, but its archive `charts/kyverno-3.9.0.tgz` is not in the bundle"
        );
    }
}
