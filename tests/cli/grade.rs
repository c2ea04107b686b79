//! `lab grade` given hostile files through the real binary: each is rejected with its reason,
//! the rest of the class is graded all the same, nothing is written but the report named, and
//! nothing a file carries is run. The corpus is the list (issue 21 item 9): every kind
//! of hostile archive, statement and seal, one file each, in one class beside a finished one.

use std::io::Write as _;
use std::path::Path;

use courselab::submission::archive::{Files, read, write};
use courselab::submission::pack::{Contents, pack};
use courselab::submission::sealed::{SigningKey, seal};
use courselab::submission::statement::{
    Course, Role, SEAL_FILE, SUBMISSION_FORMAT, Signing, SigningMode, Submission, Tool,
};
use serde_json::{Value, json};
use tar::EntryType;

use super::ch14_class::{finished, test_signer};
use super::{lab, output, repo};

/// The committed TEST key that did not sign ch14's fixtures.
fn other_signer() -> SigningKey {
    let pem =
        std::fs::read(repo().join("labs/ch14/tests/keys/test-only-other-signer.key")).unwrap();
    SigningKey::read(&pem, b"").unwrap()
}

/// A submission of `learner` with no record of the cluster, sealed by `signer` though it
/// carries `carried`'s public key.
fn sealed_by(learner: &str, signer: &SigningKey, carried: &SigningKey) -> Vec<u8> {
    let mut contents = Contents::default();
    contents
        .add(
            "cosign.pub",
            Role::PublicKey,
            carried.public_pem().as_bytes().to_vec(),
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
    pack(contents, predicate, signer).unwrap()
}

/// A submission of `learner` with no record of the cluster, sealed with the key it carries.
fn sealed(learner: &str) -> Vec<u8> {
    let key = test_signer();
    sealed_by(learner, &key, &key)
}

/// `sealed("ada")` with `bundle` in place of its seal.
fn with_seal(bundle: Vec<u8>) -> Vec<u8> {
    let mut files = read(sealed("ada").as_slice(), Default::default()).unwrap();
    files.insert(SEAL_FILE.to_owned(), bundle);
    archive(&files)
}

/// `sealed("ada")` with its seal's JSON changed by `spoil` (the signature still good).
fn reseal(spoil: impl FnOnce(&mut Value)) -> Vec<u8> {
    let files = read(sealed("ada").as_slice(), Default::default()).unwrap();
    let mut bundle: Value = serde_json::from_slice(&files[SEAL_FILE]).unwrap();
    spoil(&mut bundle);
    with_seal(serde_json::to_vec(&bundle).unwrap())
}

/// `sealed("ada")` with its seal replaced by a good seal of `payload` (not a statement).
fn sealed_payload(payload: &[u8]) -> Vec<u8> {
    with_seal(seal(payload, &test_signer()).unwrap())
}

fn archive(files: &Files) -> Vec<u8> {
    let mut out = Vec::new();
    write(files, &mut out).unwrap();
    out
}

/// One raw tar entry: the name's bytes go into the header as they are (the tar crate's own
/// setters refuse `..`, absolute and non-UTF-8 names, which is what a learner can write).
fn entry(name: &[u8], kind: EntryType, data: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(kind);
    header.set_size(data.len() as u64);
    header.set_mode(0o755);
    if matches!(kind, EntryType::Symlink | EntryType::Link) {
        header.set_link_name("/etc/passwd").unwrap();
    }
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// The gzip tar of `entries`, as they are.
fn gzip_tar(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for e in entries {
        gz.write_all(e).unwrap();
    }
    gz.write_all(&[0u8; 1024]).unwrap();
    gz.finish().unwrap()
}

/// `n` empty files, in a gzip whose trailer's CRC is wrong: a reader that went on past the
/// entry limit to the end of the stream would call it corrupt instead.
fn many_entries_and_a_broken_trailer(n: usize) -> Vec<u8> {
    let entries: Vec<Vec<u8>> = (0..n)
        .map(|i| entry(format!("evidence/f{i}").as_bytes(), EntryType::Regular, b""))
        .collect();
    let mut bytes = gzip_tar(&entries);
    let crc = bytes.len() - 8;
    bytes[crc] ^= 0xff;
    bytes
}

/// A script that leaves a mark if anything runs it.
const SCRIPT: &[u8] = b"#!/bin/sh\ntouch /tmp/courselab-graded-executed\n";

/// The class: (file name, its bytes, a distinctive part of the reason it is rejected for).
fn hostile_class() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let whole = sealed("ada");
    let bomb = archive(&Files::from([("zeros".to_owned(), vec![0u8; 8 << 20])]));
    let regular = |name: &[u8]| entry(name, EntryType::Regular, b"x");
    let of_kind = |kind| gzip_tar(&[entry(b"evidence/x", kind, b"")]);
    let deep = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let wrong_type = json!({"_type": "https://in-toto.io/Statement/v1", "subject": "all of them",
        "predicateType": "https://courselab.dev/submission/v1", "predicate": {}});
    vec![
        (
            "not-gzip",
            b"this is not a submission\n".to_vec(),
            "not a gzip file",
        ),
        (
            "truncated",
            whole[..whole.len() / 2].to_vec(),
            "truncated or corrupt",
        ),
        (
            "climbing",
            gzip_tar(&[regular(b"../../outside.txt")]),
            "climbs out of the archive with `..`",
        ),
        (
            "absolute",
            gzip_tar(&[regular(b"/tmp/courselab-graded-absolute")]),
            "is an absolute path",
        ),
        (
            "symlink",
            of_kind(EntryType::Symlink),
            "`evidence/x` is a symbolic link",
        ),
        (
            "hard-link",
            of_kind(EntryType::Link),
            "`evidence/x` is a hard link",
        ),
        (
            "char-device",
            of_kind(EntryType::Char),
            "`evidence/x` is a character device",
        ),
        ("fifo", of_kind(EntryType::Fifo), "`evidence/x` is a FIFO"),
        (
            "directory",
            of_kind(EntryType::Directory),
            "`evidence/x` is a directory",
        ),
        (
            "duplicate",
            gzip_tar(&[regular(b"progress.json"), regular(b"progress.json")]),
            "`progress.json` appears twice",
        ),
        (
            "not-utf8-name",
            gzip_tar(&[regular(b"evidence/\xff\xfe.txt")]),
            "is not UTF-8",
        ),
        (
            "dot-lab",
            gzip_tar(&[entry(b".lab/hooks/post-grade", EntryType::Regular, SCRIPT)]),
            "has a component starting with a dot",
        ),
        ("bomb", bomb, "inflates more than 200 times"),
        // The million-entry archive is refused on the same path, at the first entry over 4,096.
        (
            "4097-entries",
            many_entries_and_a_broken_trailer(4097),
            "it holds more than 4096 entries",
        ),
        (
            "4096-entries-broken-trailer",
            many_entries_and_a_broken_trailer(4096),
            "truncated or corrupt",
        ),
        (
            "no-statement",
            archive(&Files::from([(
                "progress.json".to_owned(),
                b"{}\n".to_vec(),
            )])),
            "holds no statement.sigstore.json",
        ),
        (
            "seal-not-json",
            with_seal(SCRIPT.to_vec()),
            "not a Sigstore bundle: line 1, column 1: it is not valid JSON",
        ),
        (
            "statement-not-json",
            sealed_payload(SCRIPT),
            "not a submission statement: it is not valid JSON",
        ),
        (
            "statement-wrong-type",
            sealed_payload(&serde_json::to_vec(&wrong_type).unwrap()),
            "not a submission statement: a field is missing, unknown or of the wrong type",
        ),
        (
            "statement-10000-deep",
            sealed_payload(deep.as_bytes()),
            "not a submission statement: it nests arrays and objects more than 64 deep",
        ),
        (
            "dsse-0-signatures",
            reseal(|b| b["dsseEnvelope"]["signatures"] = json!([])),
            "the envelope holds 0 signatures; a Sigstore bundle's holds exactly one",
        ),
        (
            "dsse-2-signatures",
            reseal(|b| {
                let one = b["dsseEnvelope"]["signatures"][0].clone();
                b["dsseEnvelope"]["signatures"] = json!([one.clone(), one])
            }),
            "the envelope holds 2 signatures",
        ),
        (
            "sealed-by-another-key",
            sealed_by("ada", &other_signer(), &test_signer()),
            "does not verify with the learner's key: the bundle says another key signed it",
        ),
        (
            "hostile-id",
            sealed("../../etc/passwd"),
            "cannot be a learner id",
        ),
        ("no-cluster-record", whole, "holds no cluster/world.json"),
    ]
}

#[test]
fn hostile_files_are_each_rejected_with_their_reason_and_the_class_is_still_graded() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    std::fs::create_dir(&class).unwrap();
    let cases = hostile_class();
    for (name, bytes, _) in &cases {
        std::fs::write(class.join(format!("{name}.tar.gz")), bytes).unwrap();
    }
    // Larger on disk than `lab grade` reads (sparse: nothing of it is ever written).
    let oversized = std::fs::File::create(class.join("oversized.tar.gz")).unwrap();
    oversized.set_len((64 << 20) + 1).unwrap();
    // A FIFO named like a submission: rejected for what it is, without waiting on it.
    let fifo = std::process::Command::new("mkfifo")
        .arg(class.join("named-pipe.tar.gz"))
        .status()
        .unwrap();
    assert!(fifo.success());
    // A finished lab, carrying a script among its (signed) files: graded, never run.
    std::fs::write(
        class.join("ada.tar.gz"),
        finished("ada", &[("work/run.sh", SCRIPT), ("run.sh", SCRIPT)]),
    )
    .unwrap();
    let report = dir.path().join("report.json");
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = output(
        lab(dir.path())
            .arg("--course")
            .arg(repo())
            .args(["grade", "class", "class/not-gzip.tar.gz", "--json", "-o"])
            .arg(&report),
    );
    eprintln!(
        "lab grade of {} files (1 graded): {:.2} s",
        cases.len() + 3,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let total = cases.len() + 3;
    assert!(
        stdout.contains(&format!("report.json ({total} submissions)")),
        "{stdout}"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(doc["rejected"], total - 1, "{doc:#}");
    let rows: std::collections::BTreeMap<&str, &Value> = doc["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["file"].as_str().unwrap(), s))
        .collect();
    let reason_of = |file: &str| {
        rows.get(file)
            .and_then(|s| s["rejected"].as_str())
            .unwrap_or_else(|| panic!("{file} is not rejected: {doc:#}"))
            .to_owned()
    };
    let mut reasons = String::new();
    for (name, _, want) in &cases {
        let file = format!("class/{name}.tar.gz");
        let reason = reason_of(&file);
        assert!(reason.contains(want), "{file}: {want}\n{reason}");
        reasons.push_str(&format!("{file}: {reason}\n"));
    }
    let reason = reason_of("class/oversized.tar.gz");
    assert!(
        reason.contains(
            "is 67108865 bytes, more than the 67108864 bytes `lab` reads for a submission"
        ),
        "{reason}"
    );
    reasons.push_str(&format!("class/oversized.tar.gz: {reason}\n"));
    let reason = reason_of("class/named-pipe.tar.gz");
    assert!(reason.contains("is a FIFO, not a regular file"), "{reason}");
    reasons.push_str(&format!("class/named-pipe.tar.gz: {reason}\n"));
    // No reason quotes what the hostile bytes said.
    assert!(
        !reasons.contains("#!/bin/sh") && !reasons.contains("all of them"),
        "{reasons}"
    );
    insta::assert_snapshot!("grade-hostile-reasons", reasons);

    // The rest of the class is graded all the same: the finished lab earns every point.
    let ada = rows["class/ada.tar.gz"];
    assert_eq!(ada["learner"], "ada", "{ada:#}");
    // Not flagged: the script it carries is one of its signed files, and nothing else is odd.
    assert_eq!(ada["outcome"], "graded", "{ada:#}");
    assert!(ada["points"].as_u64().unwrap() > 0, "{ada:#}");
    assert_eq!(ada["earned"], ada["points"], "{ada:#}");

    // Nothing but the report was written: not beside the class, not in it, not where `..` or
    // an absolute name pointed; and no script a file carried was run.
    let names = |path: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(dir.path()), ["class", "report.json"]);
    let mut expected: Vec<String> = cases
        .iter()
        .map(|(name, _, _)| format!("{name}.tar.gz"))
        .chain(["ada.tar.gz", "named-pipe.tar.gz", "oversized.tar.gz"].map(String::from))
        .collect();
    expected.sort();
    assert_eq!(names(&class), expected);
    for path in [
        dir.path().join("../../outside.txt"),
        "outside.txt".into(),
        "/tmp/courselab-graded-absolute".into(),
        "/tmp/courselab-graded-executed".into(),
    ] {
        assert!(!path.exists(), "{} was written", path.display());
    }
}

#[test]
fn no_submission_at_all_or_a_bad_answer_key_or_roster_is_a_usage_error() {
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
    // A roster with a key file that is not there: the file, the line, what it expected.
    std::fs::write(
        dir.path().join("class.csv"),
        "id,name,public_key\nada,Ada,keys/ada.pub\n",
    )
    .unwrap();
    let (code, _, stderr) = output(lab(dir.path()).arg("--course").arg(repo()).args([
        "grade",
        ".",
        "--roster",
        "class.csv",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("class.csv:2: the public_key cell is neither a PEM public key"),
        "{stderr}"
    );
}

#[test]
fn several_formats_are_written_into_the_folder_named_and_only_there() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    std::fs::create_dir(&class).unwrap();
    std::fs::write(class.join("ada.tar.gz"), finished("ada", &[])).unwrap();
    let grade = |args: &[&str]| {
        output(
            lab(dir.path())
                .arg("--course")
                .arg(repo())
                .args(["grade", "class"])
                .args(args),
        )
    };
    let (code, _, stderr) = grade(&["--format", "table", "--format", "json"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("give -o DIR"), "{stderr}");
    let (code, stdout, stderr) = grade(&[
        "--format", "table", "--format", "json", "--format", "json", "-o", "reports",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("Wrote grades.txt, grades.json in reports (1 submissions)"),
        "{stdout}"
    );
    let table = std::fs::read_to_string(dir.path().join("reports/grades.txt")).unwrap();
    assert!(
        table.contains("  ada        120/120        graded"),
        "{table}"
    );
    assert!(
        !table.contains('\u{1b}'),
        "no colour outside a terminal: {table}"
    );
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("reports/grades.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["summary"]["graded"], 1, "{doc:#}");
    assert_eq!(doc["summary"]["mean_percent"], 100.0, "{doc:#}");
    let answers = doc["submissions"][0]["answers"].as_array().unwrap();
    assert!(
        !answers.is_empty() && answers.iter().all(|a| a["correct"] == true),
        "{doc:#}"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["grades.json", "grades.txt"]);
}
