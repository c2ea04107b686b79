//! The invalid-content corpus: each case in `tests/fixtures/invalid/` edits the minimal course
//! so that one rule must fire, then asserts the exit code, that the rule is reported, and a
//! snapshot of the whole diagnostic as a person reads it.

use std::path::Path;

use serde::Deserialize;

use super::{copy_tree, fixture, lab, output};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    rule: String,
    exit: i32,
    #[serde(default)]
    edits: Vec<Edit>,
    #[serde(default)]
    creates: Vec<Create>,
    /// Files no text edit can make: raw bytes, FIFOs, links, huge or many files.
    #[serde(default)]
    special: Vec<Special>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum Special {
    /// A file of these bytes (hex).
    Bytes { file: String, hex: String },
    /// A FIFO.
    Fifo { file: String },
    /// A symbolic link to `to` (as written, relative to the link's folder or absolute).
    Link { file: String, to: String },
    /// A file of `size` bytes of `a`.
    Sized { file: String, size: usize },
    /// `count` empty files in the folder `dir`.
    Many { dir: String, count: usize },
}

fn make_special(root: &Path, special: &Special) {
    let path = |rel: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        p
    };
    match special {
        Special::Bytes { file, hex } => {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            std::fs::write(path(file), bytes).unwrap();
        }
        Special::Fifo { file } => {
            super::mkfifo(&path(file));
        }
        Special::Link { file, to } => std::os::unix::fs::symlink(to, path(file)).unwrap(),
        Special::Sized { file, size } => std::fs::write(path(file), vec![b'a'; *size]).unwrap(),
        Special::Many { dir, count } => {
            let dir = path(&format!("{dir}/x"));
            let dir = dir.parent().unwrap();
            for i in 0..*count {
                std::fs::write(dir.join(format!("f{i}.bin")), b"").unwrap();
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Edit {
    file: String,
    replace: String,
    with: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    file: String,
    from: String,
    replace: String,
    with: String,
}

fn replace_once(text: &str, old: &str, new: &str, what: &str) -> String {
    assert_eq!(
        text.matches(old).count(),
        1,
        "{what}: `{old}` must occur exactly once, or the case tests nothing"
    );
    text.replacen(old, new, 1)
}

fn run_case(name: &str) {
    let case_file = fixture("invalid").join(format!("{name}.yaml"));
    let case: Case = serde_saphyr::from_str(&std::fs::read_to_string(&case_file).unwrap()).unwrap();
    assert!(
        !case.edits.is_empty() || !case.creates.is_empty() || !case.special.is_empty(),
        "{name}: a case must change something"
    );
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("course-min"), dir.path());
    for edit in &case.edits {
        let path = dir.path().join(&edit.file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, replace_once(&text, &edit.replace, &edit.with, name)).unwrap();
    }
    for create in &case.creates {
        let text = std::fs::read_to_string(dir.path().join(&create.from)).unwrap();
        let target = dir.path().join(&create.file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(
            target,
            replace_once(&text, &create.replace, &create.with, name),
        )
        .unwrap();
    }
    for special in &case.special {
        make_special(dir.path(), special);
    }
    let (code, stdout, stderr) = output(lab(dir.path()).arg("validate"));
    assert_eq!(code, case.exit, "{name}: exit code\n{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("[{}]", case.rule)),
        "{name}: rule {} not reported\n{stdout}",
        case.rule
    );
    assert!(stderr.is_empty(), "{name}: nothing on stderr, got {stderr}");
    insta::assert_snapshot!(format!("invalid-{name}"), stdout);
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_case(&stringify!($name).replace('_', "-"));
            }
        )*

        /// Every case file has a test, and every test a case file.
        #[test]
        fn every_case_file_is_listed() {
            let mut listed: Vec<String> = vec![$(stringify!($name).replace('_', "-")),*];
            listed.sort();
            let mut files: Vec<String> = std::fs::read_dir(fixture("invalid"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
                .collect();
            files.sort();
            assert_eq!(listed, files);
        }
    };
}

cases!(
    check_report_without_resource,
    content_dangling_link,
    content_link_leaves_course,
    content_not_a_file,
    content_not_utf8,
    content_too_large,
    content_too_many_files,
    content_unreadable,
    default_not_a_choice,
    duplicate_lab_alias,
    duplicate_step_id,
    id_folder_mismatch,
    invalid_value,
    kind_api_version,
    kind_bad_containerd_patch,
    kind_legacy_mirror_mismatch,
    kind_localhost_registry,
    kind_no_registry_config,
    kind_registry_mirror,
    kyverno_api_version,
    kyverno_attestation_type,
    kyverno_attestor_kind,
    kyverno_attestor_set_empty,
    kyverno_audit_mutate_digest,
    kyverno_autogen_all,
    kyverno_audit_mutate_digest_default,
    kyverno_audit_verify_digest,
    kyverno_background_verify_images,
    kyverno_cert_chain_needs_sct,
    kyverno_count_below_one,
    kyverno_crd_schema,
    kyverno_count_exceeds_entries,
    kyverno_deprecated_kind_removed,
    kyverno_deprecated_validation_failure_action,
    kyverno_keyless_rekor_url,
    kyverno_keys_need_tlog_settings,
    kyverno_lowercase_action,
    kyverno_match_without_kinds,
    kyverno_no_image_references,
    kyverno_notary_attestor,
    kyverno_overrides_conflict,
    kyverno_overrides_namespaced,
    kyverno_pattern_matches_nothing,
    kyverno_pattern_misses_digest,
    kyverno_variables_in_image_references,
    malformed_id,
    missing_anchor,
    missing_field,
    missing_file,
    no_checks,
    outside_course,
    outside_course_absolute,
    outside_course_fixture_images,
    outside_course_test_key_link,
    quiz_answer_count,
    quiz_answer_not_an_option,
    quiz_duplicate_option,
    quiz_explanation_missing,
    quiz_feedback_format,
    quiz_feedback_mismatch,
    quiz_feedback_missing,
    quiz_graded_explanation,
    quiz_graded_feedback,
    quiz_key_explanation,
    quiz_missing_answer,
    quiz_no_answer_key,
    quiz_objective_uncovered,
    quiz_pass_mark,
    quiz_practice_mode,
    quiz_too_few_options,
    quiz_unknown_lab,
    quiz_unknown_objective,
    quiz_unknown_question,
    ref_evidence_path,
    ref_unseeded_image,
    ref_unseeded_image_digest_of,
    schema_version,
    tool_bad_version,
    undefined_placeholder,
    unknown_check,
    unknown_check_kind,
    unknown_field,
    unknown_file,
    unknown_policy,
    unreadable_reference,
    unscored_check,
    unused_policy_file,
    var_malformed,
    var_unknown_choice,
    var_unset_shell_variable,
    var_unused,
    wrong_kind,
    yaml_duplicate_key,
    yaml_empty_file,
    yaml_limit_depth,
    yaml_syntax,
    yaml_syntax_kind_config,
    yaml_syntax_manifest,
    yaml_syntax_policy,
    yaml_syntax_quiz,
    zero_points,
);

/// The rule ids written in the Rust files under `src/<dir>` (quoted `family/name` strings).
fn rule_ids_in(dir: &str, families: &[&str]) -> std::collections::BTreeSet<String> {
    let mut emitted = std::collections::BTreeSet::new();
    let mut stack = vec![super::repo().join(dir)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for piece in text.split('"').skip(1).step_by(2) {
                let is_code = piece.split_once('/').is_some_and(|(family, name)| {
                    families.contains(&family)
                        && !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                });
                if is_code {
                    emitted.insert(piece.to_owned());
                }
            }
        }
    }
    emitted
}

/// The families of `lab validate`'s rule ids.
const VALIDATE_FAMILIES: [&str; 11] = [
    "yaml", "schema", "id", "ref", "done", "var", "tool", "quiz", "kyverno", "kind", "content",
];

/// Every rule id the validator can emit has a case (so a new rule comes with its case).
#[test]
fn every_rule_has_a_case() {
    let emitted = rule_ids_in("src/content", &VALIDATE_FAMILIES);
    let cased: std::collections::BTreeSet<String> = std::fs::read_dir(fixture("invalid"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter_map(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("rule: ").map(str::to_owned))
        })
        .collect();
    let missing: Vec<_> = emitted.difference(&cased).collect();
    assert!(
        emitted.len() > 40,
        "the scan found the rule ids ({})",
        emitted.len()
    );
    assert!(
        missing.is_empty(),
        "rules without a case in tests/fixtures/invalid: {missing:?}"
    );
}

#[test]
fn the_minimal_course_is_valid() {
    let (code, stdout, _) = output(lab(Path::new(&fixture("course-min"))).arg("validate"));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("ok: 7 files checked"), "{stdout}");
    assert!(!stdout.contains("error["), "{stdout}");
}

/// The README lists every rule id the source can emit (a new rule is documented with it).
#[test]
fn every_rule_id_is_in_the_readme() {
    let readme = std::fs::read_to_string(super::repo().join("README.md")).unwrap();
    let families: Vec<&str> = VALIDATE_FAMILIES.iter().copied().chain(["test"]).collect();
    let ids = rule_ids_in("src", &families);
    assert!(
        ids.len() > 60,
        "the scan found the rule ids ({})",
        ids.len()
    );
    // `test/nginx` is an image reference in a unit test, not a rule.
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| *id != "test/nginx" && !readme.contains(&format!("`{id}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "rule ids the README does not list: {missing:?}"
    );
}
