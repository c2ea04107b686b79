//! Hostile input, round three (issue 19): a private key given as the key the policies trust,
//! terminal control sequences in what `lab` prints, waits too long to compute a deadline for,
//! and a runbook nested or cross-referenced so deeply that rendering it blew up. Each test is
//! named after what broke.

use std::time::{Duration, Instant};

use super::walkthrough::{Learner, NOTES, PINNED};
use super::{copy_tree, fixture, lab, output, repo};

/// A P-256 private key in PKCS#8 PEM, made fresh for each test.
fn private_key_pem() -> String {
    rcgen::KeyPair::generate().unwrap().serialize_pem()
}

/// The base64 lines of a PEM block: none of them may ever be printed.
fn secret_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 8)
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_private_key_given_as_cosign_public_key_is_refused_and_never_printed() {
    // Any file was accepted as cosign_public_key and printed into the policy sent to the cluster.
    let learner = Learner::new();
    let cosign_encrypted = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnsibmFtZSI6InNjcnlwdCJ9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
    for key in [private_key_pem(), cosign_encrypted.to_owned()] {
        learner.write("cosign.pub", &key);
        for args in [
            &["render", "walk", "policies/verify-images.yaml"][..],
            &["walkthrough", "walk", "--world", "world.json"][..],
        ] {
            let (code, stdout, stderr) = learner.run(args);
            assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
            for secret in secret_lines(&key) {
                assert!(
                    !stdout.contains(&secret) && !stderr.contains(&secret),
                    "{args:?} printed the private key: {stdout}{stderr}"
                );
            }
            assert!(
                stderr.contains(
                    "cosign.pub: cannot be the value of `cosign_public_key`: it holds a PRIVATE key"
                ),
                "{args:?}: {stderr}"
            );
        }
    }
    let (_, _, stderr) = learner.run(&["render", "walk", "policies/verify-images.yaml"]);
    insta::assert_snapshot!("private-key-as-cosign-public-key", stderr);
}

#[test]
fn a_file_that_is_not_a_public_key_is_refused_with_what_to_do() {
    // A certificate, a note or an empty file went into the policy as the trusted key.
    let dir = tempfile::tempdir().unwrap();
    let not_a_key = dir.path().join("notes.txt");
    std::fs::write(&not_a_key, "remember to rotate the key\n").unwrap();
    let pod = repo().join("labs/ch14/manifests/workstation-hotfix-pod.yaml");
    let (code, stdout, stderr) = output(
        lab(dir.path())
            .args(["admit", "--chapter", "ch14", "-f"])
            .arg(&pod)
            .arg(format!("--set=cosign_public_key={}", not_a_key.display())),
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "no verdict: {stdout}");
    assert!(
        stderr.contains(
            "notes.txt: cannot be the value of `cosign_public_key`: it is not one PEM public key"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("run `cosign generate-key-pair`"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("rotate"),
        "the content is not quoted: {stderr}"
    );
    // The committed TEST public key still renders.
    let (code, _, stderr) = output(
        lab(dir.path())
            .args(["admit", "--chapter", "ch14", "--layouts"])
            .arg(repo().join("labs/ch14/tests/images"))
            .arg("-f")
            .arg(&pod)
            .arg(format!(
                "--set=cosign_public_key={}",
                repo()
                    .join("labs/ch14/tests/keys/test-only-signer.pub")
                    .display()
            )),
    );
    assert!(code == 0 || code == 1, "{stderr}");
}

/// The escape sequence that moved the cursor up twelve lines and cleared the screen below.
const HIDE: &str = "\x1b[12A\x1b[J";

#[test]
fn escape_sequences_in_a_record_cannot_hide_that_it_is_not_intact() {
    // An evidence value holding ESC[12A ESC[J reached `lab status` raw and erased "NOT intact".
    let learner = Learner::new();
    learner.write("evidence/notes.md", NOTES);
    std::fs::write(learner.path().join("world.json"), PINNED).unwrap();
    learner.run(&["walkthrough", "walk", "--world", "world.json"]);
    let mut progress = learner.progress();
    let records = progress["records"].as_array_mut().unwrap();
    let mut planted = 0;
    for record in records.iter_mut() {
        let results = record.get_mut("results").and_then(|r| r.as_array_mut());
        for result in results.into_iter().flatten() {
            let evidence = result.get_mut("evidence").and_then(|e| e.as_array_mut());
            for evidence in evidence.into_iter().flatten() {
                evidence["value"] = format!("fine{HIDE}\u{202e}").into();
                planted += 1;
            }
        }
    }
    assert!(planted > 0, "the record holds evidence to plant into");
    learner.save_progress(&progress);
    let (code, status, stderr) = learner.run(&["status", "walk", "--done-when"]);
    assert_eq!(code, 6, "{status}{stderr}");
    assert!(!status.contains('\x1b'), "{status:?}");
    assert!(!status.contains('\u{202e}'), "{status:?}");
    assert!(status.contains("NOT intact"), "{status}");
    assert!(
        status.contains("fine\\u{1b}[12A\\u{1b}[J\\u{202e}"),
        "shown, escaped: {status}"
    );
}

#[test]
fn escape_sequences_from_the_cluster_are_shown_not_obeyed_in_check_results() {
    // An image name the cluster reported reached the results screen raw.
    let learner = Learner::new();
    learner.write("evidence/notes.md", NOTES);
    let world = format!(
        r#"{{"workloads": {{"Deployment/develop/app": [["app", "kind-registry:5000/walk/app:1.0{}"]]}}}}"#,
        "\\u001b]0;owned\\u0007\\u001b[2J"
    );
    std::fs::write(learner.path().join("world.json"), world).unwrap();
    for args in [
        &["walkthrough", "walk", "--world", "world.json"][..],
        &["next", "walk", "--world", "world.json"][..],
    ] {
        let (code, stdout, stderr) = learner.run(args);
        assert_eq!(code, 1, "{args:?}: {stdout}{stderr}");
        assert!(
            !stdout.contains('\x1b') && !stdout.contains('\x07'),
            "{args:?}: {stdout:?}"
        );
        assert!(
            stdout.contains("app:1.0\\u{1b}]0;owned\\u{7}\\u{1b}[2J"),
            "{args:?}: {stdout}"
        );
    }
}

#[test]
fn a_wait_or_timeout_too_long_for_a_deadline_is_refused_not_a_panic() {
    // --wait/--timeout 18446744073709551615 overflowed the deadline and panicked.
    let learner = Learner::new();
    let max = "18446744073709551615";
    let cases: &[&[&str]] = &[
        &["next", "walk", "--world", "world.json", "--wait", max],
        &[
            "walkthrough",
            "walk",
            "--world",
            "world.json",
            "--wait",
            max,
        ],
        &["solve", "walk", "--step", "pin-app", "--timeout", max],
        &["check", "walk", "--wait", max],
        &["start", "walk", "--timeout", max],
        &["enforce", "walk", "--timeout", max],
        &["rehearse", "walk", "--step-timeout", max],
        &["rehearse", "walk", "--settle", max],
        &["next", "walk", "--wait", "86401"],
        &["start", "walk", "--timeout", "0"],
        &["check", "walk", "--wait=-1"],
    ];
    for args in cases {
        let (code, stdout, stderr) = learner.run(args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("give a whole number of seconds from"),
            "{args:?}: {stderr}"
        );
    }
    let (_, _, stderr) = learner.run(cases[0]);
    insta::assert_snapshot!("wait-out-of-range", stderr);
    // A day is still allowed.
    let (code, stdout, stderr) =
        learner.run(&["next", "walk", "--world", "world.json", "--wait", "86400"]);
    assert_eq!(
        code, 1,
        "the step fails, the flag is fine: {stdout}{stderr}"
    );
}

/// A copy of `course-walk` whose runbook is `runbook`.
fn course_with_runbook(runbook: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("course-walk"), dir.path());
    std::fs::write(dir.path().join("runbooks/walk.md"), runbook).unwrap();
    dir
}

/// Runbooks of about 400 KB, each built to make a renderer repeat something per line or use.
fn hostile_runbooks() -> Vec<(&'static str, String)> {
    const SIZE: usize = 400 * 1024;
    let words = |n: usize| "word ".repeat(n);
    let quotes = format!(
        "# Deep\n\n## Triage\n\n{} {}\n",
        ">".repeat(SIZE / 2),
        words(SIZE / 10)
    );
    let lists = format!(
        "# Deep\n\n## Triage\n\n{} {}\n",
        "- ".repeat(SIZE / 4),
        words(SIZE / 10)
    );
    let long_url = format!("https://example.com/{}", "a".repeat(SIZE / 2));
    let links = format!(
        "# Links\n\n## Triage\n\n{}\n\n[x]: {long_url}\n",
        "[x] ".repeat(SIZE / 8)
    );
    let table = format!(
        "# Table\n\n## Triage\n\n|a|{}|\n|-|{}|\n{}",
        "b".repeat(SIZE / 2),
        "-",
        "|x|y|\n".repeat(SIZE / 12)
    );
    let padded = format!(
        "# Padded\n\n## Triage\n\n|{}\n|{}\n{}",
        "h|".repeat(SIZE / 8),
        "-|".repeat(SIZE / 8),
        "|x\n".repeat(SIZE / 12)
    );
    vec![
        ("quotes", quotes),
        ("lists", lists),
        ("links", links),
        ("table", table),
        ("padded", padded),
    ]
}

#[test]
fn a_deeply_nested_or_cross_referenced_runbook_renders_in_linear_space() {
    // A 400 KB runbook that validate accepts rendered into 1.6 GB using 3.9 GB of memory.
    for (shape, runbook) in hostile_runbooks() {
        let course = course_with_runbook(&runbook);
        let (code, stdout, stderr) = output(
            lab(course.path())
                .arg("--course")
                .arg(course.path())
                .arg("validate"),
        );
        assert_eq!(code, 0, "{shape}: validate accepts it: {stdout}{stderr}");
        let started = Instant::now();
        let out = lab(course.path())
            .arg("--course")
            .arg(course.path())
            .args(["runbook", "walk"])
            .env("COLUMNS", "80")
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shape}");
        // Quadratic rendering made gigabytes of these; linear stays within a small factor.
        let ratio = out.stdout.len() / runbook.len().max(1);
        assert!(
            ratio <= 16,
            "{shape}: {} bytes of runbook rendered into {} bytes",
            runbook.len(),
            out.stdout.len()
        );
        assert!(started.elapsed() < Duration::from_secs(60), "{shape}");
    }
}
