//! The learner's walkthrough, driven through the real `lab` binary against a recorded world
//! (`--world`: the cluster and the registry as a JSON file the test edits) and the fixture
//! course `course-walk` (three steps: an evidence file, a Deployment pinned by digest, the quiz).
//! Without a terminal nothing waits for a key; the pseudo-terminal tests are in `walk_pty.rs`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{fixture, lab, output, repo};

/// A learner's working folder with a public key (the pack renders it) and a world.
pub struct Learner {
    pub dir: tempfile::TempDir,
}

pub const TAGGED: &str =
    r#"{"workloads": {"Deployment/develop/app": [["app", "kind-registry:5000/walk/app:1.0"]]}}"#;
pub const PINNED: &str = r#"{"workloads": {"Deployment/develop/app": [["app", "kind-registry:5000/walk/app@sha256:5bc628ed2850bf90f65fdd64cf6cffeaece3fa69d3a19d57dc450f3d85a9ba80"]]}}"#;
pub const NOTES: &str = "The app runs a tag that nobody can trace back to the build CI tested.\n";

impl Learner {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            repo().join("labs/ch14/tests/keys/test-only-signer.pub"),
            dir.path().join("cosign.pub"),
        )
        .unwrap();
        std::fs::write(dir.path().join("world.json"), TAGGED).unwrap();
        Learner { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn course() -> PathBuf {
        fixture("course-walk")
    }

    /// `lab --course course-walk ARGS` in the learner's folder, stdin closed.
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let course = Self::course();
        let mut cmd = lab(self.path());
        cmd.arg("--course")
            .arg(&course)
            .args(args)
            .env("COLUMNS", "80")
            .write_stdin("");
        output(&mut cmd)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn progress(&self) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.path().join(".lab/walk/progress.json")).unwrap(),
        )
        .unwrap()
    }

    pub fn save_progress(&self, value: &Value) {
        std::fs::write(
            self.path().join(".lab/walk/progress.json"),
            serde_json::to_string_pretty(value).unwrap(),
        )
        .unwrap();
    }

    fn events(&self) -> Vec<String> {
        self.progress()["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["event"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Timestamps vary; the snapshots show them as <time>.
fn stable(text: &str) -> String {
    regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
        .unwrap()
        .replace_all(text, "<time>")
        .into_owned()
}

#[test]
fn without_a_terminal_the_flow_goes_step_by_step_and_stops_where_work_is_missing() {
    let learner = Learner::new();
    let walk = ["walkthrough", "walk", "--world", "world.json"];

    let (code, first, stderr) = learner.run(&walk);
    assert_eq!(code, 1, "{first}{stderr}");
    insta::assert_snapshot!("walk-batch-step-1-fails", first);
    assert!(
        !learner.path().join(".lab/walk/progress.json").exists(),
        "nothing passed, nothing recorded"
    );

    learner.write("evidence/notes.md", NOTES);
    let (code, second, stderr) = learner.run(&walk);
    assert_eq!(code, 1, "{second}{stderr}");
    assert!(second.contains("Step 1/3"), "{second}");
    assert!(
        second.contains("Step 2/3 · Pin the app by digest"),
        "{second}"
    );
    assert!(
        second.contains("✗ The app names its image by digest"),
        "{second}"
    );
    assert_eq!(learner.events(), ["step-passed"]);

    // The next run resumes at step 2: step 1 is not shown again.
    std::fs::write(learner.path().join("world.json"), PINNED).unwrap();
    learner.write("answers.yaml", "q-sign: b\nq-enforce: [a, b]\n");
    let (code, last, stderr) = learner.run(&[
        "walkthrough",
        "walk",
        "--world",
        "world.json",
        "--answers",
        "answers.yaml",
    ]);
    assert_eq!(code, 0, "{last}{stderr}");
    assert!(!last.contains("Step 1/3"), "{last}");
    insta::assert_snapshot!("walk-batch-finishes", last);
    assert_eq!(
        learner.events(),
        ["step-passed", "step-passed", "quiz-attempt", "step-passed"]
    );

    let (code, status, stderr) = learner.run(&["status", "walk", "--done-when"]);
    assert_eq!(code, 0, "{status}{stderr}");
    insta::assert_snapshot!("walk-status-done-when", stable(&status));
}

#[test]
fn hints_come_one_at_a_time_are_recorded_and_run_out() {
    let learner = Learner::new();
    let (code, status, _) = learner.run(&["status", "walk"]);
    assert_eq!(code, 0);
    assert!(
        status.contains("Progress record .lab/walk/progress.json: no records yet."),
        "{status}"
    );
    let (code, one, _) = learner.run(&["hint", "walk"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("walk-hint-1", one);
    let (_, two, _) = learner.run(&["hint", "walk"]);
    assert!(two.starts_with("Hint 2 of 2 for `write-notes`:"), "{two}");
    let (_, none, _) = learner.run(&["hint", "walk"]);
    assert_eq!(
        none,
        "That was the last hint of `write-notes`. Press s to see the solution.\n"
    );
    assert_eq!(learner.events(), ["hint-shown", "hint-shown"]);
    let (code, other, stderr) = learner.run(&["hint", "walk", "--step", "pin-ap"]);
    assert_eq!(code, 2);
    assert!(other.is_empty());
    assert!(
        stderr.contains("lab walk has no step `pin-ap`; did you mean `pin-app`?"),
        "{stderr}"
    );
}

#[test]
fn the_first_quiz_attempt_counts_and_later_ones_are_practice() {
    let learner = Learner::new();
    learner.write("wrong.yaml", "q-sign: a\nq-enforce: [c]\n");
    learner.write("right.yaml", "q-sign: b\nq-enforce: [b, a]\n");
    let (code, first, stderr) = learner.run(&["quiz", "walk", "--answers", "wrong.yaml"]);
    assert_eq!(code, 1, "{first}{stderr}");
    insta::assert_snapshot!("walk-quiz-first-attempt", first);

    let (code, json, _) = learner.run(&["quiz", "walk", "--answers", "right.yaml", "--json"]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["first"], false);
    assert_eq!(doc["score_percent"], 100);
    assert_eq!(doc["answers"][1]["correct"], true);

    // quiz-passed reads the first attempt: 0%, not passed.
    let progress = learner.progress();
    assert_eq!(progress["records"][0]["first"], true);
    assert_eq!(progress["records"][0]["score_percent"], 0);
    let (_, status, _) = learner.run(&["status", "walk", "--done-when"]);
    assert!(status.contains("0/5  quiz-passed (not yet)"), "{status}");
}

#[test]
fn a_bad_answers_file_names_the_line_and_nothing_is_recorded() {
    let learner = Learner::new();
    learner.write("answers.yaml", "q-sign: b\nq-enforc: [a]\n");
    let (code, stdout, stderr) = learner.run(&["quiz", "walk", "--answers", "answers.yaml"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stderr.contains(
            "answers.yaml:2: the quiz has no question `q-enforc`; did you mean `q-enforce`?"
        ),
        "{stderr}"
    );
    assert!(!learner.path().join(".lab/walk/progress.json").exists());
}

#[test]
fn nothing_waits_for_a_key_without_a_terminal() {
    let learner = Learner::new();
    let (code, _, stderr) = learner.run(&["quiz", "walk"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no terminal to ask the quiz on: give the answers with --answers FILE"),
        "{stderr}"
    );
    let (code, _, stderr) = learner.run(&["reset", "walk"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("run `lab reset` with --yes"), "{stderr}");
}

#[test]
fn reset_keeps_the_record_and_makes_the_steps_to_do_again() {
    let learner = Learner::new();
    learner.write("evidence/notes.md", NOTES);
    std::fs::write(learner.path().join("world.json"), PINNED).unwrap();
    let (code, _, _) = learner.run(&["walkthrough", "walk", "--world", "world.json"]);
    assert_eq!(code, 1, "stops at the quiz");
    let (_, steps, _) = learner.run(&["steps", "walk"]);
    insta::assert_snapshot!("walk-steps", steps);

    let (code, text, _) = learner.run(&["reset", "walk", "--step", "pin-app", "--yes"]);
    assert_eq!(code, 0);
    assert_eq!(
        text,
        "Progress reset from step `pin-app`: `lab walkthrough` resumes there.\n"
    );
    assert_eq!(learner.events(), ["step-passed", "step-passed", "reset"]);
    let (_, steps, _) = learner.run(&["steps", "walk"]);
    assert!(steps.contains("✓ 1. write-notes"), "{steps}");
    assert!(steps.contains("→ 2. pin-app"), "{steps}");
    let (code, status, _) = learner.run(&["status", "walk"]);
    assert_eq!(code, 0, "a reset is not tampering: {status}");
}

/// A learner with three records: step 1 passed, a hint, step 2 passed.
fn three_records() -> Learner {
    let learner = Learner::new();
    learner.write("evidence/notes.md", NOTES);
    std::fs::write(learner.path().join("world.json"), PINNED).unwrap();
    learner.run(&["walkthrough", "walk", "--world", "world.json"]);
    learner.run(&["hint", "walk", "--step", "pin-app"]);
    assert_eq!(
        learner.events(),
        ["step-passed", "step-passed", "hint-shown"]
    );
    learner
}

#[test]
fn an_edited_record_is_named_by_status_with_exit_6() {
    let learner = three_records();
    let mut progress = learner.progress();
    progress["records"][0]["results"][0]["message"] = "trust me, it passed".into();
    learner.save_progress(&progress);
    let (code, status, _) = learner.run(&["status", "walk"]);
    assert_eq!(code, 6, "{status}");
    insta::assert_snapshot!("walk-status-edited", status);
}

#[test]
fn a_deleted_or_reordered_record_breaks_the_chain() {
    let learner = three_records();
    let original = learner.progress();

    let mut deleted = original.clone();
    deleted["records"].as_array_mut().unwrap().remove(0);
    learner.save_progress(&deleted);
    let (code, status, _) = learner.run(&["status", "walk"]);
    assert_eq!(code, 6, "{status}");
    assert!(
        status.contains("record 1 (seq 2) does not follow the record before it"),
        "{status}"
    );
    assert!(
        status.contains("says step `pin-app` passed, but step `write-notes` before it never did"),
        "{status}"
    );

    let mut reordered = original.clone();
    reordered["records"].as_array_mut().unwrap().swap(1, 2);
    learner.save_progress(&reordered);
    let (code, status, _) = learner.run(&["status", "walk"]);
    assert_eq!(code, 6, "{status}");
    assert!(
        status.contains("record 2 (seq 3) does not follow the record before it"),
        "{status}"
    );

    // The walkthrough goes on, says so, and appends to the chain as it is.
    let (_, walk, _) = learner.run(&["walkthrough", "walk", "--world", "world.json"]);
    assert!(walk.contains("NOT intact"), "{walk}");
}

#[test]
fn a_progress_file_lab_cannot_read_is_never_overwritten() {
    let learner = Learner::new();
    learner.write(".lab/walk/progress.json", "{\"my\": \"notes\"}");
    learner.write("evidence/notes.md", NOTES);
    let (code, _, stderr) = learner.run(&["walkthrough", "walk", "--world", "world.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a progress file"), "{stderr}");
    assert!(stderr.contains("move it away"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(learner.path().join(".lab/walk/progress.json")).unwrap(),
        "{\"my\": \"notes\"}"
    );
}

#[test]
fn the_runbook_and_its_sections() {
    let learner = Learner::new();
    let (code, triage, _) = learner.run(&["runbook", "walk", "triage"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("walk-runbook-triage", triage);
    let (code, _, stderr) = learner.run(&["runbook", "walk", "rollback"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("has no section `rollback`;")
            && stderr.contains("its sections are: walk-runbook, triage, roll-back-by-digest"),
        "{stderr}"
    );
}

#[test]
fn a_writer_killed_at_any_moment_leaves_a_whole_record() {
    use std::process::Stdio;
    let learner = Learner::new();
    let course = Learner::course();
    let writer = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_lab"))
            .current_dir(learner.path())
            .arg("--course")
            .arg(&course)
            .args(["reset", "walk", "--yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // One writer to the end, timed, so that the kills below spread over a writer's life on
    // this machine at its present load (from a fifth of it to a little past its end).
    let started = std::time::Instant::now();
    assert!(writer().wait().unwrap().success());
    let life = started.elapsed();
    // Many writers killed at staggered moments: after each, the file is the previous version
    // or the new one, and always a whole, intact chain.
    for round in 0..40u32 {
        let mut child = writer();
        std::thread::sleep(life * (20 + round * 3) / 100);
        let _ = child.kill();
        let _ = child.wait();
        let (code, status, _) = learner.run(&["status", "walk"]);
        assert_eq!(code, 0, "round {round}: {status}");
    }
    let records = learner.progress()["records"].as_array().unwrap().len();
    assert!(records >= 1, "the timed writer's record is there");
    let strays: Vec<_> = std::fs::read_dir(learner.path().join(".lab/walk"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "progress.json")
        .collect();
    // A writer killed between creating its temporary file and renaming it leaves that file;
    // it is named so (`.progress.json.*.tmp`) and never read.
    assert!(
        strays
            .iter()
            .all(|n| n.starts_with(".progress.json.") && n.ends_with(".tmp")),
        "{strays:?}"
    );
}

#[test]
fn an_unreachable_cluster_stops_the_flow_with_exit_3() {
    let learner = Learner::new();
    learner.write("evidence/notes.md", NOTES);
    std::fs::write(
        learner.path().join("world.json"),
        r#"{"unreachable": true}"#,
    )
    .unwrap();
    let (code, text, _) = learner.run(&["walkthrough", "walk", "--world", "world.json"]);
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("! The app names its image by digest"),
        "step 1 reads only a file and passes; step 2 cannot look: {text}"
    );
    assert!(text.contains("cannot reach the cluster"), "{text}");
}
