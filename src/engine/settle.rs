//! Whether a failing check may still pass by itself, decided from what the cluster shows now:
//! a rollout in progress, a Pod admitted too recently for Kyverno to have reported it, a
//! policy in the right mode that Kyverno has not marked Ready yet. Only then does the engine
//! try the check again; a check that fails with nothing settling fails at once, so `lab check`
//! on a settled lab answers in a second or two, passing or failing.

use std::fmt;
use std::time::Duration;

use super::compare::is_ready;
use super::kinds::Kind;
use super::observe::{Cluster, Observe, PodView, Registry, RolloutView, Workdir};
use crate::content::model::FailureMode;
use crate::policy::model::live_action;

/// How long after a Pod's admission Kyverno v1.19 shows it in a PolicyReport. The admission
/// webhook writes an ephemeral report; the reports controller's aggregate controller takes it
/// from its queue `enqueueDelay` (10 s) after each change
/// (`pkg/controllers/report/aggregate/controller.go`): once to adopt it to the Pod, once more
/// to merge it into the namespace's PolicyReport. Two delays, 20 s.
pub const REPORT_DELAY: Duration = Duration::from_secs(20);

/// How long after a Pod's admission its report is still worth waiting for: [`REPORT_DELAY`]
/// and room for a busy controller (measured on the loopback cluster: 20 s from the Pod's
/// creation to its PolicyReport's).
pub const REPORT_WINDOW: Duration = Duration::from_secs(30);

/// What a failing check waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitsFor {
    /// A Deployment's rollout in progress.
    Rollout {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A Pod starting or going away.
    Pod {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Whether it is being deleted (else it is starting).
        terminating: bool,
    },
    /// Kyverno's report on a Pod admitted moments ago.
    Report {
        /// Its namespace.
        namespace: String,
        /// The Pod.
        pod: String,
    },
    /// A policy in the wanted mode that Kyverno has not marked Ready yet.
    PolicyReady {
        /// The policy.
        name: String,
    },
}

impl fmt::Display for WaitsFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitsFor::Rollout { namespace, name } => {
                write!(f, "deployment {namespace}/{name} to finish its rollout")
            }
            WaitsFor::Pod {
                namespace,
                name,
                terminating: true,
            } => write!(f, "pod {namespace}/{name} to go away"),
            WaitsFor::Pod {
                namespace, name, ..
            } => write!(f, "pod {namespace}/{name} to be Ready"),
            WaitsFor::Report { namespace, pod } => write!(
                f,
                "Kyverno's report on pod {namespace}/{pod}, admitted moments ago (Kyverno reports about {} s after admission)",
                REPORT_DELAY.as_secs()
            ),
            WaitsFor::PolicyReady { name } => write!(f, "policy {name} to become Ready"),
        }
    }
}

/// Why a failing check is worth trying again, and for how long at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settling {
    /// What it waits for.
    pub waits_for: WaitsFor,
    /// How long waiting can make sense, if less than the caller's wait.
    pub bound: Option<Duration>,
}

impl From<WaitsFor> for Settling {
    fn from(waits_for: WaitsFor) -> Self {
        Settling {
            waits_for,
            bound: None,
        }
    }
}

/// Whether a Deployment's rollout is still going, as `kubectl rollout status` judges it: the
/// controller has not seen the newest spec, or Pods of the new template are missing or not
/// available, or old ones remain. A rollout past its progress deadline is going nowhere.
pub fn rollout_in_progress(r: &RolloutView) -> bool {
    !r.stalled
        && (r.observed_generation < r.generation
            || r.updated < r.replicas
            || r.total > r.updated
            || r.available < r.updated)
}

/// Waiting reasons that clear only when someone acts: the image cannot be pulled, the
/// container keeps crashing or cannot be created.
const STUCK: [&str; 6] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// Whether a Pod waits for something only a person can fix.
pub fn is_stuck(pod: &PodView) -> bool {
    !pod.terminating && pod.waiting.as_deref().is_some_and(|w| STUCK.contains(&w))
}

/// A Pod that is plausibly about to change by itself: going away within its grace period, or
/// starting (not Ready, and not stuck on something only a person can fix).
pub fn pod_settling(namespace: &str, pods: &[PodView]) -> Option<WaitsFor> {
    pods.iter()
        .find(|p| {
            if p.terminating {
                return !p.deletion_overdue;
            }
            let done = matches!(p.phase.as_str(), "Succeeded" | "Failed");
            !p.ready && !done && !is_stuck(p)
        })
        .map(|p| WaitsFor::Pod {
            namespace: namespace.to_owned(),
            name: p.name.clone(),
            terminating: p.terminating,
        })
}

/// The newest Pod admitted less than [`REPORT_WINDOW`] ago, whose report may still come, with
/// how long it may still take.
pub fn report_settling(namespace: &str, pods: &[PodView]) -> Option<Settling> {
    pods.iter()
        .filter(|p| !p.terminating)
        .filter_map(|p| Some((p, p.age?)))
        .filter(|(_, age)| *age < REPORT_WINDOW)
        .min_by_key(|(_, age)| *age)
        .map(|(p, age)| Settling {
            waits_for: WaitsFor::Report {
                namespace: namespace.to_owned(),
                pod: p.name.clone(),
            },
            bound: Some(REPORT_WINDOW - age),
        })
}

/// A policy in mode `want` that is not Ready yet; Kyverno marks a policy Ready once its
/// webhooks serve it, seconds after it is applied.
pub fn policy_settling(
    name: &str,
    policy: &serde_json::Value,
    want: FailureMode,
) -> Option<WaitsFor> {
    (live_action(policy) == Some(want) && !is_ready(policy)).then(|| WaitsFor::PolicyReady {
        name: name.to_owned(),
    })
}

impl Kind {
    /// Whether this check, failing now, may pass by itself soon, from what the cluster shows.
    /// A check of a kind that never settles, or whose world cannot be read, does not.
    pub async fn settling<C: Cluster, R: Registry, W: Workdir>(
        &self,
        world: &Observe<'_, C, R, W>,
    ) -> Option<Settling> {
        match self {
            Kind::RunningDigest {
                namespace,
                selector,
                ..
            } => {
                let pods = world.cluster.pods(namespace, selector).await.ok()?;
                // A rollout whose new Pod cannot pull its image goes nowhere by itself.
                if pods.iter().any(is_stuck) {
                    return None;
                }
                let rollouts = world.cluster.rollouts(namespace, selector).await.ok()?;
                if let Some(r) = rollouts.iter().find(|r| rollout_in_progress(r)) {
                    return Some(
                        WaitsFor::Rollout {
                            namespace: namespace.clone(),
                            name: r.name.clone(),
                        }
                        .into(),
                    );
                }
                pod_settling(namespace, &pods).map(Settling::from)
            }
            Kind::PolicyReport {
                namespace, about, ..
            } => {
                let pods = world.cluster.pods(namespace, "").await.ok()?;
                // A check about one Pod, or one image, waits for those Pods' reports only.
                let pods = super::reports::pods_about(world.registry, about, pods).await;
                report_settling(namespace, &pods)
            }
            Kind::PolicyMode { policies, mode } => {
                for name in policies {
                    let policy = world.cluster.cluster_policy(name).await.ok()??;
                    if let Some(w) = policy_settling(name, &policy, *mode) {
                        return Some(w.into());
                    }
                }
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rollout() -> RolloutView {
        RolloutView {
            name: "demo".into(),
            generation: 3,
            observed_generation: 3,
            replicas: 2,
            updated: 2,
            available: 2,
            total: 2,
            stalled: false,
        }
    }

    fn pod(name: &str) -> PodView {
        PodView {
            name: name.into(),
            phase: "Running".into(),
            ready: true,
            age: Some(Duration::from_secs(600)),
            ..PodView::default()
        }
    }

    #[test]
    fn a_rollout_is_in_progress_until_every_new_pod_is_available_and_no_old_one_is_left() {
        assert!(!rollout_in_progress(&rollout()), "done");
        type Change = fn(&mut RolloutView);
        let cases: [(&str, Change); 4] = [
            ("the controller has not seen the new spec", |r| {
                r.observed_generation = 2
            }),
            ("a new Pod is missing", |r| r.updated = 1),
            ("an old Pod is left", |r| r.total = 3),
            ("a new Pod is not available", |r| r.available = 1),
        ];
        for (what, change) in cases {
            let mut r = rollout();
            change(&mut r);
            assert!(rollout_in_progress(&r), "{what}");
            r.stalled = true;
            assert!(!rollout_in_progress(&r), "{what}, past its deadline");
        }
    }

    #[test]
    fn a_pod_settles_while_it_starts_or_goes_away_but_not_when_stuck() {
        assert_eq!(pod_settling("develop", &[pod("a")]), None, "all Ready");
        let mut starting = pod("b");
        starting.ready = false;
        starting.waiting = Some("ContainerCreating".into());
        assert_eq!(
            pod_settling("develop", &[pod("a"), starting.clone()]),
            Some(WaitsFor::Pod {
                namespace: "develop".into(),
                name: "b".into(),
                terminating: false
            })
        );
        for stuck in ["ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff"] {
            starting.waiting = Some(stuck.into());
            assert_eq!(
                pod_settling("develop", &[starting.clone()]),
                None,
                "{stuck}"
            );
        }
        let mut going = pod("c");
        going.terminating = true;
        assert!(matches!(
            pod_settling("develop", &[going.clone()]),
            Some(WaitsFor::Pod {
                terminating: true,
                ..
            })
        ));
        going.deletion_overdue = true;
        assert_eq!(
            pod_settling("develop", &[going]),
            None,
            "nothing deletes it"
        );
        let mut finished = pod("d");
        finished.ready = false;
        finished.phase = "Succeeded".into();
        assert_eq!(pod_settling("develop", &[finished]), None);
    }

    #[test]
    fn a_report_is_waited_for_only_within_its_window_after_the_newest_admission() {
        let old = pod("old");
        assert_eq!(report_settling("develop", std::slice::from_ref(&old)), None);
        let mut unknown = pod("unknown");
        unknown.age = None;
        assert_eq!(report_settling("develop", &[unknown]), None);
        let mut young = pod("young");
        young.age = Some(Duration::from_secs(4));
        let mut younger = pod("younger");
        younger.age = Some(Duration::from_secs(1));
        let settling = report_settling("develop", &[old, young.clone(), younger]).unwrap();
        assert_eq!(
            settling.waits_for,
            WaitsFor::Report {
                namespace: "develop".into(),
                pod: "younger".into()
            }
        );
        assert_eq!(settling.bound, Some(REPORT_WINDOW - Duration::from_secs(1)));
        young.age = Some(REPORT_WINDOW);
        assert_eq!(report_settling("develop", &[young.clone()]), None);
        young.age = Some(Duration::from_secs(2));
        young.terminating = true;
        assert_eq!(report_settling("develop", &[young]), None);
    }

    #[test]
    fn a_policy_settles_only_in_the_wanted_mode_and_not_ready() {
        let policy = |action: &str, ready: &str| {
            json!({"spec": {"rules": [{"name": "r", "verifyImages": [{"failureAction": action}]}]},
                   "status": {"conditions": [{"type": "Ready", "status": ready}]}})
        };
        let want = FailureMode::Audit;
        assert_eq!(policy_settling("p", &policy("Audit", "True"), want), None);
        assert_eq!(
            policy_settling("p", &policy("Enforce", "False"), want),
            None
        );
        assert_eq!(
            policy_settling("p", &policy("Audit", "False"), want),
            Some(WaitsFor::PolicyReady { name: "p".into() })
        );
    }

    #[test]
    fn what_a_check_waits_for_reads_as_a_sentence() {
        let rollout = WaitsFor::Rollout {
            namespace: "develop".into(),
            name: "demo".into(),
        };
        assert_eq!(
            rollout.to_string(),
            "deployment develop/demo to finish its rollout"
        );
        let report = WaitsFor::Report {
            namespace: "develop".into(),
            pod: "workstation-hotfix".into(),
        };
        assert!(
            report
                .to_string()
                .starts_with("Kyverno's report on pod develop/workstation-hotfix")
        );
    }
}
