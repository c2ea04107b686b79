//! What the engine asks of the world, as traits: the live cluster, the registry and the
//! learner's working folder. `crate::backend` implements them for real (kube-rs, OCI, files);
//! tests and the walkthrough's rehearsals plug in fakes. Async because the real ones are.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use super::result::{Cause, Verdict};
use crate::supply::Digest;

/// Why an observation could not be made.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ObserveError {
    /// The cluster or registry did not answer (after retries).
    #[error("cannot reach {what}: {reason}")]
    Unreachable {
        /// What was asked.
        what: String,
        /// The last error.
        reason: String,
    },
    /// It answered, but refused or failed (forbidden, a server error, a malformed object).
    #[error("{what}: {reason}")]
    Failed {
        /// What was asked.
        what: String,
        /// What went wrong.
        reason: String,
    },
    /// The course content asks for what `lab` will not do (read outside the working folder).
    #[error("{what}: {reason}")]
    Content {
        /// What was asked.
        what: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// The learner's progress record is not intact.
    #[error("{0}")]
    Tampered(String),
    /// The learner's file is there but is no file `lab` reads: a FIFO, a folder, too large,
    /// not text. The learner's to fix, so the check fails rather than errs.
    #[error("{what}: {reason}")]
    Unusable {
        /// The file.
        what: String,
        /// Why, and what to do.
        reason: String,
    },
}

impl ObserveError {
    /// The error as a check verdict.
    pub fn verdict(&self) -> Verdict {
        let (hint, cause) = match self {
            ObserveError::Unreachable { .. } => (
                "check that the lab is running (`lab status`), then run `lab check` again",
                Cause::Unreachable,
            ),
            ObserveError::Failed { .. } => (
                "this is not about your work: fix what the message names, then run `lab check` again",
                Cause::Refused,
            ),
            ObserveError::Content { .. } => (
                "this is not about your work: the lab file asks for it; tell the course's authors",
                Cause::Content,
            ),
            ObserveError::Tampered(_) => (
                "`lab status` shows where the record's chain breaks; put the file back as `lab` wrote it",
                Cause::Tampered,
            ),
            ObserveError::Unusable { .. } => {
                return Verdict::fail(
                    self.to_string(),
                    "replace it with the regular text file the step's command saves",
                );
            }
        };
        Verdict {
            status: super::Status::Error,
            message: self.to_string(),
            hint: Some(hint.to_owned()),
            evidence: Vec::new(),
            cause: Some(cause),
        }
    }
}

/// A Pod as the checks see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodView {
    /// Its name.
    pub name: String,
    /// `status.phase`.
    pub phase: String,
    /// Whether it is being deleted.
    pub terminating: bool,
    /// Per container: (name, spec image, `imageID` or empty while not started).
    pub containers: Vec<(String, String, String)>,
    /// Whether its `Ready` condition is `True`.
    pub ready: bool,
    /// How long ago it was created (admitted), as the API server's clock and this machine's
    /// tell it; `None` when unknown.
    pub age: Option<Duration>,
    /// The first reason a container of it waits for (`ErrImagePull`, `CrashLoopBackOff`,
    /// `ContainerCreating`), if one waits.
    pub waiting: Option<String>,
    /// Whether it is being deleted and its grace period ended a while ago: nothing (no kubelet,
    /// say) is finishing the deletion, so waiting for it is pointless.
    pub deletion_overdue: bool,
}

/// A Deployment's rollout, as `kubectl rollout status` reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutView {
    /// Its name.
    pub name: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// `status.observedGeneration`.
    pub observed_generation: i64,
    /// `spec.replicas` (1 when unset).
    pub replicas: i32,
    /// `status.updatedReplicas`: Pods of the current template.
    pub updated: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// `status.replicas`: Pods of every template, old ones included.
    pub total: i32,
    /// Whether its `Progressing` condition is `False` (`ProgressDeadlineExceeded`): the
    /// controller gave up on this rollout.
    pub stalled: bool,
}

/// What the API server said to a server-side dry-run create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DryRun {
    /// Admitted (the object would have been created).
    Admitted,
    /// Refused, with the API status code and message as the server sent them.
    Refused {
        /// HTTP status code (Kyverno's denials come as 400, or 403 on newer servers).
        code: u16,
        /// `reason` of the Status (`AlreadyExists`, `Forbidden`, or empty).
        reason: String,
        /// The full message.
        message: String,
    },
}

/// The result of verifying an image in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Verified: the digest, and how many signatures (or attestations) verified.
    Verified {
        /// The image's digest.
        digest: Digest,
        /// Verified signatures or attestations.
        count: usize,
    },
    /// The image exists but did not verify, with cosign's reason.
    NotVerified {
        /// The image's digest.
        digest: Digest,
        /// Why (`no signatures found`, ...).
        reason: String,
    },
    /// The image is not in the registry.
    NotFound,
}

/// The first quiz attempt, as the working folder can tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuizSeen {
    /// A practice quiz, judged by its digests.
    Judged {
        /// The score, in percent.
        score: u8,
        /// The quiz's pass mark, in percent.
        pass_mark: u8,
    },
    /// A graded quiz: the answers are recorded, and only the instructor's key judges them.
    Recorded {
        /// Questions answered.
        answered: usize,
        /// Questions in the quiz.
        questions: usize,
    },
}

/// Whether an equality-based label selector (`app=demo,tier`, `a!=b`; what lab files write)
/// matches `labels`. The empty selector matches everything.
pub fn selector_matches(selector: &str, labels: &BTreeMap<String, String>) -> bool {
    selector
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|term| {
            if let Some((k, v)) = term.split_once("!=") {
                labels.get(k.trim()).map(String::as_str) != Some(v.trim())
            } else if let Some((k, v)) = term.split_once('=') {
                let v = v.strip_prefix('=').unwrap_or(v);
                labels.get(k.trim()).map(String::as_str) == Some(v.trim())
            } else {
                labels.contains_key(term)
            }
        })
}

/// The live cluster.
pub trait Cluster {
    /// The images of every container (init containers included) of a workload's pod
    /// template (or of a Pod), as (container name, image); `None` if the workload does not exist.
    fn workload_images(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<Vec<(String, String)>>, ObserveError>>;
    /// The Pods that match a label selector.
    fn pods(
        &self,
        namespace: &str,
        selector: &str,
    ) -> impl Future<Output = Result<Vec<PodView>, ObserveError>>;
    /// The Deployments of a namespace whose Pod template the label selector matches.
    fn rollouts(
        &self,
        namespace: &str,
        selector: &str,
    ) -> impl Future<Output = Result<Vec<RolloutView>, ObserveError>>;
    /// A ClusterPolicy as JSON, or `None`.
    fn cluster_policy(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Value>, ObserveError>>;
    /// The PolicyReports (`wgpolicyk8s.io/v1alpha2`) of a namespace, as JSON.
    fn policy_reports(
        &self,
        namespace: &str,
    ) -> impl Future<Output = Result<Vec<Value>, ObserveError>>;
    /// Every Kyverno PolicyException, in all namespaces, as JSON.
    fn policy_exceptions(&self) -> impl Future<Output = Result<Vec<Value>, ObserveError>>;
    /// The names of the mutating and validating webhook configurations.
    fn webhook_configurations(&self) -> impl Future<Output = Result<Vec<String>, ObserveError>>;
    /// A server-side dry-run create of `object`.
    fn dry_run_create(&self, object: &Value) -> impl Future<Output = Result<DryRun, ObserveError>>;
}

/// The registry the lab pushes to, reached as this machine sees it.
pub trait Registry {
    /// The digest an image reference names (a tag resolved, a digest checked to exist).
    fn resolve(&self, image: &str) -> impl Future<Output = Result<Option<Digest>, ObserveError>>;
    /// Verifies the image's signatures with the lab's signer, or (with `attestation`, a
    /// predicate type) its attestations of that type.
    fn verify(
        &self,
        image: &str,
        attestation: Option<&str>,
    ) -> impl Future<Output = Result<Verification, ObserveError>>;
}

/// The learner's working folder.
pub trait Workdir {
    /// A text file by its path relative to the working folder; `None` if it does not exist.
    fn read(&self, path: &str) -> Result<Option<String>, ObserveError>;
    /// The first recorded quiz attempt, judged again from its recorded answers where the quiz
    /// can be judged here, if any. A record whose chain is not intact is
    /// [`ObserveError::Tampered`].
    fn quiz(&self) -> Result<Option<QuizSeen>, ObserveError>;
}

/// All three backends together.
pub struct Observe<'a, C, R, W> {
    /// The cluster.
    pub cluster: &'a C,
    /// The registry.
    pub registry: &'a R,
    /// The working folder.
    pub workdir: &'a W,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_every_term() {
        let labels: BTreeMap<String, String> = [("app".into(), "demo".into())].into();
        assert!(selector_matches("app=demo", &labels));
        assert!(selector_matches("app==demo", &labels));
        assert!(selector_matches("app", &labels));
        assert!(selector_matches("", &labels));
        assert!(selector_matches("app!=other", &labels));
        assert!(!selector_matches("app!=demo", &labels));
        assert!(!selector_matches("app=demo,tier=web", &labels));
        assert!(!selector_matches("app=other", &labels));
    }
}
