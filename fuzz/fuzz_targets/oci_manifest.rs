//! An OCI image manifest, as the signature (`.sig`) and attestation (`.att`) manifest of the
//! fixture image and as a tagged entry: read from a layout as `lab verify --layout` reads it,
//! its layers' signatures and envelopes verified with the chapter's test key and with a
//! keyless policy (which parses the certificate, chain and Rekor bundle annotations), and the
//! entry exported as `lab test --push` copies fixtures. Layer blobs are the fixture's own.

#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use courselab::supply::Digest;
use courselab::supply::attestation::{fetch_attestations, verify_attestations};
use courselab::supply::cosign::fetch_artifacts;
use courselab::supply::layout::{LayoutStore, REF_NAME_ANNOTATION};
use courselab::supply::signature::verify_signatures;
use courselab_fuzz::{IMAGE, IMAGE_DIGEST, KEY_VERIFIER, KEYLESS_VERIFIER, block_on};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

/// A layout folder holding the fixture blobs, and the names of those blobs.
static LAYOUT: LazyLock<(PathBuf, Vec<String>)> = LazyLock::new(|| {
    let dir = courselab_fuzz::scratch_dir("oci-manifest");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout is written");
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("the blobs folder is created");
    let mut names = Vec::new();
    for (name, bytes) in courselab_fuzz::demo_blobs() {
        std::fs::write(blobs.join(&name), bytes).expect("a blob is written");
        names.push(name);
    }
    (dir, names)
});

fn entry(tag: &str, digest: &str) -> Value {
    json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": 0,
        "annotations": {REF_NAME_ANNOTATION: tag}
    })
}

fuzz_target!(|data: &[u8]| {
    let (dir, fixture_blobs) = &*LAYOUT;
    let digest = Digest::sha256_of(data);
    let blob = dir.join("blobs/sha256").join(digest.hex());
    std::fs::write(&blob, data).expect("the manifest blob is written");
    let hex = IMAGE_DIGEST.trim_start_matches("sha256:");
    let index = json!({
        "schemaVersion": 2,
        "manifests": [
            entry("1.4.2-ci", IMAGE_DIGEST),
            entry(&format!("sha256-{hex}.sig"), digest.as_str()),
            entry(&format!("sha256-{hex}.att"), digest.as_str()),
            entry("fuzz", digest.as_str()),
        ]
    });
    std::fs::write(dir.join("index.json"), index.to_string()).expect("index.json is written");
    let store = LayoutStore::open(dir).expect("the scratch layout opens");
    if let Ok(artifacts) = block_on(fetch_artifacts(&store, &IMAGE)) {
        for verifier in [&*KEY_VERIFIER, &*KEYLESS_VERIFIER] {
            let _ = verify_signatures(&artifacts, verifier);
            let _ = fetch_attestations(&artifacts, verifier);
            let _ = verify_attestations(&artifacts, verifier, "spdxjson");
        }
    }
    let _ = store.export("fuzz");
    if !fixture_blobs.iter().any(|name| name == digest.hex()) {
        std::fs::remove_file(&blob).expect("the manifest blob is removed");
    }
});
