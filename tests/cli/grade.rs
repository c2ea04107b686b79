//! `lab grade` given hostile files through the real binary: each is rejected with its reason,
//! the rest of the class is graded all the same, and nothing is written but the report named.

use std::path::Path;

use courselab::submission::archive::{Files, write};
use courselab::submission::pack::{Contents, pack};
use courselab::submission::sealed::SigningKey;
use courselab::submission::statement::{
    Course, Role, SUBMISSION_FORMAT, Signing, SigningMode, Submission, Tool,
};

use super::{lab, output, repo};

fn key() -> SigningKey {
    let pem = std::fs::read(repo().join("labs/ch14/tests/keys/test-only-signer.key")).unwrap();
    SigningKey::read(&pem, b"").unwrap()
}

/// A sealed submission of `learner` with no record of the cluster.
fn sealed(learner: &str) -> Vec<u8> {
    let key = key();
    let mut contents = Contents::default();
    contents
        .add(
            "cosign.pub",
            Role::PublicKey,
            key.public_pem().as_bytes().to_vec(),
        )
        .unwrap();
    contents
        .add("progress.json", Role::Progress, b"{}\n".to_vec())
        .unwrap();
    let predicate = Submission {
        format: SUBMISSION_FORMAT,
        learner: learner.into(),
        chapter: "ch14".into(),
        course: Course {
            lab: "ch14".into(),
            version: None,
            digest: format!("sha256:{}", "0".repeat(64)),
        },
        tool: Tool {
            name: "lab".into(),
            version: "0".into(),
        },
        claimed_time: "2026-12-06T08:00:00Z".into(),
        signing: Signing {
            mode: SigningMode::Key,
            public_key: "cosign.pub".into(),
            identity: None,
        },
        values: Default::default(),
        image: None,
        checks: Vec::new(),
        files: Vec::new(),
    };
    pack(contents, predicate, &key).unwrap()
}

/// A gzip tar with one entry whose name climbs out of the archive.
fn climbing() -> Vec<u8> {
    let mut header = tar::Header::new_old();
    let name = b"../../outside.txt";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(1);
    header.set_mode(0o644);
    header.set_cksum();
    let mut raw = header.as_bytes().to_vec();
    raw.extend_from_slice(b"x");
    raw.resize(512 * 2, 0);
    raw.extend_from_slice(&[0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    gz.finish().unwrap()
}

#[test]
fn hostile_files_are_each_rejected_with_their_reason_and_the_class_is_still_graded() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    std::fs::create_dir(&class).unwrap();
    let put = |name: &str, bytes: &[u8]| std::fs::write(class.join(name), bytes).unwrap();
    put("a-not-gzip.tar.gz", b"this is not a submission\n");
    let whole = sealed("ada");
    put("b-truncated.tar.gz", &whole[..whole.len() / 2]);
    put("c-climbing.tar.gz", &climbing());
    put("d-hostile-id.tar.gz", &sealed("../../etc/passwd"));
    put("e-no-cluster-record.tar.gz", &whole);
    let mut bomb = Vec::new();
    write(
        &Files::from([("zeros".to_owned(), vec![0u8; 8 << 20])]),
        &mut bomb,
    )
    .unwrap();
    put("f-bomb.tar.gz", &bomb);
    let report = dir.path().join("report.json");
    let (code, stdout, stderr) = output(
        lab(dir.path())
            .arg("--course")
            .arg(repo())
            .args(["grade", "class", "class/a-not-gzip.tar.gz", "--json", "-o"])
            .arg(&report),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("report.json (6 submissions)"), "{stdout}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(doc["rejected"], 6, "{doc:#}");
    let reasons: Vec<String> = doc["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rejected"].as_str().unwrap().to_owned())
        .collect();
    let expected = [
        "not a gzip file",
        "truncated or corrupt",
        "climbs out of the archive",
        "cannot be a learner id",
        "holds no cluster/world.json",
        "inflates more than 200 times",
    ];
    for (reason, want) in reasons.iter().zip(expected) {
        assert!(reason.contains(want), "{want}: {reasons:#?}");
    }
    // Nothing but the report was written: not beside the class, not where `..` pointed.
    let mut written: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    assert_eq!(written, ["class", "report.json"]);
    assert!(!Path::new("outside.txt").exists());
}

#[test]
fn no_submission_at_all_or_a_bad_answer_key_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = output(lab(dir.path()).args(["grade", "."]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no submission file found"), "{stderr}");
    std::fs::write(dir.path().join("x.tar.gz"), b"x").unwrap();
    std::fs::write(dir.path().join("key.yaml"), b"answers: [\n").unwrap();
    let (code, _, stderr) = output(lab(dir.path()).arg("--course").arg(repo()).args([
        "grade",
        ".",
        "--answer-key",
        "key.yaml",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("key.yaml"), "{stderr}");
}
