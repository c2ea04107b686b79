//! The lab registry as this machine sees it. Images the cluster names by one of the lab's
//! mirror hosts (`kind-registry:5000`, which only resolves on the kind network) are read from
//! the registry's host port instead (`localhost:5001`): one storage, so the same digests and
//! the same signature tags.

use crate::engine::{ObserveError, Verification};
use crate::policy::model::KyvernoPolicy;
use crate::policy::verify_entry::{PackVerdict, verify_by_pack};
use crate::supply::cosign::fetch_artifacts;
use crate::supply::registry::{RegistryStore, Retry};
use crate::supply::store::Store;
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

    fn store(&self, image: &ImageRef) -> RegistryStore {
        RegistryStore::new(image, false, self.retry)
    }
}

impl crate::engine::Registry for LabRegistry {
    async fn resolve(&self, image: &str) -> Result<Option<Digest>, ObserveError> {
        let reference = self.route(image)?;
        let store = self.store(&reference);
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
        let reference = self.route(image)?;
        let artifacts = match fetch_artifacts(&self.store(&reference), &reference).await {
            Ok(a) => a,
            Err(SupplyError::NotFound { .. }) => return Ok(Verification::NotFound),
            Err(e) => return Err(e.into()),
        };
        let digest = artifacts.digest.clone();
        // The policies name the image as the cluster does, not as this machine reaches it.
        Ok(
            match verify_by_pack(&self.policies, image, &artifacts, attestation) {
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
            },
        )
    }
}
