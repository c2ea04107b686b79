//! `lab start`, `check`, `enforce`, `audit`, `status`, `stop` and `rehearse` on the loopback
//! cluster: the real kube-apiserver, Kyverno v1.19's admission and reports controllers, and a
//! real registry; the learner's moves made with the real kubectl, crane and cosign. Every live
//! check is seen failing and passing, and the guardrail tampered with in each way the chapter
//! names.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::MutexGuard;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use super::peers::{Cluster, lab_cluster, peers_bin};
use super::{copy_course, lab, output, repo};

static REPOSITORIES: AtomicUsize = AtomicUsize::new(0);

/// A learner's working folder with a fresh cosign key pair, on the lab cluster.
struct Learner {
    _turn: MutexGuard<'static, ()>,
    cluster: &'static Cluster,
    dir: tempfile::TempDir,
    course: PathBuf,
    /// `<registry>/<path>`, unique to this test, so no test sees another's signatures.
    registry: String,
    /// The kubeconfig `lab` is given.
    kubeconfig: PathBuf,
    /// Folders put first on `lab`'s PATH, and more environment.
    env: Vec<(String, String)>,
    path_first: Option<PathBuf>,
}

impl Learner {
    fn new() -> Learner {
        Self::with_course(repo())
    }

    fn with_course(course: PathBuf) -> Learner {
        let (turn, cluster) = lab_cluster();
        let dir = tempfile::tempdir().unwrap();
        let keygen = std::process::Command::new(peers_bin().join("cosign"))
            .arg("generate-key-pair")
            .env("COSIGN_PASSWORD", "")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(keygen.status.success(), "{keygen:?}");
        let n = REPOSITORIES.fetch_add(1, Ordering::SeqCst);
        let registry = format!("{}/lab-{}-{n}", cluster.registry, std::process::id());
        Learner {
            _turn: turn,
            cluster,
            dir,
            course,
            registry,
            kubeconfig: cluster.kubeconfig.clone(),
            env: Vec::new(),
            path_first: None,
        }
    }

    /// PATH with the peers (kubectl, cosign, crane) first, and the stand-ins before them.
    fn path_with_peers(&self) -> String {
        let mut path = format!(
            "{}:{}",
            peers_bin().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        if let Some(first) = &self.path_first {
            path = format!("{}:{path}", first.display());
        }
        path
    }

    fn lab(&self, args: &[&str]) -> (i32, String, String) {
        let path = self.path_with_peers();
        output(
            lab(self.dir.path())
                .arg("--course")
                .arg(&self.course)
                .env("KUBECONFIG", &self.kubeconfig)
                .env("PATH", path)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .args(args),
        )
    }

    /// Puts the stand-ins for docker, kind and helm first on PATH, with a kubeconfig of the
    /// learner's own (the stand-in kind adds its context there). Returns the stand-ins' state
    /// folder and the log of their calls.
    fn stand_ins(&mut self) -> (PathBuf, PathBuf) {
        let state = self.dir.path().join("fake-state");
        std::fs::create_dir(&state).unwrap();
        let log = self.dir.path().join("fake.log");
        let kubeconfig = self.dir.path().join("kubeconfig");
        std::fs::copy(&self.cluster.kubeconfig, &kubeconfig).unwrap();
        self.kubeconfig = kubeconfig;
        self.path_first = Some(repo().join("tests/fixtures/fake-tools"));
        self.env = vec![
            ("FAKE_STATE".into(), state.display().to_string()),
            ("FAKE_LOG".into(), log.display().to_string()),
            ("KUBECONFIG".into(), self.kubeconfig.display().to_string()),
        ];
        (state, log)
    }

    fn start_args(&self) -> Vec<String> {
        let layout = repo().join("labs/ch14/tests/images/demo");
        vec![
            "--context".into(),
            "courselab-peers".into(),
            "--kyverno".into(),
            "existing".into(),
            "--set".into(),
            format!("image_registry={}", self.registry),
            "--set".into(),
            format!("push_registry={}", self.registry),
            "--base-image-layout".into(),
            layout.display().to_string(),
            "--timeout".into(),
            "90".into(),
        ]
    }

    fn start(&self) -> String {
        let mut args = vec!["start".to_owned(), "ch14".into()];
        args.extend(self.start_args());
        if self.path_first.is_some() {
            // The kind path: no --context.
            args.drain(2..4);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = self.lab(&args);
        assert_eq!(code, 0, "{stdout}{stderr}");
        stdout
    }

    /// Each check's status (`pass`, `fail`, `error`), and the whole JSON.
    fn check(&self, step: Option<&str>, wait: &str) -> (BTreeMap<String, String>, Value) {
        let mut args = vec!["check", "--json", "--wait", wait];
        if let Some(step) = step {
            args.extend(["--step", step]);
        }
        let (code, stdout, stderr) = self.lab(&args);
        assert!(matches!(code, 0 | 1), "{stdout}{stderr}");
        let doc: Value = serde_json::from_str(&stdout).unwrap();
        let statuses = doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["check"].as_str().unwrap().to_owned(),
                    r["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            code == 0,
            doc["failed"] == 0 && doc["errors"] == 0,
            "{stdout}"
        );
        (statuses, doc)
    }

    fn message(doc: &Value, check: &str) -> String {
        doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["check"] == check)
            .map(|r| r["message"].as_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    /// Runs a step's solution as a stuck learner would (`lab solve --run`).
    fn solve(&self, step: &str) {
        let (code, stdout, stderr) = self.lab(&["solve", "--step", step, "--run"]);
        assert_eq!(code, 0, "{stdout}{stderr}");
    }

    fn kubectl(&self, args: &[&str]) -> String {
        self.cluster.kubectl_ok(args)
    }

    fn stop(&self) {
        let (code, stdout, stderr) = self.lab(&["stop", "--delete"]);
        assert_eq!(code, 0, "{stdout}{stderr}");
    }
}

impl Drop for Learner {
    /// A test that failed half-way leaves the next one a clean cluster.
    fn drop(&mut self) {
        if self.dir.path().join(".lab/ch14/state.json").exists() {
            let _ = self.lab(&["stop", "--delete"]);
        }
        // The stand-in docker's registry "container" is a process of its own.
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("fake-state/registry.pid")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// Hides what changes from run to run: digests, the registry's port and path, timings.
fn redact(text: &str, learner: &Learner) -> String {
    // What the preflight says about the learner's tools depends on this machine's PATH.
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("  doctor "))
        .map(|l| format!("{l}\n"))
        .collect();
    let text = text.replace(&learner.registry, "<registry>");
    let digest = regex::Regex::new("sha256:[0-9a-f]{64}").unwrap();
    let seconds = regex::Regex::new(r"\d+\.\d s").unwrap();
    let text = digest.replace_all(&text, "sha256:<digest>");
    seconds.replace_all(&text, "<t> s").into_owned()
}

fn all(statuses: &BTreeMap<String, String>, status: &str) -> Vec<String> {
    statuses
        .iter()
        .filter(|(_, s)| *s == status)
        .map(|(c, _)| c.clone())
        .collect()
}

#[test]
fn start_resumes_without_undoing_the_learners_work_and_stop_removes_only_the_labs() {
    let learner = Learner::new();
    let first = learner.start();
    insta::assert_snapshot!("lab_start_first", redact(&first, &learner));
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(learner.dir.path().join(".lab/ch14/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["mode"], "Audit");
    assert_eq!(
        state["done"],
        serde_json::json!(["kyverno", "registry", "namespaces", "policies", "workloads"])
    );

    // Before any work, only the invariant that `lab start` set holds.
    let (statuses, doc) = learner.check(None, "0");
    assert_eq!(all(&statuses, "pass"), ["policies-in-audit"], "{doc:#}");
    assert_eq!(all(&statuses, "error"), Vec::<String>::new(), "{doc:#}");
    assert!(Learner::message(&doc, "deployment-pinned").contains("names images by tag"));
    assert!(Learner::message(&doc, "image-signed").contains("no signatures found"));
    assert!(Learner::message(&doc, "unsigned-denied").contains("was admitted"));
    assert!(Learner::message(&doc, "guardrail-intact").contains("not Enforce"));
    assert!(Learner::message(&doc, "quiz-passed").contains("not been taken"));
    // A report check names what it looked for.
    assert!(
        Learner::message(&doc, "audit-report-fail").contains(
            "has a result for verify-signed-images/verify-signature about Pod workstation-hotfix"
        ),
        "{doc:#}"
    );
    assert!(
        Learner::message(&doc, "promoted-report-pass").contains(&format!(
            "about a resource running {}/demo:1.4.2-ci",
            learner.registry
        )),
        "{doc:#}"
    );

    // The learner pins the digest; a second start must keep it and resume fast.
    learner.solve("pin-digest");
    let second = learner.start();
    insta::assert_snapshot!("lab_start_resumed", redact(&second, &learner));
    let image = learner.kubectl(&[
        "-n",
        "develop",
        "get",
        "deployment",
        "demo",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert!(
        image.contains("@sha256:"),
        "the second start reverted the learner's image: {image}"
    );
    let (statuses, _) = learner.check(Some("pin-digest"), "30");
    assert_eq!(all(&statuses, "pass").len(), 2, "{statuses:?}");

    // Enforce and back, each proven by the probe.
    let (code, stdout, stderr) = learner.lab(&["enforce"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("lab_enforce", stdout);
    let (code, stdout, stderr) = learner.lab(&["audit", "ch14"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("verify-signed-images: Enforce -> Audit"),
        "{stdout}"
    );
    assert!(
        stdout.contains("a dry run of the unsigned probe Pod is admitted"),
        "{stdout}"
    );

    let (code, status, _) = learner.lab(&["status"]);
    assert_eq!(code, 0, "{status}");
    assert!(
        status.contains("ClusterPolicy verify-signed-images: Audit, Ready"),
        "{status}"
    );

    // An object that lost the lab's label is not the lab's any more: stop leaves it.
    learner.kubectl(&[
        "-n",
        "develop",
        "label",
        "deployment",
        "demo",
        "courselab.dev/chapter-",
    ]);
    std::fs::write(learner.dir.path().join("notes.md"), "mine").unwrap();
    let (code, stdout, stderr) = learner.lab(&["stop"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("Deployment develop/demo: left alone"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ClusterPolicy verify-signed-images: deleted"),
        "{stdout}"
    );
    assert!(stdout.contains("Namespace develop: deleted"), "{stdout}");
    let policies = learner.kubectl(&["get", "clusterpolicies", "-o", "name"]);
    assert_eq!(policies, "");
    assert_eq!(
        std::fs::read_to_string(learner.dir.path().join("notes.md")).unwrap(),
        "mine"
    );
    assert!(learner.dir.path().join(".lab/ch14/state.json").exists());
    learner.stop();
    assert!(!learner.dir.path().join(".lab/ch14/state.json").exists());
}

#[test]
fn every_way_of_switching_the_guardrail_off_is_caught_and_enforce_restores_it() {
    let learner = Learner::new();
    learner.start();
    let (code, _, stderr) = learner.lab(&["enforce"]);
    assert_eq!(code, 0, "{stderr}");
    let guardrail = |expect: &str| {
        let (statuses, doc) = learner.check(Some("remediate"), "0");
        let message = Learner::message(&doc, "guardrail-intact");
        assert_eq!(
            statuses["guardrail-intact"],
            if expect.is_empty() { "pass" } else { "fail" },
            "{message}"
        );
        assert!(
            message.contains(expect),
            "{message:?} does not say {expect:?}"
        );
    };
    guardrail("");

    let tamperings: [(&str, &[&str], &str); 4] = [
        (
            "an exclude",
            &[
                "patch",
                "clusterpolicy",
                "verify-signed-images",
                "--type=json",
                "-p",
                r#"[{"op":"add","path":"/spec/rules/0/exclude","value":{"any":[{"resources":{"namespaces":["develop"]}}]}}]"#,
            ],
            "spec.rules[0].exclude: added",
        ),
        (
            "failurePolicy Ignore",
            &[
                "patch",
                "clusterpolicy",
                "require-sbom-attestation",
                "--type=merge",
                "-p",
                r#"{"spec":{"failurePolicy":"Ignore"}}"#,
            ],
            "spec.failurePolicy: added (\"Ignore\")",
        ),
        (
            "back to Audit",
            &[
                "patch",
                "clusterpolicy",
                "verify-signed-images",
                "--type=json",
                "-p",
                // Kyverno refuses Audit with mutateDigest on, so a learner turns both.
                r#"[{"op":"replace","path":"/spec/rules/0/verifyImages/0/failureAction","value":"Audit"},
                 {"op":"replace","path":"/spec/rules/0/verifyImages/0/mutateDigest","value":false}]"#,
            ],
            "policy verify-signed-images is in Audit, not Enforce",
        ),
        (
            "deleted",
            &["delete", "clusterpolicy", "require-sbom-attestation"],
            "policy require-sbom-attestation was deleted",
        ),
    ];
    for (what, kubectl, expect) in tamperings {
        learner.kubectl(kubectl);
        guardrail(expect);
        let (code, stdout, stderr) = learner.lab(&["enforce"]);
        assert_eq!(code, 0, "restoring after {what}: {stdout}{stderr}");
        guardrail("");
    }

    // A PolicyException for the namespace is the guardrail switched off with extra steps.
    let exception = serde_json::json!({
        "apiVersion": "kyverno.io/v2", "kind": "PolicyException",
        "metadata": {"name": "urgent-hotfix", "namespace": "develop"},
        "spec": {
            "exceptions": [{"policyName": "verify-signed-images", "ruleNames": ["verify-signature"]}],
            "match": {"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["develop"]}}]}
        }
    });
    let file = learner.dir.path().join("exception.json");
    std::fs::write(&file, exception.to_string()).unwrap();
    learner.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    guardrail("PolicyException develop/urgent-hotfix exempts resources from verify-signed-images");
    learner.kubectl(&[
        "-n",
        "develop",
        "delete",
        "policyexception",
        "urgent-hotfix",
    ]);
    guardrail("");

    // A new key pair: a second start renders the pack with the new public key, in the mode
    // the pack is in (Enforce), and the guardrail holds with it.
    for f in ["cosign.key", "cosign.pub"] {
        std::fs::remove_file(learner.dir.path().join(f)).unwrap();
    }
    let keygen = std::process::Command::new(peers_bin().join("cosign"))
        .arg("generate-key-pair")
        .env("COSIGN_PASSWORD", "")
        .current_dir(learner.dir.path())
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let again = learner.start();
    assert!(
        again.contains("verify-signed-images restored to the lab's pack: spec.rules[0].verifyImages[0].attestors[0].entries[0].keys.publicKeys:"),
        "{again}"
    );
    assert!(again.contains("Ready in Enforce"), "{again}");
    guardrail("");
    learner.stop();
}

#[test]
fn rehearsal_of_ch14_passes_on_the_real_cluster_and_writes_junit() {
    let learner = Learner::new();
    let mut args = vec![
        "rehearse".to_owned(),
        "ch14".into(),
        "--format".into(),
        "junit".into(),
    ];
    args.extend(learner.start_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = learner.lab(&args);
    // For CI's log, in the checkout's target/ even when CARGO_TARGET_DIR is elsewhere.
    std::fs::create_dir_all(repo().join("target")).unwrap();
    std::fs::write(repo().join("target/rehearsal-ch14.xml"), &stdout).unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    let doc = roxmltree::Document::parse(&stdout).unwrap();
    let root = doc.root_element();
    assert_eq!(root.attribute("failures"), Some("0"), "{stdout}");
    let suites: Vec<&str> = root
        .children()
        .filter(|n| n.is_element())
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(
        suites,
        [
            "ch14.incident-hook",
            "ch14.pin-digest",
            "ch14.sbom-sign-attest",
            "ch14.verify-locally",
            "ch14.audit-rollout",
            "ch14.enforce",
            "ch14.remediate",
            "ch14.quiz"
        ]
    );
    let passed_after = doc
        .descendants()
        .filter(|n| {
            n.attribute("name")
                .is_some_and(|a| a.ends_with("passes after the solution"))
        })
        .filter(|n| !n.children().any(|c| c.is_element()))
        .count();
    // 14 after the steps' solutions, and quiz-passed after the answer key's attempt.
    assert_eq!(passed_after, 15, "{stdout}");
    // Nothing is left behind.
    assert_eq!(
        learner.kubectl(&["get", "clusterpolicies", "-o", "name"]),
        ""
    );
}

#[test]
fn a_check_that_passes_before_its_solution_is_reported_broken() {
    let course = tempfile::tempdir().unwrap();
    copy_course(course.path());
    super::edit(
        course.path(),
        "labs/ch14/lab.yaml",
        "        title: Both policies still enforce on develop, with no exclusion or exception\n        invariant: true\n",
        "        title: Both policies still enforce on develop, with no exclusion or exception\n",
    );
    let learner = Learner::with_course(course.path().to_owned());
    let mut args = vec!["rehearse".to_owned(), "ch14".into()];
    args.extend(learner.start_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = learner.lab(&args);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("guardrail-intact passes before the solution: a broken check"),
        "{stdout}"
    );
    assert!(
        stdout.contains("7 step(s) rehearsed, 1 failed, 0 skipped"),
        "{stdout}"
    );
}

// ch14's audit-report-fail passed as soon as its step opened, on the report of the CI Pod step
// 2 rolled out; the rehearsal missed it because its steps ran before Kyverno wrote that report.
#[test]
fn a_report_check_that_reads_an_earlier_steps_pod_is_caught_by_the_rehearsal() {
    let course = tempfile::tempdir().unwrap();
    copy_course(course.path());
    // The check as it was: no resource named.
    super::edit(
        course.path(),
        "labs/ch14/lab.yaml",
        "            result: fail\n            resource:\n              kind: Pod\n              name: workstation-hotfix\n",
        "            result: fail\n",
    );
    let learner = Learner::with_course(course.path().to_owned());
    let mut args = vec!["rehearse".to_owned(), "ch14".into()];
    args.extend(learner.start_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = learner.lab(&args);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("audit-report-fail passes before the solution: a broken check (Pod demo-"),
        "{stdout}"
    );
    assert!(
        stdout.contains("waited ")
            && stdout.contains(" s for Kyverno's reports of the Pods admitted so far"),
        "{stdout}"
    );
}

#[test]
fn without_a_context_start_provisions_kind_through_the_seam_and_stop_delete_removes_it() {
    // docker and kind are stand-ins that answer in the real tools' formats and log each call;
    // `kind create cluster` points its context at the loopback cluster, so everything after
    // provisioning (the KEP-1755 ConfigMap, the pack, the probe) runs against the real one.
    let course = tempfile::tempdir().unwrap();
    copy_course(course.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    super::edit(
        course.path(),
        "labs/ch14/lab.yaml",
        "host_port: 5001",
        &format!("host_port: {port}"),
    );
    let mut learner = Learner::with_course(course.path().to_owned());
    let (state, log) = learner.stand_ins();
    let calls = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        std::fs::remove_file(&log).ok();
        text.replace(&port.to_string(), "<port>")
    };

    let first = learner.start();
    assert!(
        first.contains("registry   kind-registry on 127.0.0.1:"),
        "{first}"
    );
    assert!(
        first.contains("kind       cluster courselab-ch14: created"),
        "{first}"
    );
    assert!(
        first.contains("ConfigMap kube-public/local-registry-hosting applied"),
        "{first}"
    );
    insta::assert_snapshot!("kind_path_first_start_calls", calls());
    let config = std::fs::read_to_string(state.join("kind-config.yaml")).unwrap();
    assert!(config.contains("kindest/node:v1.35.8@sha256:"), "{config}");
    let hosting = learner.kubectl(&[
        "-n",
        "kube-public",
        "get",
        "configmap",
        "local-registry-hosting",
        "-o",
        "jsonpath={.data.localRegistryHosting\\.v1}",
    ]);
    assert_eq!(
        hosting,
        format!(
            "host: \"localhost:{port}\"\nhostFromClusterNetwork: \"kind-registry:5000\"\nhostFromContainerRuntime: \"kind-registry:5000\"\nhelp: \"https://kind.sigs.k8s.io/docs/user/local-registry/\"\n"
        )
    );
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(learner.dir.path().join(".lab/ch14/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["kind_cluster"], "courselab-ch14");
    assert_eq!(saved["registry_container"], "kind-registry");
    assert_eq!(saved["context"], "kind-courselab-ch14");
    // On the kind cluster `lab start` made, the registry's two names are worth a hint.
    let (_, hint, _) = learner.lab(&["hint", "--step", "pin-digest"]);
    assert!(hint.starts_with("Hint 1 of 2 for `pin-digest`:"), "{hint}");
    let (_, hint, _) = learner.lab(&["hint", "--step", "pin-digest"]);
    assert!(hint.contains("both are the same registry"), "{hint}");

    // A second start creates nothing.
    learner.start();
    let second = calls();
    assert!(
        !second.contains("docker run") && !second.contains("kind create"),
        "{second}"
    );

    // Stop pauses the containers; start brings them back.
    let (code, stdout, stderr) = learner.lab(&["stop"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let stopped = calls();
    assert!(
        stopped.contains("docker stop courselab-ch14-control-plane\n"),
        "{stopped}"
    );
    assert!(stopped.contains("docker stop kind-registry\n"), "{stopped}");
    let again = learner.start();
    assert!(
        again.contains("kind-registry on 127.0.0.1:") && again.contains(": restarted"),
        "{again}"
    );
    assert!(calls().contains("docker start courselab-ch14-control-plane\n"));

    // Delete removes the cluster and the lab's registry, and forgets the lab.
    let (code, stdout, stderr) = learner.lab(&["stop", "--delete"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    insta::assert_snapshot!("kind_path_delete_calls", calls());
    assert!(!learner.dir.path().join(".lab/ch14/state.json").exists());
    // The stand-in deleted no real objects: remove what the lab put into the loopback cluster.
    learner.kubectl(&[
        "delete",
        "clusterpolicies",
        "-l",
        "courselab.dev/chapter=ch14",
    ]);
    learner.kubectl(&["delete", "namespace", "develop"]);
    learner.kubectl(&[
        "-n",
        "kube-public",
        "delete",
        "configmap",
        "local-registry-hosting",
    ]);
}

#[test]
fn start_refuses_before_creating_anything_when_docker_is_down() {
    let mut learner = Learner::new();
    let bin = learner.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    // docker's real answer when the daemon is not running.
    std::fs::write(
        bin.join("docker"),
        "#!/bin/sh\nif [ \"$1\" = version ] && [ \"$3\" = '{{.Server.Version}}' ]; then\n  echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1\nfi\necho 27.3.1\n",
    )
    .unwrap();
    std::fs::copy(
        repo().join("tests/fixtures/fake-tools/kind"),
        bin.join("kind"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("tests/fixtures/fake-tools/syft"),
        bin.join("syft"),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("docker"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    learner.path_first = Some(bin);
    learner.env = vec![
        ("FAKE_STATE".into(), "/nonexistent".into()),
        ("FAKE_LOG".into(), "/dev/null".into()),
    ];
    let mut args = vec!["start".to_owned(), "ch14".into()];
    args.extend(learner.start_args().into_iter().skip(2));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = learner.lab(&args);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(
        stderr.contains("PROBLEM  Docker engine: Cannot connect to the Docker daemon"),
        "{stderr}"
    );
    assert!(stderr.contains("fix: start Docker"), "{stderr}");
    assert!(stderr.contains("before anything is created"), "{stderr}");
    assert!(
        !learner.dir.path().join(".lab").exists(),
        "a state file was written"
    );
}

#[test]
fn a_namespace_or_policy_that_is_not_the_labs_is_never_taken_over() {
    let learner = Learner::new();
    // The learner's own `develop`: the lab works in it, and leaves it.
    learner.kubectl(&["create", "namespace", "develop"]);
    learner.cluster.wait_for_default_service_account("develop");
    let started = learner.start();
    assert!(
        started.contains("develop exists and is not the lab's: used as it is"),
        "{started}"
    );
    let (code, stdout, stderr) = learner.lab(&["stop", "--delete"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("Namespace develop"), "{stdout}");
    let labels = learner.kubectl(&[
        "get",
        "namespace",
        "develop",
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    assert!(!labels.contains("courselab.dev/chapter"), "{labels}");
    learner.kubectl(&["delete", "namespace", "develop"]);

    // Somebody's policy of the same name: start stops and says so, and changes nothing.
    let (code, rendered, stderr) = learner.lab(&[
        "render",
        "ch14",
        "policies/keyed/verify-images.yaml",
        "--set",
        &format!("image_registry={}", learner.registry),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let file = learner.dir.path().join("theirs.yaml");
    std::fs::write(&file, rendered).unwrap();
    learner.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    let mut args = vec!["start".to_owned(), "ch14".into()];
    args.extend(learner.start_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = learner.lab(&args);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("has a ClusterPolicy `verify-signed-images` that is not the lab's"),
        "{stderr}"
    );
    let labels = learner.kubectl(&[
        "get",
        "clusterpolicy",
        "verify-signed-images",
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    assert!(!labels.contains("courselab.dev/chapter"), "{labels}");
    assert!(stderr.contains("nothing was created"), "{stderr}");
    assert!(
        !learner.dir.path().join(".lab/ch14/state.json").exists(),
        "a state file was written"
    );
    learner.kubectl(&["delete", "clusterpolicy", "verify-signed-images"]);
}

#[test]
fn ctrl_c_during_start_exits_130_and_the_next_start_resumes() {
    use std::io::{BufRead, BufReader};
    let learner = Learner::new();
    // A `develop` held in Terminating by a finalizer: start waits for it, after the registry
    // phase is recorded, and that is where it is interrupted.
    let held = learner.dir.path().join("held.json");
    let namespace = serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "develop", "finalizers": ["courselab.dev/test-hold"]}});
    std::fs::write(&held, namespace.to_string()).unwrap();
    learner.kubectl(&["apply", "-f", held.to_str().unwrap()]);
    learner.kubectl(&["delete", "namespace", "develop", "--wait=false"]);
    let mut args = vec![
        "--color=never".to_owned(),
        "--course".into(),
        repo().display().to_string(),
        "start".into(),
        "ch14".into(),
    ];
    args.extend(learner.start_args());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(&args)
        .current_dir(learner.dir.path())
        .env("KUBECONFIG", &learner.kubeconfig)
        .env("PATH", learner.path_with_peers())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line
            .unwrap()
            .contains("develop is being deleted; waiting until it is gone")
        {
            break;
        }
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted; what was done so far is recorded"),
        "{stderr}"
    );
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(learner.dir.path().join(".lab/ch14/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["done"], serde_json::json!(["kyverno", "registry"]));
    learner.kubectl(&[
        "patch",
        "namespace",
        "develop",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ]);
    let resumed = learner.start();
    assert!(
        resumed.contains("lab ch14: resuming on context courselab-peers"),
        "{resumed}"
    );
    assert!(resumed.contains("lab ch14 is ready (Audit"), "{resumed}");
    learner.stop();
}

// The walkthrough at a terminal on the real cluster, entered from `lab start`: the kube-rs
// watches see a change to the Deployment the checks read, and the file watch sees the evidence
// the step's solution writes.
#[test]
fn the_walkthrough_rechecks_when_the_cluster_or_the_evidence_changes() {
    use super::walk_pty::{key, raw};
    let learner = Learner::new();
    learner.start();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lab"));
    cmd.current_dir(learner.dir.path())
        .env_remove("LAB_COURSE")
        .env_remove("CI")
        .env("TERM", "xterm")
        .env("COLUMNS", "80")
        .env("KUBECONFIG", &learner.kubeconfig)
        .env("PATH", learner.path_with_peers())
        .arg("--color=never")
        .arg("--course")
        .arg(&learner.course)
        .args(["start", "ch14"])
        .args(learner.start_args());
    let mut p = rexpect::session::spawn_with_options(
        cmd,
        rexpect::session::Options::default()
            .timeout_ms(Some(60_000))
            .strip_ansi_escape_codes(true),
    )
    .unwrap();
    // At a terminal, a (resumed) start goes on into the walkthrough.
    p.exp_string(&raw("lab ch14 is ready")).unwrap();
    p.exp_string(&raw("Step 1/8 · Find out what is really running"))
        .unwrap();
    p.exp_string(&raw("0 of 1 check(s) pass")).unwrap();
    // Give the watches their first listing before changing anything.
    std::thread::sleep(std::time::Duration::from_secs(2));
    learner.kubectl(&[
        "-n",
        "develop",
        "annotate",
        "deployment",
        "demo",
        "courselab.dev/test=watched",
        "--overwrite",
    ]);
    // The annotation moves no check: one line says the watch saw it.
    p.exp_string(&raw(
        "(deployments in develop changed: checking again; the checks say the same)",
    ))
    .unwrap();
    learner.solve("incident-hook");
    p.exp_string(&raw("(pod-image-ids.txt changed: checking again)"))
        .unwrap();
    p.exp_string(&raw("All 1 check(s) pass. Press n for the next step."))
        .unwrap();
    key(&mut p, "n");
    p.exp_string(&raw("Step 2/8 · Promote the CI build by digest"))
        .unwrap();
    key(&mut p, "q");
    p.exp_string(&raw("resumes at step `pin-digest`")).unwrap();
    p.exp_eof().unwrap();
}

// Steps 2 to 4 showed `demo@${DIGEST}`, a variable of step 2's shell: in a second terminal, or
// after a resume, the commands failed ("could not parse reference: .../demo@"). After `lab
// start --context` the step shows the digest `lab start` found, and its commands, pasted into
// a fresh shell, do the step; the kind-only paragraph is not shown on a `--context` lab.
#[test]
fn a_step_command_works_in_a_second_terminal_after_start_without_the_shell_variable() {
    let learner = Learner::new();
    learner.start();
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(learner.dir.path().join(".lab/ch14/state.json")).unwrap(),
    )
    .unwrap();
    let digest = state["digests"]["demo:1.4.2-ci"]
        .as_str()
        .unwrap()
        .to_owned();
    let crane = std::process::Command::new(peers_bin().join("crane"))
        .args(["digest", "--insecure"])
        .arg(format!("{}/demo:1.4.2-ci", learner.registry))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&crane.stdout).trim(), digest);

    learner.solve("incident-hook");
    let (code, screens, stderr) = learner.lab(&["walkthrough", "--yes", "--wait", "0"]);
    assert_eq!(code, 1, "{screens}{stderr}");
    let step = &screens[screens.find("Step 2/8").expect("step 2 is shown")..];
    assert!(!step.contains("Two names"), "{step}");
    let commands: String = step
        .lines()
        .take_while(|l| !l.starts_with("Done when"))
        .filter_map(|l| l.strip_prefix("  │ "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        commands.contains(&format!("app={}/demo@{digest}\n", learner.registry)),
        "{commands}"
    );
    // A second terminal: a new shell, no DIGEST, in the working folder.
    let pasted = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &commands])
        .current_dir(learner.dir.path())
        .env("KUBECONFIG", &learner.kubeconfig)
        .env("PATH", learner.path_with_peers())
        .env_remove("DIGEST")
        .output()
        .unwrap();
    assert!(pasted.status.success(), "{commands}\n{pasted:?}");
    let (statuses, doc) = learner.check(Some("pin-digest"), "30");
    assert_eq!(all(&statuses, "pass").len(), 2, "{doc:#}");

    let (_, hint, _) = learner.lab(&["hint", "--step", "pin-digest"]);
    assert!(hint.starts_with("Hint 1 of 1 for `pin-digest`:"), "{hint}");
    // The runbook, filled as the steps are: no lab value is left for the learner to fill.
    let (code, runbook, _) = learner.lab(&["runbook"]);
    assert_eq!(code, 0);
    let unfilled = regex::Regex::new(r"\$\{[a-z]").unwrap();
    assert!(!unfilled.is_match(&runbook), "{runbook}");
    assert!(runbook.contains(&format!("GOOD={digest}\n")), "{runbook}");
    learner.stop();
}

// `lab check` waited the whole --wait (30 s) whenever a check of a settling kind failed, and
// said nothing in a pipe, on a lab where nothing was going to change.
#[test]
fn lab_check_does_not_wait_when_nothing_is_settling() {
    use std::time::{Duration, Instant};
    let learner = Learner::new();
    learner.start();
    learner.kubectl(&[
        "-n",
        "develop",
        "rollout",
        "status",
        "deployment/demo",
        "--timeout=120s",
    ]);
    let timed = |args: &[&str]| {
        let started = Instant::now();
        let ran = learner.lab(args);
        (ran, started.elapsed())
    };
    // The workstation Pod, admitted just now in Audit: Kyverno's report on it is waited for,
    // and the wait is said, in a pipe too. (The step's other check, about the promoted digest's
    // Pods, fails: nothing was promoted.)
    let (code, pod, stderr) =
        learner.lab(&["render", "ch14", "manifests/workstation-hotfix-pod.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    let rendered = learner.dir.path().join("workstation-hotfix-pod.yaml");
    std::fs::write(&rendered, pod).unwrap();
    learner.kubectl(&["apply", "-f", rendered.to_str().unwrap()]);
    let ((code, stdout, stderr), took) = timed(&["check", "--step", "audit-rollout", "--json"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let audit = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "audit-report-fail")
        .unwrap();
    assert_eq!(audit["status"], "pass", "{doc:#}");
    assert!(
        stderr.contains("audit-report-fail: waiting up to ")
            && stderr.contains(" s for Kyverno's report on pod develop/workstation-hotfix"),
        "{stderr}"
    );
    let created = |what: &str| {
        learner.kubectl(&[
            "-n",
            "develop",
            "get",
            what,
            "-o",
            "jsonpath={.items[*].metadata.creationTimestamp}",
        ])
    };
    eprintln!(
        "the report came {:.1} s into the check; Pod created {}, its PolicyReport {}",
        took.as_secs_f64(),
        created("pods"),
        created("policyreports")
    );
    // Step `enforce` deletes the workstation Pod; so does this test, so that the Deployment's
    // Pods are all that run `app=demo` again.
    learner.kubectl(&["-n", "develop", "delete", "pod", "workstation-hotfix"]);

    // Settled (the Pod is older than Kyverno's report window): running-digest (the
    // workstation build runs) and policy-mode (policies-enforcing, in Audit) fail, and
    // nothing will change that, so nothing is waited for.
    std::thread::sleep(Duration::from_secs(12));
    let ((code, stdout, stderr), took) = timed(&["check", "--all"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(!stderr.contains("waiting"), "{stderr}");
    assert!(took < Duration::from_secs(10), "{took:?}: {stdout}");
    eprintln!(
        "lab check --all, settled and failing: {:.2} s",
        took.as_secs_f64()
    );

    // A rollout whose new Pod cannot pull its image goes nowhere: no wait.
    let missing = format!("{}/demo@sha256:{}", learner.registry, "0".repeat(64));
    learner.kubectl(&[
        "-n",
        "develop",
        "set",
        "image",
        "deployment/demo",
        &format!("app={missing}"),
    ]);
    let pulls_failed = || {
        learner
            .kubectl(&[
                "-n",
                "develop",
                "get",
                "pods",
                "-l",
                "app=demo",
                "-o",
                "jsonpath={.items[*].status.containerStatuses[*].state.waiting.reason}",
            ])
            .contains("ErrImagePull")
    };
    super::peers::wait_until(Duration::from_secs(60), "the pull to fail", pulls_failed);
    let ((code, stdout, stderr), took) = timed(&["check", "--step", "pin-digest"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(!stderr.contains("waiting"), "{stderr}");
    assert!(took < Duration::from_secs(10), "{took:?}: {stdout}");

    // The promoted digest, deployed without waiting: the check waits for the rollout if it
    // is still going, and passes.
    learner.solve("pin-digest");
    let (statuses, doc) = learner.check(Some("pin-digest"), "30");
    assert_eq!(all(&statuses, "pass").len(), 2, "{doc:#}");
    learner.stop();
}

// The walkthrough stayed at "0 of 2" after `cosign sign` and `cosign attest` until `c`: the
// registry was not watched. Now the tags the step's checks read are polled; no change, no event.
#[test]
fn the_walkthrough_rechecks_when_cosign_signs_or_attests_the_promoted_digest() {
    use super::walk_pty::{key, raw};
    let mut learner = Learner::new();
    learner.env.push(("COSIGN_PASSWORD".into(), String::new()));
    learner.start();
    for step in ["incident-hook", "pin-digest"] {
        learner.solve(step);
        let (code, stdout, stderr) = learner.lab(&["next"]);
        assert_eq!(code, 0, "{stdout}{stderr}");
    }
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lab"));
    cmd.current_dir(learner.dir.path())
        .env_remove("LAB_COURSE")
        .env_remove("CI")
        .env("TERM", "xterm")
        .env("COLUMNS", "80")
        .env("KUBECONFIG", &learner.kubeconfig)
        .env("PATH", learner.path_with_peers())
        .arg("--color=never")
        .arg("--course")
        .arg(&learner.course)
        .args(["walkthrough", "ch14"]);
    let mut p = rexpect::session::spawn_with_options(
        cmd,
        rexpect::session::Options::default()
            .timeout_ms(Some(60_000))
            .strip_ansi_escape_codes(true),
    )
    .unwrap();
    p.exp_string(&raw(
        "Step 3/8 · Generate the SBOM, then sign and attest the digest",
    ))
    .unwrap();
    p.exp_string(&raw("0 of 2 check(s) pass")).unwrap();
    // Several polls of an unchanged registry (every 2 s) pass without a word.
    std::thread::sleep(std::time::Duration::from_secs(6));
    let crane = std::process::Command::new(peers_bin().join("crane"))
        .args(["digest", "--insecure"])
        .arg(format!("{}/demo:1.4.2-ci", learner.registry))
        .output()
        .unwrap();
    assert!(crane.status.success(), "{crane:?}");
    let digest = String::from_utf8(crane.stdout).unwrap().trim().to_owned();
    let sign = std::process::Command::new(peers_bin().join("cosign"))
        .args([
            "sign",
            "--yes",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "--use-signing-config=false",
            "--new-bundle-format=false",
            "--allow-http-registry",
        ])
        .arg(format!("{}/demo@{digest}", learner.registry))
        .env("COSIGN_PASSWORD", "")
        .current_dir(learner.dir.path())
        .output()
        .unwrap();
    assert!(sign.status.success(), "{sign:?}");
    let quiet = p.exp_string(&raw(" changed: checking again)")).unwrap();
    assert!(
        !quiet.contains("changed"),
        "an event before the change: {quiet}"
    );
    let line = quiet.lines().last().unwrap_or_default();
    assert!(line.contains("(the signatures of "), "{quiet}");
    p.exp_string(&raw("1 of 2 check(s) pass")).unwrap();
    // The step's solution attests (and signs once more).
    learner.solve("sbom-sign-attest");
    p.exp_string(&raw("All 2 check(s) pass. Press n for the next step."))
        .unwrap();
    key(&mut p, "q");
    p.exp_string(&raw("resumes at step `sbom-sign-attest`"))
        .unwrap();
    p.exp_eof().unwrap();
    learner.stop();
}

/// The right answer to every question of the chapter quiz, from the course's answer key: the
/// quiz is graded, so it is only recorded, and `lab grade` judges it with the key.
fn quiz_answers() -> String {
    let key: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repo().join("quizzes/ch14.key.yaml")).unwrap(),
    )
    .unwrap();
    let answers: String = key["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let picked: Vec<&str> = a["correct"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o.as_str().unwrap())
                .collect();
            format!(
                "{}: [{}]\n",
                a["question"].as_str().unwrap(),
                picked.join(", ")
            )
        })
        .collect();
    assert!(!answers.is_empty(), "no answer in quizzes/ch14.key.yaml");
    answers
}

/// A learner who solved every step of ch14 on the real cluster submits: one file, sealed with
/// the key that signed the image, which the real cosign verifies offline and refuses with one
/// byte changed, and which lab's own reader agrees on. Nothing is written by a dry run, by a
/// second submit without --force, or when an evidence file holds a secret.
#[test]
fn a_solved_lab_submits_one_signed_file_that_the_real_cosign_verifies() {
    use courselab::submission::archive::{Limits, read, write};
    use courselab::submission::open::open_submission;
    use courselab::submission::statement::SEAL_FILE;
    let mut learner = Learner::new();
    learner.env.push(("COSIGN_PASSWORD".into(), String::new()));
    // The instructor issues ada's token; she starts the lab with it.
    let instructor = learner.dir.path().join("instructor");
    std::fs::create_dir(&instructor).unwrap();
    let keygen = std::process::Command::new(peers_bin().join("cosign"))
        .arg("generate-key-pair")
        .env("COSIGN_PASSWORD", "")
        .current_dir(&instructor)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    let (code, stdout, stderr) = learner.lab(&[
        "token",
        "issue",
        "--key",
        "instructor/cosign.key",
        "--learner",
        "ada",
        "--chapter",
        "ch14",
        "-o",
        "ada.token.json",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let mut start = vec!["start".to_owned(), "ch14".into()];
    start.extend(learner.start_args());
    start.extend(["--token".into(), "ada.token.json".into()]);
    let start: Vec<&str> = start.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = learner.lab(&start);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for step in [
        "incident-hook",
        "pin-digest",
        "sbom-sign-attest",
        "verify-locally",
        "audit-rollout",
        "enforce",
        "remediate",
    ] {
        learner.solve(step);
        let (code, stdout, stderr) = learner.lab(&["next"]);
        assert_eq!(code, 0, "{step}: {stdout}{stderr}");
        if step == "audit-rollout" {
            // Handed in before the Enforce step: graded below for what was done by then.
            let (code, stdout, stderr) =
                learner.lab(&["submit", "-o", "early/ada-before-enforce.tar.gz"]);
            assert_eq!(code, 0, "{stdout}{stderr}");
        }
    }
    let answers = learner.dir.path().join("answers.yaml");
    std::fs::write(&answers, quiz_answers()).unwrap();
    let (code, stdout, stderr) = learner.lab(&["quiz", "--answers", answers.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let file = learner.dir.path().join("ch14-ada.submission.tar.gz");

    let (code, stdout, stderr) = learner.lab(&["submit", "--dry-run"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for listed in [
        "progress.json",
        "cosign.pub",
        "cluster/world.json",
        "work/evidence/remediation.md",
        "work/evidence/pod-image-ids.txt",
        "token.json",
        "No file holds a secret. Nothing was written.",
    ] {
        assert!(stdout.contains(listed), "{listed}: {stdout}");
    }
    assert!(!file.exists(), "a dry run wrote {}", file.display());

    let (code, stdout, stderr) = learner.lab(&["submit"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("ch14-ada.submission.tar.gz"), "{stdout}");
    let (code, _, stderr) = learner.lab(&["submit", "--learner", "bob", "--dry-run"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("started with the token of ada"), "{stderr}");
    let bytes = std::fs::read(&file).unwrap();
    eprintln!("ch14's submission: {} bytes", bytes.len());
    let opened = open_submission(&bytes, Limits::default(), None).unwrap();
    assert_eq!(opened.tampering, []);
    let failing: Vec<_> = opened
        .statement
        .predicate
        .checks
        .iter()
        .filter(|c| c.status != courselab::engine::Status::Pass)
        .map(|c| (&c.check, &c.message))
        .collect();
    assert_eq!(failing, Vec::<(&String, &String)>::new());
    let image = opened
        .statement
        .predicate
        .image
        .as_ref()
        .expect("the promoted image");
    assert!(!image.layers_included);
    assert!(
        opened.files.contains_key("layout/index.json"),
        "{:?}",
        opened.files.keys()
    );
    let pinned = learner.kubectl(&[
        "-n",
        "develop",
        "get",
        "deployment",
        "demo",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert!(
        pinned.ends_with(&image.digest),
        "{pinned} vs {}",
        image.digest
    );
    let record = String::from_utf8(opened.files["progress.json"].clone()).unwrap();
    assert!(record.contains("\"event\": \"submitted\""), "{record}");

    // The real cosign verifies the sealed statement offline with the learner's public key; the
    // blob it is given is one of the statement's subjects.
    let unpacked = learner.dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let files = read(bytes.as_slice(), Limits::default()).unwrap();
    std::fs::write(unpacked.join("statement.sigstore.json"), &files[SEAL_FILE]).unwrap();
    std::fs::write(unpacked.join("progress.json"), &files["progress.json"]).unwrap();
    let cosign_verifies = |dir: &std::path::Path| {
        std::process::Command::new(peers_bin().join("cosign"))
            .args([
                "verify-blob-attestation",
                "--key",
                learner.dir.path().join("cosign.pub").to_str().unwrap(),
                "--bundle",
                "statement.sigstore.json",
                "--type",
                "https://courselab.dev/submission/v1",
                "--insecure-ignore-tlog",
                "progress.json",
            ])
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let verified = cosign_verifies(&unpacked);
    assert!(verified.status.success(), "{verified:?}");

    // One byte of the statement changed: cosign refuses it, and so does lab.
    let mut seal: Value = serde_json::from_slice(&files[SEAL_FILE]).unwrap();
    let payload = seal["dsseEnvelope"]["payload"].as_str().unwrap().to_owned();
    use base64::Engine as _;
    let mut statement = base64::engine::general_purpose::STANDARD
        .decode(&payload)
        .unwrap();
    let at = statement.iter().position(|b| *b == b'a').unwrap();
    statement[at] = b'b';
    seal["dsseEnvelope"]["payload"] =
        Value::String(base64::engine::general_purpose::STANDARD.encode(&statement));
    let changed = serde_json::to_vec(&seal).unwrap();
    std::fs::write(unpacked.join("statement.sigstore.json"), &changed).unwrap();
    let refused = cosign_verifies(&unpacked);
    assert!(!refused.status.success(), "{refused:?}");
    let mut tampered = files.clone();
    tampered.insert(SEAL_FILE.to_owned(), changed);
    let mut rewritten = Vec::new();
    write(&tampered, &mut rewritten).unwrap();
    assert!(open_submission(&rewritten, Limits::default(), None).is_err());

    // The instructor grades it offline: full marks, every check re-verified or recorded. Its
    // files sealed by another learner with his own key are flagged on both sides, and his
    // image signature does not verify with his key; a file whose statement was changed is
    // rejected; the class is still graded.
    let class = learner.dir.path().join("class");
    std::fs::create_dir(&class).unwrap();
    std::fs::copy(&file, class.join("ada.tar.gz")).unwrap();
    std::fs::write(class.join("mallory.tar.gz"), &rewritten).unwrap();
    // bob copies ada's files and seals them as his own, with his own key.
    let bob = learner.dir.path().join("bob");
    std::fs::create_dir(&bob).unwrap();
    let keygen = std::process::Command::new(peers_bin().join("cosign"))
        .arg("generate-key-pair")
        .env("COSIGN_PASSWORD", "")
        .current_dir(&bob)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    {
        use courselab::submission::pack::{Contents, pack};
        use courselab::submission::sealed::SigningKey;
        let bob_key =
            SigningKey::read(&std::fs::read(bob.join("cosign.key")).unwrap(), b"").unwrap();
        let mut predicate = opened.statement.predicate.clone();
        predicate.learner = "bob".into();
        let mut contents = Contents::default();
        for part in &predicate.files {
            let data = if part.name == "cosign.pub" {
                bob_key.public_pem().as_bytes().to_vec()
            } else {
                files[&part.name].clone()
            };
            contents.add(&part.name, part.role, data).unwrap();
        }
        let copied = pack(contents, predicate, &bob_key).unwrap();
        std::fs::write(class.join("bob.tar.gz"), copied).unwrap();
    }
    // ada seals her files as dan's with her own key: the roster knows dan's key is another.
    {
        use courselab::submission::pack::{Contents, pack};
        use courselab::submission::sealed::SigningKey;
        let ada_key = SigningKey::read(
            &std::fs::read(learner.dir.path().join("cosign.key")).unwrap(),
            b"",
        )
        .unwrap();
        let mut predicate = opened.statement.predicate.clone();
        predicate.learner = "dan".into();
        let mut contents = Contents::default();
        for part in &predicate.files {
            contents
                .add(&part.name, part.role, files[&part.name].clone())
                .unwrap();
        }
        std::fs::write(
            class.join("dan.tar.gz"),
            pack(contents, predicate, &ada_key).unwrap(),
        )
        .unwrap();
    }
    let roster = learner.dir.path().join("roster.csv");
    std::fs::write(
        &roster,
        "id,name,email,section,public_key\n\
         ada,Ada Lovelace,ada@example.edu,A1,cosign.pub\n\
         bob,Bob,bob@example.edu,A1,bob/cosign.pub\n\
         carol,Carol,,B2,\n\
         dan,Dan,,B2,instructor/cosign.pub\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = output(
        lab(&class)
            .arg("--course")
            .arg(&learner.course)
            .args(["grade", ".", "--json", "--roster"])
            .arg(&roster)
            .arg("--instructor-key")
            .arg(instructor.join("cosign.pub")),
    );
    eprintln!(
        "lab grade of 4 files (2 graded, 2 rejected) and a roster of 4: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let ada = &report["submissions"][0];
    assert_eq!(ada["learner"], "ada", "{report:#}");
    // Both sides of a copy are flagged; the instructor decides who copied whom.
    assert_eq!(ada["outcome"], "flagged", "{report:#}");
    let ada_flags: Vec<&str> = ada["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        ada_flags,
        [
            "copy: the same signature of the image, the same work/evidence/remediation.md as bob (./bob.tar.gz)"
        ],
        "{report:#}"
    );
    assert_eq!(ada["earned"], ada["points"], "{report:#}");
    assert!(ada["points"].as_u64().unwrap() > 0);
    let bases: Vec<&str> = ada["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["basis"].as_str().unwrap())
        .collect();
    assert!(
        bases.contains(&"reverified") && bases.contains(&"recorded"),
        "{bases:?}"
    );
    let bob = &report["submissions"][1];
    assert_eq!(bob["learner"], "bob", "{report:#}");
    assert_eq!(bob["outcome"], "flagged", "{report:#}");
    let flags = bob["flags"].to_string();
    assert!(
        flags.contains("the same work/evidence/remediation.md as ada (./ada.tar.gz)"),
        "{flags}"
    );
    assert!(
        flags.contains("image-signed passed when submitted but does not verify"),
        "{flags}"
    );
    assert!(
        flags.contains("a token issued to ada submitted as bob"),
        "{flags}"
    );
    assert!(
        bob["earned"].as_u64() < ada["earned"].as_u64(),
        "{report:#}"
    );
    assert_eq!(ada["section"], "A1", "{report:#}");
    let dan = &report["submissions"][2];
    assert_eq!(dan["learner"], "dan", "{report:#}");
    assert_eq!(dan["outcome"], "rejected", "{report:#}");
    assert!(
        dan["rejected"]
            .as_str()
            .unwrap()
            .starts_with("signed by a key that is not dan's"),
        "{report:#}"
    );
    assert_eq!(
        report["submissions"][3]["outcome"], "rejected",
        "{report:#}"
    );
    assert_eq!(report["submissions"][4]["learner"], "carol", "{report:#}");
    assert_eq!(report["submissions"][4]["outcome"], "missing", "{report:#}");
    assert_eq!(report["missing"], 1, "{report:#}");

    // The file handed in before the Enforce step scores what was done by then; the same file
    // with every result edited to a pass and sealed again by its own learner scores no more,
    // and each edited result is flagged.
    let early = learner.dir.path().join("early");
    let grade_early = || {
        let (code, stdout, stderr) = output(
            lab(&early)
                .arg("--course")
                .arg(&learner.course)
                .args(["grade", ".", "--json"]),
        );
        assert_eq!(code, 0, "{stdout}{stderr}");
        serde_json::from_str::<Value>(&stdout).unwrap()
    };
    let honest = grade_early();
    let before = &honest["submissions"][0];
    assert_eq!(before["outcome"], "graded", "{honest:#}");
    let criterion = |s: &Value, id: &str| {
        s["criteria"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| (c["earned"].as_u64().unwrap(), c["points"].as_u64().unwrap()))
            .unwrap()
    };
    let status = |s: &Value, id: &str| {
        s["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == id)
            .map(|c| c["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    for done in [
        "deployment-pinned",
        "image-signed",
        "sbom-attested",
        "policies-in-audit",
    ] {
        assert_eq!(status(before, done), "pass", "{done}: {honest:#}");
    }
    for not_yet in ["policies-enforcing", "unsigned-denied", "denial-evidence"] {
        assert_eq!(status(before, not_yet), "fail", "{not_yet}: {honest:#}");
    }
    let (enforce_earned, enforce_points) = criterion(before, "audit-and-enforce");
    assert!(enforce_earned < enforce_points, "{honest:#}");
    assert!(
        before["earned"].as_u64() < before["points"].as_u64(),
        "{honest:#}"
    );
    {
        use courselab::submission::pack::{Contents, pack};
        use courselab::submission::sealed::SigningKey;
        let early_file = early.join("ada-before-enforce.tar.gz");
        let early_bytes = std::fs::read(&early_file).unwrap();
        let early_opened = open_submission(&early_bytes, Limits::default(), None).unwrap();
        let early_files = read(early_bytes.as_slice(), Limits::default()).unwrap();
        let ada_key = SigningKey::read(
            &std::fs::read(learner.dir.path().join("cosign.key")).unwrap(),
            b"",
        )
        .unwrap();
        let mut predicate = early_opened.statement.predicate.clone();
        for check in &mut predicate.checks {
            check.status = courselab::engine::Status::Pass;
        }
        let mut contents = Contents::default();
        for part in &predicate.files {
            contents
                .add(&part.name, part.role, early_files[&part.name].clone())
                .unwrap();
        }
        std::fs::write(&early_file, pack(contents, predicate, &ada_key).unwrap()).unwrap();
    }
    let edited = grade_early();
    let after = &edited["submissions"][0];
    assert_eq!(after["outcome"], "flagged", "{edited:#}");
    assert_eq!(after["earned"], before["earned"], "{edited:#}");
    let flags = after["flags"].to_string();
    assert!(
        flags.contains(
            "policies-enforcing is stated as passed, but the file's record of the cluster shows otherwise"
        ),
        "{flags}"
    );

    // A second submit does not replace the first unless asked.
    let (code, _, stderr) = learner.lab(&["submit", "--learner", "ada"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");

    // A secret in an evidence file stops it, named by file and line, and nothing is written.
    let note = learner.dir.path().join("evidence/remediation.md");
    let mut text = std::fs::read_to_string(&note).unwrap();
    text.push_str(
        "kubeconfig token: eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJlMTIz\n",
    );
    std::fs::write(&note, &text).unwrap();
    let (code, stdout, stderr) = learner.lab(&["submit", "--learner", "ada", "--force"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let line = text.lines().count();
    assert!(
        stderr.contains(&format!("work/evidence/remediation.md:{line}: ")),
        "{stderr}"
    );
    assert!(!stderr.contains("eyJhbGci"), "{stderr}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bytes,
        "the first submission was touched"
    );
    learner.stop();
}

/// Removes what the stand-in helm put into the loopback cluster, however the test ends.
struct FakeKyverno<'a>(&'a Learner);

impl Drop for FakeKyverno<'_> {
    fn drop(&mut self) {
        let _ = self.0.lab(&["stop", "--delete"]);
        for args in [
            &[
                "-n",
                "kyverno",
                "delete",
                "deployments",
                "-l",
                "courselab.dev/test=fake-helm",
            ][..],
            &[
                "delete",
                "clusterpolicies",
                "-l",
                "courselab.dev/chapter=ch14",
            ],
            &["delete", "namespace", "develop", "--ignore-not-found"],
            &[
                "-n",
                "kube-public",
                "delete",
                "configmap",
                "local-registry-hosting",
                "--ignore-not-found",
            ],
        ] {
            let _ = std::process::Command::new(peers_bin().join("kubectl"))
                .env("KUBECONFIG", &self.0.kubeconfig)
                .args(args)
                .output();
        }
    }
}

#[test]
fn a_venue_bundle_starts_the_lab_with_no_network_first_from_the_venue_then_from_the_file() {
    // The bundle is made from loopback publishers signed by the real cosign; the learner's
    // machine has no network: docker, kind and helm are stand-ins that refuse to download
    // (the stand-in docker checks each archive as `docker load` does), and its registry
    // "container" is a real registry on the port the lab publishes it on.
    let publishers = super::bundle_create::publishers(&[], &[]);
    let (code, stdout, stderr) = publishers.create("ch14.bundle.tar");
    assert_eq!(code, 0, "{stdout}{stderr}");
    let bundle = publishers.dir.path().join("ch14.bundle.tar");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    super::edit(
        &publishers.course,
        "labs/ch14/lab.yaml",
        "host_port: 5001",
        &format!("host_port: {port}"),
    );
    let mut learner = Learner::with_course(publishers.course.clone());
    let (state, log) = learner.stand_ins();
    let _cleanup = FakeKyverno(&learner);
    let calls = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        std::fs::remove_file(&log).ok();
        let archives =
            regex::Regex::new(r"/\S*/\.lab/ch14/\.[a-z0-9.-]+-[A-Za-z0-9]+\.(tar|tgz)").unwrap();
        archives
            .replace_all(&text, "<working folder>/.lab/ch14/<scratch>.$1")
            .replace(&port, "<port>")
    };
    let start = |from: &[&str]| {
        let mut args = vec!["start", "ch14", "--yes", "--timeout", "90", "--set"];
        let image = format!("image_registry={}", learner.registry);
        let push = format!("push_registry={}", learner.registry);
        args.extend([image.as_str(), "--set", push.as_str()]);
        args.extend(from);
        let (code, stdout, stderr) = learner.lab(&args);
        assert_eq!(code, 0, "{stdout}{stderr}");
        stdout
    };

    // First from the venue: `lab bundle serve` on this machine stands for the room's server.
    let venue = super::bundle_create::Server::start(publishers.dir.path(), "ch14.bundle.tar", &[]);
    let first = start(&["--mirror", &venue.addr]);
    for line in [
        "docker     kind node image courselab.invalid/kindest/node:v1.35.8: loaded (linux/amd64",
        "docker     registry image courselab.invalid/library/registry:3: loaded (linux/amd64",
        "registry   kyverno/kyverno:v1.19.0 copied (",
        "chart 3.9.0 from the venue's registry",
    ] {
        assert!(first.contains(line), "{line}\n{first}");
    }
    let first_calls = calls().replace(&venue.addr, "<venue>");
    insta::assert_snapshot!("bundle_start_first_calls", first_calls);
    let (code, _) = venue.stop();
    assert_eq!(code, 0);

    // What Docker was given is the lab's pin, and kind booted from it.
    let node_id =
        std::fs::read_to_string(state.join("images/courselab.invalid_kindest_node_v1.35.8"))
            .unwrap();
    assert!(node_id.starts_with("sha256:"), "{node_id}");
    assert_eq!(
        std::fs::read_to_string(state.join("kind-image"))
            .unwrap()
            .trim(),
        "courselab.invalid/kindest/node:v1.35.8"
    );

    // The lab registry holds every image of the chart at the digest the publisher signed, and
    // the real cosign verifies its signature there, from the lab registry's own copy.
    let lab_addr = &format!("127.0.0.1:{port}");
    for (reference, digest) in &publishers.kyverno {
        let (_, path) = reference.split_once('/').unwrap();
        let (repo_path, _) = path.rsplit_once(':').unwrap();
        let verify = std::process::Command::new(peers_bin().join("cosign"))
            .current_dir(publishers.dir.path())
            .env(
                "COSIGN_REPOSITORY",
                format!("{lab_addr}/kyverno/signatures"),
            )
            .args([
                "verify",
                "--certificate-identity",
                super::bundle_create::IMAGE_SIGNER,
                "--certificate-oidc-issuer",
                super::bundle_create::ISSUER,
                "--trusted-root",
                "trusted_root.json",
                "--insecure-ignore-tlog",
                "--insecure-ignore-sct",
                "--allow-http-registry",
                &format!("{lab_addr}/{repo_path}@{digest}"),
            ])
            .output()
            .unwrap();
        assert!(
            verify.status.success(),
            "{reference}: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
        let tag = path.rsplit_once(':').unwrap().1;
        let crane = std::process::Command::new(peers_bin().join("crane"))
            .args([
                "digest",
                "--insecure",
                &format!("{lab_addr}/{repo_path}:{tag}"),
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&crane.stdout).trim(),
            digest,
            "{reference}"
        );
    }

    // helm was given the bundle's chart and values that point every image the chart's
    // templates render at the lab registry as the nodes reach it: computed here from the
    // chart's values as its `_image.tpl` does, and rendered by the real helm below.
    let chart = std::fs::read(state.join("chart.tgz")).unwrap();
    let sets = std::fs::read_to_string(state.join("helm-sets")).unwrap();
    let values = chart_values_with_sets(&chart, &sets);
    let rendered = courselab::bundle::kyverno::images(&values, "v1.19.0").unwrap();
    assert_eq!(
        rendered.len(),
        courselab::bundle::kyverno::IMAGE_VALUES.len()
    );

    // Rendered by the real helm with those values (test hooks aside: only `helm test` runs
    // them), every image of every object is one the lab registry holds.
    std::fs::write(learner.dir.path().join("kyverno.tgz"), &chart).unwrap();
    let mut template = std::process::Command::new(super::peers::peer("helm"));
    template.current_dir(learner.dir.path()).args([
        "template",
        "kyverno",
        "kyverno.tgz",
        "--namespace",
        "kyverno",
        "--skip-tests",
    ]);
    for set in sets.lines() {
        template.args(["--set", set]);
    }
    let helm = template.output().unwrap();
    assert!(
        helm.status.success(),
        "{}",
        String::from_utf8_lossy(&helm.stderr)
    );
    let manifests = String::from_utf8(helm.stdout).unwrap();
    let images: std::collections::BTreeSet<&str> = manifests
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("image: "))
        .map(|i| i.trim_matches('"'))
        .collect();
    // The same images as the chart's values give, computed as `_image.tpl` does (above).
    let computed: std::collections::BTreeSet<&str> =
        rendered.values().map(String::as_str).collect();
    assert_eq!(images, computed);
    for image in &images {
        let in_lab = image
            .strip_prefix("kind-registry:5000/")
            .unwrap_or_else(|| panic!("helm renders {image}, not from the lab registry"));
        let crane = std::process::Command::new(peers_bin().join("crane"))
            .args(["digest", "--insecure", &format!("{lab_addr}/{in_lab}")])
            .output()
            .unwrap();
        assert!(
            crane.status.success(),
            "helm renders {image}, which the lab registry lacks"
        );
    }

    // Again, from the file: nothing is loaded, copied or installed twice.
    let again = start(&["--bundle", bundle.to_str().unwrap()]);
    assert!(
        again.contains("kind node image courselab.invalid/kindest/node:v1.35.8: already loaded")
            && again.contains("kyverno/kyverno:v1.19.0 present"),
        "{again}"
    );
    let second = calls();
    assert!(
        !second.contains("docker load")
            && !second.contains("helm upgrade")
            && !second.contains("kind create")
            && !second.contains("docker run"),
        "{second}"
    );

    // Deleting the lab removes the images it loaded, and only those.
    let (code, stdout, stderr) = learner.lab(&["stop", "--delete"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for tag in [
        "courselab.invalid/kindest/node:v1.35.8",
        "courselab.invalid/library/registry:3",
    ] {
        assert!(
            stdout.contains(&format!("image {tag}: removed")),
            "{stdout}"
        );
    }
    assert_eq!(std::fs::read_dir(state.join("images")).unwrap().count(), 0);
}

/// The chart's `values.yaml` with helm's `--set a.b.c=v` values (one per line) applied.
fn chart_values_with_sets(tgz: &[u8], sets: &str) -> Value {
    use std::io::Read;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    let mut text = String::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some("kyverno/values.yaml") {
            entry.read_to_string(&mut text).unwrap();
        }
    }
    let mut values: Value = serde_saphyr::from_str(&text).unwrap();
    for set in sets.lines() {
        let (path, value) = set.split_once('=').unwrap();
        let keys: Vec<&str> = path.split('.').collect();
        let (last, parents) = keys.split_last().unwrap();
        let mut at = &mut values;
        for key in parents {
            if !at.get(*key).is_some_and(Value::is_object) {
                at[*key] = serde_json::json!({});
            }
            at = &mut at[*key];
        }
        at[*last] = Value::String(value.to_owned());
    }
    values
}
