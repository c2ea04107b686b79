//! `lab admit`: what Kyverno would do with a manifest, from the chapter's fixture layouts, a
//! real registry, or policy files given directly.

use serde_json::Value;

use super::registry::TestRegistry;
use super::{lab, output, repo};

const KEY: &str = "cosign_public_key=labs/ch14/tests/keys/test-only-signer.pub";
const LAYOUTS: &str = "labs/ch14/tests/images";

/// The decisions of `lab admit`'s output, without the auto-generated rules listed after them.
fn decisions(stdout: &str) -> &str {
    stdout
        .split("auto-generated rules (Kyverno's status.autogen):\n")
        .next()
        .unwrap_or(stdout)
}

fn hotfix_pod(dir: &std::path::Path, image: &str) -> std::path::PathBuf {
    let path = dir.join("pod.yaml");
    std::fs::write(
        &path,
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: workstation-hotfix\n  namespace: develop\nspec:\n  containers:\n    - name: app\n      image: {image}\n"),
    )
    .unwrap();
    path
}

#[test]
fn enforce_denies_the_workstation_rebuild_with_kyvernos_message() {
    let (code, stdout, stderr) = output(lab(&repo()).args([
        "admit",
        "-f",
        "labs/ch14/manifests/workstation-hotfix-pod.yaml",
        "--chapter",
        "ch14",
        "--mode",
        "enforce",
        "--layouts",
        LAYOUTS,
        "--set",
        KEY,
    ]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    insta::assert_snapshot!("admit-enforce-hotfix", stdout);
}

// What a learner reads in Audit: both webhooks' responses, the annotations Kyverno writes and
// the report results; nothing is denied.
#[test]
fn audit_shows_both_webhooks_and_the_report() {
    let (code, stdout, stderr) = output(lab(&repo()).args([
        "admit",
        "-f",
        "labs/ch14/manifests/workstation-hotfix-pod.yaml",
        "--chapter",
        "ch14",
        "--layouts",
        LAYOUTS,
        "--set",
        KEY,
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    insta::assert_snapshot!("admit-audit-hotfix", stdout);
}

#[test]
fn audit_admits_the_same_pod_and_reports_it() {
    let (code, stdout, _) = output(lab(&repo()).args([
        "admit",
        "-f",
        "labs/ch14/manifests/workstation-hotfix-pod.yaml",
        "--chapter",
        "ch14",
        "--layouts",
        LAYOUTS,
        "--set",
        KEY,
        "--json",
    ]));
    assert_eq!(code, 0, "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let decision = &doc["decisions"][0];
    assert_eq!(decision["resource"], "Pod/develop/workstation-hotfix");
    assert_eq!(decision["allowed"], true);
    // Two policies, each reported by the mutating webhook (the signature or attestation
    // failure) and by the validating one (`required`: the image is unverified).
    let report = decision["report"].as_array().unwrap();
    assert_eq!(report.len(), 4, "{report:?}");
    assert!(
        report
            .iter()
            .all(|r| r["result"] == "fail" && r["properties"]["process"] == "admission review")
    );
    assert_eq!(report[0]["category"], "Supply Chain Security");
    assert!(
        report
            .iter()
            .any(|r| r["message"]
                == "unverified image kind-registry:5000/courselab/demo:1.4.2-hotfix"),
        "{report:?}"
    );
    assert!(
        decision["annotations"]["kyverno.io/verify-images"]
            .as_str()
            .is_some_and(|a| a.contains("demo:1.4.2-hotfix\":\"fail")),
        "{decision}"
    );
}

#[test]
fn a_deployment_by_tag_is_pinned_to_the_verified_digest() {
    let (code, stdout, _) = output(lab(&repo()).args([
        "admit",
        "-f",
        "labs/ch14/tests/resources/deployment.yaml",
        "--chapter",
        "ch14",
        "--mode",
        "enforce",
        "--layouts",
        LAYOUTS,
        "--set",
        KEY,
        "--json",
    ]));
    assert_eq!(code, 1, "demo-hotfix is denied: {stdout}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let demo = &doc["decisions"][0];
    assert_eq!(demo["allowed"], true);
    // The annotation patches come first (an empty map, then the two annotations), then the pin.
    let patches = demo["patches"].as_array().unwrap();
    assert_eq!(patches.len(), 4, "{patches:?}");
    assert_eq!(patches[3]["op"], "replace");
    assert_eq!(patches[3]["path"], "/spec/template/spec/containers/0/image");
    assert_eq!(
        patches[3]["value"],
        "kind-registry:5000/courselab/demo:1.4.2-ci@sha256:3687253bd9a9cd3a727619986d313e52c7709f2e9bfa036e9e6268069d08595b"
    );
    assert_eq!(
        patches[1]["path"],
        "/metadata/annotations/kyverno.io~1verify-images"
    );
    assert_eq!(demo["rules"][0]["rule"], "autogen-verify-signature");
    assert_eq!(doc["decisions"][1]["allowed"], false);
}

#[test]
fn policy_files_are_used_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let pod = hotfix_pod(tmp.path(), "docker.io/library/nginx:1.27");
    let (code, stdout, _) = output(lab(&repo()).args([
        "admit",
        "-f",
        pod.to_str().unwrap(),
        "--policy",
        "labs/ch14/policies/keyed/verify-images.yaml",
        "--set",
        "image_registry=kind-registry:5000/courselab",
        "--set",
        "cosign_public_key=unused",
    ]));
    assert_eq!(code, 0, "{stdout}");
    // Kyverno gives no rule response when no image is in imageReferences (mutate_image.go).
    assert_eq!(
        decisions(&stdout),
        "Pod/develop/workstation-hotfix: admitted\n  no verifyImages rule applies\n"
    );
}

// A namespace the manifest does not define still has the label the API server gives every
// namespace, so a `namespaceSelector` on `kubernetes.io/metadata.name` selects it.
#[test]
fn a_namespace_selector_sees_the_label_every_namespace_has() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = std::fs::read_to_string(repo().join("labs/ch14/policies/keyed/verify-images.yaml"))
        .unwrap()
        .replace(
            "              namespaces:\n                - develop\n",
            "              namespaceSelector:\n                matchLabels:\n                  kubernetes.io/metadata.name: develop\n",
        );
    assert!(policy.contains("namespaceSelector"), "the edit applies");
    let policy_file = tmp.path().join("policy.yaml");
    std::fs::write(&policy_file, policy).unwrap();
    let pod = hotfix_pod(tmp.path(), "kind-registry:5000/courselab/demo:1.4.2-hotfix");
    let (code, stdout, stderr) = output(lab(&repo()).args([
        "admit",
        "-f",
        pod.to_str().unwrap(),
        "--policy",
        policy_file.to_str().unwrap(),
        "--layouts",
        LAYOUTS,
        "--set",
        "image_registry=kind-registry:5000/courselab",
        "--set",
        // With --policy a value `@FILE` is the file's contents.
        "cosign_public_key=@labs/ch14/tests/keys/test-only-signer.pub",
    ]));
    assert_eq!(code, 0, "Audit admits: {stdout}{stderr}");
    assert!(
        stdout.contains("fail: unverified image kind-registry:5000/courselab/demo:1.4.2-hotfix"),
        "{stdout}"
    );
}

// The chapter's printed policy is in Audit with mutateDigest left on: Kyverno would refuse to
// install it, so there is no admission to show; the reasons come at their lines.
#[test]
fn a_policy_kyverno_would_refuse_is_not_evaluated() {
    let (code, stdout, stderr) = output(lab(&repo()).args([
        "admit",
        "-f",
        "labs/ch14/manifests/workstation-hotfix-pod.yaml",
        "--policy",
        "tests/fixtures/seed-policies/verify-signed-images-example.yaml",
        "--set",
        "image_registry=kind-registry:5000/courselab",
        "--set",
        "git_owner=acme",
        // A multi-line value must not shift the lines the problems are reported at.
        "--set",
        "image_registry=@labs/ch14/tests/keys/test-only-signer.pub",
    ]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("verify-signed-images-example.yaml:18:25: Kyverno rejects this policy: `mutateDigest` is true"),
        "{stderr}"
    );
}

#[test]
fn a_missing_placeholder_value_names_the_line_and_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let pod = hotfix_pod(tmp.path(), "kind-registry:5000/courselab/demo:1.4.2");
    let (code, _, stderr) = output(lab(&repo()).args([
        "admit",
        "-f",
        pod.to_str().unwrap(),
        "--policy",
        "labs/ch14/policies/keyed/verify-images.yaml",
    ]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "labs/ch14/policies/keyed/verify-images.yaml:34:16: `${image_registry}` has no value"
        ) && stderr.contains("--set image_registry=VALUE"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_registry_exits_3_and_still_shows_the_verdict() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let pod = hotfix_pod(
        tmp.path(),
        &format!("127.0.0.1:{port}/courselab/demo:1.4.2"),
    );
    let (code, stdout, _) = output(lab(&repo()).args([
        "admit",
        "-f",
        pod.to_str().unwrap(),
        "--chapter",
        "ch14",
        "--set",
        &format!("image_registry=127.0.0.1:{port}/courselab"),
        "--set",
        KEY,
    ]));
    assert_eq!(code, 3, "{stdout}");
    // An unreachable registry is an error, and errors block even in Audit (failurePolicy Fail).
    assert!(
        stdout.contains("Pod/develop/workstation-hotfix: DENIED"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("registry unreachable: 127.0.0.1:{port}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("or read the images from OCI layouts with --layouts DIR"),
        "the learner is told what to do next: {stdout}"
    );
}

#[test]
fn a_live_registry_answers_as_the_layouts_do() {
    let registry = TestRegistry::start();
    let (code, _, stderr) = output(lab(&repo()).args([
        "test",
        "ch14",
        "--push",
        "--registry",
        &registry.addr,
        "--no-mutations",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let tmp = tempfile::tempdir().unwrap();
    let pod = hotfix_pod(
        tmp.path(),
        &format!("{}/courselab/demo:1.4.2-ci", registry.addr),
    );
    let (code, stdout, _) = output(lab(&repo()).args([
        "admit",
        "-f",
        pod.to_str().unwrap(),
        "--chapter",
        "ch14",
        "--mode",
        "enforce",
        "--set",
        &format!("image_registry={}/courselab", registry.addr),
        "--set",
        KEY,
    ]));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains(&format!(
        "patch: replace /spec/containers/0/image = {}/courselab/demo:1.4.2-ci@sha256:3687253bd9a9cd3a727619986d313e52c7709f2e9bfa036e9e6268069d08595b",
        registry.addr
    )), "{stdout}");
}

#[test]
fn an_unreadable_key_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let pod = hotfix_pod(tmp.path(), "kind-registry:5000/courselab/demo:1.4.2");
    let (code, _, stderr) =
        output(lab(tmp.path()).args(["admit", "-f", pod.to_str().unwrap(), "--chapter", "ch14"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`cosign_public_key` is read from a file (by default `cosign.pub`, relative to the current directory), which does not exist; pass --set cosign_public_key=PATH"),
        "{stderr}"
    );
}

#[test]
fn a_file_that_is_not_a_manifest_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.yaml");
    std::fs::write(&path, "just: [unclosed\n").unwrap();
    let (code, _, stderr) = output(lab(&repo()).args([
        "admit",
        "-f",
        path.to_str().unwrap(),
        "--chapter",
        "ch14",
        "--set",
        KEY,
    ]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("bad.yaml:1:7: unclosed bracket"),
        "{stderr}"
    );
}

/// The chapter's keyed policy with the entry's own action removed and `overrides` added, so
/// that `validationFailureActionOverrides` decide.
fn policy_with_overrides(dir: &std::path::Path, overrides: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo().join("labs/ch14/policies/keyed/verify-images.yaml"))
        .unwrap();
    assert!(text.contains("          failureAction: Audit\n"));
    let text = text
        .replace("          failureAction: Audit\n", "")
        .replace(
            "  background: false\n",
            &format!("  background: false\n{overrides}"),
        );
    let path = dir.join("policy.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn namespace_documents_give_the_labels_that_overrides_select_on() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = policy_with_overrides(
        tmp.path(),
        "  validationFailureActionOverrides:\n    - action: Enforce\n      namespaceSelector:\n        matchLabels:\n          env: prod\n          kubernetes.io/metadata.name: develop\n",
    );
    let pod =
        std::fs::read_to_string(repo().join("labs/ch14/manifests/workstation-hotfix-pod.yaml"))
            .unwrap();
    let key = format!(
        "cosign_public_key={}",
        std::fs::read_to_string(repo().join("labs/ch14/tests/keys/test-only-signer.pub")).unwrap()
    );
    let run = |env: &str| {
        let manifest = tmp.path().join(format!("{env}.yaml"));
        std::fs::write(
            &manifest,
            format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: develop\n  labels:\n    env: {env}\n---\n{pod}"),
        )
        .unwrap();
        output(lab(&repo()).args([
            "admit",
            "-f",
            manifest.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--set",
            "image_registry=kind-registry:5000/courselab",
            "--set",
            &key,
            "--layouts",
            LAYOUTS,
        ]))
    };
    // Kyverno reads the namespace's labels only for a policy whose rules select by them
    // (`hasNamespaceSelector`, pkg/utils/engine/labels.go): an override's selector alone is
    // matched against no labels, and the Pod is only audited (measured against the real
    // admission controller, tests/fixtures/differential/26-*).
    let (code, stdout, stderr) = run("prod");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("verify-signed-images/verify-signature (Audit): fail"),
        "{stdout}"
    );
    // With a rule that selects its namespace by labels, Kyverno has them and the override applies.
    let text = std::fs::read_to_string(&policy).unwrap();
    let rule_filter = "              namespaces:\n                - develop\n";
    assert!(text.contains(rule_filter), "{text}");
    std::fs::write(
        &policy,
        text.replace(
            rule_filter,
            "              namespaceSelector:\n                matchLabels:\n                  kubernetes.io/metadata.name: develop\n",
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run("prod");
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("verify-signed-images/verify-signature (Enforce): fail"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run("dev");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("verify-signed-images/verify-signature (Audit): fail"),
        "{stdout}"
    );
}

// Issue 10 item 11: an `exclude` naming only names (no kinds) never excluded; Kyverno checks
// only the criteria given, so the hotfix Pod is left to other policies.
#[test]
fn an_exclude_without_kinds_leaves_the_named_pod_out() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = std::fs::read_to_string(repo().join("labs/ch14/policies/keyed/verify-images.yaml"))
        .unwrap()
        .replace(
            "                - develop\n      verifyImages:\n",
            "                - develop\n      exclude:\n        any:\n          - resources:\n              names:\n                - workstation-*\n      verifyImages:\n",
        )
        .replace("failureAction: Audit", "failureAction: Enforce");
    assert!(policy.contains("exclude:"), "the edit applies");
    let policy_file = tmp.path().join("policy.yaml");
    std::fs::write(&policy_file, policy).unwrap();
    let run = |name: &str| {
        let pod = hotfix_pod(tmp.path(), "kind-registry:5000/courselab/demo:1.4.2-hotfix");
        let text = std::fs::read_to_string(&pod)
            .unwrap()
            .replace("workstation-hotfix", name);
        std::fs::write(&pod, text).unwrap();
        output(lab(&repo()).args([
            "admit",
            "-f",
            pod.to_str().unwrap(),
            "--policy",
            policy_file.to_str().unwrap(),
            "--layouts",
            LAYOUTS,
            "--set",
            "image_registry=kind-registry:5000/courselab",
            "--set",
            "cosign_public_key=@labs/ch14/tests/keys/test-only-signer.pub",
        ]))
    };
    let (code, stdout, stderr) = run("workstation-hotfix");
    assert_eq!(code, 0, "excluded, so admitted: {stdout}{stderr}");
    assert_eq!(
        decisions(&stdout),
        "Pod/develop/workstation-hotfix: admitted\n  no verifyImages rule applies\n"
    );
    let (code, stdout, stderr) = run("demo-hotfix");
    assert_eq!(code, 1, "not excluded, so denied: {stdout}{stderr}");
}

// Kyverno refuses a `match` filter without kinds, and so does lab before evaluating.
#[test]
fn a_match_without_kinds_is_refused_at_its_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let policy =
        std::fs::read_to_string(repo().join("labs/ch14/policies/keyed/verify-images.yaml"))
            .unwrap()
            .replace("              kinds:\n                - Pod\n", "");
    assert!(!policy.contains("kinds:"), "the edit applies");
    let policy_file = tmp.path().join("policy.yaml");
    std::fs::write(&policy_file, policy).unwrap();
    let pod = hotfix_pod(tmp.path(), "kind-registry:5000/courselab/demo:1.4.2-hotfix");
    let (code, stdout, stderr) = output(lab(&repo()).args([
        "admit",
        "-f",
        pod.to_str().unwrap(),
        "--policy",
        policy_file.to_str().unwrap(),
        "--set",
        "image_registry=kind-registry:5000/courselab",
        "--set",
        "cosign_public_key=unused",
    ]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("Kyverno rejects this policy: a `match` filter of rule `verify-signature`"),
        "{stderr}"
    );
}

/// Unsigned workloads where Kyverno's configuration leaves them out (kube-system by the
/// webhooks' namespaceSelector, ReplicaSets by resourceFilters), and one where it does not.
fn left_out_manifest(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("left-out.yaml");
    let pod = |name: &str, namespace: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  containers:\n    - name: app\n      image: ${{image_registry}}/demo:1.4.2-hotfix\n"
        )
    };
    let replica_set = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: hotfix-rs\n  namespace: develop\nspec:\n  selector: {matchLabels: {app: hotfix}}\n  template:\n    metadata: {labels: {app: hotfix}}\n    spec:\n      containers:\n        - name: app\n          image: ${image_registry}/demo:1.4.2-hotfix\n";
    std::fs::write(
        &path,
        format!(
            "{}---\n{replica_set}---\n{}",
            pod("hotfix-system", "kube-system"),
            pod("hotfix", "develop")
        ),
    )
    .unwrap();
    path
}

// The chart's configuration is the default: what it leaves out is admitted, and the output
// says it was the configuration, not a policy. The develop Pod is still denied.
#[test]
fn what_kyvernos_configuration_leaves_out_is_admitted_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = left_out_manifest(dir.path());
    let args = |extra: &[&str]| {
        let mut cmd = lab(&repo());
        cmd.arg("admit")
            .arg("-f")
            .arg(&manifest)
            .args([
                "--chapter",
                "ch14",
                "--mode",
                "enforce",
                "--layouts",
                LAYOUTS,
            ])
            .args(["--set", KEY])
            .args(extra);
        output(&mut cmd)
    };
    let (code, stdout, stderr) = args(&[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    insta::assert_snapshot!("admit-left-out-by-configuration", stdout);

    // With a configuration that leaves nothing out, the ReplicaSet is denied too; the
    // kube-system Pod is admitted, but by ch14's policies themselves, which say so.
    let empty = dir.path().join("kyverno.yaml");
    std::fs::write(
        &empty,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kyverno, namespace: kyverno}\ndata: {}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = args(&["--kyverno-config", empty.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    for resource in [
        "Pod/kube-system/hotfix-system: admitted\n  no verifyImages rule applies",
        "ReplicaSet/develop/hotfix-rs: DENIED",
        "Pod/develop/hotfix: DENIED",
    ] {
        assert!(stdout.contains(resource), "{resource}:\n{stdout}");
    }
    assert!(!stdout.contains("left out"), "{stdout}");

    // A file that is not Kyverno's ConfigMap is refused with what to give instead.
    std::fs::write(
        &empty,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n",
    )
    .unwrap();
    let (code, _, stderr) = args(&["--kyverno-config", empty.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("is not a ConfigMap")
            && stderr.contains("kubectl -n kyverno get configmap kyverno -o yaml"),
        "{stderr}"
    );
}

// What the offline evaluator cannot decide is its own answer: a line saying what and why,
// exit 8, and never a denial in Kyverno's words (the precondition reads the requesting user,
// which only Kyverno knows; `tests/fixtures/differential/68-undecided-preconditions-user.yaml`).
#[test]
fn what_cannot_be_decided_offline_is_undecided_and_not_a_denial() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: verify-when-asked\nspec:\n  background: false\n  rules:\n    - name: verify\n      match:\n        any:\n          - resources: {kinds: [Pod]}\n      preconditions:\n        all:\n          - key: \"{{ request.userInfo.username }}\"\n            operator: NotEquals\n            value: \"system:admin\"\n      verifyImages:\n        - imageReferences: ['kind-registry:5000/courselab/*']\n          failureAction: Enforce\n          attestors:\n            - entries:\n                - keys:\n                    publicKeys: |-\n                      ${cosign_public_key}\n                    rekor: {ignoreTlog: true}\n                    ctlog: {ignoreSCT: true}\n",
    )
    .unwrap();
    let pod = hotfix_pod(tmp.path(), "kind-registry:5000/courselab/demo:1.4.2-hotfix");
    let run = |json: bool| {
        let mut cmd = lab(&repo());
        cmd.args(["admit", "-f"])
            .arg(&pod)
            .arg("--policy")
            .arg(&policy)
            .args(["--layouts", LAYOUTS])
            .args([
                "--set",
                "cosign_public_key=@labs/ch14/tests/keys/test-only-signer.pub",
            ]);
        if json {
            cmd.arg("--json");
        }
        output(&mut cmd)
    };
    let (code, stdout, stderr) = run(false);
    assert_eq!(code, 8, "{stdout}{stderr}");
    assert!(!stdout.contains("denied the request"), "{stdout}");
    insta::assert_snapshot!("admit-undecided-preconditions", stdout);
    let (code, stdout, _) = run(true);
    assert_eq!(code, 8, "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let decision = &doc["decisions"][0];
    assert_eq!(doc["schema_version"], 3);
    assert_eq!(decision["verdict"], "undecided");
    assert!(decision.get("denied_by").is_none() && decision.get("denial").is_none());
    assert_eq!(decision["rules"][0]["status"], "undecided");
    assert!(
        decision["undecided"][0]
            .as_str()
            .unwrap()
            .contains("the `preconditions` of this rule cannot be evaluated offline"),
        "{decision:#}"
    );
}
