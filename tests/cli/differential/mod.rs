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

mod cases;
mod verdict;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::peers::{Cluster, cluster, write};
use super::{lab, repo};
use cases::{Case, ch14_cases, corpus};
use verdict::{
    Created, Verdict, get_policy, id, lab_decisions, lab_verdict, real_autogen, real_reports,
    real_verdict, reports_agree, text,
};

/// Disagreements we cannot remove, by case and resource, with the reason (also in the README).
const KNOWN: &[(&str, &str, &str)] = &[];

/// How an outcome starts when `lab admit` answered "undecided": neither agreement nor
/// disagreement, counted on its own with what Kyverno answered.
const UNDECIDED: &str = "undecided offline; ";

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
    c.wait_for_default_service_account(name);
}

fn wait_ready(c: &Cluster, policy: &Value) -> Result<(), String> {
    let kind = policy["kind"].as_str().unwrap_or("");
    let name = policy["metadata"]["name"].as_str().unwrap_or("");
    let mut args = get_policy(policy);
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
                verdict if verdict.untouched() => break,
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
    let (lab, lab_autogen) = match lab_decisions(dir, &policy_files, &manifest) {
        Ok(answer) => answer,
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
    // Each policy's auto-generated rules, as its status lists them, are compared too.
    let mut autogen_outcomes = Vec::new();
    for p in &case.policies {
        let name = p["metadata"]["name"].as_str().unwrap_or("");
        let key = match p["metadata"]["namespace"].as_str() {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_owned(),
        };
        let ours = lab_autogen.get(&key).cloned().unwrap_or_default();
        let outcome = match real_autogen(c, p) {
            Ok(real) if real == ours => Ok(()),
            Ok(real) => Err(format!(
                "Kyverno's status.autogen: {real:?}\nlab admit's autogen: {ours:?}"
            )),
            Err(why) => Err(why),
        };
        autogen_outcomes.push((format!("autogen of {key}"), outcome));
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
        if decision["verdict"] == "undecided" {
            let real = real_verdict(c, resource);
            let kyverno = if matches!(real, Verdict::Admitted { .. }) {
                "admitted"
            } else {
                "denied"
            };
            outcomes.insert(
                rid,
                Err(format!(
                    "{UNDECIDED}Kyverno {kyverno} it; lab: {}",
                    decision["undecided"]
                )),
            );
            continue;
        }
        let ours = lab_verdict(resource, decision);
        // A policy's Ready condition records no generation: the admission controller's policy
        // cache may lag it by a moment, so an answer with no trace of Kyverno is asked again
        // (for up to 10 s) before it counts as a disagreement.
        let mut real = real_verdict(c, resource);
        let deadline = Instant::now() + Duration::from_secs(10);
        while real != ours && real.untouched() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(300));
            real = real_verdict(c, resource);
        }
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
        .chain(autogen_outcomes)
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
    let mut undecided = Vec::new();
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
                Err(why) if why.starts_with(UNDECIDED) => {
                    total -= 1;
                    undecided.push(format!(
                        "{} {resource}: {}",
                        case.name,
                        &why[UNDECIDED.len()..]
                    ));
                }
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
    for line in &undecided {
        writeln!(report, "UNDECIDED {line}").unwrap();
    }
    let summary = format!(
        "agreement {agreed}/{total}, undecided offline {} ({} cases in {} s)",
        undecided.len(),
        selected.len(),
        started.elapsed().as_secs()
    );
    eprintln!("{report}\n{summary}");
    // For CI's log (.ci/run prints it): the figure and every disagreement.
    // The checkout's target/ folder, even when CARGO_TARGET_DIR puts cargo's elsewhere.
    let _ = std::fs::create_dir_all(repo().join("target"));
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
    // What the course teaches is always decided offline.
    assert!(
        !undecided.iter().any(|u| u.starts_with("ch14-")),
        "ch14's own cases are undecided offline:\n{report}"
    );
}
