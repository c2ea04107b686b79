//! `lab validate`: the real course, the chapter's seed policies, path selection and formats.

use super::{copy_tree, fixture, lab, output, repo};

#[test]
fn the_real_course_has_no_errors() {
    let (code, stdout, stderr) = output(lab(&repo()).arg("validate"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("error["), "{stdout}");
    assert!(
        !stdout.contains("warning[quiz/no-answer-key]"),
        "the ch14 key sits beside its quiz"
    );
}

// The chapter prints both policies with `validationFailureAction: Audit` and mutateDigest on
// (explicitly, or by default): Kyverno v1.19 rejects both. `lab validate` must say so.
#[test]
fn seed_policies_report_what_kyverno_rejects() {
    let dir = fixture("seed-policies");
    let (code, stdout, _) = output(lab(&dir).args([
        "validate",
        "verify-signed-images-example.yaml",
        "require-sbom-attestation-example.yaml",
    ]));
    assert_eq!(code, 2);
    assert_eq!(
        stdout.matches("error[kyverno/audit-mutate-digest]").count(),
        2,
        "{stdout}"
    );
    // Both are also keyless without rekor.url or roots, which Kyverno rejects as well.
    assert_eq!(
        stdout.matches("error[kyverno/keyless-rekor-url]").count(),
        2,
        "{stdout}"
    );
    assert_eq!(
        stdout
            .matches("warning[kyverno/deprecated-validation-failure-action]")
            .count(),
        2
    );
    insta::assert_snapshot!("seed-policies", stdout);
}

#[test]
fn json_report_is_versioned_and_counts_agree() {
    let dir = fixture("seed-policies");
    let (code, stdout, _) = output(lab(&dir).args([
        "validate",
        "--format",
        "json",
        "verify-signed-images-example.yaml",
    ]));
    assert_eq!(code, 2);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["schema_version"], 1);
    let diagnostics = report["diagnostics"].as_array().unwrap();
    let errors = diagnostics
        .iter()
        .filter(|d| d["severity"] == "error")
        .count();
    assert_eq!(report["errors"], errors);
    assert_eq!(report["warnings"], diagnostics.len() - errors);
    let rejected = diagnostics
        .iter()
        .find(|d| d["code"] == "kyverno/audit-mutate-digest")
        .unwrap();
    assert_eq!(
        (rejected["file"].as_str(), rejected["line"].as_u64()),
        (Some("verify-signed-images-example.yaml"), Some(18))
    );
    assert!(
        rejected["reference"]
            .as_str()
            .unwrap()
            .contains("pkg/validation/policy/validate.go")
    );
}

#[test]
fn github_format_emits_annotations() {
    let dir = fixture("seed-policies");
    let (code, stdout, _) = output(lab(&dir).args([
        "validate",
        "--format",
        "github",
        "verify-signed-images-example.yaml",
    ]));
    assert_eq!(code, 2);
    assert!(
        stdout.lines().any(|l| l.starts_with("::error file=verify-signed-images-example.yaml,line=18,col=25,title=kyverno/audit-mutate-digest::")),
        "{stdout}"
    );
}

/// A course with one broken policy and one broken quiz, to tell selections apart.
fn broken_course() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("course-min"), dir.path());
    let policy = dir.path().join("labs/mini/policies/verify-images.yaml");
    let text = std::fs::read_to_string(&policy)
        .unwrap()
        .replace("mutateDigest: false", "mutateDigest: true");
    std::fs::write(policy, text).unwrap();
    let quiz = dir.path().join("quizzes/mini.yaml");
    let text = std::fs::read_to_string(&quiz)
        .unwrap()
        .replace("pass_percent: 50", "pass_percent: 150");
    std::fs::write(quiz, text).unwrap();
    dir
}

#[test]
fn a_single_file_is_checked_in_its_labs_context() {
    let dir = broken_course();
    let (code, stdout, _) =
        output(lab(dir.path()).args(["validate", "labs/mini/policies/verify-images.yaml"]));
    assert_eq!(code, 2);
    assert!(stdout.contains("kyverno/audit-mutate-digest"), "{stdout}");
    assert!(
        !stdout.contains("quiz/pass-mark"),
        "only the named file is reported: {stdout}"
    );
    assert!(stdout.contains("1 file checked"), "{stdout}");
}

#[test]
fn a_chapter_folder_covers_the_files_its_lab_names() {
    let dir = broken_course();
    let (code, stdout, _) = output(lab(dir.path()).args(["validate", "labs/mini"]));
    assert_eq!(code, 2);
    assert!(
        stdout.contains("kyverno/audit-mutate-digest") && stdout.contains("quiz/pass-mark"),
        "{stdout}"
    );
}

#[test]
fn every_problem_is_collected_before_exiting() {
    let dir = broken_course();
    let (code, stdout, _) = output(lab(dir.path()).args(["validate", "--format", "json"]));
    assert_eq!(code, 2);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert!(
        codes.contains(&"kyverno/audit-mutate-digest") && codes.contains(&"quiz/pass-mark"),
        "{codes:?}"
    );
}

#[test]
fn a_folder_outside_any_course_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(lab(dir.path()).arg("validate"));
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("is not inside a course") && stderr.contains("--course"),
        "{stderr}"
    );
}

#[test]
fn a_missing_path_names_the_path() {
    let (code, _, stderr) = output(lab(&repo()).args(["validate", "no/such/file.yaml"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read no/such/file.yaml"), "{stderr}");
}

#[test]
fn a_file_that_is_not_utf8_is_named() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("course-min"), dir.path());
    std::fs::write(dir.path().join("runbooks/mini.md"), [0xff, 0xfe, 0x00]).unwrap();
    // One bad file once stopped the whole check; now it is one error among the others.
    std::fs::write(dir.path().join("quizzes/notes.md"), [0xc3, 0x28]).unwrap();
    let (code, stdout, stderr) = output(lab(dir.path()).arg("validate"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stdout
            .contains("error[content/not-utf8]: this file is not UTF-8 text\n ╭▸ runbooks/mini.md"),
        "{stdout}"
    );
    assert!(stdout.contains("╭▸ quizzes/notes.md"), "{stdout}");
    assert!(
        stdout.contains("ref/unreadable-file"),
        "the lab's reference says why: {stdout}"
    );
}

#[test]
fn validation_never_writes_to_the_course() {
    let dir = broken_course();
    let before = snapshot_tree(dir.path());
    let _ = output(lab(dir.path()).arg("validate"));
    assert_eq!(before, snapshot_tree(dir.path()));
}

fn snapshot_tree(root: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The minimal course with one text replaced in one file.
fn course_with(file: &str, replace: &str, with: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("course-min"), dir.path());
    edit(dir.path(), file, replace, with);
    dir
}

fn edit(root: &std::path::Path, file: &str, replace: &str, with: &str) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches(replace).count(), 1, "{file}: `{replace}`");
    std::fs::write(path, text.replacen(replace, with, 1)).unwrap();
}

// Broken YAML in a policy, manifest or kind config was "a YAML file of unknown kind", a
// warning: `lab validate FILE` exited 0, and the lab blamed its own reference instead.
#[test]
fn broken_yaml_is_an_error_as_a_file_as_its_chapter_and_in_the_course() {
    let broken = [
        (
            "labs/mini/policies/verify-images.yaml",
            "failureAction: Audit",
            "failureAction: [Audit",
            "labs/mini/policies/verify-images.yaml:18:",
        ),
        (
            "labs/mini/manifests/app.yaml",
            "  name: app\n",
            "  name: \"app\n",
            "labs/mini/manifests/app.yaml:5:",
        ),
        (
            "kind-config/mini.yaml",
            "kind: Cluster\n",
            "kind: Cluster: mini\n",
            "kind-config/mini.yaml:1:",
        ),
    ];
    for (file, replace, with, at) in broken {
        let dir = course_with(file, replace, with);
        // A second, independent error elsewhere: it must still be found.
        edit(
            dir.path(),
            "quizzes/mini.yaml",
            "pass_percent: 50",
            "pass_percent: 150",
        );
        for selection in [Some(file), Some("labs/mini"), None] {
            let mut cmd = lab(dir.path());
            cmd.arg("validate").args(selection);
            let (code, stdout, stderr) = output(&mut cmd);
            let what = format!("{file} as {selection:?}");
            assert_eq!(code, 2, "{what}\n{stdout}{stderr}");
            assert!(stdout.contains("error[yaml/syntax]"), "{what}\n{stdout}");
            assert!(stdout.contains(at), "{what}: at {at}\n{stdout}");
            assert!(
                !stdout.contains("unknown kind") && !stdout.contains("ref/wrong-kind"),
                "{what}: the file's own error stands for it\n{stdout}"
            );
            if selection != Some(file) {
                assert!(stdout.contains("error[quiz/pass-mark]"), "{what}\n{stdout}");
            }
        }
    }
}

#[test]
fn an_empty_file_given_alone_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("course-min"), dir.path());
    std::fs::write(
        dir.path().join("labs/mini/policies/verify-images.yaml"),
        "\n",
    )
    .unwrap();
    let (code, stdout, _) =
        output(lab(dir.path()).args(["validate", "labs/mini/policies/verify-images.yaml"]));
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stdout.contains("error[yaml/empty-file]: this file is empty")
            && stdout.contains("labs/mini/policies/verify-images.yaml")
            && stdout.contains("a policy file holds one or more Kyverno policies"),
        "{stdout}"
    );
}

// A quiz that failed to parse also made its answer key report "quizzes/mini.yaml does not
// exist", and a key that failed to parse made the quiz report "no answer key found".
#[test]
fn a_quiz_or_key_that_does_not_parse_is_not_reported_missing() {
    let dir = course_with("quizzes/mini.yaml", "title: Mini quiz", "title: [Mini quiz");
    for selection in [None, Some("quizzes/mini.key.yaml"), Some("labs/mini")] {
        let mut cmd = lab(dir.path());
        cmd.arg("validate").args(selection);
        let (_, stdout, _) = output(&mut cmd);
        assert!(
            !stdout.contains("does not exist"),
            "{selection:?}\n{stdout}"
        );
    }
    let (code, stdout, _) = output(lab(dir.path()).arg("validate"));
    assert_eq!(code, 2);
    assert_eq!(
        stdout.matches("error[").count(),
        1,
        "only the quiz's own error\n{stdout}"
    );

    // A quiz that cannot be read at all is there too.
    std::fs::write(dir.path().join("quizzes/mini.yaml"), [0xff, 0xfe, 0x00]).unwrap();
    let (code, stdout, _) = output(lab(dir.path()).arg("validate"));
    assert_eq!(code, 2);
    assert!(stdout.contains("error[content/not-utf8]"), "{stdout}");
    assert!(!stdout.contains("does not exist"), "{stdout}");

    let dir = course_with("quizzes/mini.key.yaml", "answers:", "answers: [");
    let (code, stdout, _) = output(lab(dir.path()).arg("validate"));
    assert_eq!(code, 2);
    assert!(stdout.contains("quizzes/mini.key.yaml:"), "{stdout}");
    assert!(!stdout.contains("quiz/no-answer-key"), "{stdout}");
}

// The reader's default text was "budget breached: Documents { documents: 1025 }".
#[test]
fn a_manifest_of_too_many_documents_is_told_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("course-min"), dir.path());
    let doc = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n";
    std::fs::write(
        dir.path().join("labs/mini/manifests/app.yaml"),
        vec![doc; 10_001].join("---\n"),
    )
    .unwrap();
    let (code, stdout, _) =
        output(lab(dir.path()).args(["validate", "labs/mini/manifests/app.yaml"]));
    assert_eq!(code, 2, "{stdout}");
    insta::assert_snapshot!("too-many-documents", stdout);
}

/// `lab validate` on a copy of the real course with one edit, and the errors it reports.
fn ch14_edited(rel: &str, from: &str, to: &str) -> (i32, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    super::copy_course(dir.path());
    super::edit(dir.path(), rel, from, to);
    let (code, stdout, _) = output(lab(dir.path()).args(["validate", "--format", "github"]));
    let errors = stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .map(|l| l.split("::").nth(1).unwrap_or_default().to_owned())
        .collect();
    (code, errors)
}

// The runbook's remediation promoted `demo:1.4.3-ci`, a tag ch14 never creates: pasted, the
// command failed. Every image a step, hint, solution or the runbook names must be seeded.
#[test]
fn the_runbook_naming_a_tag_this_lab_never_creates_fails_validation() {
    let (code, errors) = ch14_edited(
        "runbooks/supply-chain.md",
        "${push_registry}/demo:1.4.2-ci)   # the CI build's tag",
        "${image_registry}/demo:1.4.3-ci)",
    );
    assert_eq!(code, 2);
    assert_eq!(
        errors,
        ["error file=runbooks/supply-chain.md,line=153,col=37,title=ref/unseeded-image"]
    );
}

// Steps 3 and 4 read `${DIGEST}` from step 2's shell: in a second terminal or after a resume
// the reference was `.../demo@` ("could not parse reference"). `lab` fills the digest instead.
#[test]
fn a_step_reading_the_digest_from_an_earlier_steps_shell_fails_validation() {
    let (code, errors) = ch14_edited(
        "labs/ch14/lab.yaml",
        "cosign sign --key cosign.key $SIGN ${push_registry}/demo@${promoted_digest}",
        "cosign sign --key cosign.key $SIGN ${push_registry}/demo@${DIGEST}",
    );
    assert_eq!(code, 2);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("error file=labs/ch14/lab.yaml,")
            && errors[0].ends_with("title=var/unset-shell-variable"),
        "{errors:?}"
    );
}
