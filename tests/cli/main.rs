//! Integration tests: they drive the real `lab` binary against fixture courses.

mod admit;
mod bundle;
mod bundle_create;
mod canvas_import;
#[path = "../support/ch14_class.rs"]
mod ch14_class;
mod class_example;
mod cluster;
mod corpus;
mod cosign_interop;
mod differential;
mod grade;
mod grade_html;
mod gradebook;
mod gradescope;
mod help;
mod hostile;
mod hostile_input;
mod hostile_layout;
mod hostile_live;
mod hostile_registry;
mod hostile_solve;
mod keyless;
mod kyverno_cli;
mod lab_live;
mod layout;
mod list;
mod live_offline;
mod peers;
mod quiz_pty;
mod registry;
mod schema;
mod suite;
mod token;
mod validate;
mod verify;
mod walk_pty;
mod walkthrough;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository root (the real course).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture folder under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// `lab` with color off and no course from the environment, run in `dir`.
pub fn lab(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lab"));
    cmd.current_dir(dir)
        .env_remove("LAB_COURSE")
        .env("NO_COLOR", "1")
        .arg("--color=never");
    cmd
}

/// Copies a folder tree (fixtures are small).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Copies the real course's content folders (not its target or sources) to `root`, to edit.
pub fn copy_course(root: &Path) {
    for sub in ["labs", "quizzes", "runbooks", "kind-config"] {
        copy_tree(&repo().join(sub), &root.join(sub));
    }
}

/// Replaces the first `from` in the course file `rel` under `root`, which must contain it.
pub fn edit(root: &Path, rel: &str, from: &str, to: &str) {
    let path = root.join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{rel} does not contain {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Runs a command and returns (exit code, stdout, stderr).
/// Makes a FIFO at `path` (a file no reader may wait on).
pub fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("lab runs");
    (
        out.status.code().expect("lab exits with a code"),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    )
}

/// A fresh registry holding ch14's fixture images with their signatures and attestations, as
/// `lab test ch14 --push` puts them there (each under `<registry>/courselab/demo:<tag>`).
pub fn registry_with_ch14_fixtures() -> registry::TestRegistry {
    let registry = registry::TestRegistry::start();
    let (code, stdout, stderr) =
        output(lab(&repo()).args(["test", "ch14", "--push", "--registry", &registry.addr]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    registry
}
