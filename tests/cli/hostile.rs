//! Hostile input, as a user met it: paths out of the course, folders that are not ours,
//! symbolic-link loops, devices and FIFOs given on the command line, a lab that validate
//! rejects. Each test is named after what broke.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{copy_course, copy_tree, edit, lab, output, repo};

/// A copy of the real course (content only) in a temp dir, to edit.
fn course_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("course");
    copy_course(&root);
    (dir, root)
}

/// Every file under `root`, with its content, to compare before and after.
fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn write_fixtures_never_deletes_a_folder_outside_the_course() {
    // `tests.images: ../../../somewhere` once made --write-fixtures replace a user's folder.
    let (dir, root) = course_copy();
    let precious = dir.path().join("somewhere/demo");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("thesis.md"), "years of work").unwrap();
    edit(
        &root,
        "labs/ch14/lab.yaml",
        "images: tests/images",
        "images: ../../../somewhere",
    );
    let before = tree(dir.path());
    let (code, stdout, stderr) = output(lab(&root).args(["test", "ch14", "--write-fixtures"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr
            .contains("error[ref/outside-course]: `../../../somewhere` points outside the course"),
        "{stderr}"
    );
    assert_eq!(before, tree(dir.path()), "nothing was written or deleted");
    let (code, stdout, _) = output(lab(&root).args(["validate", "labs/ch14"]));
    assert_eq!(code, 2, "lab validate rejects it too: {stdout}");
    assert!(stdout.contains("ref/outside-course"), "{stdout}");
}

#[test]
fn write_fixtures_never_replaces_a_folder_it_did_not_write() {
    // `tests.images` pointing back into the course once replaced the course's own `runbooks/`.
    let (dir, root) = course_copy();
    edit(
        &root,
        "labs/ch14/lab.yaml",
        "images: tests/images",
        "images: ../../kind-config/../labs",
    );
    // The fixture image `demo` would land in labs/demo: make that somebody's folder.
    std::fs::create_dir_all(root.join("labs/demo")).unwrap();
    std::fs::write(root.join("labs/demo/notes.md"), "mine").unwrap();
    let before = tree(dir.path());
    let (code, stdout, stderr) = output(lab(&root).args(["test", "ch14", "--write-fixtures"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("labs/demo exists, but lab did not write it (it has no .courselab-fixture file), so it will not replace it"),
        "{stderr}"
    );
    assert_eq!(before, tree(dir.path()), "nothing was written or deleted");
}

#[test]
fn write_fixtures_replaces_its_own_layouts() {
    // The marker is what makes a layout ours: the committed one carries it and is rebuilt.
    let (_dir, root) = course_copy();
    let layout = root.join("labs/ch14/tests/images/demo");
    assert!(layout.join(".courselab-fixture").is_file());
    let (code, stdout, stderr) = output(lab(&root).args(["test", "ch14", "--write-fixtures"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(layout.join(".courselab-fixture").is_file());
    assert!(layout.join("index.json").is_file());
    let leftovers: Vec<_> = std::fs::read_dir(layout.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["demo"], "no .new or .old folder is left");
}

#[test]
fn a_test_variable_outside_the_course_is_never_read_or_exported() {
    // A from_file test variable of `/etc/passwd` was once copied into four exported policies.
    let (dir, root) = course_copy();
    edit(
        &root,
        "labs/ch14/lab.yaml",
        "cosign_public_key: tests/keys/test-only-signer.pub",
        "cosign_public_key: /etc/passwd",
    );
    let export = dir.path().join("export");
    let (code, stdout, stderr) = output(lab(&root).args(["test", "ch14", "--export"]).arg(&export));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("`/etc/passwd` is an absolute path"),
        "{stderr}"
    );
    assert!(!export.exists(), "nothing was exported");
}

#[test]
fn a_link_out_of_the_course_is_not_followed_to_a_test_key() {
    // Symbolic links that leave the course are refused, at validation and at run time.
    let (dir, root) = course_copy();
    let outside = dir.path().join("outside");
    copy_tree(&root.join("labs/ch14/tests/keys"), &outside);
    std::fs::remove_dir_all(root.join("labs/ch14/tests/keys")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("labs/ch14/tests/keys")).unwrap();
    let (code, stdout, stderr) = output(lab(&root).args(["test", "ch14"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("goes through a symbolic link that leaves the course"),
        "{stderr}"
    );
}

#[test]
fn lab_test_and_admit_refuse_a_lab_that_validate_rejects() {
    // `lab test` once ran the cases of a lab whose references `lab validate` rejected.
    let (_dir, root) = course_copy();
    edit(
        &root,
        "labs/ch14/lab.yaml",
        "quiz: ../../quizzes/ch14.yaml",
        "quiz: ../../quizzes/ch41.yaml",
    );
    let (code, _, stderr) = output(lab(&root).args(["test", "ch14"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("error[ref/missing-file]"), "{stderr}");
    assert!(
        stderr.contains("labs/ch14/lab.yaml does not pass `lab validate` (1 error); fix it first"),
        "{stderr}"
    );
    let pod = root.join("labs/ch14/manifests/workstation-hotfix-pod.yaml");
    let (code, stdout, stderr) = output(
        lab(&root)
            .args(["--course"])
            .arg(&root)
            .args(["admit", "--chapter", "ch14", "--layouts"])
            .arg(root.join("labs/ch14/tests/images"))
            .arg("-f")
            .arg(&pod),
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("does not pass `lab validate`"), "{stderr}");
    assert!(stdout.is_empty(), "no verdict is shown: {stdout}");
}

/// `--set cosign_public_key=<the TEST public key>`, so that the chapter's policies render.
fn test_key() -> String {
    format!(
        "--set=cosign_public_key={}",
        repo()
            .join("labs/ch14/tests/keys/test-only-signer.pub")
            .display()
    )
}

/// Runs `lab` with a deadline; a runaway walk fails the test instead of eating the machine.
fn bounded(cmd: &mut assert_cmd::Command) -> (i32, String, String, Duration) {
    let started = Instant::now();
    let out = cmd.timeout(Duration::from_secs(30)).output().unwrap();
    let took = started.elapsed();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
    )
}

#[test]
fn links_to_dot_in_runbooks_do_not_make_the_walk_run_away() {
    // Two links to `.` in runbooks/ once made validate, list, test and admit use over 4 GB.
    let (_dir, root) = course_copy();
    std::os::unix::fs::symlink(".", root.join("runbooks/again")).unwrap();
    std::os::unix::fs::symlink(".", root.join("runbooks/and-again")).unwrap();
    std::os::unix::fs::symlink("../runbooks", root.join("runbooks/up-and-back")).unwrap();
    let (code, stdout, stderr, took) = bounded(lab(&root).arg("validate"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    // Each file is read once, under its real path: the same count as without the links.
    let (_, plain, _) = output(lab(&repo()).arg("validate"));
    let count = |s: &str| s.lines().last().unwrap_or_default().to_owned();
    assert_eq!(count(&stdout), count(&plain));
    for args in [vec!["list"], vec!["test", "ch14", "--no-mutations"]] {
        let (code, stdout, stderr, _) = bounded(lab(&root).arg("--course").arg(&root).args(&args));
        assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
    }
}

#[test]
fn a_device_given_with_f_is_refused_without_reading_it() {
    // `lab admit -f /dev/zero` once read until the process was killed for memory.
    let (code, stdout, stderr, took) = bounded(
        lab(&repo())
            .args(["admit", "--chapter", "ch14", "-f", "/dev/zero"])
            .arg(test_key()),
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("-f: /dev/zero is a device, not a regular file; give the path of a file"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_fifo_given_as_a_key_is_refused_without_blocking() {
    // Opening a FIFO with no writer blocks forever; lab checks the type first.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("cosign.pub");
    super::mkfifo(&fifo);
    let (code, _, stderr, _) = bounded(
        lab(dir.path())
            .args(["verify", "127.0.0.1:9/x:1", "--key"])
            .arg(&fifo),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is a FIFO, not a regular file"), "{stderr}");
    let policy = repo().join("labs/ch14/policies/keyed/verify-images.yaml");
    let (code, _, stderr, _) = bounded(
        lab(dir.path())
            .args(["admit", "-f", "/dev/null", "--policy"])
            .arg(&policy)
            .arg("--set")
            .arg(format!("cosign_public_key=@{}", fifo.display())),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is a FIFO, not a regular file"), "{stderr}");
}

#[test]
fn a_huge_manifest_is_refused_with_the_limit() {
    // A file far larger than any manifest is named with its size, not read into memory.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(5 * 1024 * 1024 * 1024).unwrap(); // sparse: 5 GiB that take no disk
    let (code, _, stderr, took) = bounded(
        lab(dir.path())
            .args(["admit", "--chapter", "ch14", "-f", "big.yaml"])
            .arg(test_key()),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "big.yaml is 5368709120 bytes, more than the 4194304 bytes `lab` reads for a manifest"
        ),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn an_empty_policy_file_is_bad_input_not_admitted() {
    // `lab admit --policy empty.yaml` once admitted everything, exit 0.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.yaml"), "# nothing here\n").unwrap();
    let pod = repo().join("labs/ch14/manifests/workstation-hotfix-pod.yaml");
    let (code, stdout, stderr) = output(
        lab(dir.path())
            .args(["admit", "--policy", "empty.yaml", "-f"])
            .arg(&pod),
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    // The validator that checks every --policy file now says so first (yaml/empty-file).
    assert!(
        stderr.contains("empty.yaml:0:0: this file is empty"),
        "{stderr}"
    );
}

#[test]
fn lab_test_runs_the_built_in_course_from_any_directory() {
    // `lab test ch14` outside a checkout once said "`.` is not inside a course".
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(lab(dir.path()).args(["test", "ch14", "--no-mutations"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("passed: 51 cases, 0 failed"), "{stdout}");
    let (code, _, stderr) = output(lab(dir.path()).args(["test", "ch14", "--write-fixtures"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("this is the built-in course; run it in a course checkout"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was written here"
    );
}

#[test]
fn a_write_failure_is_its_own_exit_code() {
    // Write failures were once reported as bad content (2).
    let (dir, _root) = course_copy();
    let target = dir.path().join("full");
    std::fs::write(&target, "a file where a folder must be created").unwrap();
    let (code, _, stderr) = output(
        lab(&repo())
            .args(["test", "ch14", "--export"])
            .arg(target.join("export")),
    );
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("could not write"), "{stderr}");
}
