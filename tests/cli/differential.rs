//! `lab admit` against the real Kyverno v1.19 admission controller, differentially: every
//! resource of ch14's cases in both modes, and the corpus in `tests/fixtures/differential/`, is
//! submitted to the loopback cluster (a server-side dry run for the verdict, the denial and the
//! patches; when admitted, a real create, then its PolicyReport) and to `lab admit` with the
//! same policy files, and the answers are compared. Prints `agreement N/M`; this is the measure
//! of the evaluator's fidelity. A disagreement fails the test unless `KNOWN` documents it (and
//! the README says why it cannot be removed).
//!
//! Cases run one at a time: ClusterPolicies apply to every namespace, so a case's policies are
//! deleted before the next case starts, and the next case first waits until a dry run of each
//! of its resources shows no trace of Kyverno (the admission controller's policy cache has
//! caught up).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::peers::{Cluster, cluster, peer_command, write};
use super::{lab, repo};

/// Disagreements we cannot remove, by case and resource, with the reason (also in the README).
const KNOWN: &[(&str, &str, &str)] = &[];

/// One case: the policies, the namespaces (with labels) and the resources, as files.
struct Case {
    name: String,
    policies: Vec<Value>,
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    resources: Vec<Value>,
}

/// What an admission answered for one resource.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
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

/// A report result, as compared: (policy, rule) -> (result, message).
type ReportResults = BTreeSet<(String, String, String, String)>;

fn id(resource: &Value) -> String {
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
fn images(object: &Value) -> BTreeMap<String, String> {
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

fn kyverno_annotations(object: &Value) -> BTreeMap<String, Value> {
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
fn either_where_policies_disagree(annotations: &mut BTreeMap<String, Value>) {
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

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The real admission controller's verdict on a server-side dry run of `resource`.
fn real_verdict(c: &Cluster, resource: &Value) -> Verdict {
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
fn lab_decisions(
    dir: &Path,
    policies: &[PathBuf],
    manifest: &Path,
) -> Result<BTreeMap<String, Value>, String> {
    let mut cmd = lab(&repo());
    cmd.args(["admit", "--json", "-f"]).arg(manifest);
    for p in policies {
        cmd.arg("--policy").arg(p);
    }
    let out = cmd.current_dir(dir).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|_| format!("lab admit exited {:?}: {}", out.status.code(), text(&out)))?;
    Ok(doc["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["resource"].as_str().unwrap().to_owned(), d.clone()))
        .collect())
}

fn lab_verdict(resource: &Value, decision: &Value) -> Verdict {
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
struct Created {
    id: String,
    uid: String,
    /// lab expects report results for it (else: no report at all).
    expect_any: bool,
}

fn results_of(report: &Value) -> ReportResults {
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

fn list(c: &Cluster, resource: &str) -> Vec<Value> {
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
fn real_reports(c: &Cluster, created: &[Created]) -> BTreeMap<String, Option<ReportResults>> {
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
fn reports_agree(real: &ReportResults, lab_report: &Value) -> Result<(), String> {
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

/// Sets a namespace's labels to exactly `labels` (creating it when missing).
fn namespace_with(c: &Cluster, name: &str, labels: &BTreeMap<String, String>) {
    let out = c
        .kubectl()
        .args(["get", "namespace", name, "-o", "json"])
        .output()
        .unwrap();
    let current: BTreeMap<String, String> = if out.status.success() {
        let ns: Value = serde_json::from_slice(&out.stdout).unwrap();
        ns["metadata"]["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
            .collect()
    } else {
        c.kubectl_ok(&["create", "namespace", name]);
        BTreeMap::new()
    };
    let mut args = vec![
        "label".to_owned(),
        "namespace".into(),
        name.into(),
        "--overwrite".into(),
    ];
    for key in current.keys() {
        if key != "kubernetes.io/metadata.name" && !labels.contains_key(key) {
            args.push(format!("{key}-"));
        }
    }
    for (k, v) in labels {
        args.push(format!("{k}={v}"));
    }
    if args.len() > 4 {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        c.kubectl_ok(&args);
    }
    super::peers::wait_until(
        Duration::from_secs(30),
        "the namespace's default ServiceAccount",
        || {
            c.kubectl()
                .args(["-n", name, "get", "serviceaccount", "default"])
                .output()
                .is_ok_and(|o| o.status.success())
        },
    );
}

fn wait_ready(c: &Cluster, policy: &Value) -> Result<(), String> {
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
    args.extend([
        "-o".into(),
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}".into(),
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = c.kubectl().args(&args).output().unwrap();
        if out.stdout == b"True" {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{kind} {name} was not Ready within 60 s: {}",
                text(&out)
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until a dry run of every resource shows no trace of Kyverno (no policies left over).
fn wait_clean(c: &Cluster, resources: &[Value]) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    for resource in resources {
        loop {
            match real_verdict(c, resource) {
                Verdict::Admitted { annotations, .. } if annotations.is_empty() => break,
                other if Instant::now() > deadline => {
                    return Err(format!(
                        "{} still sees Kyverno's policies 30 s after they were deleted: {other:?}",
                        id(resource)
                    ));
                }
                _ => std::thread::sleep(Duration::from_millis(300)),
            }
        }
    }
    Ok(())
}

/// Runs one case on both sides; one line per resource: Ok, or the disagreement.
fn run_case(c: &Cluster, case: &Case) -> Vec<(String, Result<(), String>)> {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut policy_files = Vec::new();
    for (i, p) in case.policies.iter().enumerate() {
        policy_files.push(write(
            dir,
            &format!("policy-{i}.yaml"),
            &serde_json::to_string(p).unwrap(),
        ));
    }
    let mut resource_files = Vec::new();
    for (i, r) in case.resources.iter().enumerate() {
        resource_files.push(write(
            dir,
            &format!("resource-{i}.json"),
            &serde_json::to_string(r).unwrap(),
        ));
    }
    // lab reads the namespaces' labels from Namespace documents in the manifest.
    let mut manifest = String::new();
    for (name, labels) in &case.namespaces {
        let doc = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}});
        writeln!(manifest, "{doc}\n---").unwrap();
    }
    for r in &case.resources {
        writeln!(manifest, "{r}\n---").unwrap();
    }
    let manifest = write(dir, "manifest.yaml", &manifest);
    let every = |why: String| -> Vec<(String, Result<(), String>)> {
        case.resources
            .iter()
            .map(|r| (id(r), Err(why.clone())))
            .collect()
    };

    for (name, labels) in &case.namespaces {
        namespace_with(c, name, labels);
    }
    if let Err(why) = wait_clean(c, &case.resources) {
        return every(why);
    }
    let lab = match lab_decisions(dir, &policy_files, &manifest) {
        Ok(decisions) => decisions,
        // lab refuses the policies as Kyverno would: Kyverno must refuse them too.
        Err(why) if why.contains("Kyverno rejects this policy") => {
            let refused = policy_files.iter().any(|file| {
                let out = c
                    .kubectl()
                    .arg("create")
                    .arg("-f")
                    .arg(file)
                    .output()
                    .unwrap();
                !out.status.success()
            });
            cleanup(c, &policy_files, &[]);
            return case
                .resources
                .iter()
                .map(|r| {
                    let outcome = if refused {
                        Ok(())
                    } else {
                        Err(format!("Kyverno accepted a policy lab refuses: {why}"))
                    };
                    (id(r), outcome)
                })
                .collect();
        }
        Err(why) => return every(why),
    };
    for file in &policy_files {
        let out = c
            .kubectl()
            .arg("apply")
            .arg("-f")
            .arg(file)
            .output()
            .unwrap();
        if !out.status.success() {
            cleanup(c, &policy_files, &[]);
            return every(format!(
                "Kyverno refused a policy lab accepted: {}",
                text(&out)
            ));
        }
    }
    for p in &case.policies {
        if let Err(why) = wait_ready(c, p) {
            cleanup(c, &policy_files, &[]);
            return every(why);
        }
    }

    // The verdicts first (dry runs); then, in a case with Audit rules, the admitted resources
    // are created for real, all at once, and their PolicyReports awaited together.
    let audit = case.policies.iter().any(is_audit);
    let mut outcomes: BTreeMap<String, Result<(), String>> = BTreeMap::new();
    let mut order = Vec::new();
    let mut to_create = Vec::new();
    for (resource, file) in case.resources.iter().zip(&resource_files) {
        let rid = id(resource);
        order.push(rid.clone());
        let Some(decision) = lab.get(&rid) else {
            outcomes.insert(rid, Err("lab admit gave no decision".to_owned()));
            continue;
        };
        let real = real_verdict(c, resource);
        let ours = lab_verdict(resource, decision);
        if real != ours {
            outcomes.insert(rid, Err(format!("Kyverno: {real:#?}\nlab: {ours:#?}")));
            continue;
        }
        outcomes.insert(rid.clone(), Ok(()));
        if audit && matches!(real, Verdict::Admitted { .. }) {
            to_create.push((rid, resource, file, decision));
        }
    }
    let mut created = Vec::new();
    let mut created_files = Vec::new();
    for (rid, resource, file, decision) in &to_create {
        match c.create(resource, false) {
            Ok(object) => {
                created_files.push((*file).clone());
                created.push(Created {
                    id: rid.clone(),
                    uid: object["metadata"]["uid"].as_str().unwrap_or("").to_owned(),
                    expect_any: decision["report"].as_array().is_some_and(|r| !r.is_empty()),
                });
            }
            Err(status) => {
                outcomes.insert(
                    rid.clone(),
                    Err(format!("admitted on a dry run, refused for real: {status}")),
                );
            }
        }
    }
    let reports = real_reports(c, &created);
    for r in &created {
        let decision = lab[&r.id].clone();
        let outcome = match &reports[&r.id] {
            Some(results) => reports_agree(results, &decision["report"]),
            None if !r.expect_any => Ok(()),
            None => {
                Err("Kyverno wrote no PolicyReport within 75 s; lab expects results".to_owned())
            }
        };
        outcomes.insert(r.id.clone(), outcome);
    }
    cleanup(c, &policy_files, &created_files);
    order
        .into_iter()
        .map(|rid| {
            let outcome = outcomes.remove(&rid).unwrap();
            (rid, outcome)
        })
        .collect()
}

/// A policy with a rule whose failure action can be Audit (entry, spec or the default).
fn is_audit(policy: &Value) -> bool {
    let text = policy.to_string();
    text.contains("\"failureAction\":\"Audit\"")
        || text.contains("\"validationFailureAction\":\"Audit\"")
        || (!text.contains("\"failureAction\"") && !text.contains("\"validationFailureAction\""))
}

fn cleanup(c: &Cluster, policies: &[PathBuf], created: &[PathBuf]) {
    for file in created.iter().chain(policies) {
        let _ = c
            .kubectl()
            .args(["delete", "--ignore-not-found", "--wait=true", "-f"])
            .arg(file)
            .output();
    }
}

/// Splits a multi-document YAML text into a case.
fn case_from(name: &str, text: &str) -> Case {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut case = Case {
        name: name.to_owned(),
        policies: Vec::new(),
        namespaces: BTreeMap::new(),
        resources: Vec::new(),
    };
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        match doc["kind"].as_str() {
            Some("ClusterPolicy" | "Policy") => case.policies.push(doc),
            Some("Namespace") => {
                let labels = doc["metadata"]["labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect();
                case.namespaces
                    .insert(doc["metadata"]["name"].as_str().unwrap().to_owned(), labels);
            }
            _ => case.resources.push(doc),
        }
    }
    for r in &mut case.resources {
        let ns = r["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        r["metadata"]["namespace"] = json!(ns);
        case.namespaces.entry(ns).or_default();
    }
    case
}

/// Fills the corpus placeholders: `${registry}`, `${digest:TAG}` and, on a line of their own,
/// `${trusted_key}` and `${other_key}` (PEM, indented as the placeholder is).
fn fill(
    text: &str,
    registry: &str,
    keys: &BTreeMap<&str, String>,
    digests: &BTreeMap<String, String>,
) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(pem) = trimmed
            .strip_prefix("${")
            .and_then(|k| k.strip_suffix('}'))
            .and_then(|k| keys.get(k))
        {
            let indent = &line[..line.len() - trimmed.len()];
            for pem_line in pem.lines() {
                writeln!(out, "{indent}{pem_line}").unwrap();
            }
            continue;
        }
        let mut line = line.replace("${registry}", registry);
        for (tag, digest) in digests {
            line = line.replace(&format!("${{digest:{tag}}}"), digest);
        }
        writeln!(out, "{line}").unwrap();
    }
    out
}

fn digest_of(image: &str) -> String {
    let out = peer_command("crane")
        .args(["digest", image])
        .output()
        .unwrap();
    assert!(out.status.success(), "crane digest {image}: {}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn corpus(registry: &str) -> Vec<Case> {
    let keys_dir = repo().join("labs/ch14/tests/keys");
    let keys = BTreeMap::from([
        (
            "trusted_key",
            std::fs::read_to_string(keys_dir.join("test-only-signer.pub")).unwrap(),
        ),
        (
            "other_key",
            std::fs::read_to_string(keys_dir.join("test-only-other-signer.pub")).unwrap(),
        ),
    ]);
    let prefix = format!("{registry}/courselab");
    let digests: BTreeMap<String, String> = [
        "1.4.2-ci",
        "1.4.2",
        "1.4.2-signed-only",
        "1.4.2-other-signer",
    ]
    .iter()
    .map(|t| (t.to_string(), digest_of(&format!("{prefix}/demo:{t}"))))
    .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/fixtures/differential"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let name = f.file_stem().unwrap().to_string_lossy().into_owned();
            case_from(
                &name,
                &fill(
                    &std::fs::read_to_string(f).unwrap(),
                    &prefix,
                    &keys,
                    &digests,
                ),
            )
        })
        .collect()
}

/// ch14's cases in both modes, as `lab test --export` renders them for this registry.
fn ch14_cases(registry: &str, dir: &Path) -> Vec<Case> {
    let exported = dir.join("export");
    let out = lab(&repo())
        .args(["test", "ch14", "--export"])
        .arg(&exported)
        .args(["--set", &format!("image_registry={registry}/courselab")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut cases = Vec::new();
    for mode in ["audit", "enforce"] {
        let mut docs = String::new();
        let mode_dir = exported.join(mode);
        let mut tests: Vec<PathBuf> = std::fs::read_dir(&mode_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        tests.sort();
        for test in &tests {
            for p in std::fs::read_dir(test.join("policies")).unwrap() {
                docs.push_str(&std::fs::read_to_string(p.unwrap().path()).unwrap());
                docs.push_str("\n---\n");
            }
        }
        // Every split Test carries the same resources; take the first's.
        let mut resources: Vec<PathBuf> = std::fs::read_dir(tests[0].join("resources"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        resources.sort();
        for r in resources {
            docs.push_str(&std::fs::read_to_string(r).unwrap());
            docs.push_str("\n---\n");
        }
        cases.push(case_from(&format!("ch14-{mode}"), &docs));
    }
    cases
}

#[test]
fn lab_admit_agrees_with_the_real_kyverno_admission_controller() {
    let c = cluster();
    let out = lab(&repo())
        .args(["test", "ch14", "--push", "--registry", &c.registry])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let dir = tempfile::tempdir().unwrap();
    let mut cases = ch14_cases(&c.registry, dir.path());
    cases.extend(corpus(&c.registry));

    let started = Instant::now();
    let mut agreed = 0;
    let mut total = 0;
    let mut unexpected = Vec::new();
    let mut report = String::new();
    // COURSELAB_DIFFERENTIAL=SUBSTRING runs only the cases whose name contains it (authoring).
    let only = std::env::var("COURSELAB_DIFFERENTIAL").unwrap_or_default();
    let selected: Vec<&Case> = cases.iter().filter(|c| c.name.contains(&only)).collect();
    for case in &selected {
        let began = Instant::now();
        let outcomes = run_case(c, case);
        let agreeing = outcomes.iter().filter(|(_, o)| o.is_ok()).count();
        eprintln!(
            "{}: {agreeing}/{} agree ({} s)",
            case.name,
            outcomes.len(),
            began.elapsed().as_secs()
        );
        for (resource, outcome) in outcomes {
            total += 1;
            match outcome {
                Ok(()) => agreed += 1,
                Err(why) => {
                    let known = KNOWN
                        .iter()
                        .find(|(k, r, _)| *k == case.name && *r == resource);
                    writeln!(
                        report,
                        "DISAGREE {} {resource}{}\n{why}\n",
                        case.name,
                        known
                            .map(|(_, _, reason)| format!(" (known: {reason})"))
                            .unwrap_or_default()
                    )
                    .unwrap();
                    if known.is_none() {
                        unexpected.push(format!("{} {resource}", case.name));
                    }
                }
            }
        }
    }
    let summary = format!(
        "agreement {agreed}/{total} ({} cases in {} s)",
        selected.len(),
        started.elapsed().as_secs()
    );
    eprintln!("{report}\n{summary}");
    // For CI's log (.ci/run prints it): the figure and every disagreement.
    let _ = std::fs::write(
        repo().join("target/differential.txt"),
        format!("{report}{summary}\n"),
    );
    assert!(
        cases.len() >= 42,
        "the corpus shrank: {} cases",
        cases.len()
    );
    assert!(
        unexpected.is_empty(),
        "lab and Kyverno disagree on {unexpected:?}:\n{report}"
    );
}
