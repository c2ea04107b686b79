//! `lab grade --format gradescope` and the ready autograder of `examples/gradescope/`: its
//! `run_autograder` run with bash against a fake `/autograder` tree (the real `lab` on PATH, a
//! finished ch14 uploaded), and every `results.json` it leaves, good upload or garbage, held
//! to the fields Gradescope's autograder spec requires. `setup.sh` installs the pinned binary
//! from a `file://` URL and refuses one whose SHA-256 is not the pinned one.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::ch14_class::finished;
use super::{copy_course, lab, output, repo};

const FORMATS: &[&str] = &["text", "html", "simple_format", "md", "ansi"];
const VISIBILITIES: &[&str] = &["hidden", "after_due_date", "after_published", "visible"];
const TOP_LEVEL: &[&str] = &[
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
];
const PER_TEST: &[&str] = &[
    "score",
    "max_score",
    "status",
    "name",
    "name_format",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
];

/// What is wrong with `doc` as a Gradescope `results.json` (empty: nothing), by the fields and
/// values its autograder spec gives: known fields only, each of its type and allowed values,
/// and a score either at the top level or on every test.
fn gradescope_problems(doc: &Value) -> Vec<String> {
    let Some(top) = doc.as_object() else {
        return vec!["not a JSON object".into()];
    };
    let mut problems = Vec::new();
    let mut check = |at: String, known: &[&str], fields: &serde_json::Map<String, Value>| {
        for (key, value) in fields {
            if !known.contains(&key.as_str()) {
                problems.push(format!("{at}{key}: an unknown field"));
            } else if !field_holds(key, value) {
                problems.push(format!("{at}{key}: {value}"));
            }
        }
    };
    check(String::new(), TOP_LEVEL, top);
    let tests = top.get("tests").and_then(Value::as_array);
    for (i, test) in tests.into_iter().flatten().enumerate() {
        if let Some(test) = test.as_object() {
            check(format!("tests[{i}]."), PER_TEST, test);
        }
    }
    for (i, test) in tests.into_iter().flatten().enumerate() {
        if !test.is_object() {
            problems.push(format!("tests[{i}] is not an object"));
        }
    }
    let every_test_scored =
        tests.is_some_and(|tests| tests.iter().all(|t| t.get("score").is_some()));
    if top.get("score").is_none() && !every_test_scored {
        problems.push("no top-level score, and a test without one".into());
    }
    problems
}

/// Whether the spec's field `key` may hold `value`.
fn field_holds(key: &str, value: &Value) -> bool {
    match key {
        "score" | "max_score" | "execution_time" => value.as_f64().is_some_and(f64::is_finite),
        "output" | "name" | "number" => value.is_string(),
        "output_format" | "test_output_format" | "test_name_format" | "name_format" => {
            value.as_str().is_some_and(|v| FORMATS.contains(&v))
        }
        "visibility" | "stdout_visibility" => {
            value.as_str().is_some_and(|v| VISIBILITIES.contains(&v))
        }
        "status" => matches!(value.as_str(), Some("passed" | "failed")),
        "extra_data" => value.is_object(),
        "tags" => value
            .as_array()
            .is_some_and(|tags| tags.iter().all(Value::is_string)),
        "tests" | "leaderboard" => value.is_array(),
        _ => false,
    }
}

fn assert_gradescope(doc: &Value) {
    let problems = gradescope_problems(doc);
    assert!(problems.is_empty(), "{problems:?}\n{doc:#}");
}

#[test]
fn the_validator_refuses_what_gradescope_would() {
    let good = serde_json::json!({"score": 1.5, "tests": [{"name": "a", "status": "passed"}]});
    assert!(gradescope_problems(&good).is_empty());
    for bad in [
        serde_json::json!({"tests": [{"name": "a", "status": "passed"}]}),
        serde_json::json!({"score": "10"}),
        serde_json::json!({"score": 1, "tests": [{"status": "ok"}]}),
        serde_json::json!({"score": 1, "tests": [{"visibility": "students"}]}),
        serde_json::json!({"score": 1, "output_format": "rtf"}),
        serde_json::json!({"score": 1, "tests": [{"number": 1}]}),
        serde_json::json!({"score": 1, "tests": [{"leaderboard": []}]}),
        serde_json::json!({"score": 1, "grade": "A"}),
        serde_json::json!([]),
    ] {
        assert!(!gradescope_problems(&bad).is_empty(), "{bad}");
    }
}

/// Files uploaded, by name.
type Uploads<'a> = &'a [(&'a str, &'a [u8])];

/// A fake `/autograder`: `source/` (with the course checkout when `with_course`) and
/// `submission/` holding `uploads`.
fn autograder(with_course: bool, uploads: Uploads<'_>) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("source")).unwrap();
    if with_course {
        copy_course(&root.path().join("source/course"));
    }
    let submission = root.path().join("submission");
    std::fs::create_dir_all(&submission).unwrap();
    for (name, bytes) in uploads {
        std::fs::write(submission.join(name), bytes).unwrap();
    }
    root
}

/// Runs `run_autograder` with bash on `root`, `lab` first on PATH (or `lab` set to another
/// path); returns its stdout and stderr and the results.json it left.
fn run_autograder(root: &Path, lab: Option<&str>) -> (String, Value) {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_lab"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("examples/gradescope/run_autograder"))
        .env("AUTOGRADER_ROOT", root)
        .env("PATH", path)
        .env_remove("LAB_COURSE");
    if let Some(lab) = lab {
        cmd.env("LAB", lab);
    }
    let out = cmd.output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{log}");
    let text = std::fs::read_to_string(root.join("results/results.json"))
        .unwrap_or_else(|e| panic!("no results.json ({e}): {log}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}\n{log}"));
    assert_gradescope(&doc);
    let left: Vec<String> = std::fs::read_dir(root.join("results"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["results.json"], "{log}");
    (log, doc)
}

fn tests_of(doc: &Value) -> &Vec<Value> {
    doc["tests"].as_array().unwrap()
}

/// The full marks of a finished ch14, as its criteria's tests give them.
fn assert_full_marks(doc: &Value) {
    let scored: Vec<&Value> = tests_of(doc)
        .iter()
        .filter(|t| t.get("score").is_some())
        .collect();
    let max: f64 = scored
        .iter()
        .map(|t| t["max_score"].as_f64().unwrap())
        .sum();
    assert!(max > 0.0, "{doc:#}");
    assert_eq!(doc["score"].as_f64(), Some(max), "{doc:#}");
    assert!(
        scored.iter().all(|t| t["score"] == t["max_score"]),
        "{doc:#}"
    );
    assert_eq!(doc["extra_data"]["outcome"], "graded", "{doc:#}");
}

#[test]
fn the_ready_autograder_grades_a_finished_lab_into_a_results_json_gradescope_accepts() {
    let root = autograder(true, &[("ada-ch14.tar.gz", &finished("ada", &[]))]);
    let (log, doc) = run_autograder(root.path(), None);
    assert!(log.contains("Wrote "), "{log}");
    assert_full_marks(&doc);
    assert_eq!(doc["extra_data"]["learner"], "ada");
    // As the learner reads it (the manifest's path is where the course is on the server).
    let text = std::fs::read_to_string(root.path().join("results/results.json")).unwrap();
    let root_path = serde_json::to_string(&root.path()).unwrap();
    insta::assert_snapshot!(
        "gradescope-finished-ch14",
        text.replace(root_path.trim_matches('"'), "/autograder")
    );
    let tests = tests_of(&doc);
    // Criteria, checks and the quiz's questions, each of its kind.
    for (group, visibility) in [
        ("1.", "visible"),
        ("2.", "visible"),
        ("3.", "after_due_date"),
    ] {
        let of_group: Vec<&Value> = tests
            .iter()
            .filter(|t| t["number"].as_str().unwrap().starts_with(group))
            .collect();
        assert!(!of_group.is_empty(), "no {group} tests: {doc:#}");
        assert!(
            of_group.iter().all(|t| t["visibility"] == visibility),
            "{doc:#}"
        );
    }
    assert!(
        tests
            .iter()
            .any(|t| t["output"].as_str().unwrap().contains("Re-verified")),
        "{doc:#}"
    );
}

#[test]
fn the_built_in_course_with_the_zips_answer_key_and_roster_grades_only_the_uploader() {
    let root = autograder(false, &[("upload.tar.gz", &finished("ada", &[]))]);
    let source = root.path().join("source");
    std::fs::copy(
        repo().join("quizzes/ch14.key.yaml"),
        source.join("answer-key.yaml"),
    )
    .unwrap();
    let keys = repo().join("labs/ch14/tests/keys");
    std::fs::copy(keys.join("test-only-signer.pub"), source.join("ada.pub")).unwrap();
    std::fs::copy(
        keys.join("test-only-other-signer.pub"),
        source.join("bob.pub"),
    )
    .unwrap();
    std::fs::write(
        source.join("roster.csv"),
        "id,name,email,section,public_key\nada,Ada Lovelace,ada@example.edu,A1,ada.pub\nbob,Bob Byte,bob@example.edu,A1,bob.pub\n",
    )
    .unwrap();
    let (log, doc) = run_autograder(root.path(), None);
    assert_full_marks(&doc);
    assert!(
        tests_of(&doc)
            .iter()
            .any(|t| t["number"].as_str().unwrap().starts_with("3.")),
        "the quiz judged with the zip's key: {doc:#}"
    );
    // Bob, on the roster with nothing handed in, is not this submission's business.
    assert!(!doc.to_string().contains("bob"), "{doc:#}\n{log}");
}

#[test]
fn garbage_no_upload_two_uploads_and_a_lab_that_cannot_run_all_leave_a_results_json_scoring_0() {
    let garbage: &[u8] = b"<html>not what lab submit wrote</html>\n";
    let cases: [(Uploads, Option<&str>, &str); 4] = [
        (&[("work.tar.gz", garbage)], None, "it is not a gzip file"),
        (
            &[("notes.txt", garbage)],
            None,
            "no .tar.gz file was uploaded",
        ),
        (
            &[("a.tar.gz", garbage), ("b.tar.gz", garbage)],
            None,
            "2 .tar.gz files were uploaded",
        ),
        (
            &[("work.tar.gz", garbage)],
            Some("/nonexistent/lab"),
            "lab grade could not run (exit 127)",
        ),
    ];
    for (uploads, lab, why) in cases {
        let root = autograder(true, uploads);
        let (log, doc) = run_autograder(root.path(), lab);
        assert_eq!(doc["score"], 0, "{doc:#}\n{log}");
        let tests = tests_of(&doc);
        assert_eq!(tests.len(), 1, "{doc:#}");
        assert_eq!(tests[0]["status"], "failed");
        assert_eq!(tests[0]["visibility"], "visible");
        assert!(
            tests[0]["output"].as_str().unwrap().contains(why),
            "{why}: {doc:#}"
        );
        assert!(
            !doc.to_string().contains("<html>"),
            "nothing of the upload is quoted: {doc:#}"
        );
    }
}

#[test]
fn format_gradescope_given_two_files_is_a_usage_error_before_anything_is_graded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.tar.gz"), b"x").unwrap();
    std::fs::write(dir.path().join("b.tar.gz"), b"y").unwrap();
    let (code, stdout, stderr) = output(lab(dir.path()).arg("--course").arg(repo()).args([
        "grade",
        ".",
        "--format",
        "gradescope",
        "-o",
        "results.json",
    ]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("--format gradescope grades exactly one submission")
            && stderr.contains("2 files were given"),
        "{stderr}"
    );
    assert!(!dir.path().join("results.json").exists());
}

#[test]
fn setup_installs_the_pinned_binary_and_refuses_one_with_another_sum() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_lab"));
    let sum = {
        let out = Command::new("sha256sum").arg(&bin).output().unwrap();
        String::from_utf8(out.stdout).unwrap()[..64].to_owned()
    };
    let setup = |prefix: &Path, sha: &str| {
        Command::new("bash")
            .arg(repo().join("examples/gradescope/setup.sh"))
            .env("LAB_URL", format!("file://{}", bin.display()))
            .env("LAB_SHA256", sha)
            .env("LAB_PREFIX", prefix)
            .output()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("bin");
    let out = setup(&prefix, &"0".repeat(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("has SHA-256 {sum}, not the pinned")),
        "{stderr}"
    );
    assert!(!prefix.join("lab").exists(), "nothing is installed");
    let out = setup(&prefix, &sum);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("lab {}\n", env!("CARGO_PKG_VERSION"))
    );
    let installed = Command::new(prefix.join("lab"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(installed.status.success());
    // Unpinned, it installs nothing and says what to set.
    let out = Command::new("bash")
        .arg(repo().join("examples/gradescope/setup.sh"))
        .env_remove("LAB_URL")
        .env_remove("LAB_SHA256")
        .env("LAB_PREFIX", dir.path().join("unpinned"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("set LAB_URL and LAB_SHA256"));
}
