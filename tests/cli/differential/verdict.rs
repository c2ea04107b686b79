//! What each side answered for one resource, and how the answers are compared: the verdict of
//! a server-side dry run (or of `lab admit`), Kyverno's annotations, and the PolicyReport.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::super::peers::Cluster;
use super::super::{lab, repo};

/// What an admission answered for one resource.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Verdict {
    Admitted {
        /// Every container image after the patches, by JSON pointer.
        images: BTreeMap<String, String>,
        /// Kyverno's two annotations, parsed.
        annotations: BTreeMap<String, Value>,
    },
    Denied {
        webhook: String,
        message: String,
    },
    /// The request failed for another reason (or lab could not decide); the text says why.
    Error(String),
}

impl Verdict {
    /// Admitted with no annotation of Kyverno's: no policy looked at the resource.
    pub(super) fn untouched(&self) -> bool {
        matches!(self, Verdict::Admitted { annotations, .. } if annotations.is_empty())
    }
}

/// A report result, as compared: (policy, rule) -> (result, message).
pub(super) type ReportResults = BTreeSet<(String, String, String, String)>;

pub(super) fn id(resource: &Value) -> String {
    format!(
        "{}/{}/{}",
        resource["kind"].as_str().unwrap_or(""),
        resource["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default"),
        resource["metadata"]["name"].as_str().unwrap_or("")
    )
}

/// The container images of a Pod, or of a controller's Pod template, by JSON pointer.
pub(super) fn images(object: &Value) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let specs = [
        "/spec",
        "/spec/template/spec",
        "/spec/jobTemplate/spec/template/spec",
    ];
    for spec in specs {
        let Some(spec_value) = object.pointer(spec) else {
            continue;
        };
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            for (i, c) in spec_value[list]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(image) = c["image"].as_str() {
                    found.insert(format!("{spec}/{list}/{i}/image"), image.to_owned());
                }
            }
        }
    }
    found
}

pub(super) fn kyverno_annotations(object: &Value) -> BTreeMap<String, Value> {
    let mut found = BTreeMap::new();
    for key in [
        "kyverno.io/verify-images",
        "kyverno.io/verify-images-scoped",
    ] {
        if let Some(text) = object["metadata"]["annotations"][key].as_str() {
            found.insert(
                key.to_owned(),
                serde_json::from_str(text).unwrap_or(Value::String(text.to_owned())),
            );
        }
    }
    either_where_policies_disagree(&mut found);
    found
}

/// Kyverno merges each policy's image statuses into `kyverno.io/verify-images` one policy after
/// the other, the later overwriting (`ImageVerificationMetadata.Merge`,
/// pkg/engine/api/imageverifymetadata.go), in the order of its policy cache, which is a Go map's:
/// where two policies disagree on an image, the annotation says either. Both sides' values are
/// replaced by the set of statuses the scoped annotation records for that image.
pub(super) fn either_where_policies_disagree(annotations: &mut BTreeMap<String, Value>) {
    let Some(scoped) = annotations.get("kyverno.io/verify-images-scoped") else {
        return;
    };
    let mut statuses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for rules in scoped["policies"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for images in rules.as_object().into_iter().flat_map(|r| r.values()) {
            for (image, status) in images.as_object().into_iter().flatten() {
                statuses
                    .entry(image.clone())
                    .or_default()
                    .insert(status.as_str().unwrap_or("").to_owned());
            }
        }
    }
    if let Some(Value::Object(legacy)) = annotations.get_mut("kyverno.io/verify-images") {
        for (image, value) in legacy.iter_mut() {
            if let Some(set) = statuses.get(image).filter(|s| s.len() > 1) {
                *value = json!(set.iter().cloned().collect::<Vec<_>>().join(" or "));
            }
        }
    }
}

pub(super) fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The real admission controller's verdict on a server-side dry run of `resource`.
pub(super) fn real_verdict(c: &Cluster, resource: &Value) -> Verdict {
    match c.create(resource, true) {
        Ok(object) => Verdict::Admitted {
            images: images(&object),
            annotations: kyverno_annotations(&object),
        },
        Err(status) => {
            let message = status["message"].as_str().unwrap_or("");
            let marker = "admission webhook \"";
            message
                .strip_prefix(marker)
                .and_then(|rest| rest.split_once("\" denied the request: "))
                .map_or_else(
                    || Verdict::Error(status.to_string()),
                    |(webhook, denial)| Verdict::Denied {
                        webhook: webhook.to_owned(),
                        message: denial.to_owned(),
                    },
                )
        }
    }
}

/// `lab admit`'s decisions for the case, by resource id.
/// `lab admit --json`'s decisions by resource, and the auto-generated rules' names by policy.
pub(super) type LabAnswer = (BTreeMap<String, Value>, BTreeMap<String, Vec<String>>);

pub(super) fn lab_decisions(
    dir: &Path,
    policies: &[PathBuf],
    manifest: &Path,
) -> Result<LabAnswer, String> {
    let mut cmd = lab(&repo());
    // The loopback Kyverno runs with `--imageVerifyCacheEnabled=false` (`.ci/peers/cluster`):
    // lab is asked to judge as that Kyverno does.
    cmd.args(["admit", "--json", "--no-verify-cache", "-f"])
        .arg(manifest);
    for p in policies {
        cmd.arg("--policy").arg(p);
    }
    let out = cmd.current_dir(dir).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|_| format!("lab admit exited {:?}: {}", out.status.code(), text(&out)))?;
    let decisions = doc["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["resource"].as_str().unwrap().to_owned(), d.clone()))
        .collect();
    let autogen = doc["autogen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let names = p["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_owned())
                .collect();
            (p["policy"].as_str().unwrap().to_owned(), names)
        })
        .collect();
    Ok((decisions, autogen))
}

/// `kubectl get <kind>.kyverno.io NAME [-n NAMESPACE]` of `policy`, to add the output to.
pub(super) fn get_policy(policy: &Value) -> Vec<String> {
    let kind = policy["kind"].as_str().unwrap_or("");
    let name = policy["metadata"]["name"].as_str().unwrap_or("");
    let mut args = vec![
        "get".to_owned(),
        format!("{}.kyverno.io", kind.to_lowercase()),
        name.to_owned(),
    ];
    if let Some(ns) = policy["metadata"]["namespace"].as_str() {
        args.extend(["-n".to_owned(), ns.to_owned()]);
    }
    args
}

/// The names of the rules Kyverno generated for `policy`, from its `status.autogen` (set in
/// the same update as its Ready condition, `pkg/controllers/webhook/controller.go`).
pub(super) fn real_autogen(c: &Cluster, policy: &Value) -> Result<Vec<String>, String> {
    let mut args = get_policy(policy);
    args.extend(["-o".to_owned(), "json".to_owned()]);
    let out = c.kubectl().args(&args).output().unwrap();
    if !out.status.success() {
        return Err(format!("kubectl {}: {}", args.join(" "), text(&out)));
    }
    let doc: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok(doc
        .pointer("/status/autogen/rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().map(str::to_owned))
        .collect())
}

pub(super) fn lab_verdict(resource: &Value, decision: &Value) -> Verdict {
    if decision["allowed"] == json!(true) {
        let mut patched = resource.clone();
        for patch in decision["patches"].as_array().into_iter().flatten() {
            let path = patch["path"].as_str().unwrap_or("");
            if patch["op"] == "replace"
                && path.ends_with("/image")
                && let Some(slot) = patched.pointer_mut(path)
            {
                *slot = patch["value"].clone();
            }
        }
        let mut annotations = BTreeMap::new();
        for (key, value) in decision["annotations"].as_object().into_iter().flatten() {
            if let Some(text) = value.as_str() {
                annotations.insert(
                    key.clone(),
                    serde_json::from_str(text).unwrap_or(Value::String(text.to_owned())),
                );
            }
        }
        either_where_policies_disagree(&mut annotations);
        Verdict::Admitted {
            images: images(&patched),
            annotations,
        }
    } else if let Some(webhook) = decision["denied_by"].as_str() {
        Verdict::Denied {
            webhook: webhook.to_owned(),
            message: decision["denial"].as_str().unwrap_or("").to_owned(),
        }
    } else {
        Verdict::Error(decision.to_string())
    }
}

/// A resource created for real, whose PolicyReport is awaited.
pub(super) struct Created {
    pub(super) id: String,
    pub(super) uid: String,
    /// lab expects report results for it (else: no report at all).
    pub(super) expect_any: bool,
}

pub(super) fn results_of(report: &Value) -> ReportResults {
    report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            (
                x["policy"].as_str().unwrap_or("").to_owned(),
                x["rule"].as_str().unwrap_or("").to_owned(),
                x["result"].as_str().unwrap_or("").to_owned(),
                x["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

pub(super) fn list(c: &Cluster, resource: &str) -> Vec<Value> {
    let out = c
        .kubectl()
        .args(["get", resource, "-A", "-o", "json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    list["items"].as_array().cloned().unwrap_or_default()
}

/// The PolicyReport results of each created resource, once the reports controller has written
/// them (it merges the admission controller's EphemeralReports after two 10 s delays,
/// `enqueueDelay` in pkg/controllers/report/aggregate/controller.go) and they have not changed
/// for 2 s; `None` for a resource that got no report. A resource lab expects no results for is
/// taken as reportless once, 5 s after its creation, neither an EphemeralReport (written at
/// admission) nor a PolicyReport names it.
pub(super) fn real_reports(
    c: &Cluster,
    created: &[Created],
) -> BTreeMap<String, Option<ReportResults>> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(75);
    let mut seen: BTreeMap<String, (Option<ReportResults>, Instant)> = BTreeMap::new();
    let mut done: BTreeMap<String, Option<ReportResults>> = BTreeMap::new();
    while done.len() < created.len() && Instant::now() < deadline {
        let reports = list(c, "policyreports.wgpolicyk8s.io");
        let ephemeral = list(c, "ephemeralreports.reports.kyverno.io");
        for r in created {
            if done.contains_key(&r.id) {
                continue;
            }
            let report = reports
                .iter()
                .find(|p| p["scope"]["uid"] == r.uid.as_str())
                .map(results_of);
            let pending = ephemeral.iter().any(|e| {
                e["metadata"]["labels"]["audit.kyverno.io/resource.uid"] == r.uid.as_str()
            });
            let entry = seen.entry(r.id.clone()).or_insert((None, Instant::now()));
            if entry.0 != report {
                *entry = (report.clone(), Instant::now());
            }
            let stable = entry.1.elapsed() > Duration::from_secs(2);
            if report.is_some() && stable && !pending {
                done.insert(r.id.clone(), report);
            } else if report.is_none()
                && !pending
                && !r.expect_any
                && started.elapsed() > Duration::from_secs(5)
            {
                done.insert(r.id.clone(), None);
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    for r in created {
        done.entry(r.id.clone())
            .or_insert_with(|| seen.get(&r.id).and_then(|s| s.0.clone()));
    }
    done
}

/// Compares the real report with lab's: the same (policy, rule) pairs, and for each, the real
/// result and message are those of one of lab's results for it (the report keeps one per rule,
/// whichever webhook wrote last).
pub(super) fn reports_agree(real: &ReportResults, lab_report: &Value) -> Result<(), String> {
    let mut lab_by_rule: BTreeMap<(String, String), BTreeSet<(String, String)>> = BTreeMap::new();
    for r in lab_report.as_array().into_iter().flatten() {
        lab_by_rule
            .entry((
                r["policy"].as_str().unwrap_or("").to_owned(),
                r["rule"].as_str().unwrap_or("").to_owned(),
            ))
            .or_default()
            .insert((
                r["result"].as_str().unwrap_or("").to_owned(),
                r["message"].as_str().unwrap_or("").to_owned(),
            ));
    }
    let real_rules: BTreeSet<(String, String)> = real
        .iter()
        .map(|(p, r, _, _)| (p.clone(), r.clone()))
        .collect();
    let lab_rules: BTreeSet<(String, String)> = lab_by_rule.keys().cloned().collect();
    if real_rules != lab_rules {
        return Err(format!(
            "report rules differ: Kyverno {real_rules:?}, lab {lab_rules:?}"
        ));
    }
    for (policy, rule, result, message) in real {
        let options = &lab_by_rule[&(policy.clone(), rule.clone())];
        if !options.contains(&(result.clone(), message.clone())) {
            return Err(format!(
                "report result for {policy}/{rule}: Kyverno ({result}, {message:?}), lab one of {options:?}"
            ));
        }
    }
    Ok(())
}
