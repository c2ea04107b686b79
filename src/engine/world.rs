//! A recorded world: the cluster and the registry as one JSON file, read afresh on every
//! question, so that editing the file is a change the walkthrough sees. It lets an author
//! preview a lab's walkthrough without a cluster (`lab walkthrough --world FILE`), and the
//! walkthrough's terminal tests drive the real binary against it.
//!
//! ```json
//! {"workloads": {"Deployment/develop/demo": [["app", "kind-registry:5000/demo@sha256:..."]]},
//!  "pods": {"develop": [{"name": "demo-1", "labels": {"app": "demo"}, "phase": "Running",
//!                        "containers": [["app", "IMAGE", "IMAGE_ID"]]}]},
//!  "deployments": {"develop": [{"name": "demo", "labels": {"app": "demo"}, "replicas": 1,
//!                               "updated": 1, "available": 1}]},
//!  "cluster_policies": {"NAME": {...}}, "policy_reports": {"develop": [...]},
//!  "policy_exceptions": [], "webhooks": ["..."],
//!  "dry_run": {"code": 400, "message": "..."},
//!  "images": {"kind-registry:5000/demo:1.4.2-ci": {"digest": "sha256:...", "signed": true,
//!             "attestations": ["https://spdx.dev/Document"]}},
//!  "unreachable": false}
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::observe::{
    Cluster, DryRun, ObserveError, PodView, Registry, RolloutView, Verification, selector_matches,
};
use crate::supply::Digest;

/// The most a world file may hold.
const WORLD_LIMIT: u64 = 16 * 1024 * 1024;

/// A world file.
pub struct World {
    /// Its path.
    pub path: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    #[serde(default)]
    workloads: BTreeMap<String, Vec<(String, String)>>,
    #[serde(default)]
    pods: BTreeMap<String, Vec<Pod>>,
    #[serde(default)]
    deployments: BTreeMap<String, Vec<Deployment>>,
    #[serde(default)]
    cluster_policies: BTreeMap<String, Value>,
    #[serde(default)]
    policy_reports: BTreeMap<String, Vec<Value>>,
    #[serde(default)]
    policy_exceptions: Vec<Value>,
    #[serde(default)]
    webhooks: Vec<String>,
    #[serde(default)]
    dry_run: Option<Refusal>,
    #[serde(default)]
    images: BTreeMap<String, Image>,
    #[serde(default)]
    unreachable: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pod {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default = "running")]
    phase: String,
    #[serde(default)]
    terminating: bool,
    #[serde(default)]
    containers: Vec<(String, String, String)>,
    #[serde(default = "yes")]
    ready: bool,
    /// Seconds since it was created; unknown (long settled) when absent.
    #[serde(default)]
    age_seconds: Option<u64>,
    #[serde(default)]
    waiting: Option<String>,
}

fn running() -> String {
    "Running".into()
}

fn yes() -> bool {
    true
}

/// A Deployment: the labels of its Pod template and its rollout's counts; a rollout that is
/// done unless the counts say otherwise.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Deployment {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default = "one")]
    replicas: i32,
    #[serde(default)]
    updated: Option<i32>,
    #[serde(default)]
    available: Option<i32>,
    #[serde(default)]
    total: Option<i32>,
    #[serde(default)]
    generation_behind: bool,
    #[serde(default)]
    stalled: bool,
}

fn one() -> i32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Refusal {
    code: u16,
    #[serde(default)]
    reason: String,
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Image {
    digest: String,
    #[serde(default)]
    signed: bool,
    #[serde(default)]
    attestations: Vec<String>,
}

impl World {
    fn state(&self) -> Result<State, ObserveError> {
        let failed = |reason: String| ObserveError::Failed {
            what: format!("the world file {}", self.path.display()),
            reason,
        };
        let text = crate::input::read_text(&self.path, WORLD_LIMIT, "a world file")
            .map_err(|e| failed(e.to_string()))?;
        let state: State = serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?;
        if state.unreachable {
            return Err(ObserveError::Unreachable {
                what: "the cluster".into(),
                reason: "the world file says it is unreachable".into(),
            });
        }
        Ok(state)
    }
}

impl Cluster for World {
    async fn workload_images(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Vec<(String, String)>>, ObserveError> {
        Ok(self
            .state()?
            .workloads
            .remove(&format!("{kind}/{namespace}/{name}")))
    }

    async fn pods(&self, namespace: &str, selector: &str) -> Result<Vec<PodView>, ObserveError> {
        Ok(self
            .state()?
            .pods
            .remove(namespace)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| selector_matches(selector, &p.labels))
            .map(|p| PodView {
                name: p.name,
                phase: p.phase,
                terminating: p.terminating,
                containers: p.containers,
                ready: p.ready,
                age: p.age_seconds.map(std::time::Duration::from_secs),
                waiting: p.waiting,
                deletion_overdue: false,
            })
            .collect())
    }

    async fn rollouts(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<RolloutView>, ObserveError> {
        Ok(self
            .state()?
            .deployments
            .remove(namespace)
            .unwrap_or_default()
            .into_iter()
            .filter(|d| selector_matches(selector, &d.labels))
            .map(|d| RolloutView {
                name: d.name,
                generation: 2,
                observed_generation: if d.generation_behind { 1 } else { 2 },
                replicas: d.replicas,
                updated: d.updated.unwrap_or(d.replicas),
                available: d.available.unwrap_or(d.replicas),
                total: d.total.unwrap_or(d.replicas),
                stalled: d.stalled,
            })
            .collect())
    }

    async fn cluster_policy(&self, name: &str) -> Result<Option<Value>, ObserveError> {
        Ok(self.state()?.cluster_policies.remove(name))
    }

    async fn policy_reports(&self, namespace: &str) -> Result<Vec<Value>, ObserveError> {
        Ok(self
            .state()?
            .policy_reports
            .remove(namespace)
            .unwrap_or_default())
    }

    async fn policy_exceptions(&self) -> Result<Vec<Value>, ObserveError> {
        Ok(self.state()?.policy_exceptions)
    }

    async fn webhook_configurations(&self) -> Result<Vec<String>, ObserveError> {
        Ok(self.state()?.webhooks)
    }

    async fn dry_run_create(&self, _object: &Value) -> Result<DryRun, ObserveError> {
        Ok(match self.state()?.dry_run {
            Some(r) => DryRun::Refused {
                code: r.code,
                reason: r.reason,
                message: r.message,
            },
            None => DryRun::Admitted,
        })
    }
}

impl Registry for World {
    async fn resolve(&self, image: &str) -> Result<Option<Digest>, ObserveError> {
        let state = self.state()?;
        let found = state.images.get(image).or_else(|| {
            // An image named by digest is found by that digest.
            let digest = image.rsplit_once('@').map(|(_, d)| d)?;
            state.images.values().find(|i| i.digest == digest)
        });
        found
            .map(|i| Digest::parse(&i.digest))
            .transpose()
            .map_err(|e| ObserveError::Failed {
                what: format!("the world's digest of {image}"),
                reason: e.to_string(),
            })
    }

    async fn verify(
        &self,
        image: &str,
        attestation: Option<&str>,
    ) -> Result<Verification, ObserveError> {
        let state = self.state()?;
        let Some(found) = state.images.get(image) else {
            return Ok(Verification::NotFound);
        };
        let digest = Digest::parse(&found.digest).map_err(|e| ObserveError::Failed {
            what: format!("the world's digest of {image}"),
            reason: e.to_string(),
        })?;
        let ok = match attestation {
            None => found.signed,
            Some(t) => {
                let wanted = crate::supply::attestation::predicate_type(t);
                found.attestations.iter().any(|a| a == wanted)
            }
        };
        Ok(if ok {
            Verification::Verified { digest, count: 1 }
        } else {
            Verification::NotVerified {
                digest,
                reason: match attestation {
                    None => "no signatures found".into(),
                    Some(_) => "no matching attestations".into(),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_read_on_every_question() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("world.json");
        let world = World { path: path.clone() };
        std::fs::write(&path, r#"{"webhooks": ["a"]}"#).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(world.webhook_configurations()).unwrap(), ["a"]);
        std::fs::write(&path, r#"{"webhooks": ["a", "b"], "unreachable": false}"#).unwrap();
        assert_eq!(
            rt.block_on(world.webhook_configurations()).unwrap(),
            ["a", "b"]
        );
        std::fs::write(&path, r#"{"unreachable": true}"#).unwrap();
        assert!(matches!(
            rt.block_on(world.webhook_configurations()),
            Err(ObserveError::Unreachable { .. })
        ));
        std::fs::write(&path, r#"{"webhook": []}"#).unwrap();
        assert!(matches!(
            rt.block_on(world.webhook_configurations()),
            Err(ObserveError::Failed { reason, .. }) if reason.contains("unknown field `webhook`")
        ));
    }
}
