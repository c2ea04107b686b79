//! Bundles packed from a real OCI layout (ch14's fixture image) and read back, whole and
//! tampered with.

use std::path::{Path, PathBuf};

use super::*;
use crate::bundle::error::BundleError;
use crate::bundle::manifest::MANIFEST_FILE;

/// A folder holding ch14's fixture image layout under `oci/` and a chart under `charts/`.
fn venue_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let layout = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/ch14/tests/images/demo");
    let mut pending = vec![layout.clone()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if path.is_dir() {
                pending.push(path);
            } else if !hidden {
                let target = dir
                    .path()
                    .join("oci")
                    .join(path.strip_prefix(&layout).unwrap());
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::copy(&path, target).unwrap();
            }
        }
    }
    std::fs::create_dir_all(dir.path().join("charts")).unwrap();
    std::fs::write(dir.path().join("charts/kyverno-3.9.0.tgz"), b"a chart").unwrap();
    dir
}

fn packed(dir: &Path) -> (Vec<u8>, Manifest) {
    let mut bytes = Vec::new();
    let manifest = super::super::pack::pack(dir, "ch14", &mut bytes, Path::new("out.tar")).unwrap();
    (bytes, manifest)
}

fn shown() -> PathBuf {
    PathBuf::from("venue.tar")
}

/// A plain tar of `entries` as given, in order.
fn tar_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, name, data.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

/// The entries of a packed bundle, in order.
fn entries_of(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (name, data)
        })
        .collect()
}

fn verify_bytes(bytes: &[u8]) -> Result<Verified, BundleError> {
    verify_reader(bytes, &shown())
}

#[test]
fn a_packed_layout_verifies_and_packs_the_same_bytes_twice() {
    let dir = venue_folder();
    let (bytes, manifest) = packed(dir.path());
    let verified = verify_bytes(&bytes).unwrap();
    assert_eq!(verified.problems, Vec::new());
    assert_eq!(verified.manifest, manifest);
    assert_eq!(verified.files, manifest.files.len());
    assert_eq!(verified.bytes, manifest.total_size());
    assert!(manifest.files.contains_key("oci/index.json"));
    assert!(manifest.files.contains_key("charts/kyverno-3.9.0.tgz"));
    // Every blob of the layout is listed under its own digest.
    let blobs = manifest
        .files
        .iter()
        .filter_map(|(p, f)| crate::bundle::manifest::blob_hex(p).map(|hex| (hex, f)))
        .collect::<Vec<_>>();
    assert!(blobs.len() >= 5, "{blobs:?}");
    assert!(
        blobs
            .iter()
            .all(|(hex, f)| f.digest == format!("sha256:{hex}"))
    );
    assert_eq!(
        entries_of(&bytes)[0].0,
        MANIFEST_FILE,
        "the manifest comes first"
    );
    assert_eq!(packed(dir.path()).0, bytes, "deterministic");
}

#[test]
fn every_file_that_is_not_what_the_manifest_says_is_named() {
    let dir = venue_folder();
    let (bytes, manifest) = packed(dir.path());
    let mut entries = entries_of(&bytes);
    // A byte changed, a file cut short, one added, one taken away.
    let changed = entries
        .iter()
        .position(|(n, _)| n == "charts/kyverno-3.9.0.tgz")
        .unwrap();
    entries[changed].1[0] ^= 1;
    let cut = entries
        .iter()
        .position(|(n, _)| n == "oci/index.json")
        .unwrap();
    entries[cut].1.pop();
    entries.push(("oci/extra".into(), b"x".to_vec()));
    let removed = entries
        .iter()
        .position(|(n, _)| n == "oci/oci-layout")
        .unwrap();
    entries.remove(removed);
    let rebuilt: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, d)| (n.as_str(), d.clone()))
        .collect();
    let verified = verify_bytes(&tar_of(&rebuilt)).unwrap();
    let listed = |p: &str| manifest.files[p].clone();
    assert_eq!(
        verified.problems,
        [
            Problem::Digest {
                path: "charts/kyverno-3.9.0.tgz".into(),
                listed: listed("charts/kyverno-3.9.0.tgz").digest,
                found: crate::supply::Digest::sha256_of(&entries[changed].1)
                    .as_str()
                    .to_owned(),
            },
            Problem::Size {
                path: "oci/index.json".into(),
                listed: listed("oci/index.json").size,
                found: listed("oci/index.json").size - 1,
            },
            Problem::NotListed("oci/extra".into()),
            Problem::Missing("oci/oci-layout".into()),
        ]
    );
    assert_eq!(
        verified.problems[3].to_string(),
        "oci/oci-layout: listed in bundle.json, not in the archive"
    );
}

#[test]
fn an_archive_without_its_manifest_first_or_with_a_wrong_one_is_not_a_bundle() {
    let manifest_error = |bytes: &[u8]| match verify_bytes(bytes) {
        Err(e @ BundleError::Manifest { .. }) => {
            assert_eq!(e.exit_code(), crate::exit_code::VERIFICATION_FAILED);
            e.to_string()
        }
        other => panic!("{other:?}"),
    };
    assert!(
        manifest_error(&tar_of(&[("oci/index.json", b"{}".to_vec())]))
            .contains("its first entry is `oci/index.json`, where bundle.json must be")
    );
    assert!(manifest_error(&tar_of(&[])).contains("it is empty"));
    let with = |json: &str| tar_of(&[(MANIFEST_FILE, json.as_bytes().to_vec())]);
    assert!(
        manifest_error(&with(
            "{\"schema_version\": 2, \"lab\": \"ch14\", \"files\": {}}"
        ))
        .contains("version 2")
    );
    assert!(manifest_error(&with("[]")).contains("is not a bundle manifest (line 1, column "));
    let hex = "0".repeat(64);
    assert!(
        manifest_error(&with(&format!(
            "{{\"schema_version\": 1, \"lab\": \"ch14\", \"files\": {{\"oci/blobs/sha256/{hex}\": {{\"digest\": \"sha256:{}\", \"size\": 1}}}}}}",
            "1".repeat(64)
        )))
        .contains("listed with another digest")
    );
    assert!(
        manifest_error(&with(
            "{\"schema_version\": 1, \"lab\": \"ch14\", \"files\": {\"../x\": {\"digest\": \"sha256:00\", \"size\": 1}}}"
        ))
        .contains("climbs out of the archive")
    );
}

#[test]
fn a_hostile_archive_is_refused_as_a_bundle_and_never_unpacked() {
    let mut builder = tar::Builder::new(Vec::new());
    let manifest = "{\"schema_version\": 1, \"lab\": \"ch14\", \"files\": {}}";
    let mut header = tar::Header::new_ustar();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, MANIFEST_FILE, manifest.as_bytes())
        .unwrap();
    let mut link = tar::Header::new_ustar();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    builder
        .append_link(&mut link, "oci/index.json", "/etc/passwd")
        .unwrap();
    let bytes = builder.into_inner().unwrap();
    match verify_bytes(&bytes) {
        Err(e @ BundleError::Archive { .. }) => {
            assert_eq!(e.exit_code(), crate::exit_code::VERIFICATION_FAILED);
            assert!(
                e.to_string().ends_with(
                    "`oci/index.json` is a symbolic link; a bundle holds only regular files; copy the bundle again from where it was made"
                ),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Cut short inside a file: a truncated bundle, not a smaller one.
    let dir = venue_folder();
    let (good, _) = packed(dir.path());
    assert!(matches!(
        verify_bytes(&good[..good.len() / 2]),
        Err(BundleError::Archive { .. })
    ));
}

#[test]
fn a_bundle_that_cannot_be_read_is_bad_input() {
    let e = verify(Path::new("/nonexistent/venue.tar")).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_code::BAD_CONTENT_OR_USAGE);
    assert!(
        e.to_string()
            .starts_with("cannot read /nonexistent/venue.tar: ")
            && e.to_string()
                .ends_with("; check that it exists and that you may read it"),
        "{e}"
    );
    // A folder is refused before it is opened, as every file lab reads is.
    let dir = tempfile::tempdir().unwrap();
    let e = verify(dir.path()).unwrap_err();
    assert_eq!(e.exit_code(), crate::exit_code::BAD_CONTENT_OR_USAGE);
    assert!(
        e.to_string().contains("is a directory, not a regular file"),
        "{e}"
    );
}
