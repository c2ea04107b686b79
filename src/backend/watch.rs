//! What the walkthrough watches in the cluster to re-check by itself: the Pods and Deployments
//! of the lab's namespaces, its ClusterPolicies, PolicyReports and PolicyExceptions. Each
//! change after the first listing is sent as a short description; a watch that fails is
//! reported once, and the walkthrough falls back to its `c` key.

use futures_util::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

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
