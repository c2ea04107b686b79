use std::collections::BTreeMap;

use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::signing_key::ecdsa::{ECDSAKeys, EllipticCurve};

use super::*;
use crate::submission::archive::{Limits, read};
use crate::submission::error::Unopened;
use crate::submission::open::{KeyFrom, open_submission};
use crate::submission::sealed::{SealError, TrustedKey};
use crate::submission::statement::{
    Course, FileProblem, SUBMISSION_FORMAT, Signing, SigningMode, Tool,
};

struct Learner {
    key: SigningKey,
    public_pem: String,
}

fn learner() -> Learner {
    let pair = SigStoreKeyPair::ECDSA(ECDSAKeys::new(EllipticCurve::P256).unwrap());
    Learner {
        key: SigningKey::read(pair.private_key_to_pem().unwrap().as_bytes(), b"").unwrap(),
        public_pem: pair.public_key_to_pem().unwrap(),
    }
}

fn predicate() -> Submission {
    Submission {
        format: SUBMISSION_FORMAT,
        learner: "ada".into(),
        chapter: "ch14".into(),
        course: Course {
            lab: "ch14".into(),
            version: Some("2026.12.1".into()),
            digest: format!("sha256:{}", "1".repeat(64)),
        },
        tool: Tool {
            name: "lab".into(),
            version: "0.1.0".into(),
        },
        claimed_time: "2026-12-06T08:00:00Z".into(),
        signing: Signing {
            mode: SigningMode::Key,
            public_key: "cosign.pub".into(),
            identity: None,
        },
        values: BTreeMap::new(),
        image: None,
        checks: Vec::new(),
        files: Vec::new(),
    }
}

fn contents(learner: &Learner) -> Contents {
    let mut contents = Contents::default();
    contents
        .add(
            "progress.json",
            Role::Progress,
            b"{\"version\":2}\n".to_vec(),
        )
        .unwrap();
    contents
        .add(
            "work/evidence/remediation.md",
            Role::Evidence,
            b"# Remediation\n".to_vec(),
        )
        .unwrap();
    contents
        .add(
            "cosign.pub",
            Role::PublicKey,
            learner.public_pem.clone().into_bytes(),
        )
        .unwrap();
    contents
}

fn packed(learner: &Learner) -> Vec<u8> {
    pack(contents(learner), predicate(), &learner.key).unwrap()
}

#[test]
fn a_packed_submission_opens_with_the_key_it_carries_and_names_every_file() {
    let ada = learner();
    let opened = open_submission(&packed(&ada), Limits::default(), None).unwrap();
    assert_eq!(opened.key_from, KeyFrom::Submission);
    assert_eq!(opened.tampering, []);
    assert_eq!(opened.statement.predicate.learner, "ada");
    let parts: Vec<(&str, Role)> = opened
        .statement
        .predicate
        .files
        .iter()
        .map(|p| (p.name.as_str(), p.role))
        .collect();
    assert_eq!(
        parts,
        [
            ("cosign.pub", Role::PublicKey),
            ("progress.json", Role::Progress),
            ("work/evidence/remediation.md", Role::Evidence),
        ]
    );
    assert_eq!(opened.statement.subject.len(), 3);
}

#[test]
fn the_same_contents_pack_to_the_same_files() {
    let ada = learner();
    let a = read(packed(&ada).as_slice(), Limits::default()).unwrap();
    let b = read(packed(&ada).as_slice(), Limits::default()).unwrap();
    let without_seal = |mut f: Files| {
        f.remove(SEAL_FILE);
        f
    };
    // ECDSA signatures are randomized; everything else is the same bytes.
    assert_eq!(without_seal(a), without_seal(b));
}

#[test]
fn a_file_changed_after_packing_is_named_as_tampering() {
    let ada = learner();
    let mut files = read(packed(&ada).as_slice(), Limits::default()).unwrap();
    files.insert(
        "progress.json".into(),
        b"{\"version\":2,\"edited\":1}\n".to_vec(),
    );
    files.insert("work/evidence/extra.txt".into(), b"x".to_vec());
    let mut repacked = Vec::new();
    crate::submission::archive::write(&files, &mut repacked).unwrap();
    let opened = open_submission(&repacked, Limits::default(), None).unwrap();
    assert_eq!(
        opened.tampering,
        [
            FileProblem::Changed("progress.json".into()),
            FileProblem::Extra("work/evidence/extra.txt".into()),
        ]
    );
}

#[test]
fn a_submission_signed_by_another_key_than_the_rosters_does_not_open() {
    let (ada, mallory) = (learner(), learner());
    let roster = TrustedKey::from_pem(ada.public_pem.as_bytes()).unwrap();
    let theirs = pack(contents(&mallory), predicate(), &mallory.key).unwrap();
    assert!(matches!(
        open_submission(&theirs, Limits::default(), Some(&roster)),
        Err(SubmissionError::Seal(SealError::BadSignature {
            other_key: true
        }))
    ));
    let opened = open_submission(&packed(&ada), Limits::default(), Some(&roster)).unwrap();
    assert_eq!(opened.key_from, KeyFrom::Roster);
}

#[test]
fn a_carried_key_swapped_for_anothers_does_not_open() {
    let (ada, mallory) = (learner(), learner());
    let mut files = read(packed(&ada).as_slice(), Limits::default()).unwrap();
    files.insert("cosign.pub".into(), mallory.public_pem.into_bytes());
    let mut swapped = Vec::new();
    crate::submission::archive::write(&files, &mut swapped).unwrap();
    assert!(matches!(
        open_submission(&swapped, Limits::default(), None),
        Err(SubmissionError::Seal(SealError::BadSignature { .. }))
    ));
}

#[test]
fn nothing_is_packed_when_a_file_holds_a_secret_and_the_finding_names_it() {
    let ada = learner();
    let mut with_key = contents(&ada);
    with_key
        .add(
            "work/evidence/notes.md",
            Role::Evidence,
            b"ok\n-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n".to_vec(),
        )
        .unwrap();
    let error = pack(with_key, predicate(), &ada.key).unwrap_err();
    let said = error.to_string();
    assert!(
        said.contains("work/evidence/notes.md:2: a PEM private key (not shown)"),
        "{said}"
    );
    assert!(!said.contains("abc"), "{said}");
    let mut in_a_message = predicate();
    in_a_message
        .checks
        .push(crate::submission::statement::Outcome {
            step: "s".into(),
            check: "c".into(),
            kind: "evidence-file".into(),
            status: crate::engine::Status::Fail,
            message: "token: abcdefghijklmnop".into(),
            observed: Vec::new(),
        });
    let error = pack(contents(&ada), in_a_message, &ada.key).unwrap_err();
    assert!(error.to_string().contains(SEAL_FILE), "{error}");
}

#[test]
fn a_name_an_archive_cannot_hold_or_a_second_one_is_refused_on_add() {
    let mut contents = Contents::default();
    assert!(contents.add("../x", Role::Evidence, Vec::new()).is_err());
    assert!(contents.add(SEAL_FILE, Role::Evidence, Vec::new()).is_err());
    contents.add("a", Role::Evidence, Vec::new()).unwrap();
    assert!(contents.add("a", Role::Evidence, Vec::new()).is_err());
}

#[test]
fn an_archive_without_a_statement_or_its_key_is_not_a_submission() {
    let mut out = Vec::new();
    crate::submission::archive::write(&Files::from([("a".to_owned(), Vec::new())]), &mut out)
        .unwrap();
    assert!(matches!(
        open_submission(&out, Limits::default(), None),
        Err(SubmissionError::Unopened(Unopened::NoStatement))
    ));
    let ada = learner();
    let mut files = read(packed(&ada).as_slice(), Limits::default()).unwrap();
    files.remove("cosign.pub");
    let mut keyless = Vec::new();
    crate::submission::archive::write(&files, &mut keyless).unwrap();
    assert!(matches!(
        open_submission(&keyless, Limits::default(), None),
        Err(SubmissionError::Unopened(Unopened::NoPublicKey(name))) if name == "cosign.pub"
    ));
}
