//! The walkthrough at a terminal: the real `lab` in a pseudo-terminal (rexpect), against a
//! recorded world the test edits. Keys, a failed check with its hint, a file change that makes
//! the watch re-check and pass, `n`, quitting and resuming where it stopped, a cluster change
//! seen the same way, and the quiz answered with arrow keys and space to a score.

use std::process::Command;

use rexpect::session::{Options, PtySession, spawn_with_options};

use super::walkthrough::{Learner, NOTES, PINNED};

const DOWN: &str = "\x1b[B";

/// Presses keys (rexpect buffers what it sends until flushed).
pub fn key(p: &mut PtySession, keys: &str) {
    p.send(keys).unwrap();
    p.flush().unwrap();
}

/// rexpect reads the terminal byte by byte, one char per byte; the needle is encoded the same.
pub fn raw(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

fn spawn(learner: &Learner) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lab"));
    cmd.current_dir(learner.path())
        .env_remove("LAB_COURSE")
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env("COLUMNS", "80")
        .arg("--color=never")
        .arg("--course")
        .arg(Learner::course())
        .args(["walkthrough", "walk", "--world", "world.json"]);
    spawn_with_options(
        cmd,
        Options::default()
            .timeout_ms(Some(20_000))
            .strip_ansi_escape_codes(true),
    )
    .expect("lab starts in a pseudo-terminal")
}

#[test]
fn a_learner_walks_the_lab_at_a_terminal_quits_resumes_and_finishes() {
    let learner = Learner::new();
    let mut p = spawn(&learner);
    // The first screen says where the commands go: learners typed them into the walkthrough.
    let intro = p
        .exp_string(&raw("Step 1/3 · Write down what runs"))
        .unwrap()
        .replace("\r\n", " ");
    assert!(
        intro.contains(&raw("run each step's commands in a second terminal")),
        "{intro}"
    );
    assert!(
        intro.contains(&raw("This walkthrough keeps watching your files")),
        "{intro}"
    );
    p.exp_string(&raw("[c] check  [h] hint")).unwrap();
    p.exp_string(&raw("✗ The notes are written")).unwrap();
    let failed = p
        .exp_string(&raw("0 of 1 check(s) pass. Press h for a hint"))
        .unwrap();
    assert!(
        failed.contains(&raw("evidence/notes.md does not exist")),
        "{failed}"
    );

    // `n` before the checks pass does not move on.
    key(&mut p, "n");
    p.exp_string(&raw("n moves on once every check passes"))
        .unwrap();

    key(&mut p, "h");
    p.exp_string(&raw("Hint 1 of 2 for `write-notes`:"))
        .unwrap();
    p.exp_string(&raw("The notes go in `evidence/notes.md`."))
        .unwrap();

    key(&mut p, "r");
    p.exp_string(&raw("Triage")).unwrap();
    p.exp_string(&raw("the digest tells you the bytes."))
        .unwrap();

    // The learner writes the file in another terminal: the watch sees it and re-checks.
    learner.write("evidence/notes.md", NOTES);
    p.exp_string(&raw("(notes.md changed: checking again)"))
        .unwrap();
    p.exp_string(&raw("✓ The notes are written")).unwrap();
    p.exp_string(&raw("All 1 check(s) pass. Press n for the next step."))
        .unwrap();

    key(&mut p, "n");
    p.exp_string(&raw("Step 2/3 · Pin the app by digest"))
        .unwrap();
    p.exp_string(&raw("✗ The app names its image by digest"))
        .unwrap();

    key(&mut p, "l");
    p.exp_string(&raw("✓ 1. write-notes")).unwrap();
    p.exp_string(&raw("→ 2. pin-app")).unwrap();

    key(&mut p, "q");
    p.exp_string(&raw("resumes at step `pin-app`")).unwrap();
    p.exp_eof().unwrap();

    // Resumed: straight to step 2; a change of the cluster (the world) is seen as well.
    let mut p = spawn(&learner);
    p.exp_string(&raw("Step 2/3 · Pin the app by digest"))
        .unwrap();
    p.exp_string(&raw("✗ The app names its image by digest"))
        .unwrap();
    std::fs::write(learner.path().join("world.json"), PINNED).unwrap();
    p.exp_string(&raw("(world.json changed: checking again)"))
        .unwrap();
    p.exp_string(&raw("✓ The app names its image by digest"))
        .unwrap();
    // Every watch event printed another identical results block: a change that moves no
    // check says so in one line.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(learner.path().join("world.json"), PINNED).unwrap();
    let between = p
        .exp_string(&raw(
            "(world.json changed: checking again; the checks say the same)",
        ))
        .unwrap();
    assert!(!between.contains("Checked now"), "{between}");
    key(&mut p, "n");

    // The quiz, by keys: q-sign is single choice (b is right), q-enforce multiple (a and b).
    p.exp_string(&raw("Step 3/3 · Check your understanding"))
        .unwrap();
    p.exp_string(&raw("[t] take the quiz")).unwrap();
    p.exp_string(&raw("✗ The quiz is passed")).unwrap();
    key(&mut p, "t");
    p.exp_string(&raw("Question 1/2 (pick one):")).unwrap();
    p.exp_string(&raw("b) The digest")).unwrap();
    key(&mut p, DOWN);
    key(&mut p, "\r");
    p.exp_string(&raw("Right.")).unwrap();
    p.exp_string(&raw("Tags move; digests do not.")).unwrap();
    p.exp_string(&raw("Question 2/2 (pick all that apply):"))
        .unwrap();
    p.exp_string(&raw("c) deleting the policy")).unwrap();
    key(&mut p, " ");
    key(&mut p, DOWN);
    key(&mut p, " ");
    key(&mut p, "\r");
    p.exp_string(&raw("Right.")).unwrap();
    p.exp_string(&raw(
        "Mini quiz: 2 of 2 right, 100% (pass mark 50%): passed.",
    ))
    .unwrap();
    p.exp_string(&raw("This first attempt is recorded"))
        .unwrap();
    p.exp_string(&raw("✓ The quiz is passed")).unwrap();
    key(&mut p, "n");
    p.exp_string(&raw("Done when (20 of 20 points):")).unwrap();
    p.exp_eof().unwrap();

    let (code, status, _) = learner.run(&["status", "walk"]);
    assert_eq!(code, 0, "{status}");
    assert!(status.contains("intact"), "{status}");
    let events: Vec<String> = learner.progress()["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        events,
        [
            "hint-shown",
            "step-passed",
            "step-passed",
            "quiz-attempt",
            "step-passed"
        ]
    );
}

#[test]
fn manual_run_does_not_watch_and_c_checks() {
    let learner = Learner::new();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lab"));
    cmd.current_dir(learner.path())
        .env_remove("CI")
        .env("TERM", "xterm")
        .env("COLUMNS", "80")
        .arg("--color=never")
        .arg("--course")
        .arg(Learner::course())
        .args([
            "walkthrough",
            "walk",
            "--world",
            "world.json",
            "--manual-run",
        ]);
    let mut p = spawn_with_options(
        cmd,
        Options::default()
            .timeout_ms(Some(20_000))
            .strip_ansi_escape_codes(true),
    )
    .unwrap();
    let intro = p
        .exp_string(&raw("0 of 1 check(s) pass"))
        .unwrap()
        .replace("\r\n", " ");
    assert!(
        intro.contains(&raw("press c to check the step after your commands")),
        "{intro}"
    );
    learner.write("evidence/notes.md", NOTES);
    // No watch: after a second nothing was re-checked; `c` does it.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    key(&mut p, "c");
    let between = p.exp_string(&raw("✓ The notes are written")).unwrap();
    assert!(!between.contains("changed: checking again"), "{between}");
    key(&mut p, "q");
    p.exp_eof().unwrap();
}
