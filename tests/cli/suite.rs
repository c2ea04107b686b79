//! `lab test`: the chapter's kyverno-test cases, offline over the committed fixture layouts,
//! against a real registry, and the mutations that a good set of cases must notice.

use std::path::PathBuf;

use serde_json::Value;

use super::registry::TestRegistry;
use super::{copy_course, edit, lab, output, repo};

/// A copy of the real course (content only) in a temp dir, to edit.
fn course_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    copy_course(&root);
    (dir, root)
}

#[test]
fn ch14_passes_offline_and_every_mutation_is_noticed() {
    let (code, stdout, stderr) = output(lab(&repo()).args(["test", "ch14"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    insta::assert_snapshot!("test-ch14", stdout);
}

#[test]
fn the_json_report_carries_kyvernos_messages() {
    let (code, stdout, _) = output(lab(&repo()).args(["test", "supply-chain", "--format", "json"]));
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["passed"], true);
    let report = &doc["chapters"][0];
    assert_eq!(report["chapter"], "ch14");
    let enforce = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["mode"] == "enforce")
        .unwrap();
    let denied = enforce["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "admission Pod/develop/workstation-hotfix")
        .unwrap();
    assert_eq!(denied["actual"], "denied");
    let message = denied["message"].as_str().unwrap();
    assert!(
        message.contains(
            "resource Pod/develop/workstation-hotfix was blocked due to the following policies"
        ) && message.contains(".attestors[0].entries[0].keys: no signatures found"),
        "{message}"
    );
    let mutations = report["mutations"].as_array().unwrap();
    assert_eq!(mutations.len(), 4);
    assert!(
        mutations
            .iter()
            .all(|m| m["applicable"] == true && !m["noticed_by"].as_array().unwrap().is_empty())
    );
}

#[test]
fn junit_output_is_well_formed_and_counts_the_cases() {
    let (code, stdout, _) = output(lab(&repo()).args(["test", "ch14", "--format", "junit"]));
    assert_eq!(code, 0);
    let doc = roxmltree::Document::parse(&stdout).expect("JUnit XML parses");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(root.attribute("tests").unwrap(), cases.to_string());
    assert_eq!(root.attribute("failures"), Some("0"));
    let suites: Vec<&str> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(
        suites,
        [
            "labs/ch14/tests/audit/kyverno-test.yaml",
            "labs/ch14/tests/enforce/kyverno-test.yaml",
            "mutations ch14"
        ]
    );
}

#[test]
fn a_wrong_expectation_fails_with_kyvernos_reason_and_skips_the_mutations() {
    let (_tmp, root) = course_copy();
    edit(
        &root,
        "labs/ch14/tests/enforce/kyverno-test.yaml",
        "resources: [workstation-hotfix, other-signer]\n    result: fail",
        "resources: [workstation-hotfix, other-signer]\n    result: pass",
    );
    let (code, stdout, _) = output(lab(&root).args(["test", "ch14", "--format", "junit"]));
    assert_eq!(code, 1, "{stdout}");
    let doc = roxmltree::Document::parse(&stdout).unwrap();
    assert_eq!(doc.root_element().attribute("failures"), Some("2"));
    let (code, stdout, _) = output(lab(&root).args(["test", "ch14"]));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("FAIL  verify-signed-images/verify-signature Pod/develop/workstation-hotfix: expected pass, got fail (line 25)"),
        "{stdout}"
    );
    assert!(stdout.contains("| failed to verify image kind-registry:5000/courselab/demo:1.4.2: .attestors[0].entries[0].keys: no signatures found"));
    assert!(
        stdout.contains("mutations: not run (cases failed"),
        "{stdout}"
    );
}

#[test]
fn cases_that_never_look_at_attestations_let_that_mutation_survive() {
    let (_tmp, root) = course_copy();
    std::fs::remove_dir_all(root.join("labs/ch14/tests/enforce")).unwrap();
    std::fs::write(
        root.join("labs/ch14/tests/audit/kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: signatures-only\npolicies:\n  - ../../policies/keyed/verify-images.yaml\nresources:\n  - ../resources/pods.yaml\nresults:\n  - policy: verify-signed-images\n    rule: verify-signature\n    kind: Pod\n    resources: [ci-by-tag]\n    result: pass\n  - policy: verify-signed-images\n    rule: verify-signature\n    kind: Pod\n    resources: [workstation-hotfix]\n    result: fail\n",
    )
    .unwrap();
    let (code, stdout, _) = output(lab(&root).args(["test", "ch14", "--format", "json"]));
    assert_eq!(code, 1, "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["passed"], false);
    let report = &doc["chapters"][0];
    let by_id = |id: &str| {
        report["mutations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("audit-instead-of-enforce")["applicable"], false);
    assert_eq!(by_id("attestations-missing")["applicable"], true);
    assert_eq!(
        by_id("attestations-missing")["noticed_by"],
        serde_json::json!([])
    );
    assert_ne!(
        by_id("unsigned-images")["noticed_by"],
        serde_json::json!([])
    );
    let (_, human, _) = output(lab(&root).args(["test", "ch14"]));
    assert!(
        human.contains(
            "attestations-missing       every image's attestations are removed: SURVIVED"
        ),
        "{human}"
    );
    assert!(
        human.contains("FAILED: 2 cases, 0 failed; 4 mutations, 1 survived"),
        "{human}"
    );
}

#[test]
fn a_bad_test_file_is_reported_at_its_line() {
    let (_tmp, root) = course_copy();
    edit(
        &root,
        "labs/ch14/tests/audit/kyverno-test.yaml",
        "  - policy: verify-signed-images\n    rule: verify-signature\n    kind: Pod\n    resources: [workstation-hotfix, other-signer]",
        "  - policy: verify-signed-image\n    rule: verify-signature\n    kind: Pod\n    resources: [workstation-hotfix, other-signer]",
    );
    let (code, stdout, stderr) = output(lab(&root).args(["test", "ch14"]));
    assert_eq!(code, 2, "{stdout}");
    insta::assert_snapshot!("test-unknown-policy", stderr);

    // A misspelt rule gives no response, which `result: skip` would accept: it is an error.
    let (_tmp, root) = course_copy();
    edit(
        &root,
        "labs/ch14/tests/audit/kyverno-test.yaml",
        "    rule: verify-signature\n    kind: Pod\n    resources: [outside-registry]",
        "    rule: verify-signatre\n    kind: Pod\n    resources: [outside-registry]",
    );
    let (code, stdout, stderr) = output(lab(&root).args(["test", "ch14"]));
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stderr.contains("policy `verify-signed-images` has no rule `verify-signatre`")
            && stderr.contains("did you mean `verify-signature`?"),
        "{stderr}"
    );

    let (_tmp, root) = course_copy();
    edit(
        &root,
        "labs/ch14/tests/audit/kyverno-test.yaml",
        "    result: skip",
        "    reslt: skip",
    );
    let (code, _, stderr) = output(lab(&root).args(["test", "ch14"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("labs/ch14/tests/audit/kyverno-test.yaml:32:5")
            && stderr.contains("did you mean `result`?"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_chapter_gets_a_suggestion() {
    let (code, _, stderr) = output(lab(&repo()).args(["test", "ch41"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no chapter is called `ch41` (did you mean `ch14`?)"),
        "{stderr}"
    );
}

#[test]
fn fixtures_rebuild_from_nothing_and_existing_keys_are_kept() {
    let (_tmp, root) = course_copy();
    std::fs::remove_dir_all(root.join("labs/ch14/tests/images")).unwrap();
    for key in ["test-only-signer", "test-only-other-signer"] {
        for ext in ["key", "pub"] {
            std::fs::remove_file(root.join(format!("labs/ch14/tests/keys/{key}.{ext}"))).unwrap();
        }
    }
    let (code, stdout, stderr) = output(lab(&root).args(["test", "ch14", "--write-fixtures"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("created TEST key"), "{stdout}");
    // The image digests do not depend on the keys, so the committed cases still hold.
    assert!(stdout.contains(
        "wrote kind-registry:5000/courselab/demo:1.4.2-ci = sha256:3687253bd9a9cd3a727619986d313e52c7709f2e9bfa036e9e6268069d08595b"
    ));
    let key_path = root.join("labs/ch14/tests/keys/test-only-signer.key");
    let key = std::fs::read(&key_path).unwrap();
    assert!(
        !stdout.contains(std::str::from_utf8(&key).unwrap().lines().nth(1).unwrap()),
        "private key material is never printed"
    );
    let (code, stdout, _) = output(lab(&root).args(["test", "ch14"]));
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout, _) = output(lab(&root).args(["test", "ch14", "--write-fixtures"]));
    assert_eq!(code, 0);
    assert!(!stdout.contains("created TEST key"));
    assert_eq!(
        std::fs::read(&key_path).unwrap(),
        key,
        "an existing key is never overwritten"
    );
}

#[test]
fn the_same_cases_run_against_a_real_registry_after_a_push() {
    let registry = TestRegistry::start();
    let (code, stdout, _) =
        output(lab(&repo()).args(["test", "ch14", "--registry", &registry.addr]));
    assert_eq!(
        code, 1,
        "an empty registry holds none of the images: {stdout}"
    );
    assert!(stdout.contains("not found"), "{stdout}");
    let (code, stdout, stderr) =
        output(lab(&repo()).args(["test", "ch14", "--push", "--registry", &registry.addr]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(&format!(
        "pushed {}/courselab/demo:1.4.2-ci\n",
        registry.addr
    )));
    assert!(
        stdout.contains("passed: 51 cases, 0 failed; 4 mutations, 0 survived"),
        "{stdout}"
    );
    // What was pushed is a real cosign-signed image: skopeo sees the tag, `lab verify` the signature.
    let skopeo = super::registry::debian_tool("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!(
            "docker://{}/courselab/demo:1.4.2-ci",
            registry.addr
        ))
        .output()
        .unwrap();
    assert!(skopeo.status.success());
    let (code, _, stderr) = output(lab(&repo()).args([
        "verify",
        &format!("{}/courselab/demo:1.4.2-ci", registry.addr),
        "--key",
        "labs/ch14/tests/keys/test-only-signer.pub",
        "--attestation-type",
        "spdxjson",
    ]));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn an_unreachable_registry_exits_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, _, stderr) =
        output(lab(&repo()).args(["test", "ch14", "--registry", &format!("127.0.0.1:{port}")]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("cannot reach 127.0.0.1"), "{stderr}");
}

#[test]
fn export_writes_kyverno_test_folders_with_everything_rendered() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("kyverno");
    let (code, stdout, stderr) = output(lab(&repo()).args([
        "test",
        "ch14",
        "--export",
        out.to_str().unwrap(),
        "--set",
        "image_registry=localhost:5000/courselab",
    ]));
    assert_eq!(code, 0, "{stderr}");
    // Two Tests of two policies each, split into one Test per policy (see src/suite/export.rs).
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    for (mode, action, mutate, split, policy) in [
        (
            "audit",
            "Audit",
            "false",
            "verify-images",
            "verify-signed-images",
        ),
        (
            "audit",
            "Audit",
            "false",
            "verify-attestations",
            "require-sbom-attestation",
        ),
        (
            "enforce",
            "Enforce",
            "true",
            "verify-images",
            "verify-signed-images",
        ),
        (
            "enforce",
            "Enforce",
            "true",
            "verify-attestations",
            "require-sbom-attestation",
        ),
    ] {
        let folder = out.join(mode).join(split);
        let test = std::fs::read_to_string(folder.join("kyverno-test.yaml")).unwrap();
        let doc: Value = serde_saphyr::from_str(&test).unwrap();
        assert_eq!(doc["policies"].as_array().unwrap().len(), 1, "{test}");
        assert!(
            doc["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["policy"] == policy),
            "only this policy's results: {test}"
        );
        // kyverno test cannot check patchedResources of verifyImages rules (src/suite/export.rs).
        assert!(
            doc["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r.get("patchedResources").is_none()),
            "{test}"
        );
        if policy == "verify-signed-images" {
            assert!(test.contains("    # patchedResources: "), "{test}");
        }
        assert!(!folder.join("patched").exists());
        for key in ["policies", "resources"] {
            for path in doc[key].as_array().unwrap() {
                let file = folder.join(path.as_str().unwrap());
                let text = std::fs::read_to_string(&file).unwrap();
                assert!(
                    !text.contains("${"),
                    "{} still has placeholders",
                    file.display()
                );
                if key == "policies" {
                    assert!(text.contains(&format!("failureAction: {action}")), "{text}");
                    assert!(text.contains(&format!("mutateDigest: {mutate}")), "{text}");
                    assert!(text.contains("\"localhost:5000/courselab/*\""), "{text}");
                    assert!(text.contains("-----BEGIN PUBLIC KEY-----"));
                }
            }
        }
    }
    let (code, _, stderr) =
        output(lab(&repo()).args(["test", "ch14", "--export", out.to_str().unwrap()]));
    assert_eq!(code, 2, "a non-empty folder is never written into");
    assert!(
        stderr.contains("exists and is not an empty folder"),
        "{stderr}"
    );
}

#[test]
fn validate_checks_the_test_key_path() {
    let (_tmp, root) = course_copy();
    edit(
        &root,
        "labs/ch14/lab.yaml",
        "cosign_public_key: tests/keys/test-only-signer.pub",
        "cosign_public_key: tests/keys/missing.pub",
    );
    let (code, stdout, _) = output(lab(&root).args(["validate", "--format", "github"]));
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stdout.contains("file=labs/ch14/lab.yaml,line=")
            && stdout.contains("`tests/keys/missing.pub` does not exist"),
        "{stdout}"
    );
}

#[test]
fn export_refuses_two_sources_with_one_name() {
    let (_tmp, root) = course_copy();
    let extra = root.join("labs/ch14/tests/more");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::copy(
        root.join("labs/ch14/tests/resources/pods.yaml"),
        extra.join("pods.yaml"),
    )
    .unwrap();
    edit(
        &root,
        "labs/ch14/tests/audit/kyverno-test.yaml",
        "  - ../resources/deployment.yaml\n",
        "  - ../resources/deployment.yaml\n  - ../more/pods.yaml\n",
    );
    let out = root.join("exported");
    let (code, _, stderr) =
        output(lab(&root).args(["test", "ch14", "--export", out.to_str().unwrap()]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("would both be exported as pods.yaml"),
        "{stderr}"
    );
}
