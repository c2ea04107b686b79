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
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::observe::{
    Cluster, DryRun, ObserveError, PodView, Registry, RolloutView, Verification, selector_matches,
};
use crate::supply::Digest;

/// The most a world file may hold.
const WORLD_LIMIT: u64 = 16 * 1024 * 1024;

/// A world file, or the same JSON held in memory (a submission's record of the cluster).
pub struct World {
    /// Where its JSON is.
    pub source: Source,
    /// The JSON of a world in memory, once read (it cannot change; a file is read afresh).
    parsed: std::sync::OnceLock<std::sync::Arc<State>>,
}

/// Where a world's JSON is.
pub enum Source {
    /// A file, read afresh on every question.
    File(PathBuf),
    /// Bytes in memory, with a name for messages.
    Memory {
        /// What the bytes are, for messages (`cluster/world.json of ada's submission`).
        name: String,
        /// The JSON.
        json: Vec<u8>,
    },
}

impl World {
    /// The world file at `path`.
    pub fn file(path: PathBuf) -> Self {
        World {
            source: Source::File(path),
            parsed: std::sync::OnceLock::new(),
        }
    }

    /// A world held in memory (a submission's `cluster/world.json`), named `name` in messages.
    pub fn memory(name: String, json: Vec<u8>) -> Self {
        World {
            source: Source::Memory { name, json },
            parsed: std::sync::OnceLock::new(),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    workloads: BTreeMap<String, Vec<(String, String)>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pods: BTreeMap<String, Vec<Pod>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    deployments: BTreeMap<String, Vec<Deployment>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    cluster_policies: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    policy_reports: BTreeMap<String, Vec<Value>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    policy_exceptions: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    webhooks: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dry_run: Option<Refusal>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    images: BTreeMap<String, Image>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    unreachable: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pod {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default = "running")]
    phase: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    terminating: bool,
    #[serde(default)]
    containers: Vec<(String, String, String)>,
    #[serde(default = "yes")]
    ready: bool,
    /// Seconds since it was created; unknown (long settled) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    age_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Deployment {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default = "one")]
    replicas: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    available: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    total: Option<i32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    generation_behind: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    stalled: bool,
}

fn one() -> i32 {
    1
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Refusal {
    code: u16,
    #[serde(default)]
    reason: String,
    message: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Image {
    digest: String,
    #[serde(default)]
    signed: bool,
    #[serde(default)]
    attestations: Vec<String>,
}

impl World {
    fn state(&self) -> Result<std::sync::Arc<State>, ObserveError> {
        if let Some(state) = self.parsed.get() {
            return Ok(state.clone());
        }
        let state: State = match &self.source {
            Source::File(path) => {
                let failed = |reason: String| ObserveError::Failed {
                    what: format!("the world file {}", path.display()),
                    reason,
                };
                let text = crate::input::read_text(path, WORLD_LIMIT, "a world file")
                    .map_err(|e| failed(e.to_string()))?;
                serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?
            }
            // A learner's submission: its position only, never its text.
            Source::Memory { name, json } => {
                serde_json::from_slice(json).map_err(|e| ObserveError::Failed {
                    what: name.clone(),
                    reason: format!(
                        "it is not a recorded cluster (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                })?
            }
        };
        if state.unreachable {
            return Err(ObserveError::Unreachable {
                what: "the cluster".into(),
                reason: "the world file says it is unreachable".into(),
            });
        }
        let state = std::sync::Arc::new(state);
        if matches!(self.source, Source::Memory { .. }) {
            let _ = self.parsed.set(state.clone());
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
            .get(&format!("{kind}/{namespace}/{name}"))
            .cloned())
    }

    async fn pods(&self, namespace: &str, selector: &str) -> Result<Vec<PodView>, ObserveError> {
        Ok(self
            .state()?
            .pods
            .get(namespace)
            .cloned()
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
            .get(namespace)
            .cloned()
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
        Ok(self.state()?.cluster_policies.get(name).cloned())
    }

    async fn policy_reports(&self, namespace: &str) -> Result<Vec<Value>, ObserveError> {
        Ok(self
            .state()?
            .policy_reports
            .get(namespace)
            .cloned()
            .unwrap_or_default())
    }

    async fn policy_exceptions(&self) -> Result<Vec<Value>, ObserveError> {
        Ok(self.state()?.policy_exceptions.clone())
    }

    async fn webhook_configurations(&self) -> Result<Vec<String>, ObserveError> {
        Ok(self.state()?.webhooks.clone())
    }

    async fn dry_run_create(&self, _object: &Value) -> Result<DryRun, ObserveError> {
        Ok(match self.state()?.dry_run.as_ref() {
            Some(r) => DryRun::Refused {
                code: r.code,
                reason: r.reason.clone(),
                message: r.message.clone(),
            },
            None => DryRun::Admitted,
        })
    }
}

/// A cluster that answers as `inner` does and keeps every answer as a world: what `lab submit`
/// packs as "what the cluster showed", and what `lab grade` replays the cluster's checks
/// against. A Pod or Deployment carries the labels of the equality selectors it was found by,
/// so that the same questions find the same objects again; its age is left out (a recorded
/// world is settled).
pub struct Recorder<'a, C> {
    inner: &'a C,
    state: Mutex<State>,
}

impl<'a, C: Cluster> Recorder<'a, C> {
    /// Records what `inner` answers.
    pub fn new(inner: &'a C) -> Self {
        Recorder {
            inner,
            state: Mutex::new(State::default()),
        }
    }

    /// The world recorded so far, as the JSON a world file holds.
    pub fn to_json(&self) -> Vec<u8> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut json = serde_json::to_vec_pretty(&*state).expect("a world serializes");
        json.push(b'\n');
        json
    }

    fn keep(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// The labels an equality selector (`app=demo,tier==web`) says its objects carry.
fn selector_labels(selector: &str) -> BTreeMap<String, String> {
    selector
        .split(',')
        .map(str::trim)
        .filter(|term| !term.contains("!="))
        .filter_map(|term| term.split_once('='))
        .map(|(k, v)| {
            let v = v.strip_prefix('=').unwrap_or(v);
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

impl<C: Cluster> Cluster for Recorder<'_, C> {
    async fn workload_images(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Vec<(String, String)>>, ObserveError> {
        let found = self.inner.workload_images(kind, namespace, name).await?;
        if let Some(images) = &found {
            self.keep(|s| {
                s.workloads
                    .insert(format!("{kind}/{namespace}/{name}"), images.clone());
            });
        }
        Ok(found)
    }

    async fn pods(&self, namespace: &str, selector: &str) -> Result<Vec<PodView>, ObserveError> {
        let pods = self.inner.pods(namespace, selector).await?;
        let labels = selector_labels(selector);
        self.keep(|s| {
            let kept = s.pods.entry(namespace.to_owned()).or_default();
            for pod in &pods {
                match kept.iter_mut().find(|k| k.name == pod.name) {
                    Some(k) => k.labels.extend(labels.clone()),
                    None => kept.push(Pod {
                        name: pod.name.clone(),
                        labels: labels.clone(),
                        phase: pod.phase.clone(),
                        terminating: pod.terminating,
                        containers: pod.containers.clone(),
                        ready: pod.ready,
                        age_seconds: None,
                        waiting: pod.waiting.clone(),
                    }),
                }
            }
        });
        Ok(pods)
    }

    async fn rollouts(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<RolloutView>, ObserveError> {
        let rollouts = self.inner.rollouts(namespace, selector).await?;
        let labels = selector_labels(selector);
        self.keep(|s| {
            let kept = s.deployments.entry(namespace.to_owned()).or_default();
            for r in &rollouts {
                match kept.iter_mut().find(|k| k.name == r.name) {
                    Some(k) => k.labels.extend(labels.clone()),
                    None => kept.push(Deployment {
                        name: r.name.clone(),
                        labels: labels.clone(),
                        replicas: r.replicas,
                        updated: Some(r.updated),
                        available: Some(r.available),
                        total: Some(r.total),
                        generation_behind: r.observed_generation < r.generation,
                        stalled: r.stalled,
                    }),
                }
            }
        });
        Ok(rollouts)
    }

    async fn cluster_policy(&self, name: &str) -> Result<Option<Value>, ObserveError> {
        let found = self.inner.cluster_policy(name).await?;
        if let Some(policy) = &found {
            self.keep(|s| {
                s.cluster_policies.insert(name.to_owned(), policy.clone());
            });
        }
        Ok(found)
    }

    async fn policy_reports(&self, namespace: &str) -> Result<Vec<Value>, ObserveError> {
        let reports = self.inner.policy_reports(namespace).await?;
        self.keep(|s| {
            s.policy_reports
                .insert(namespace.to_owned(), reports.clone());
        });
        Ok(reports)
    }

    async fn policy_exceptions(&self) -> Result<Vec<Value>, ObserveError> {
        let exceptions = self.inner.policy_exceptions().await?;
        self.keep(|s| s.policy_exceptions = exceptions.clone());
        Ok(exceptions)
    }

    async fn webhook_configurations(&self) -> Result<Vec<String>, ObserveError> {
        let webhooks = self.inner.webhook_configurations().await?;
        self.keep(|s| s.webhooks = webhooks.clone());
        Ok(webhooks)
    }

    async fn dry_run_create(&self, object: &Value) -> Result<DryRun, ObserveError> {
        let answer = self.inner.dry_run_create(object).await?;
        if let DryRun::Refused {
            code,
            reason,
            message,
        } = &answer
        {
            self.keep(|s| {
                s.dry_run = Some(Refusal {
                    code: *code,
                    reason: reason.clone(),
                    message: message.clone(),
                });
            });
        }
        Ok(answer)
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
        let world = World::file(path.clone());
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

    const LIVE: &str = r#"{
      "workloads": {"Deployment/develop/demo": [["app", "r/demo@sha256:aa"]]},
      "pods": {"develop": [
        {"name": "demo-1", "labels": {"app": "demo", "tier": "web"}, "containers": [["app", "r/demo@sha256:aa", "r/demo@sha256:aa"]]},
        {"name": "other", "labels": {"app": "other"}, "phase": "Pending", "ready": false, "waiting": "ErrImagePull"}
      ]},
      "deployments": {"develop": [{"name": "demo", "labels": {"app": "demo"}, "replicas": 2, "updated": 1}]},
      "cluster_policies": {"verify-signed-images": {"spec": {"validationFailureAction": "Enforce"}}},
      "policy_reports": {"develop": [{"scope": {"kind": "Pod", "name": "demo-1"}, "results": []}]},
      "policy_exceptions": [{"metadata": {"name": "x"}}],
      "webhooks": ["kyverno-resource-validating-webhook-cfg"],
      "dry_run": {"code": 400, "reason": "BadRequest", "message": "denied: no signatures found"}
    }"#;

    /// What a recorder kept answers the same questions as the cluster it recorded did, and
    /// holds nothing it was not asked.
    #[test]
    fn a_recorded_world_answers_as_the_cluster_it_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("world.json");
        std::fs::write(&path, LIVE).unwrap();
        let live = World::file(path);
        let recorder = Recorder::new(&live);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let questions = |c: &World| {
            rt.block_on(async {
                (
                    c.workload_images("Deployment", "develop", "demo")
                        .await
                        .unwrap(),
                    c.pods("develop", "app=demo").await.unwrap(),
                    c.rollouts("develop", "app=demo").await.unwrap(),
                    c.cluster_policy("verify-signed-images").await.unwrap(),
                    c.policy_reports("develop").await.unwrap(),
                    c.dry_run_create(&Value::Null).await.unwrap(),
                )
            })
        };
        let asked = rt.block_on(async {
            (
                recorder
                    .workload_images("Deployment", "develop", "demo")
                    .await
                    .unwrap(),
                recorder.pods("develop", "app=demo").await.unwrap(),
                recorder.rollouts("develop", "app=demo").await.unwrap(),
                recorder
                    .cluster_policy("verify-signed-images")
                    .await
                    .unwrap(),
                recorder.policy_reports("develop").await.unwrap(),
                recorder.dry_run_create(&Value::Null).await.unwrap(),
            )
        });
        let replayed = World::memory("cluster/world.json".into(), recorder.to_json());
        assert_eq!(questions(&replayed), asked);
        assert_eq!(questions(&live), asked);
        let kept: Value = serde_json::from_slice(&recorder.to_json()).unwrap();
        assert_eq!(
            kept["pods"]["develop"].as_array().unwrap().len(),
            1,
            "the Pod nobody asked about was kept: {kept:#}"
        );
        assert!(kept.get("policy_exceptions").is_none(), "{kept:#}");
        assert!(kept.get("webhooks").is_none(), "{kept:#}");
    }

    #[test]
    fn a_recorded_world_that_is_not_one_is_named_by_position_never_quoted() {
        let world = World::memory(
            "cluster/world.json of ada's submission".into(),
            br#"{"pods": "token: s3cret"}"#.to_vec(),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        match rt.block_on(world.pods("develop", "")) {
            Err(ObserveError::Failed { what, reason }) => {
                assert_eq!(what, "cluster/world.json of ada's submission");
                assert!(reason.contains("line 1"), "{reason}");
                assert!(!reason.contains("s3cret"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
