//! What the walkthrough watches to re-check by itself: the Pods and Deployments of the lab's
//! namespaces, its ClusterPolicies, PolicyReports and PolicyExceptions (kube-rs watches); the
//! evidence files (their modification times); and, while the step shown reads the registry,
//! the cosign tags its checks read (polled: a registry has no watch). Each change after the
//! first look is sent as a short description; a watch that fails is reported once, and the
//! walkthrough falls back to its `c` key.

use futures_util::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime};

use super::cluster::{KubeCluster, cluster_policy_resource};
use super::registry::{ArtifactTags, LabRegistry};
use crate::supply::registry::Retry;

/// What to watch.
pub struct Targets {
    /// Namespaces whose Pods, Deployments and PolicyReports the checks read.
    pub namespaces: Vec<String>,
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Watches until `send` returns false (the receiver is gone); `send(Err(..))` says a watch
/// could not run.
pub async fn watch(
    cluster: &KubeCluster,
    targets: &Targets,
    send: impl Fn(Result<String, String>) -> bool + Clone,
) {
    let mut streams = Vec::new();
    let config = watcher::Config::default();
    let namespaced = [
        resource("", "v1", "Pod", "pods"),
        resource("apps", "v1", "Deployment", "deployments"),
        resource(
            "wgpolicyk8s.io",
            "v1alpha2",
            "PolicyReport",
            "policyreports",
        ),
    ];
    for ns in &targets.namespaces {
        for r in &namespaced {
            let api = cluster.namespaced(r, ns);
            let what = format!("{} in {ns}", r.plural);
            streams.push(
                watcher::watcher::<DynamicObject>(api, config.clone())
                    .default_backoff()
                    .map(move |e| (what.clone(), e))
                    .boxed(),
            );
        }
    }
    for (r, what) in [
        (cluster_policy_resource(), "the ClusterPolicies"),
        (
            resource("kyverno.io", "v2", "PolicyException", "policyexceptions"),
            "the PolicyExceptions",
        ),
    ] {
        let api = cluster.all(&r);
        streams.push(
            watcher::watcher::<DynamicObject>(api, config.clone())
                .default_backoff()
                .map(move |e| (what.to_owned(), e))
                .boxed(),
        );
    }
    let mut all = futures_util::stream::select_all(streams);
    let mut listed = std::collections::BTreeSet::new();
    let mut failed = std::collections::BTreeSet::new();
    while let Some((what, event)) = all.next().await {
        let keep = match event {
            Ok(Event::InitDone) => {
                listed.insert(what);
                true
            }
            Ok(Event::Init | Event::InitApply(_)) => true,
            Ok(Event::Apply(_) | Event::Delete(_)) if listed.contains(&what) => send(Ok(what)),
            Ok(_) => true,
            // The watcher retries by itself; say once that this one is not working.
            Err(e) if failed.insert(what.clone()) => send(Err(format!("watching {what}: {e}"))),
            Err(_) => true,
        };
        if !keep {
            return;
        }
    }
}

/// Polls the modification times of `files` twice a second, and says which changed.
pub fn watch_files(files: Vec<PathBuf>, tx: mpsc::Sender<Result<String, String>>) {
    std::thread::spawn(move || {
        let stamp = |p: &PathBuf| -> Option<(SystemTime, u64)> {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        };
        let mut seen: Vec<Option<(SystemTime, u64)>> = files.iter().map(stamp).collect();
        loop {
            std::thread::sleep(Duration::from_millis(400));
            for (i, file) in files.iter().enumerate() {
                let now = stamp(file);
                if now != seen[i] {
                    seen[i] = now;
                    let name = file.file_name().map_or_else(
                        || file.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                    if tx.send(Ok(name)).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// Watches the cluster objects the checks read, on a thread of its own.
pub fn watch_cluster(
    context: Option<String>,
    namespaces: Vec<String>,
    tx: mpsc::Sender<Result<String, String>>,
) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            let _ = tx.send(Err("cannot start the cluster watch".into()));
            return;
        };
        runtime.block_on(async {
            let cluster = match KubeCluster::connect(context.as_deref()).await {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx.send(Err(format!("watching the cluster: {e}")));
                    return;
                }
            };
            let targets = Targets { namespaces };
            watch(&cluster, &targets, |m| tx.send(m).is_ok()).await;
        });
    });
}

/// How often the registry watch looks.
pub const REGISTRY_POLL: Duration = Duration::from_secs(2);

/// The bound on each of the registry watch's requests: one attempt of at most 5 s (a look that
/// fails is told once; the next look, a poll later, tries again), on top of the client's own
/// limits (manifests of at most 4 MiB).
pub const REGISTRY_RETRY: Retry = Retry {
    attempts: 1,
    first_pause: Duration::ZERO,
    attempt_timeout: Duration::from_secs(5),
};

/// An image a step's checks read in the registry, and which of its cosign tags they read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryTarget {
    /// The step.
    pub step: String,
    /// The image, as the check names it.
    pub image: String,
    /// Whether a `signature` check reads its `.sig` tag.
    pub signatures: bool,
    /// Whether a `sbom-attestation` check reads its `.att` tag.
    pub attestations: bool,
}

/// The registry as a watch sees it: for each image the current step reads, the cosign tags
/// last seen, and whether a failed look was told already.
struct RegistryWatch {
    seen: BTreeMap<String, ArtifactTags>,
    failing: bool,
}

impl RegistryWatch {
    /// One look at what `step` reads; what changed since the last look, and a failure the
    /// first time looking fails. An image the step does not read is forgotten, so a step
    /// shown again starts from a fresh first look.
    async fn look(
        &mut self,
        registry: &LabRegistry,
        targets: &[RegistryTarget],
        step: Option<&str>,
    ) -> Vec<Result<String, String>> {
        let mut wanted: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
        for t in targets.iter().filter(|t| Some(t.step.as_str()) == step) {
            let entry = wanted.entry(&t.image).or_default();
            entry.0 |= t.signatures;
            entry.1 |= t.attestations;
        }
        self.seen
            .retain(|image, _| wanted.contains_key(image.as_str()));
        let mut events = Vec::new();
        for (image, (signatures, attestations)) in wanted {
            match registry
                .artifact_tags(image, signatures, attestations)
                .await
            {
                Ok(now) => {
                    self.failing = false;
                    let before = self.seen.insert(image.to_owned(), now.clone());
                    if let Some(what) = before.and_then(|b| now.changes_from(&b, image)) {
                        events.push(Ok(what));
                    }
                }
                Err(e) if !self.failing => {
                    self.failing = true;
                    events.push(Err(format!("watching the registry: {e}")));
                }
                Err(_) => {}
            }
        }
        events
    }
}

/// Polls, on a thread of its own, every [`REGISTRY_POLL`], the cosign tags that the checks of
/// the step in `current` (the one the walkthrough shows) read, and says which changed: a
/// `cosign sign` or `cosign attest` is then re-checked as a changed file is. A step that
/// reads nothing in the registry costs nothing.
pub fn watch_registry(
    mut registry: LabRegistry,
    targets: Vec<RegistryTarget>,
    current: Arc<Mutex<Option<String>>>,
    tx: mpsc::Sender<Result<String, String>>,
) {
    registry.retry = REGISTRY_RETRY;
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            let _ = tx.send(Err("cannot start the registry watch".into()));
            return;
        };
        let mut watch = RegistryWatch {
            seen: BTreeMap::new(),
            failing: false,
        };
        loop {
            let step = current.lock().map(|s| s.clone()).unwrap_or_default();
            let events = runtime.block_on(watch.look(&registry, &targets, step.as_deref()));
            for event in events {
                if tx.send(event).is_err() {
                    return;
                }
            }
            std::thread::sleep(REGISTRY_POLL);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of the fixture layout of `demo` whose index is `index` (edited by the test).
    fn layout() -> (tempfile::TempDir, serde_json::Value) {
        let from =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/ch14/tests/images/demo");
        let dir = tempfile::tempdir().unwrap();
        let copy = std::process::Command::new("cp")
            .arg("-R")
            .arg(format!("{}/.", from.display()))
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(copy.success());
        let index = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
        (dir, serde_json::from_str(&index).unwrap())
    }

    /// `index` with the entries whose tag ends in `suffix` left out.
    fn without(index: &serde_json::Value, suffix: &str) -> String {
        let mut index = index.clone();
        index["manifests"].as_array_mut().unwrap().retain(|m| {
            !m.pointer("/annotations/org.opencontainers.image.ref.name")
                .and_then(|n| n.as_str())
                .is_some_and(|n| n.ends_with(suffix))
        });
        index.to_string()
    }

    // The walkthrough stayed at "0 of 2" after `cosign sign` until `c`: the registry was not
    // watched.
    #[test]
    fn a_signature_pushed_to_the_image_the_step_reads_is_a_change_and_nothing_else_is() {
        let (dir, index) = layout();
        let write = |text: String| std::fs::write(dir.path().join("index.json"), text).unwrap();
        write(without(&index, ".sig"));
        let registry = LabRegistry {
            aliases: vec!["kind-registry:5000".into()],
            host: "127.0.0.1:9".into(),
            policies: Vec::new(),
            retry: REGISTRY_RETRY,
            layout: Some(dir.path().to_owned().into()),
        };
        let image = "kind-registry:5000/courselab/demo:1.4.2-ci";
        let targets = [
            RegistryTarget {
                step: "sign".into(),
                image: image.into(),
                signatures: true,
                attestations: false,
            },
            RegistryTarget {
                step: "sign".into(),
                image: image.into(),
                signatures: false,
                attestations: true,
            },
        ];
        let mut watch = RegistryWatch {
            seen: BTreeMap::new(),
            failing: false,
        };
        let mut look = |step: Option<&str>| {
            crate::runtime::block_on(watch.look(&registry, &targets, step)).unwrap()
        };
        assert_eq!(look(Some("sign")), [], "the first look is the baseline");
        assert_eq!(look(Some("sign")), [], "no change, no event");
        write(index.to_string());
        assert_eq!(
            look(Some("sign")),
            [Ok(format!("the signatures of {image}"))]
        );
        assert_eq!(look(Some("sign")), []);
        // Another step reads nothing in the registry: nothing is looked at, and coming back is
        // a fresh baseline.
        write(without(&index, ".att"));
        assert_eq!(look(Some("other")), []);
        assert_eq!(look(Some("sign")), []);
        write(index.to_string());
        assert_eq!(
            look(Some("sign")),
            [Ok(format!("the attestations of {image}"))]
        );
        // A registry that cannot be read is told once.
        std::fs::remove_file(dir.path().join("index.json")).unwrap();
        let failed = look(Some("sign"));
        assert!(
            matches!(&failed[..], [Err(e)] if e.starts_with("watching the registry: ")),
            "{failed:?}"
        );
        assert_eq!(look(Some("sign")), []);
    }
}
