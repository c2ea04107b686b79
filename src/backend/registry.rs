//! The lab registry as this machine sees it, or as a submission carries it. Images the cluster
//! names by one of the lab's mirror hosts (`kind-registry:5000`, which only resolves on the
//! kind network) are read from the registry's host port instead (`localhost:5001`): one
//! storage, so the same digests and the same signature tags. Offline (a grader, a recorded
//! submission) the same images are read from an OCI image layout instead (on disk, or in the
//! memory of a grader that never unpacks the archive), and judged by the same attestors.
//! Needs no cluster, so it builds without the `live` feature.

use crate::engine::{ObserveError, Verification};
use crate::policy::model::KyvernoPolicy;
use crate::policy::verify_entry::{PackVerdict, verify_by_pack};
use crate::supply::cosign::{CosignArtifacts, fetch_artifacts};
use crate::supply::export::{ExportedLayout, export_layout};
use crate::supply::layout::LayoutStore;
use crate::supply::layout_source::LayoutSource;
use crate::supply::registry::{RegistryStore, Retry};
use crate::supply::store::{Manifest, Store};
use crate::supply::{Digest, ImageRef, SupplyError};

/// The lab registry, with the policies whose attestors judge its images.
pub struct LabRegistry {
    /// Hosts that name this registry inside the cluster.
    pub aliases: Vec<String>,
    /// The host this machine reaches it at.
    pub host: String,
    /// The lab's policy pack, rendered: its `verifyImages` attestors (the learner's key, or a
    /// keyless identity) are what a signature or attestation is verified with, as Kyverno
    /// verifies it in the cluster.
    pub policies: Vec<KyvernoPolicy>,
    /// Retries per request.
    pub retry: Retry,
    /// An OCI image layout to read the images from instead of the registry (a submission's
    /// copy of what the learner pushed: a folder, or the archive's files in memory), when set.
    pub layout: Option<LayoutSource>,
}

/// The registry, or an OCI layout standing in for it.
enum LabStore {
    Registry(Box<RegistryStore>),
    Layout(LayoutStore),
}

impl Store for LabStore {
    fn describe(&self) -> String {
        match self {
            LabStore::Registry(s) => s.describe(),
            LabStore::Layout(s) => s.describe(),
        }
    }

    async fn resolve(&self, image: &ImageRef) -> Result<Digest, SupplyError> {
        match self {
            LabStore::Registry(s) => s.resolve(image).await,
            LabStore::Layout(s) => s.resolve(image).await,
        }
    }

    async fn manifest(
        &self,
        image: &ImageRef,
        tag_or_digest: &str,
    ) -> Result<Option<Manifest>, SupplyError> {
        match self {
            LabStore::Registry(s) => s.manifest(image, tag_or_digest).await,
            LabStore::Layout(s) => s.manifest(image, tag_or_digest).await,
        }
    }

    async fn blob(
        &self,
        image: &ImageRef,
        digest: &Digest,
        size: u64,
    ) -> Result<Vec<u8>, SupplyError> {
        match self {
            LabStore::Registry(s) => s.blob(image, digest, size).await,
            LabStore::Layout(s) => s.blob(image, digest, size).await,
        }
    }
}

impl From<SupplyError> for ObserveError {
    fn from(e: SupplyError) -> Self {
        match e {
            SupplyError::Unreachable { target, reason } => ObserveError::Unreachable {
                what: target,
                reason,
            },
            other => ObserveError::Failed {
                what: "the registry".into(),
                reason: other.to_string(),
            },
        }
    }
}

impl LabRegistry {
    /// `image` as this machine reaches it.
    pub fn route(&self, image: &str) -> Result<ImageRef, ObserveError> {
        let mut reference = ImageRef::parse(image).map_err(|e| ObserveError::Failed {
            what: format!("the image `{image}`"),
            reason: e.to_string(),
        })?;
        if self.aliases.contains(&reference.registry) {
            reference.registry = self.host.clone();
        }
        Ok(reference)
    }

    /// The names the cluster gives `image` when it is named as this machine reaches the lab
    /// registry (its `host`): the same repository under each alias. Empty otherwise.
    fn cluster_names(&self, image: &str) -> Vec<String> {
        let Ok(reference) = ImageRef::parse(image) else {
            return Vec::new();
        };
        if reference.registry != self.host {
            return Vec::new();
        }
        self.aliases
            .iter()
            .map(|alias| {
                let mut named = reference.clone();
                named.registry = alias.clone();
                named.to_string()
            })
            .collect()
    }

    /// Exports `image` (as the cluster names it) with its signatures and attestations as an
    /// OCI layout under `prefix`, its layers left out (see [`export_layout`]); also its
    /// digest. `None` when the registry does not hold the image.
    pub async fn export(
        &self,
        image: &str,
        prefix: &str,
    ) -> Result<Option<(Digest, ExportedLayout)>, ObserveError> {
        let routed = self.route(image)?;
        let store = self.store(&routed)?;
        let digest = match store.resolve(&routed).await {
            Ok(digest) => digest,
            Err(SupplyError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let layout = export_layout(&store, &routed, &digest, prefix).await?;
        Ok(Some((digest, layout)))
    }

    fn store(&self, image: &ImageRef) -> Result<LabStore, ObserveError> {
        Ok(match &self.layout {
            Some(source) => LabStore::Layout(LayoutStore::open_source(source)?),
            None => LabStore::Registry(Box::new(RegistryStore::new(image, false, self.retry))),
        })
    }
}

/// What the registry holds for an image, as its `signature` and `sbom-attestation` checks read
/// it: the digest its tag names, and the digests of the cosign tags of that digest
/// (`sha256-<hex>.sig`, `.att`) that were asked for. A watch compares two of these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactTags {
    /// The image's digest; `None` when the registry does not hold it.
    pub digest: Option<Digest>,
    /// The digest of the `.sig` manifest, if asked for and there.
    pub signatures: Option<Digest>,
    /// The digest of the `.att` manifest, if asked for and there.
    pub attestations: Option<Digest>,
}

impl ArtifactTags {
    /// What changed from `before` to `self`, in words (`the signatures of IMAGE`), if anything.
    pub fn changes_from(&self, before: &ArtifactTags, image: &str) -> Option<String> {
        let mut what = Vec::new();
        if self.digest != before.digest {
            what.push(format!("the digest of {image}"));
        }
        if self.signatures != before.signatures {
            what.push(format!("the signatures of {image}"));
        }
        if self.attestations != before.attestations {
            what.push(format!("the attestations of {image}"));
        }
        (!what.is_empty()).then(|| what.join(" and "))
    }
}

impl LabRegistry {
    /// The digest of `image` and of its `.sig` (with `signatures`) and `.att` (with
    /// `attestations`) tags: one manifest request each, bounded as every request of the
    /// registry client ([`LabRegistry::retry`], manifests of at most 4 MiB).
    pub async fn artifact_tags(
        &self,
        image: &str,
        signatures: bool,
        attestations: bool,
    ) -> Result<ArtifactTags, ObserveError> {
        let reference = self.route(image)?;
        let store = self.store(&reference)?;
        let digest = if let Some(digest) = &reference.digest {
            store.manifest(&reference, digest).await?.map(|m| m.digest)
        } else {
            match store.resolve(&reference).await {
                Ok(digest) => Some(digest),
                Err(SupplyError::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            }
        };
        let Some(digest) = digest else {
            return Ok(ArtifactTags::default());
        };
        let tag = |wanted: bool, suffix: &'static str| {
            let store = &store;
            let reference = &reference;
            let tag = digest.cosign_tag(suffix);
            async move {
                if !wanted {
                    return Ok(None);
                }
                Ok::<_, ObserveError>(store.manifest(reference, &tag).await?.map(|m| m.digest))
            }
        };
        Ok(ArtifactTags {
            signatures: tag(signatures, "sig").await?,
            attestations: tag(attestations, "att").await?,
            digest: Some(digest),
        })
    }
}

impl crate::engine::Registry for LabRegistry {
    async fn resolve(&self, image: &str) -> Result<Option<Digest>, ObserveError> {
        let reference = self.route(image)?;
        let store = self.store(&reference)?;
        if let Some(digest) = &reference.digest {
            return Ok(store.manifest(&reference, digest).await?.map(|m| m.digest));
        }
        match store.resolve(&reference).await {
            Ok(digest) => Ok(Some(digest)),
            Err(SupplyError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn verify(
        &self,
        image: &str,
        attestation: Option<&str>,
    ) -> Result<Verification, ObserveError> {
        match self.artifacts(image).await? {
            None => Ok(Verification::NotFound),
            Some(artifacts) => self.verify_artifacts(image, &artifacts, attestation),
        }
    }
}

impl LabRegistry {
    /// What cosign stored about `image` (`None`: the image is not in the registry).
    pub async fn artifacts(&self, image: &str) -> Result<Option<CosignArtifacts>, ObserveError> {
        let reference = self.route(image)?;
        match fetch_artifacts(&self.store(&reference)?, &reference).await {
            Ok(a) => Ok(Some(a)),
            Err(SupplyError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// `image`'s signatures (`attestation`: its attestations of that type), fetched as
    /// `artifacts`, verified with the pack's attestors.
    pub fn verify_artifacts(
        &self,
        image: &str,
        artifacts: &CosignArtifacts,
        attestation: Option<&str>,
    ) -> Result<Verification, ObserveError> {
        let digest = artifacts.digest.clone();
        // The policies name the image as the cluster does, not as this machine reaches it. An
        // image named as this machine reaches the registry (what `cosign verify` on the
        // learner's machine records: `localhost:5001/...` in a kind lab) is judged under the
        // cluster's name for it, when the pack has no entry for the name as written.
        let mut verdict = verify_by_pack(&self.policies, image, artifacts, attestation);
        if matches!(verdict, PackVerdict::NoEntry) {
            for name in self.cluster_names(image) {
                verdict = verify_by_pack(&self.policies, &name, artifacts, attestation);
                if !matches!(verdict, PackVerdict::NoEntry) {
                    break;
                }
            }
        }
        Ok(match verdict {
            PackVerdict::Verified(count) => Verification::Verified { digest, count },
            PackVerdict::NotVerified(reason) => Verification::NotVerified { digest, reason },
            PackVerdict::NoEntry => Verification::NotVerified {
                digest,
                reason: match attestation {
                    None => {
                        format!("no policy of the lab's pack verifies the signature of {image}")
                    }
                    Some(t) => format!(
                        "no policy of the lab's pack verifies a `{t}` attestation of {image}"
                    ),
                },
            },
            PackVerdict::Unusable(reason) => {
                return Err(ObserveError::Failed {
                    what: "verification".into(),
                    reason: format!(
                        "the pack's attestor cannot be checked from this machine ({reason}); Kyverno in the cluster still checks it: read its PolicyReport"
                    ),
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Registry as _;

    #[test]
    fn the_cosign_tags_of_an_image_are_read_and_their_changes_named() {
        let layout =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/ch14/tests/images/demo");
        let registry = LabRegistry {
            aliases: vec!["kind-registry:5000".into()],
            host: "127.0.0.1:9".into(),
            policies: Vec::new(),
            retry: Retry::default(),
            layout: Some(layout.into()),
        };
        let image = "kind-registry:5000/courselab/demo:1.4.2-ci";
        let signed = crate::runtime::block_on(registry.artifact_tags(image, true, false))
            .unwrap()
            .unwrap();
        assert!(signed.digest.is_some() && signed.signatures.is_some());
        assert_eq!(signed.attestations, None, "not asked for");
        let both = crate::runtime::block_on(registry.artifact_tags(image, true, true))
            .unwrap()
            .unwrap();
        assert!(both.attestations.is_some(), "the CI build is attested");
        let unsigned = ArtifactTags {
            signatures: None,
            ..signed.clone()
        };
        assert_eq!(signed.changes_from(&signed, image), None);
        assert_eq!(
            signed.changes_from(&unsigned, "demo:1.4.2-ci").as_deref(),
            Some("the signatures of demo:1.4.2-ci")
        );
        assert_eq!(
            both.changes_from(&unsigned, "demo").as_deref(),
            Some("the signatures of demo and the attestations of demo")
        );
        let missing = crate::runtime::block_on(registry.artifact_tags(
            "kind-registry:5000/courselab/demo:no-such-tag",
            true,
            true,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(missing, ArtifactTags::default());
    }

    // The grader reads a submission's images from an OCI layout, offline, through the same
    // adapter the live checks use.
    #[test]
    fn an_oci_layout_stands_in_for_the_registry() {
        let layout =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/ch14/tests/images/demo");
        let registry = LabRegistry {
            aliases: vec!["kind-registry:5000".into()],
            host: "127.0.0.1:9".into(),
            policies: Vec::new(),
            retry: Retry::default(),
            layout: Some(layout.into()),
        };
        let image = "kind-registry:5000/courselab/demo:1.4.2-ci";
        let digest = crate::runtime::block_on(registry.resolve(image))
            .unwrap()
            .unwrap()
            .expect("the layout holds the CI build");
        assert_eq!(
            digest.as_str(),
            "sha256:3687253bd9a9cd3a727619986d313e52c7709f2e9bfa036e9e6268069d08595b"
        );
        let missing = crate::runtime::block_on(
            registry.resolve("kind-registry:5000/courselab/demo:no-such-tag"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(missing, None);
        // Its signature is there; with no attestor in the pack, nothing can vouch for it.
        match crate::runtime::block_on(registry.verify(image, None))
            .unwrap()
            .unwrap()
        {
            Verification::NotVerified { digest: d, reason } => {
                assert_eq!(d, digest);
                assert!(reason.contains("no policy of the lab's pack"), "{reason}");
            }
            other => panic!("expected not verified, got {other:?}"),
        }
    }

    /// ch14's keyed policy pack, rendered with the chapter's test key.
    fn ch14_keyed_pack() -> Vec<KyvernoPolicy> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/ch14");
        let key = std::fs::read_to_string(root.join("tests/keys/test-only-signer.pub")).unwrap();
        let values = std::collections::BTreeMap::from([
            ("image_registry".to_owned(), "kind-registry:5000".to_owned()),
            ("cosign_public_key".to_owned(), key),
        ]);
        ["verify-images.yaml", "verify-attestations.yaml"]
            .iter()
            .map(|file| {
                let path = root.join("policies/keyed").join(file);
                let text = std::fs::read_to_string(path).unwrap();
                let text = crate::policy::render::substitute(file, &text, &values).unwrap();
                serde_saphyr::from_str(&text).unwrap()
            })
            .collect()
    }

    // The grader reads a submission's layout from the archive in memory, never from a temp
    // dir, and judges it by the lab's pack as the live checks do.
    #[test]
    fn an_exported_layout_in_memory_verifies_by_the_chapters_pack() {
        use crate::supply::export::export_layout;
        use std::sync::Arc;
        let fixtures = LayoutStore::open(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/ch14/tests/images/demo"),
        )
        .unwrap();
        let image = "kind-registry:5000/courselab/demo:1.4.2-ci";
        let reference = ImageRef::parse(image).unwrap();
        let digest = crate::runtime::block_on(fixtures.resolve(&reference))
            .unwrap()
            .unwrap();
        let exported = crate::runtime::block_on(export_layout(
            &fixtures,
            &reference,
            &digest,
            "image/layout",
        ))
        .unwrap()
        .unwrap();
        let registry = LabRegistry {
            aliases: vec!["kind-registry:5000".into()],
            host: "127.0.0.1:9".into(),
            policies: ch14_keyed_pack(),
            retry: Retry::default(),
            layout: Some(LayoutSource::Files {
                files: Arc::new(exported.files),
                prefix: "image/layout".into(),
            }),
        };
        for attestation in [None, Some("https://spdx.dev/Document")] {
            match crate::runtime::block_on(registry.verify(image, attestation))
                .unwrap()
                .unwrap()
            {
                Verification::Verified { digest: d, count } => {
                    assert_eq!((d, count), (digest.clone(), 1), "{attestation:?}");
                }
                other => panic!("{attestation:?}: expected verified, got {other:?}"),
            }
        }
        // What `cosign verify` on a kind lab's host records: the image under the name this
        // machine pushes to. The pack names it as the cluster does; it verifies all the same.
        let pushed = format!("127.0.0.1:9/courselab/demo@{}", digest.as_str());
        match crate::runtime::block_on(registry.verify(&pushed, None))
            .unwrap()
            .unwrap()
        {
            Verification::Verified { count, .. } => assert_eq!(count, 1),
            other => panic!("the host's name for the image did not verify: {other:?}"),
        }
        // Another tag names no image the layout holds.
        let other = crate::runtime::block_on(
            registry.resolve("kind-registry:5000/courselab/demo@sha256:7d78bbc57bfe977eac7726c624526ac7aedb52067d581361cfa31050e3d46b4d"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(other, None, "the unsigned build was not exported");
    }
}
