//! The lab registry as this machine sees it. Images the cluster names by one of the lab's
//! mirror hosts (`kind-registry:5000`, which only resolves on the kind network) are read from
//! the registry's host port instead (`localhost:5001`): one storage, so the same digests and
//! the same signature tags.

use crate::engine::{ObserveError, Verification};
use crate::supply::attestation::verify_attestations;
use crate::supply::cosign::fetch_artifacts;
use crate::supply::registry::{RegistryStore, Retry};
use crate::supply::signature::{Verifier, verify_signatures};
use crate::supply::store::Store;
use crate::supply::{Digest, ImageRef, SupplyError};

/// The lab registry, with the signer the lab's policies trust.
pub struct LabRegistry {
    /// Hosts that name this registry inside the cluster.
    pub aliases: Vec<String>,
    /// The host this machine reaches it at.
    pub host: String,
    /// The signer: the learner's public key.
    pub verifier: Option<Verifier>,
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
        let Some(verifier) = &self.verifier else {
            return Err(ObserveError::Failed {
                what: "verification".into(),
                reason: "the lab has no public key to verify with (keyless checks need the Sigstore roots, which `lab` does not fetch)".into(),
            });
        };
        let reference = self.route(image)?;
        let artifacts = match fetch_artifacts(&self.store(&reference), &reference).await {
            Ok(a) => a,
            Err(SupplyError::NotFound { .. }) => return Ok(Verification::NotFound),
            Err(e) => return Err(e.into()),
        };
        let digest = artifacts.digest.clone();
        let outcome = match attestation {
            None => verify_signatures(&artifacts, verifier).map(|s| s.len()),
            Some(t) => verify_attestations(&artifacts, verifier, t).map(|a| a.len()),
        };
        Ok(match outcome {
            Ok(count) => Verification::Verified { digest, count },
            Err(reason) => Verification::NotVerified {
                digest,
                reason: reason.to_string(),
            },
        })
    }
}
