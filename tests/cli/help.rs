//! `--help` is read by people: snapshot it.

use super::{lab, output, repo};

#[test]
fn top_level_help() {
    let (code, stdout, _) = output(lab(&repo()).arg("--help"));
    assert_eq!(code, 0);
    insta::assert_snapshot!("help", stdout);
}

#[test]
fn validate_help() {
    let (code, stdout, _) = output(lab(&repo()).args(["validate", "--help"]));
    assert_eq!(code, 0);
    insta::assert_snapshot!("help-validate", stdout);
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    let (code, _, stderr) = output(lab(&repo()).args(["validate", "--format", "xml"]));
    assert_eq!(code, 2, "clap reports usage errors with exit 2");
    assert!(
        stderr.contains("possible values: human, json, github"),
        "{stderr}"
    );
}

#[test]
fn verify_help() {
    let (code, stdout, _) = output(lab(&repo()).args(["verify", "--help"]));
    assert_eq!(code, 0);
    insta::assert_snapshot!("help-verify", stdout);
}

#[test]
fn test_and_admit_help() {
    let (code, stdout, _) = output(lab(&repo()).args(["test", "--help"]));
    assert_eq!(code, 0);
    insta::assert_snapshot!("help-test", stdout);
    let (code, stdout, _) = output(lab(&repo()).args(["admit", "--help"]));
    assert_eq!(code, 0);
    insta::assert_snapshot!("help-admit", stdout);
}

#[test]
fn live_lab_help() {
    for (name, args) in [
        ("help-start", ["start", "--help"]),
        ("help-check", ["check", "--help"]),
        ("help-rehearse", ["rehearse", "--help"]),
        ("help-walkthrough", ["walkthrough", "--help"]),
        ("help-quiz", ["quiz", "--help"]),
        ("help-status", ["status", "--help"]),
    ] {
        let (code, stdout, _) = output(lab(&repo()).args(args));
        assert_eq!(code, 0);
        insta::assert_snapshot!(name, stdout);
    }
}
