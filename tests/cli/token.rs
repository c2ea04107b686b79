//! `lab token issue`: an instructor's signed learner token, with a key the real cosign made.

use std::path::Path;

use super::peers::peers_bin;
use super::{lab, output};

/// A cosign key pair made by the real cosign, encrypted with `password`.
fn instructor_key(dir: &Path, password: &str) {
    let keygen = std::process::Command::new(peers_bin().join("cosign"))
        .arg("generate-key-pair")
        .env("COSIGN_PASSWORD", password)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
}

fn issue(dir: &Path, password: &str, args: &[&str]) -> (i32, String, String) {
    output(
        lab(dir)
            .args(["token", "issue", "--key", "cosign.key"])
            .args(args)
            .env("COSIGN_PASSWORD", password),
    )
}

#[test]
fn an_issued_token_verifies_with_the_instructors_public_key() {
    use courselab::submission::sealed::TrustedKey;
    use courselab::submission::token::verify;
    let dir = tempfile::tempdir().unwrap();
    instructor_key(dir.path(), "instructor pw");
    let (code, stdout, stderr) = issue(
        dir.path(),
        "instructor pw",
        &[
            "--learner",
            "ada",
            "--chapter",
            "ch14",
            "--due",
            "2026-12-20",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("lab start ch14 --token ada.token.json"),
        "{stdout}"
    );
    let bundle = std::fs::read(dir.path().join("ada.token.json")).unwrap();
    let public = std::fs::read(dir.path().join("cosign.pub")).unwrap();
    let token = verify(&bundle, &TrustedKey::from_pem(&public).unwrap()).unwrap();
    assert_eq!(token.learner, "ada");
    assert_eq!(token.chapter.as_deref(), Some("ch14"));
    assert_eq!(token.due.as_deref(), Some("2026-12-20T23:59:59Z"));

    // Issued again, it is kept unless --force; forced, it carries a new nonce.
    let (code, _, stderr) = issue(dir.path(), "instructor pw", &["--learner", "ada"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("ada.token.json")).unwrap(),
        bundle
    );
    let (code, _, stderr) = issue(
        dir.path(),
        "instructor pw",
        &["--learner", "ada", "--force"],
    );
    assert_eq!(code, 0, "{stderr}");
    let again = verify(
        &std::fs::read(dir.path().join("ada.token.json")).unwrap(),
        &TrustedKey::from_pem(&public).unwrap(),
    )
    .unwrap();
    assert_ne!(again.nonce, token.nonce);
}

#[test]
fn a_wrong_password_a_bad_learner_id_or_a_bad_date_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    instructor_key(dir.path(), "instructor pw");
    let cases: [(&str, &[&str], &str); 3] = [
        ("wrong", &["--learner", "ada"], "COSIGN_PASSWORD"),
        (
            "instructor pw",
            &["--learner", "../ada"],
            "cannot be a learner id",
        ),
        (
            "instructor pw",
            &["--learner", "ada", "--due", "next friday"],
            "YYYY-MM-DD",
        ),
    ];
    for (password, args, said) in cases {
        let (code, stdout, stderr) = issue(dir.path(), password, args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
        assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    }
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".token.json"))
        .collect();
    assert_eq!(written, Vec::<String>::new());
}
