//! The loopback cluster itself (`.ci/peers/cluster`): what the live layer and the differential
//! suite rely on it to do, checked before anything is built on it.

use std::time::Duration;

use serde_json::Value;

use super::peers::{cluster, wait_until, write};
use super::registry::{push_image, runtime};

fn pod_json(ns: &str, selector: &str) -> Value {
    let out = cluster().kubectl_ok(&["-n", ns, "get", "pods", "-l", selector, "-o", "json"]);
    serde_json::from_str(&out).unwrap()
}

// A Deployment must become a running Pod whose imageID is the digest its tag resolved to, as a
// kubelet reports it: the live checks read the running digest from there.
#[test]
fn a_deployment_runs_with_the_digest_its_tag_resolved_to() {
    let c = cluster();
    let digest = runtime().block_on(push_image(&c.registry, "smoke/app", "1.0", "smoke app"));
    let ns = c.namespace("smoke", &[]);
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(
        dir.path(),
        "deploy.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: smoke}}}}\n  template:\n    metadata: {{labels: {{app: smoke}}}}\n    spec:\n      containers: [{{name: app, image: {}/smoke/app:1.0}}]\n",
            c.registry
        ),
    );
    c.kubectl_ok(&["-n", &ns.name, "apply", "-f", manifest.to_str().unwrap()]);
    let mut pods = Value::Null;
    wait_until(
        Duration::from_secs(60),
        "the Deployment's Pod to run",
        || {
            pods = pod_json(&ns.name, "app=smoke");
            pods["items"][0]["status"]["phase"] == "Running"
        },
    );
    let status = &pods["items"][0]["status"]["containerStatuses"][0];
    assert_eq!(
        status["imageID"],
        format!("{}/smoke/app@{digest}", c.registry),
        "{status}"
    );
    assert_eq!(status["image"], format!("{}/smoke/app:1.0", c.registry));
    assert_eq!(status["ready"], true);
}

// An image the registry does not have must not look like it runs.
#[test]
fn a_pod_whose_image_cannot_be_pulled_stays_pending() {
    let c = cluster();
    let ns = c.namespace("smoke-missing", &[]);
    let image = format!("{}/smoke/absent:1.0", c.registry);
    c.kubectl_ok(&[
        "-n",
        &ns.name,
        "run",
        "absent",
        "--image",
        &image,
        "--labels",
        "app=absent",
    ]);
    let mut pods = Value::Null;
    wait_until(Duration::from_secs(60), "the Pod's pull to fail", || {
        pods = pod_json(&ns.name, "app=absent");
        !pods["items"][0]["status"]["containerStatuses"].is_null()
    });
    let pod = &pods["items"][0]["status"];
    assert_eq!(pod["phase"], "Pending", "{pod}");
    assert_eq!(
        pod["containerStatuses"][0]["state"]["waiting"]["reason"], "ErrImagePull",
        "{pod}"
    );
}

// Kyverno's admission controller answers for resources: an Enforce policy of this test's own
// denies a Pod in this test's namespace, with Kyverno's words, on a server-side dry run.
#[test]
fn kyverno_denies_in_enforce_on_a_dry_run() {
    let c = cluster();
    let ns = c.namespace("smoke-kyverno", &[]);
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "policy.yaml",
        &format!(
            "apiVersion: kyverno.io/v1\nkind: Policy\nmetadata: {{name: require-team, namespace: {}}}\nspec:\n  rules:\n  - name: team-label\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n    validate:\n      failureAction: Enforce\n      message: every Pod needs a team label\n      pattern: {{metadata: {{labels: {{team: \"?*\"}}}}}}\n",
            ns.name
        ),
    );
    c.kubectl_ok(&["apply", "-f", policy.to_str().unwrap()]);
    wait_until(Duration::from_secs(60), "the policy to be ready", || {
        c.kubectl()
            .args(["-n", &ns.name, "get", "policy", "require-team", "-o"])
            .arg("jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")
            .output()
            .is_ok_and(|o| o.stdout == b"True")
    });
    let out = c
        .kubectl()
        .args([
            "-n",
            &ns.name,
            "run",
            "unlabelled",
            "--image",
            "nginx",
            "--dry-run=server",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "admitted: {stderr}");
    assert!(
        stderr.contains("admission webhook \"validate.kyverno.svc-fail\" denied the request"),
        "{stderr}"
    );
    assert!(stderr.contains("every Pod needs a team label"), "{stderr}");
}

// A component that fails to start is reported with its name, its command and the end of its
// log, `up` exits 1 without hanging, and nothing it started is left running.
#[test]
fn a_component_that_does_not_start_is_reported_and_cleaned_up() {
    let bin = tempfile::tempdir().unwrap();
    for name in [
        "kube-apiserver",
        "kube-controller-manager",
        "kubectl",
        "kyverno",
        "reports-controller",
    ] {
        std::os::unix::fs::symlink(super::peers::peer(name), bin.path().join(name)).unwrap();
    }
    let etcd = bin.path().join("etcd");
    std::fs::write(
        &etcd,
        "#!/bin/sh\necho 'etcd: cannot bind, data dir is broken' >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&etcd, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("cluster");
    let started = std::time::Instant::now();
    let out = std::process::Command::new(super::repo().join(".ci/peers/cluster"))
        .arg("up")
        .env("COURSELAB_CLUSTER_DIR", &dir)
        .env("PEERS_BIN", bin.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(120), "{stderr}");
    assert!(stderr.contains("cluster: etcd did not start"), "{stderr}");
    assert!(
        stderr.contains(&format!("command: {}", etcd.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("etcd: cannot bind, data dir is broken"),
        "{stderr}"
    );
    // The processes it started are gone: every PID in its record is dead.
    let pids = std::fs::read_to_string(dir.join("pids")).unwrap_or_default();
    for line in pids.lines() {
        let pid = line.split_whitespace().nth(1).unwrap();
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "{line} still runs"
        );
    }
    // Logs are kept for reading; `down` then removes the state.
    assert!(dir.join("logs/etcd.log").is_file());
    let down = std::process::Command::new(super::repo().join(".ci/peers/cluster"))
        .arg("down")
        .env("COURSELAB_CLUSTER_DIR", &dir)
        .output()
        .unwrap();
    assert!(down.status.success());
    assert!(!dir.exists());
}

// A learner may deploy before pushing: like a kubelet, the stand-in pulls again, and the Pod runs
// once the image is in the registry.
#[test]
fn a_pod_runs_once_its_missing_image_is_pushed() {
    let c = cluster();
    let ns = c.namespace("smoke-late", &[]);
    let image = format!("{}/smoke/late:1.0", c.registry);
    c.kubectl_ok(&[
        "-n", &ns.name, "run", "late", "--image", &image, "--labels", "app=late",
    ]);
    wait_until(Duration::from_secs(60), "the Pod's pull to fail", || {
        pod_json(&ns.name, "app=late")["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"]
            ["reason"]
            == "ErrImagePull"
    });
    let digest = runtime().block_on(push_image(&c.registry, "smoke/late", "1.0", "pushed late"));
    let mut pods = Value::Null;
    wait_until(
        Duration::from_secs(30),
        "the Pod to run after the push",
        || {
            pods = pod_json(&ns.name, "app=late");
            pods["items"][0]["status"]["phase"] == "Running"
        },
    );
    assert_eq!(
        pods["items"][0]["status"]["containerStatuses"][0]["imageID"],
        format!("{}/smoke/late@{digest}", c.registry)
    );
}

// `lab admit --chapter` where that lab is started reads Kyverno's configuration from the lab's
// cluster (its ConfigMap kyverno/kyverno, which the loopback cluster has as the chart writes
// it), and says so; a cluster it cannot read leaves it the chart's defaults, and says why.
#[test]
fn lab_admit_in_a_started_lab_reads_kyvernos_configuration_from_its_cluster() {
    let c = cluster();
    let context = c.kubectl_ok(&["config", "current-context"]);
    let context = context.trim();
    let dir = tempfile::tempdir().unwrap();
    let pod = write(
        dir.path(),
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: hotfix, namespace: kube-system}\nspec:\n  containers:\n    - name: app\n      image: ${image_registry}/demo:1.4.2-hotfix\n",
    );
    let repo = super::repo();
    std::fs::create_dir_all(dir.path().join(".lab/ch14")).unwrap();
    let admit = |state_context: &str| {
        write(
            &dir.path().join(".lab/ch14"),
            "state.json",
            &format!(r#"{{"schema_version": 1, "chapter": "ch14", "context": "{state_context}"}}"#),
        );
        let out = super::lab(dir.path())
            .env("KUBECONFIG", &c.kubeconfig)
            .args(["admit", "-f"])
            .arg(&pod)
            .args(["--chapter", "ch14", "--mode", "enforce", "--layouts"])
            .arg(repo.join("labs/ch14/tests/images"))
            .arg("--set")
            .arg(format!(
                "cosign_public_key={}",
                repo.join("labs/ch14/tests/keys/test-only-signer.pub")
                    .display()
            ))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, stdout, stderr) = admit(context);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("the resource webhooks' namespaceSelector excludes namespace kube-system")
            && stdout.contains(&format!(
                "(Kyverno's configuration: the ConfigMap kyverno/kyverno of the lab's cluster (context {context}))"
            )),
        "{stdout}"
    );
    let (code, stdout, stderr) = admit("no-such-context");
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("(Kyverno's configuration: the defaults of Kyverno's chart 3.9.0 (the lab's cluster could not be read:")
            && stdout.contains("no-such-context"),
        "{stdout}"
    );
}
