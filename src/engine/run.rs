//! Preparing a lab's checks (placeholders filled, manifests and the policy pack rendered) and
//! running them: each check once, and a failing check again every second while the cluster
//! shows it settling (a rollout in progress, a Pod admitted before Kyverno could report it;
//! see [`super::settle`]), until it passes, nothing settles any more, or `settle` runs out.
//! The engine owns these waits and says what each is for; callers say how long they may be
//! and how to tell the learner.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::kinds::Kind;
use super::observe::{Cluster, Observe, Registry, Workdir};
use super::reports::{ReportFilter, pods_without_report};
use super::result::{CheckResult, Status};
use super::settle::WaitsFor;
use crate::content::ContentError;
use crate::content::chapter::Chapter;
use crate::content::model::{CheckKind, FailureMode};

/// A check ready to run.
#[derive(Debug, Clone)]
pub struct PreparedCheck {
    /// The step it belongs to.
    pub step: String,
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// What it checks.
    pub kind: Kind,
    /// Whether it may already pass when its step begins.
    pub invariant: bool,
    /// Whether it holds only while its step is current.
    pub during_step_only: bool,
}

/// Prepares every check of the lab, in step order, with `values` filled in.
pub fn prepare(
    chapter: &Chapter,
    values: &BTreeMap<String, String>,
) -> Result<Vec<PreparedCheck>, ContentError> {
    let pack = chapter.policy_objects(values, FailureMode::Enforce)?;
    prepare_with_pack(chapter, values, &pack)
}

/// [`prepare`] with the chapter's policy pack in Enforce (`Chapter::policy_objects` for these
/// values) already rendered, by a caller that renders it once for many learners.
pub fn prepare_with_pack(
    chapter: &Chapter,
    values: &BTreeMap<String, String>,
    pack: &[Value],
) -> Result<Vec<PreparedCheck>, ContentError> {
    let name_of = |p: &Value| {
        p.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let pack_names: Vec<String> = pack.iter().map(name_of).collect();
    let fill = |s: &str| chapter.fill(s, values);
    let mut repositories: Vec<String> = Vec::new();
    for check in chapter.lab.steps.iter().flat_map(|s| &s.checks) {
        if let CheckKind::RunningDigest(r) = &check.check.value {
            let repository = fill(&r.repository)?;
            if !repositories.contains(&repository) {
                repositories.push(repository);
            }
        }
    }
    let mut checks = Vec::new();
    for step in &chapter.lab.steps {
        for check in &step.checks {
            let kind = match &check.check.value {
                CheckKind::EvidenceFile(e) => Kind::EvidenceFile {
                    path: e.path.clone(),
                    format: e.format,
                    policies: pack_names.clone(),
                    repositories: repositories.clone(),
                },
                CheckKind::DigestPinned(w) => Kind::DigestPinned {
                    kind: w.kind.clone(),
                    namespace: fill(&w.namespace)?,
                    name: fill(&w.name)?,
                },
                CheckKind::RunningDigest(r) => Kind::RunningDigest {
                    namespace: fill(&r.namespace)?,
                    selector: fill(&r.selector)?,
                    repository: fill(&r.repository)?,
                    image: fill(&r.image)?,
                },
                CheckKind::Signature(i) => Kind::Signature {
                    image: fill(&i.image)?,
                },
                CheckKind::SbomAttestation(a) => Kind::SbomAttestation {
                    image: fill(&a.image)?,
                    predicate_type: crate::supply::attestation::predicate_type(&a.predicate_type)
                        .to_owned(),
                },
                CheckKind::PolicyMode(m) => Kind::PolicyMode {
                    policies: m.policies.iter().map(|p| p.value.clone()).collect(),
                    mode: m.mode,
                },
                CheckKind::PolicyReport(r) => Kind::PolicyReport {
                    namespace: fill(&r.namespace)?,
                    policy: r.policy.value.clone(),
                    rule: r.rule.clone(),
                    result: r.result,
                    about: ReportFilter {
                        resource: match &r.resource {
                            Some(res) => Some((fill(&res.kind)?, fill(&res.name)?)),
                            None => None,
                        },
                        image: r.image.as_deref().map(fill).transpose()?,
                    },
                },
                CheckKind::AdmissionDenied(a) => {
                    let rel = chapter.resolve(&a.manifest.value.0)?;
                    let object = chapter
                        .resources(&rel, values)?
                        .into_iter()
                        .next()
                        .ok_or_else(|| ContentError::NotYaml {
                            file: chapter.shown(&rel),
                        })?;
                    Kind::AdmissionDenied {
                        manifest: chapter.shown(&rel),
                        object,
                        policy: a.policy.value.clone(),
                        message_contains: a.message_contains.clone(),
                    }
                }
                CheckKind::GuardrailIntact(g) => Kind::GuardrailIntact {
                    policies: g
                        .policies
                        .iter()
                        .map(|name| {
                            let spec = pack
                                .iter()
                                .find(|p| name_of(p) == name.value)
                                .and_then(|p| p.get("spec").cloned())
                                .unwrap_or(Value::Null);
                            (name.value.clone(), spec)
                        })
                        .collect(),
                    namespace: fill(&g.namespace)?,
                },
                CheckKind::QuizPassed(q) => Kind::QuizPassed {
                    min_percent: q.min_percent,
                },
            };
            checks.push(PreparedCheck {
                step: step.id.value.0.clone(),
                id: check.id.value.0.clone(),
                title: check.title.clone(),
                kind,
                invariant: check.invariant,
                during_step_only: check.during_step_only,
            });
        }
    }
    Ok(checks)
}

/// A failing check about to be tried again: what it waits for, and for how long at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The check's id.
    pub check: String,
    /// What it waits for.
    pub waits_for: WaitsFor,
    /// The longest it will wait (the caller's wait, or less when settling cannot take longer).
    pub up_to: Duration,
}

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Whole seconds, rounded up: "up to 0 s" would be no wait at all.
        let seconds = self.up_to.as_millis().div_ceil(1000);
        write!(f, "waiting up to {seconds} s for {}", self.waits_for)
    }
}

/// How a wait for Kyverno's reports ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportsWait {
    /// Seconds waited.
    pub seconds: f64,
    /// The Pods (`namespace/name`) still without a report when the wait ended.
    pub unreported: Vec<String>,
    /// Why the reports could not be read, if they could not.
    pub problem: Option<String>,
}

/// Runs checks against the backends.
pub struct Engine<'a, C, R, W> {
    /// The backends.
    pub world: Observe<'a, C, R, W>,
    /// How long a failing check that is settling is tried again before it is reported.
    pub settle: Duration,
    /// Told each time a failing check starts waiting for something (again only when what it
    /// waits for changes).
    pub on_wait: &'a dyn Fn(&Waiting),
}

/// How long a retried check sleeps between tries.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

impl<C: Cluster, R: Registry, W: Workdir> Engine<'_, C, R, W> {
    /// Runs one check.
    pub async fn run(&self, check: &PreparedCheck) -> CheckResult {
        let started = Instant::now();
        let deadline = started + self.settle;
        // What the check waits for now, and until when: set when first seen, so that the wait
        // for one thing ends on time even if each look says the same.
        let mut waiting: Option<(WaitsFor, Instant)> = None;
        let verdict = loop {
            let verdict = check.kind.decide(&self.world).await;
            if verdict.status != Status::Fail || Instant::now() + RETRY_PAUSE >= deadline {
                break verdict;
            }
            // Only what the cluster shows settling is worth another try.
            let Some(settling) = check.kind.settling(&self.world).await else {
                break verdict;
            };
            let now = Instant::now();
            let until = match &waiting {
                Some((waits_for, until)) if *waits_for == settling.waits_for => *until,
                _ => {
                    let left = deadline.saturating_duration_since(now);
                    let up_to = settling.bound.map_or(left, |b| b.min(left));
                    if up_to < RETRY_PAUSE {
                        break verdict;
                    }
                    (self.on_wait)(&Waiting {
                        check: check.id.clone(),
                        waits_for: settling.waits_for.clone(),
                        up_to,
                    });
                    waiting = Some((settling.waits_for, now + up_to));
                    now + up_to
                }
            };
            if now + RETRY_PAUSE > until {
                break verdict;
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        };
        CheckResult {
            step: check.step.clone(),
            check: check.id.clone(),
            title: check.title.clone(),
            kind: check.kind.name(),
            status: verdict.status,
            message: verdict.message,
            hint: verdict.hint,
            evidence: verdict.evidence,
            cause: verdict.cause,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Waits, at most `bound`, until Kyverno has written a report about every running Pod of
    /// `namespaces`: the state a learner who works at their own pace finds when they open a
    /// step, seconds or minutes after the previous one admitted its Pods.
    pub async fn await_reports(&self, namespaces: &[String], bound: Duration) -> ReportsWait {
        let started = Instant::now();
        let deadline = started + bound;
        loop {
            let mut unreported = Vec::new();
            for ns in namespaces {
                match pods_without_report(self.world.cluster, ns).await {
                    Ok(pods) => unreported.extend(pods.into_iter().map(|p| format!("{ns}/{p}"))),
                    Err(e) => {
                        return ReportsWait {
                            seconds: started.elapsed().as_secs_f64(),
                            unreported,
                            problem: Some(e.to_string()),
                        };
                    }
                }
            }
            if unreported.is_empty() || Instant::now() + Duration::from_secs(1) >= deadline {
                return ReportsWait {
                    seconds: started.elapsed().as_secs_f64(),
                    unreported,
                    problem: None,
                };
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Runs checks in order.
    pub async fn run_all(&self, checks: &[&PreparedCheck]) -> Vec<CheckResult> {
        let mut results = Vec::new();
        for check in checks {
            results.push(self.run(check).await);
        }
        results
    }
}
