//! Reading Kyverno's PolicyReports the way a learner's `kubectl get policyreport` shows them:
//! which resource each result is about (the report's `scope`, or a result's `resources`),
//! whether that resource is still there, and what it runs. The `policy-report` check decides
//! from it, and the rehearsal waits on it until the reports of the Pods admitted so far exist.

use std::fmt;

use serde_json::Value;

use super::Observe;
use super::observe::{Cluster, ObserveError, PodView, Registry, Workdir};
use super::result::Verdict;
use crate::content::model::ReportResult;
use crate::supply::{Digest, ImageRef};

/// What a `policy-report` check's results must be about; both empty means any resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    /// The resource's kind and name.
    pub resource: Option<(String, String)>,
    /// An image the resource runs.
    pub image: Option<String>,
}

impl ReportFilter {
    /// How a message names what the check looked for, e.g. `Pod workstation-hotfix` or `a
    /// resource running r/demo:1.4.2-ci`; `None` without a filter.
    fn describe(&self) -> Option<String> {
        match (&self.resource, &self.image) {
            (None, None) => None,
            (Some((kind, name)), None) => Some(format!("{kind} {name}")),
            (None, Some(image)) => Some(format!("a resource running {image}")),
            (Some((kind, name)), Some(image)) => Some(format!("{kind} {name} running {image}")),
        }
    }
}

/// The resource a report result is about.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Subject {
    kind: String,
    name: String,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

fn subject_of(value: &Value) -> Option<Subject> {
    Some(Subject {
        kind: value.get("kind")?.as_str()?.to_owned(),
        name: value.get("name")?.as_str()?.to_owned(),
    })
}

/// The resources a result is about: its own `resources` when it lists them (reports that
/// gather many resources), else the report's `scope` (Kyverno v1.19's one report per resource).
fn subjects(report: &Value, result: &Value) -> Vec<Subject> {
    let listed: Vec<Subject> = result
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(subject_of)
        .collect();
    if listed.is_empty() {
        report
            .get("scope")
            .and_then(subject_of)
            .into_iter()
            .collect()
    } else {
        listed
    }
}

/// One result of the checked rule about one resource.
struct Found {
    subject: Subject,
    result: String,
    report: String,
    message: String,
}

/// The Pods of a namespace that are not on their way out: a report about any other Pod is
/// about one that no longer runs (Kyverno deletes it with its Pod, a moment later).
fn live(pods: Vec<PodView>) -> Vec<PodView> {
    pods.into_iter()
        .filter(|p| !p.terminating && p.phase != "Succeeded" && p.phase != "Failed")
        .collect()
}

/// The image the check names, parsed, and the digest it resolves to in the lab registry.
struct Wanted<'a> {
    text: &'a str,
    parsed: Option<ImageRef>,
    digest: Option<Digest>,
}

impl Wanted<'_> {
    /// Whether a container of `spec` image, started from `image_id` (empty if not yet), runs it.
    fn run_by(&self, spec: &str, image_id: &str) -> bool {
        if spec == self.text {
            return true;
        }
        let (Some(wanted), Ok(spec)) = (&self.parsed, ImageRef::parse(spec)) else {
            return false;
        };
        if spec.repository() != wanted.repository() {
            return false;
        }
        match &self.digest {
            Some(d) => {
                spec.digest.as_deref() == Some(d.as_str())
                    || image_id
                        .rsplit_once('@')
                        .is_some_and(|(_, id)| id == d.as_str())
            }
            None => spec == *wanted,
        }
    }
}

/// The Pods of `pods` that `filter` is about: the Pod it names, the Pods running its image (by
/// the digest the image resolves to, when the registry answers); every Pod without a filter.
/// For a settling check: it waits for the reports of these Pods only.
pub async fn pods_about<R: Registry>(
    registry: &R,
    filter: &ReportFilter,
    mut pods: Vec<PodView>,
) -> Vec<PodView> {
    if let Some((kind, name)) = &filter.resource {
        if kind != "Pod" {
            // A Deployment's or a ReplicaSet's report: its Pods cannot be told apart here.
            return pods;
        }
        pods.retain(|p| p.name == *name);
    }
    if let Some(text) = &filter.image {
        let wanted = Wanted {
            text,
            parsed: ImageRef::parse(text).ok(),
            digest: registry.resolve(text).await.ok().flatten(),
        };
        pods.retain(|p| {
            p.containers
                .iter()
                .any(|(_, spec, id)| wanted.run_by(spec, id))
        });
    }
    pods
}

/// Decides a `policy-report` check: at least one result of `policy`/`rule` about what `filter`
/// names, and every such result `want`.
pub async fn policy_report<C: Cluster, R: Registry, W: Workdir>(
    world: &Observe<'_, C, R, W>,
    ns: &str,
    policy: &str,
    rule: &str,
    want: ReportResult,
    filter: &ReportFilter,
) -> Result<Verdict, ObserveError> {
    let pods = live(world.cluster.pods(ns, "").await?);
    let wanted = match &filter.image {
        Some(text) => Some(Wanted {
            text,
            parsed: ImageRef::parse(text).ok(),
            digest: world.registry.resolve(text).await?,
        }),
        None => None,
    };
    let mut about = Vec::new();
    let mut others: Vec<String> = Vec::new();
    for report in world.cluster.policy_reports(ns).await? {
        let name = report
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        for r in report
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|r| {
                r.get("policy").and_then(Value::as_str) == Some(policy)
                    && r.get("rule").and_then(Value::as_str) == Some(rule)
            })
        {
            let result = r.get("result").and_then(Value::as_str).unwrap_or("");
            for subject in subjects(&report, r) {
                let pod = pods.iter().find(|p| p.name == subject.name);
                if subject.kind == "Pod" && pod.is_none() {
                    continue;
                }
                if !matches(world.cluster, ns, filter, wanted.as_ref(), &subject, pod).await? {
                    others.push(format!("{subject}: {result}"));
                    continue;
                }
                about.push(Found {
                    subject,
                    result: result.to_owned(),
                    report: name.to_owned(),
                    message: r
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                });
            }
        }
    }
    let seen = Seen {
        about,
        others,
        digest: wanted.and_then(|w| w.digest.map(|d| d.to_string())),
    };
    Ok(judge(ns, policy, rule, want, filter, &seen))
}

/// The results of the checked rule: about what the filter names, and about anything else.
struct Seen {
    about: Vec<Found>,
    /// `Kind name: result` of the others.
    others: Vec<String>,
    /// The digest the filter's image resolves to.
    digest: Option<String>,
}

/// Whether `subject` is what the filter names.
async fn matches<C: Cluster>(
    cluster: &C,
    ns: &str,
    filter: &ReportFilter,
    wanted: Option<&Wanted<'_>>,
    subject: &Subject,
    pod: Option<&PodView>,
) -> Result<bool, ObserveError> {
    if let Some((kind, name)) = &filter.resource
        && (!kind.eq_ignore_ascii_case(&subject.kind) || *name != subject.name)
    {
        return Ok(false);
    }
    let Some(wanted) = wanted else {
        return Ok(true);
    };
    if let Some(pod) = pod {
        return Ok(pod
            .containers
            .iter()
            .any(|(_, spec, id)| wanted.run_by(spec, id)));
    }
    let images = cluster
        .workload_images(&subject.kind, ns, &subject.name)
        .await?
        .unwrap_or_default();
    Ok(images.iter().any(|(_, spec)| wanted.run_by(spec, "")))
}

fn judge(
    ns: &str,
    policy: &str,
    rule: &str,
    want: ReportResult,
    filter: &ReportFilter,
    seen: &Seen,
) -> Verdict {
    let (about, others, digest) = (&seen.about, &seen.others, seen.digest.clone());
    let want = want.as_str();
    let what = filter.describe();
    let mut looked_for = format!("{policy}/{rule}");
    if let Some(what) = &what {
        looked_for = format!("{looked_for} about {what}");
    }
    if about.is_empty() {
        let mut message = format!("no PolicyReport in {ns} has a result for {looked_for}");
        if what.is_some() && !others.is_empty() {
            message = format!("{message} (its results are about {})", shorten(others));
        }
        let create = what.unwrap_or_else(|| "the resource the step names".to_owned());
        let mut fail = Verdict::fail(
            message,
            format!(
                "create {create} as the step says; Kyverno reports about 20 s after admission (`kubectl get policyreport -n {ns}`)"
            ),
        );
        if let Some(d) = digest {
            fail = fail.with("image digest", d);
        }
        return fail;
    }
    let wrong: Vec<String> = about
        .iter()
        .filter(|f| f.result != want)
        .map(|f| format!("{}: {}", f.subject, f.result))
        .collect();
    if !wrong.is_empty() {
        let hint = if want == "pass" {
            format!(
                "Kyverno writes a result when the resource is admitted, and again only in a background scan (`background: true`): a resource admitted before its image was signed keeps its `fail`. Re-create it (`kubectl rollout restart -n {ns} deployment/NAME` for a Deployment's Pods), then `kubectl get policyreport -n {ns}`"
            )
        } else {
            format!("`kubectl get policyreport -n {ns} -o yaml` shows each result's message")
        };
        return Verdict::fail(
            format!(
                "{looked_for} in {ns} is reported as {}, not {want}",
                wrong.join(", ")
            ),
            hint,
        );
    }
    let subjects: Vec<String> = about.iter().map(|f| f.subject.to_string()).collect();
    let mut verdict = Verdict::pass(format!("{}: {policy}/{rule} = {want}", subjects.join(", ")));
    for found in about {
        verdict = verdict
            .with("report", found.report.clone())
            .with("resource", found.subject.to_string())
            .with("message", found.message.clone());
    }
    if let Some(d) = digest {
        verdict = verdict.with("image digest", d);
    }
    verdict
}

/// At most five of a list, then how many more.
fn shorten(items: &[String]) -> String {
    let mut shown = items.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 5 {
        shown.push_str(&format!(" and {} more", items.len() - 5));
    }
    shown
}

/// The Pods of `ns` that are admitted and running but that no PolicyReport is about yet:
/// Kyverno writes a Pod's report some seconds after admission.
pub async fn pods_without_report<C: Cluster>(
    cluster: &C,
    ns: &str,
) -> Result<Vec<String>, ObserveError> {
    let reports = cluster.policy_reports(ns).await?;
    let reported: Vec<Subject> = reports
        .iter()
        .flat_map(|report| {
            report
                .get("results")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|r| subjects(report, r))
        })
        .collect();
    Ok(live(cluster.pods(ns, "").await?)
        .into_iter()
        .filter(|p| !reported.iter().any(|s| s.kind == "Pod" && s.name == p.name))
        .map(|p| p.name)
        .collect())
}
