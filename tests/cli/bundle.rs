//! `lab bundle verify` through the real binary: a bundle packed from ch14's fixture image
//! layout, whole, tampered with, and hostile.

use std::path::Path;

use super::{copy_tree, lab, mkfifo, output, repo};

/// Packs ch14's fixture layout (under `oci/`) and a chart into `dir/venue.tar`.
fn venue(dir: &Path) {
    let folder = dir.join("venue");
    copy_tree(
        &repo().join("labs/ch14/tests/images/demo"),
        &folder.join("oci"),
    );
    // The fixture's own marker file is not part of an OCI layout.
    let _ = std::fs::remove_file(folder.join("oci/.courselab-fixture"));
    std::fs::create_dir_all(folder.join("charts")).unwrap();
    std::fs::write(folder.join("charts/kyverno-3.9.0.tgz"), b"a chart").unwrap();
    let file = std::fs::File::create(dir.join("venue.tar")).unwrap();
    courselab::bundle::pack::pack(&folder, "ch14", file, Path::new("venue.tar")).unwrap();
}

fn verify(dir: &Path, args: &[&str]) -> (i32, String, String) {
    output(lab(dir).args(["bundle", "verify", "venue.tar"]).args(args))
}

#[test]
fn a_whole_bundle_verifies_and_a_tampered_one_names_each_file_and_exits_4() {
    let tmp = tempfile::tempdir().unwrap();
    venue(tmp.path());
    let (code, stdout, stderr) = verify(tmp.path(), &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    insta::assert_snapshot!("bundle-verified", stdout);
    let (code, stdout, _) = verify(tmp.path(), &["--json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["verified"], true);
    assert_eq!(doc["lab"], "ch14");
    assert!(doc["files"].as_u64().unwrap() >= 8, "{doc}");

    // One byte of the chart changed where it lies in the archive: same size, another digest.
    let path = tmp.path().join("venue.tar");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(7)
        .position(|w| w == b"a chart")
        .expect("the chart's bytes are in the archive as they are");
    bytes[at] = b'A';
    std::fs::write(&path, &bytes).unwrap();
    let (code, stdout, stderr) = verify(tmp.path(), &[]);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(
        stdout.contains("charts/kyverno-3.9.0.tgz: its SHA-256 is sha256:"),
        "{stdout}"
    );
    insta::assert_snapshot!(
        "bundle-tampered",
        // The digests are the fixture's; only their shape is snapshotted.
        regex::Regex::new("sha256:[0-9a-f]{64}")
            .unwrap()
            .replace_all(&stdout, "sha256:<hex>")
    );
}

#[test]
fn what_is_not_a_bundle_is_refused_with_why() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("venue.tar"), b"not a tar at all").unwrap();
    let (code, stdout, stderr) = verify(tmp.path(), &[]);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(
        stderr.contains("venue.tar is not a bundle lab can read: it is truncated or corrupt")
            && stderr.contains("copy the bundle again from where it was made"),
        "{stderr}"
    );
    let (code, _, stderr) = output(lab(tmp.path()).args(["bundle", "verify", "missing.tar"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot read missing.tar")
            && stderr.contains("check that it exists and that you may read it"),
        "{stderr}"
    );
    // A FIFO would hold the open until someone writes: refused before it is opened.
    mkfifo(&tmp.path().join("fifo.tar"));
    let (code, _, stderr) = output(lab(tmp.path()).args(["bundle", "verify", "fifo.tar"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("fifo.tar is a FIFO, not a regular file"),
        "{stderr}"
    );
}
