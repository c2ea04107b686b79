//! What the walkthrough watches in the cluster to re-check by itself: the Pods and Deployments
//! of the lab's namespaces, its ClusterPolicies, PolicyReports and PolicyExceptions. Each
//! change after the first listing is sent as a short description; a watch that fails is
//! reported once, and the walkthrough falls back to its `c` key.

use futures_util::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use super::cluster::{KubeCluster, cluster_policy_resource};

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
