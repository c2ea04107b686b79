//! Pods and Deployments as the check engine sees them ([`PodView`], [`RolloutView`]): what a
//! check reads of them, and what tells whether they are still settling (a Pod's age and
//! readiness, a rollout's counts), taken from the kube-rs objects.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::engine::{PodView, RolloutView};

/// How long past its deletion deadline a Pod still counts as going away: beyond that, nothing
/// (no kubelet) is finishing its deletion.
const DELETION_SLACK: Duration = Duration::from_secs(10);

/// How long ago `time` was, by this machine's clock; zero for a time ahead of it.
fn since(time: &Time, now: SystemTime) -> Duration {
    now.duration_since(SystemTime::from(time.0))
        .unwrap_or(Duration::ZERO)
}

/// A Pod as the checks see it, at `now`.
pub fn pod_view(pod: Pod, now: SystemTime) -> PodView {
    let status = pod.status.unwrap_or_default();
    let statuses = status.container_statuses.unwrap_or_default();
    let containers = pod
        .spec
        .map(|s| s.containers)
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            let id = statuses
                .iter()
                .find(|s| s.name == c.name)
                .map(|s| s.image_id.clone())
                .unwrap_or_default();
            (c.name, c.image.unwrap_or_default(), id)
        })
        .collect();
    let ready = status
        .conditions
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let waiting = statuses
        .iter()
        .find_map(|s| s.state.as_ref()?.waiting.as_ref()?.reason.clone());
    let deletion = pod.metadata.deletion_timestamp.as_ref();
    PodView {
        name: pod.metadata.name.unwrap_or_default(),
        phase: status.phase.unwrap_or_default(),
        terminating: deletion.is_some(),
        containers,
        ready,
        age: pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| since(t, now)),
        waiting,
        deletion_overdue: deletion.is_some_and(|t| since(t, now) > DELETION_SLACK),
    }
}

/// A Deployment's rollout.
pub fn rollout_view(deployment: Deployment) -> RolloutView {
    let spec = deployment.spec.unwrap_or_default();
    let status = deployment.status.unwrap_or_default();
    let stalled = status.conditions.unwrap_or_default().iter().any(|c| {
        c.type_ == "Progressing"
            && c.status == "False"
            && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    RolloutView {
        name: deployment.metadata.name.unwrap_or_default(),
        generation: deployment.metadata.generation.unwrap_or(0),
        observed_generation: status.observed_generation.unwrap_or(0),
        replicas: spec.replicas.unwrap_or(1),
        updated: status.updated_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
        total: status.replicas.unwrap_or(0),
        stalled,
    }
}

/// The labels of a Deployment's Pod template.
pub fn template_labels(deployment: &Deployment) -> std::collections::BTreeMap<String, String> {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(seconds: u64) -> Time {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
        Time(at.try_into().unwrap())
    }

    #[test]
    fn a_pod_shows_its_age_readiness_and_why_it_waits() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "demo-1", "creationTimestamp": "1970-01-01T00:01:40Z"},
            "spec": {"containers": [{"name": "app", "image": "r/demo:1"}]},
            "status": {"phase": "Pending",
                       "conditions": [{"type": "Ready", "status": "False"}],
                       "containerStatuses": [{"name": "app", "image": "r/demo:1", "imageID": "",
                           "ready": false, "restartCount": 0,
                           "state": {"waiting": {"reason": "ContainerCreating"}}}]}
        }))
        .unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(107);
        let view = pod_view(pod.clone(), now);
        assert_eq!(view.age, Some(Duration::from_secs(7)));
        assert!(!view.ready);
        assert_eq!(view.waiting.as_deref(), Some("ContainerCreating"));
        assert!(!view.terminating && !view.deletion_overdue);
        let mut going = pod;
        going.metadata.deletion_timestamp = Some(time(100));
        assert!(!pod_view(going.clone(), now).deletion_overdue, "7 s past");
        let later = SystemTime::UNIX_EPOCH + Duration::from_secs(111);
        assert!(pod_view(going, later).deletion_overdue, "11 s past");
    }

    #[test]
    fn a_stalled_rollout_says_so() {
        let deployment: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "demo", "generation": 4},
            "spec": {"replicas": 2, "selector": {},
                     "template": {"metadata": {"labels": {"app": "demo"}}}},
            "status": {"observedGeneration": 4, "replicas": 3, "updatedReplicas": 1,
                       "availableReplicas": 2,
                       "conditions": [{"type": "Progressing", "status": "False",
                                       "reason": "ProgressDeadlineExceeded"}]}
        }))
        .unwrap();
        assert_eq!(template_labels(&deployment)["app"], "demo");
        let view = rollout_view(deployment);
        assert_eq!(
            view,
            RolloutView {
                name: "demo".into(),
                generation: 4,
                observed_generation: 4,
                replicas: 2,
                updated: 1,
                available: 2,
                total: 3,
                stalled: true,
            }
        );
    }
}
