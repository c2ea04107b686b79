use super::*;

fn predicate() -> Submission {
    Submission {
        format: SUBMISSION_FORMAT,
        learner: "ada".to_owned(),
        chapter: "ch14".to_owned(),
        course: Course {
            lab: "ch14".to_owned(),
            version: Some("2026.12.1".to_owned()),
            digest: format!("sha256:{}", "0".repeat(64)),
        },
        tool: Tool {
            name: "lab".to_owned(),
            version: "0.1.0".to_owned(),
        },
        claimed_time: "2026-12-06T08:00:00Z".to_owned(),
        signing: Signing {
            mode: SigningMode::Key,
            public_key: "cosign.pub".to_owned(),
            identity: None,
        },
        values: BTreeMap::new(),
        image: None,
        checks: vec![Outcome {
            step: "incident-hook".to_owned(),
            check: "pod-image-ids-evidence".to_owned(),
            kind: "evidence-file".to_owned(),
            status: Status::Pass,
            message: "saved".to_owned(),
            observed: vec![Observed {
                what: "digest".to_owned(),
                value: "sha256:abc".to_owned(),
            }],
        }],
        files: vec![Part {
            name: "progress.json".to_owned(),
            role: Role::Progress,
        }],
    }
}

fn files() -> Files {
    Files::from([
        ("progress.json".to_owned(), b"{}\n".to_vec()),
        ("evidence/a.txt".to_owned(), b"a\n".to_vec()),
        (SEAL_FILE.to_owned(), b"not a subject".to_vec()),
    ])
}

#[test]
fn a_statement_names_every_file_but_its_seal_and_reads_back() {
    let statement = Statement::new(&files(), predicate());
    let names: Vec<&str> = statement.subject.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["evidence/a.txt", "progress.json"]);
    assert_eq!(
        statement.subject[1].digest["sha256"],
        "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356"
    );
    assert_eq!(Statement::parse(&statement.to_json()).unwrap(), statement);
    assert!(statement.check_files(&files()).is_empty());
}

#[test]
fn a_missing_added_or_changed_file_is_named() {
    let statement = Statement::new(&files(), predicate());
    let mut tampered = files();
    tampered.remove("evidence/a.txt");
    tampered.insert("evidence/b.txt".to_owned(), b"b".to_vec());
    tampered.insert("progress.json".to_owned(), b"{ }\n".to_vec());
    assert_eq!(
        statement.check_files(&tampered),
        [
            FileProblem::Missing("evidence/a.txt".to_owned()),
            FileProblem::Changed("progress.json".to_owned()),
            FileProblem::Extra("evidence/b.txt".to_owned()),
        ]
    );
}

#[test]
fn a_subject_named_twice_or_without_a_sha256_is_named() {
    let mut statement = Statement::new(&files(), predicate());
    statement.subject.push(statement.subject[0].clone());
    statement.subject[1].digest.clear();
    assert_eq!(
        statement.check_files(&files()),
        [
            FileProblem::NoDigest("progress.json".to_owned()),
            FileProblem::NamedTwice("evidence/a.txt".to_owned()),
        ]
    );
}

#[test]
fn another_statement_or_predicate_type_or_a_later_format_is_refused() {
    let statement = Statement::new(&files(), predicate());
    let mut other = statement.clone();
    other.statement_type = "https://in-toto.io/Statement/v0.1".to_owned();
    assert_eq!(
        Statement::parse(&other.to_json()),
        Err(StatementError::StatementType)
    );
    let mut other = statement.clone();
    other.predicate_type = "https://spdx.dev/Document".to_owned();
    assert_eq!(
        Statement::parse(&other.to_json()),
        Err(StatementError::PredicateType)
    );
    let mut later = statement;
    later.predicate.format = SUBMISSION_FORMAT + 1;
    let error = Statement::parse(&later.to_json()).unwrap_err();
    assert_eq!(error, StatementError::Format(SUBMISSION_FORMAT + 1));
    assert!(error.to_string().contains("newer lab"), "{error}");
}

#[test]
fn an_unknown_field_or_deep_nesting_is_malformed_and_never_quoted() {
    let mut json: serde_json::Value =
        serde_json::from_slice(&Statement::new(&files(), predicate()).to_json()).unwrap();
    json["predicate"]["token: s3cret"] = serde_json::json!(1);
    let error = Statement::parse(&serde_json::to_vec(&json).unwrap()).unwrap_err();
    assert!(matches!(error, StatementError::Malformed { .. }));
    assert!(!error.to_string().contains("s3cret"), "{error}");
    assert!(error.to_string().contains("unknown"), "{error}");
    let deep = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    assert!(matches!(
        Statement::parse(deep.as_bytes()),
        Err(StatementError::Malformed { .. })
    ));
}

// Every malformed statement read "is not a submission statement (line 1, column 641)": a
// statement nested 10,000 deep, one that is not JSON and one with a field of the wrong type
// could not be told apart by the instructor who read the reason.
#[test]
fn a_malformed_statement_says_what_is_wrong_with_it() {
    let reason = |payload: &[u8]| Statement::parse(payload).unwrap_err().to_string();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(
        reason(deep.as_bytes()),
        "the statement is not a submission statement: it nests arrays and objects more than 64 deep (line 1, column 65)"
    );
    assert_eq!(
        reason(b"#!/bin/sh\nrm -rf ~\n"),
        "the statement is not a submission statement: it is not valid JSON (line 1, column 1)"
    );
    let mut json: serde_json::Value =
        serde_json::from_slice(&Statement::new(&files(), predicate()).to_json()).unwrap();
    json["subject"] = serde_json::json!("everything");
    let wrong = reason(&serde_json::to_vec(&json).unwrap());
    assert!(
        wrong.contains("a field is missing, unknown or of the wrong type"),
        "{wrong}"
    );
    assert!(!wrong.contains("everything"), "{wrong}");
    assert!(reason(b"{\"_type\": ").contains("it ends early"));
}
