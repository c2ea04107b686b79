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
    // At a shell prompt there are no keys to press: it said "Press s ...".
    let (_, none, _) = learner.run(&["hint", "walk"]);
    assert_eq!(
        none,
        "That was the last hint of `write-notes`. `lab solve walk --step write-notes` shows its solution.\n"
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

    // quiz-passed judges the first attempt's answers: 0%, not passed. The record keeps the
    // answers and never a score. Its step is not passed, so done-when runs the check now (it
    // said "not yet" while the check could be run).
    let progress = learner.progress();
    assert_eq!(progress["records"][0]["first"], true);
    assert_eq!(
        progress["records"][0]["answers"]["q-sign"],
        serde_json::json!(["a"])
    );
    assert!(progress["records"][0].get("score_percent").is_none());
    let (_, status, _) = learner.run(&["status", "walk", "--done-when"]);
    assert!(
        status.contains("0/5  quiz-passed (fail, run now)"),
        "{status}"
    );
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
        .filter(|n| n != "progress.json" && n != "progress.lock")
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

/// `n` copies of `lab ARGS` started at once in the learner's folder; their exit codes.
fn at_once(learner: &Learner, n: usize, args: &[&str]) -> Vec<i32> {
    let course = Learner::course();
    let children: Vec<_> = (0..n)
        .map(|_| {
            let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("lab"));
            cmd.current_dir(learner.path())
                .arg("--course")
                .arg(&course)
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            cmd.spawn().unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|mut c| c.wait().unwrap().code().unwrap_or(-1))
        .collect()
}

// Twenty concurrent `lab reset --yes` (each exit 0) left 2 records: every writer loaded,
// appended in memory and renamed over the file with no lock.
#[test]
fn twenty_concurrent_resets_leave_twenty_records_in_one_chain() {
    let learner = Learner::new();
    let codes = at_once(&learner, 20, &["reset", "walk", "--yes"]);
    assert!(codes.iter().all(|c| *c == 0), "{codes:?}");
    assert_eq!(learner.events(), vec!["reset"; 20]);
    let (code, status, _) = learner.run(&["status", "walk"]);
    assert_eq!(code, 0, "{status}");
}

// Two concurrent `lab quiz --answers` both said "first": true.
#[test]
fn of_two_quiz_attempts_at_once_exactly_one_is_the_first() {
    let learner = Learner::new();
    learner.write("right.yaml", "q-sign: b\nq-enforce: [b, a]\n");
    let codes = at_once(&learner, 2, &["quiz", "walk", "--answers", "right.yaml"]);
    assert_eq!(codes, [0, 0]);
    let progress = learner.progress();
    let firsts: Vec<bool> = progress["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["first"].as_bool().unwrap())
        .collect();
    assert_eq!(firsts.len(), 2);
    assert_eq!(firsts.iter().filter(|f| **f).count(), 1, "{firsts:?}");
}

// Each record names the course it was made against, so a grader can tell another version.
#[test]
fn every_record_names_the_lab_its_version_and_the_digest_of_its_files() {
    let learner = three_records();
    let progress = learner.progress();
    let courses: Vec<&Value> = progress["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["course"])
        .collect();
    assert_eq!(courses[0]["lab"], "walk");
    let digest = courses[0]["digest"].as_str().unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert!(courses.iter().all(|c| *c == courses[0]));
}

// `lab solve` showed a solution without recording it, while `s` in the walkthrough did.
#[test]
fn lab_solve_records_that_the_solution_was_shown_once() {
    let learner = Learner::new();
    for _ in 0..2 {
        let (code, out, err) = learner.run(&["solve", "walk", "--step", "pin-app"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("kind-registry:5000/walk/app@sha256:0000"),
            "{out}"
        );
    }
    assert_eq!(learner.events(), ["solution-shown"]);
}

// A check's points came from any recorded step's results, even a step the lab does not have:
// a rechained "step 1 passed" record carrying every check's results scored 20/20.
#[test]
fn done_when_scores_a_check_only_from_its_own_step_and_names_unknown_steps() {
    use courselab::engine::Status;
    use courselab::record::{CourseStamp, Event, Progress, RecordedCheck};
    let learner = Learner::new();
    let every: Vec<RecordedCheck> = ["notes-written", "app-pinned", "quiz-passed"]
        .iter()
        .map(|c| RecordedCheck {
            check: (*c).into(),
            status: Status::Pass,
            message: "forged".into(),
            evidence: Vec::new(),
        })
        .collect();
    let course = CourseStamp {
        lab: "walk".into(),
        version: None,
        digest: "sha256:00".into(),
    };
    let mut forged = Progress::new("walk");
    for step in ["write-notes", "made-up"] {
        let event = Event::StepPassed {
            step: step.into(),
            results: every.clone(),
        };
        forged.append_at(event, "2026-12-06T10:00:00Z".into(), &course);
    }
    learner.write(
        ".lab/walk/progress.json",
        &serde_json::to_string(&forged).unwrap(),
    );
    let (_, status, _) = learner.run(&["status", "walk", "--done-when"]);
    assert!(status.contains("Done when (5 of 20 points)"), "{status}");
    assert!(
        status.contains("The record names steps this lab does not have, never scored: made-up."),
        "{status}"
    );
}

// A score was printed beside a chain that is not intact without saying it is void.
#[test]
fn done_when_on_a_broken_chain_says_there_is_no_score() {
    let learner = three_records();
    let mut progress = learner.progress();
    progress["records"][0]["results"][0]["message"] = "trust me".into();
    learner.save_progress(&progress);
    let (code, status, _) = learner.run(&["status", "walk", "--done-when"]);
    assert_eq!(code, 6, "{status}");
    assert!(
        status.contains("Done when: no score, the progress record is not intact"),
        "{status}"
    );
}

// quiz-passed read `score_percent` from the first quiz record as written, without verifying
// its hash or judging its answers again; and every check error exited 3, "unreachable".
#[test]
fn quiz_passed_judges_the_recorded_answers_and_a_tampered_record_exits_6() {
    let learner = Learner::new();
    learner.write("wrong.yaml", "q-sign: a\nq-enforce: [c]\n");
    learner.run(&["quiz", "walk", "--answers", "wrong.yaml"]);
    // A score added by hand is not read: the answers are judged again, 0%.
    let mut progress = learner.progress();
    progress["records"][0]["score_percent"] = 100.into();
    learner.save_progress(&progress);
    learner.write("evidence/notes.md", NOTES);
    std::fs::write(learner.path().join("world.json"), PINNED).unwrap();
    let walk = ["walkthrough", "walk", "--world", "world.json"];
    let (code, out, _) = learner.run(&walk);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("quiz scored 0%"), "{out}");

    // Edited without rechaining: the check cannot trust the record, and says so with exit 6.
    let mut progress = learner.progress();
    progress["records"][0]["answers"]["q-sign"] = serde_json::json!(["b"]);
    learner.save_progress(&progress);
    let (code, out, _) = learner.run(&["next", "walk", "--world", "world.json"]);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("is not intact"), "{out}");
}

// Evidence files were read through symbolic links that leave the working folder, and the
// check's message quoted what it read: a link to ~/.git-credentials printed the credential.
#[test]
fn an_evidence_link_out_of_the_folder_is_not_followed_nor_quoted() {
    let learner = Learner::new();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join(".git-credentials");
    std::fs::write(&secret, "https://learner:ghp_secret123@github.com\n").unwrap();
    std::fs::create_dir_all(learner.path().join("evidence")).unwrap();
    std::os::unix::fs::symlink(&secret, learner.path().join("evidence/notes.md")).unwrap();
    let (code, out, err) = learner.run(&["next", "walk", "--world", "world.json"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("a link that leads outside the working folder"),
        "{out}"
    );
    assert!(!out.contains("ghp_secret123") && !err.contains("ghp_secret123"));
}

// Evidence problems (a FIFO, a file over 1 MiB) exited 3, "unreachable": they are the
// learner's to fix, so the check fails (exit 1) and says what to do.
#[test]
fn evidence_that_is_no_regular_file_fails_the_check_with_exit_1() {
    let learner = Learner::new();
    std::fs::create_dir_all(learner.path().join("evidence")).unwrap();
    let fifo = learner.path().join("evidence/notes.md");
    super::mkfifo(&fifo);
    let (code, out, _) = learner.run(&["next", "walk", "--world", "world.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("a FIFO, not a regular file"), "{out}");
    std::fs::remove_file(&fifo).unwrap();
    learner.write("evidence/notes.md", &"word ".repeat(300_000));
    let (code, out, _) = learner.run(&["next", "walk", "--world", "world.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("it is 1500000 bytes, more than the 1048576"),
        "{out}"
    );
}

/// A learner's folder for ch14 as the course checkout has it (quiz graded, key beside it).
fn ch14_learner() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("labs/ch14/tests/keys/test-only-signer.pub"),
        dir.path().join("cosign.pub"),
    )
    .unwrap();
    dir
}

fn ch14(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = lab(dir);
    cmd.arg("--course").arg(repo()).args(args).write_stdin("");
    output(&mut cmd)
}

// The quiz's answer key could be recovered offline from the feedback digests in the quiz file
// or the binary. ch14's quiz is graded: `lab quiz` records the answers and says nothing about
// them, it is answered once, and done-when leaves its points to `lab grade`.
#[test]
fn a_graded_quiz_is_recorded_not_judged_answered_once_and_left_to_lab_grade() {
    let dir = ch14_learner();
    let key = std::fs::read_to_string(repo().join("quizzes/ch14.key.yaml")).unwrap();
    let right = key
        .lines()
        .filter_map(|l| l.strip_prefix("  - question: "))
        .map(|q| format!("{q}: a\n"))
        .collect::<String>();
    std::fs::write(dir.path().join("answers.yaml"), &right).unwrap();
    let (code, out, err) = ch14(dir.path(), &["quiz", "ch14", "--answers", "answers.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("your answers are recorded"), "{out}");
    for verdict in ["Right.", "Not quite.", "% (pass mark", "A tag is a pointer"] {
        assert!(!out.contains(verdict), "{verdict} in {out}");
    }
    let (code, again, _) = ch14(dir.path(), &["quiz", "ch14", "--answers", "answers.yaml"]);
    assert_eq!(code, 0);
    assert!(
        again.contains("already recorded; it is answered once"),
        "{again}"
    );
    let progress: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".lab/ch14/progress.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(progress["records"].as_array().unwrap().len(), 1);
    let (_, status, _) = ch14(dir.path(), &["status", "ch14", "--done-when"]);
    assert!(
        status.contains("10 more are the graded quiz's, which `lab grade` awards"),
        "{status}"
    );
    assert!(
        status.contains("quiz-passed (pass, answers recorded; `lab grade` awards these)"),
        "{status}"
    );
}

// Nothing in the `lab` binary or the learner's quiz file tells a right answer from a wrong one.
#[test]
fn neither_the_binary_nor_the_quiz_file_holds_correctness_information() {
    let binary = std::fs::read(assert_cmd::cargo::cargo_bin!("lab")).unwrap();
    let quiz = std::fs::read_to_string(repo().join("quizzes/ch14.yaml")).unwrap();
    assert!(quiz.contains("mode: graded"));
    assert!(!quiz.contains("feedback:") && !quiz.contains("explanation:"));
    let key = std::fs::read_to_string(repo().join("quizzes/ch14.key.yaml")).unwrap();
    let explanation = key
        .lines()
        .find_map(|l| l.trim().strip_prefix("A tag is a pointer"))
        .expect("the key explains the first question");
    let needle = format!("A tag is a pointer{explanation}");
    assert!(
        !binary.windows(needle.len()).any(|w| w == needle.as_bytes()),
        "an explanation is in the binary"
    );
}

// A bare `sha256:000...0` passed the pod-image-ids check with no registry lookup: a bare
// digest must be one the lab registry holds under a repository the lab's checks name.
#[test]
fn a_bare_zero_digest_as_pod_image_ids_fails_the_check() {
    let dir = ch14_learner();
    let zeros = format!("sha256:{}", "0".repeat(64));
    std::fs::create_dir_all(dir.path().join("evidence")).unwrap();
    std::fs::write(dir.path().join("evidence/pod-image-ids.txt"), &zeros).unwrap();
    std::fs::write(dir.path().join("world.json"), "{}").unwrap();
    let (code, out, err) = ch14(dir.path(), &["next", "ch14", "--world", "world.json"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("which the lab registry does not hold"),
        "{out}"
    );
    assert!(
        out.contains("✗ The running image IDs are saved as evidence"),
        "{out}"
    );
}

/// course-walk with its quiz graded and the practice quiz beside it.
fn graded_walk_course(root: &Path) {
    super::copy_tree(&Learner::course(), root);
    let quiz = root.join("quizzes/walk.yaml");
    let practice = std::fs::read_to_string(&quiz).unwrap();
    std::fs::write(root.join("quizzes/walk-practice.yaml"), &practice).unwrap();
    std::fs::copy(
        root.join("quizzes/walk.key.yaml"),
        root.join("quizzes/walk-practice.key.yaml"),
    )
    .unwrap();
    let graded: String = practice
        .replace("pass_percent:", "mode: graded\npass_percent:")
        .lines()
        .filter(|l| !l.contains("feedback:") && !l.contains("explanation:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&quiz, graded).unwrap();
    super::edit(
        root,
        "labs/walk/lab.yaml",
        "quiz: ../../quizzes/walk.yaml\n",
        "quiz: ../../quizzes/walk.yaml\npractice_quiz: ../../quizzes/walk-practice.yaml\n",
    );
}

// A course can ship a practice quiz beside a graded one: feedback at once, nothing recorded.
#[test]
fn the_practice_quiz_beside_a_graded_one_gives_feedback_and_records_nothing() {
    let course = tempfile::tempdir().unwrap();
    graded_walk_course(course.path());
    let (code, out, _) = output(lab(course.path()).arg("validate"));
    assert_eq!(code, 0, "{out}");
    let learner = Learner::new();
    learner.write("right.yaml", "q-sign: b\nq-enforce: [b, a]\n");
    let run = |args: &[&str]| {
        let mut cmd = lab(learner.path());
        cmd.arg("--course")
            .arg(course.path())
            .args(args)
            .write_stdin("");
        output(&mut cmd)
    };
    let (code, out, err) = run(&["quiz", "walk", "--practice", "--answers", "right.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Right.") && out.contains("nothing is recorded"),
        "{out}"
    );
    assert!(!learner.path().join(".lab/walk/progress.json").exists());
    let (code, out, _) = run(&["quiz", "walk", "--answers", "right.yaml"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("Right."),
        "the graded quiz says nothing: {out}"
    );
    assert!(out.contains("your answers are recorded"), "{out}");
}

/// course-walk with a digest value and kind-only text in step 2, and a learner who passed
/// step 1, on a lab `lab start` left `state` for (none: never started).
fn walk_with_lab_values(state: Option<&str>) -> (Learner, tempfile::TempDir) {
    let course = tempfile::tempdir().unwrap();
    super::copy_tree(&Learner::course(), course.path());
    let lab = "labs/walk/lab.yaml";
    super::edit(
        course.path(),
        lab,
        "      - kind-registry:5000\ntools:",
        "      - kind-registry:5000\n  seed:\n    - image: app:1.0\n      build: ci\ntools:",
    );
    super::edit(
        course.path(),
        lab,
        "    from_file: true\n",
        "    from_file: true\n  - name: app_digest\n    description: The digest CI built.\n    digest_of: app:1.0\n",
    );
    super::edit(
        course.path(),
        lab,
        "      Set the app's image to `${image_registry}/app@sha256:...`, the digest CI built.\n",
        "      Set the app's image to the digest CI built:\n\n      ```sh\n      kubectl set image -n develop deployment/app app=${image_registry}/app@${app_digest}\n      ```\n    on_kind:\n      instructions: Two names, one registry, on the kind network.\n      hints:\n        - Inside kind, `localhost` is the node.\n",
    );
    let learner = Learner::new();
    learner.write("evidence/notes.md", NOTES);
    if let Some(state) = state {
        learner.write(".lab/walk/state.json", state);
    }
    (learner, course)
}

fn run_in(learner: &Learner, course: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = lab(learner.path());
    cmd.arg("--course")
        .arg(course)
        .args(args)
        .env("COLUMNS", "200")
        .write_stdin("");
    output(&mut cmd)
}

const DIGEST: &str = "sha256:5bc628ed2850bf90f65fdd64cf6cffeaece3fa69d3a19d57dc450f3d85a9ba80";

// Steps 3 and 4 of ch14 showed `demo@${DIGEST}` from step 2's shell: in a second terminal
// the command failed. The step shows the digest `lab start` recorded, and works as pasted.
#[test]
fn a_step_command_works_in_a_second_terminal_without_the_shell_variable() {
    let walk = ["walkthrough", "walk", "--world", "world.json"];
    let context_lab = format!(
        r#"{{"schema_version": 1, "chapter": "walk", "context": "mine", "digests": {{"app:1.0": "{DIGEST}"}}}}"#
    );
    let (learner, course) = walk_with_lab_values(Some(&context_lab));
    let (code, screens, stderr) = run_in(&learner, course.path(), &walk);
    assert_eq!(code, 1, "{screens}{stderr}");
    assert!(
        screens.contains(&format!(
            "│ kubectl set image -n develop deployment/app app=kind-registry:5000/walk/app@{DIGEST}\n"
        )),
        "{screens}"
    );
    // A `--context` lab has no kind network: the kind-only text and hint are left out.
    assert!(!screens.contains("Two names"), "{screens}");
    let (_, hint, _) = run_in(
        &learner,
        course.path(),
        &["hint", "walk", "--step", "pin-app"],
    );
    assert!(hint.starts_with("Hint 1 of 1 for `pin-app`:"), "{hint}");
    let (_, hint, _) = run_in(
        &learner,
        course.path(),
        &["hint", "walk", "--step", "pin-app"],
    );
    assert!(
        hint.starts_with("That was the last hint of `pin-app`."),
        "{hint}"
    );
    let (_, solution, _) = run_in(
        &learner,
        course.path(),
        &["solve", "walk", "--step", "pin-app"],
    );
    assert!(
        solution.contains("app=kind-registry:5000/walk/app@sha256:0000"),
        "{solution}"
    );
}

// "Two names, one registry" was shown on every lab; on a `--context` lab both names are the
// same and there is no kind network. It is shown only where `lab start` made the kind cluster.
#[test]
fn kind_only_text_is_shown_only_on_the_kind_cluster_lab_start_made() {
    let walk = ["walkthrough", "walk", "--world", "world.json"];
    let kind_lab = format!(
        r#"{{"schema_version": 1, "chapter": "walk", "context": "kind-courselab-walk", "kind_cluster": "courselab-walk", "digests": {{"app:1.0": "{DIGEST}"}}}}"#
    );
    let (learner, course) = walk_with_lab_values(Some(&kind_lab));
    let (code, screens, stderr) = run_in(&learner, course.path(), &walk);
    assert_eq!(code, 1, "{screens}{stderr}");
    assert!(
        screens.contains(&format!(
            "app@{DIGEST}\n\nTwo names, one registry, on the kind network.\n"
        )),
        "{screens}"
    );
    for n in 1..=2 {
        let (_, hint, _) = run_in(
            &learner,
            course.path(),
            &["hint", "walk", "--step", "pin-app"],
        );
        assert!(
            hint.starts_with(&format!("Hint {n} of 2 for `pin-app`:")),
            "{hint}"
        );
        assert_eq!(hint.contains("Inside kind"), n == 2, "{hint}");
    }

    // Never started: nobody knows where it runs, so the kind text is left out, and the digest
    // is shown as its placeholder.
    let (learner, course) = walk_with_lab_values(None);
    let (_, screens, _) = run_in(&learner, course.path(), &walk);
    assert!(
        screens.contains("app=kind-registry:5000/walk/app@${app_digest}\n"),
        "{screens}"
    );
    assert!(!screens.contains("Two names"), "{screens}");
}
