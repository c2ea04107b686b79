//! `lab list`: the built-in course from any directory, or a working copy.

use super::{fixture, lab, output};

#[test]
fn lists_the_built_in_course_from_any_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, stdout, _) = output(lab(elsewhere.path()).arg("list"));
    assert_eq!(code, 0);
    insta::assert_snapshot!("list-built-in", stdout);
}

#[test]
fn lists_a_working_copy_given_by_flag_or_environment() {
    let elsewhere = tempfile::tempdir().unwrap();
    let course = fixture("course-min");
    let (code, by_flag, _) = output(
        lab(elsewhere.path())
            .arg("--course")
            .arg(&course)
            .args(["list", "--json"]),
    );
    assert_eq!(code, 0);
    let (_, by_env, _) = output(
        lab(elsewhere.path())
            .env("LAB_COURSE", &course)
            .args(["list", "--json"]),
    );
    assert_eq!(by_flag, by_env);
    let listing: serde_json::Value = serde_json::from_str(&by_flag).unwrap();
    assert_eq!(listing["schema_version"], 1);
    assert_eq!(listing["chapters"][0]["id"], "mini");
    assert_eq!(listing["chapters"][0]["aliases"][0], "tiny");
    assert_eq!(listing["chapters"].as_array().unwrap().len(), 1);
}

#[test]
fn a_broken_lab_is_reported_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    super::copy_tree(&fixture("course-min"), dir.path());
    std::fs::write(dir.path().join("labs/mini/lab.yaml"), "id: [\n").unwrap();
    let (code, stdout, stderr) =
        output(lab(dir.path()).arg("--course").arg(dir.path()).arg("list"));
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("labs/mini/lab.yaml:") && stderr.contains("run `lab validate`"),
        "{stderr}"
    );
}

#[test]
fn a_course_path_without_labs_is_an_error() {
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) =
        output(lab(elsewhere.path()).args(["--course", "no-such-course", "list"]));
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("no-such-course is not inside a course"),
        "{stderr}"
    );
}
