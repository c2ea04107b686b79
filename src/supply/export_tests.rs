//! Exports of ch14's fixture images (signed with the chapter's test key), read back from
//! memory as a grader reads a submission's layout.

use std::path::PathBuf;
use std::sync::Arc;

use super::*;
use crate::exit_code::VERIFICATION_FAILED;
use crate::runtime::block_on;
use crate::supply::NotVerified;
use crate::supply::attestation::verify_attestations;
use crate::supply::cosign::fetch_artifacts;
use crate::supply::layout::LayoutStore;
use crate::supply::signature::{Verifier, verify_signatures};

fn ch14() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("labs/ch14/tests")
}

fn fixtures() -> LayoutStore {
    LayoutStore::open(&ch14().join("images/demo")).unwrap()
}

fn test_key() -> Verifier {
    let pem = std::fs::read(ch14().join("keys/test-only-signer.pub")).unwrap();
    Verifier::from_public_key_pem(&pem).unwrap()
}

/// The fixture image under `tag` and its digest.
fn image(tag: &str) -> (ImageRef, Digest) {
    let image = ImageRef::parse(&format!("kind-registry:5000/courselab/demo:{tag}")).unwrap();
    let digest = block_on(fixtures().resolve(&image)).unwrap().unwrap();
    (image, digest)
}

fn export(store: &impl Store, tag: &str, prefix: &str) -> ExportedLayout {
    let (image, digest) = image(tag);
    block_on(export_layout(store, &image, &digest, prefix))
        .unwrap()
        .unwrap()
}

fn in_memory(files: &LayoutFiles, prefix: &str) -> LayoutStore {
    LayoutStore::in_memory(Arc::new(files.clone()), prefix).unwrap()
}

/// The digests a manifest's `config` and `layers` name.
fn named(manifest: &[u8]) -> (String, Vec<String>) {
    let doc: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    let layers = doc["layers"].as_array().unwrap();
    (
        doc["config"]["digest"].as_str().unwrap().to_owned(),
        layers
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_owned())
            .collect(),
    )
}

fn blob_name(digest: &str) -> String {
    format!(
        "layout/blobs/sha256/{}",
        digest.trim_start_matches("sha256:")
    )
}

#[test]
fn an_exported_layout_reads_back_from_memory_and_verifies_with_the_test_key() {
    let exported = export(&fixtures(), "1.4.2-ci", "layout");
    assert!(exported.signed && exported.attested);
    let store = in_memory(&exported.files, "layout");
    let (by_tag, digest) = image("1.4.2-ci");
    let by_digest = by_tag.with_digest(digest.as_str());
    for image in [&by_tag, &by_digest] {
        let artifacts = block_on(fetch_artifacts(&store, image)).unwrap().unwrap();
        assert_eq!(artifacts.digest, digest);
        let signatures = verify_signatures(&artifacts, &test_key()).unwrap();
        assert_eq!(signatures.len(), 1);
        let sboms = verify_attestations(&artifacts, &test_key(), "spdxjson").unwrap();
        assert_eq!(sboms.len(), 1);
    }
}

#[test]
fn the_layout_holds_the_manifest_and_config_and_every_artifact_blob_but_no_layer() {
    let source = fixtures();
    let exported = export(&source, "1.4.2-ci", "layout");
    let (image, digest) = image("1.4.2-ci");
    let manifest = block_on(source.manifest(&image, digest.as_str()))
        .unwrap()
        .unwrap()
        .unwrap();
    let (config, layers) = named(&manifest.bytes);
    assert!(
        !layers.is_empty(),
        "the fixture image has layers to leave out"
    );
    assert_eq!(exported.left_out, layers.len());
    let mut expected = vec![
        "layout/index.json".to_owned(),
        "layout/oci-layout".to_owned(),
        blob_name(digest.as_str()),
        blob_name(&config),
    ];
    for suffix in ["sig", "att"] {
        let artifact = block_on(source.manifest(&image, &digest.cosign_tag(suffix)))
            .unwrap()
            .unwrap()
            .unwrap();
        let (config, layers) = named(&artifact.bytes);
        expected.push(blob_name(artifact.digest.as_str()));
        expected.push(blob_name(&config));
        expected.extend(layers.iter().map(|l| blob_name(l)));
    }
    expected.sort();
    expected.dedup();
    let names: Vec<String> = exported.files.keys().cloned().collect();
    assert_eq!(names, expected);
    for layer in &layers {
        assert!(!exported.files.contains_key(&blob_name(layer)), "{layer}");
    }
    // `cosign save`'s index: the image, then its signatures and attestations, by `kind`.
    let index: serde_json::Value =
        serde_json::from_slice(&exported.files["layout/index.json"]).unwrap();
    let kinds: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["annotations"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, [KIND_IMAGE, KIND_SIGS, KIND_ATTS]);
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());
    assert_eq!(index["manifests"][0]["mediaType"], OCI_MANIFEST_MEDIA_TYPE);
}

// Exporting from the exported layout reads every blob of it through the store's checks: the
// same files come back, and a grader can check a whole layout this way.
#[test]
fn exporting_an_exported_layout_gives_the_same_files() {
    let exported = export(&fixtures(), "1.4.2-ci", "layout");
    let again = export(&in_memory(&exported.files, "layout"), "1.4.2-ci", "layout");
    assert_eq!(again.files, exported.files);
    let elsewhere = export(&in_memory(&exported.files, "layout"), "1.4.2-ci", "a/b");
    assert_eq!(elsewhere.files.len(), exported.files.len());
    assert!(elsewhere.files.keys().all(|k| k.starts_with("a/b/")));
    let bare = export(&in_memory(&exported.files, "layout"), "1.4.2-ci", "");
    assert!(bare.files.contains_key("index.json"));
    assert_eq!(
        in_memory(&bare.files, "").describe(),
        "the archive's layout"
    );
}

#[test]
fn a_changed_byte_in_any_blob_is_refused() {
    let exported = export(&fixtures(), "1.4.2-ci", "layout");
    let (image, digest) = image("1.4.2-ci");
    let blobs: Vec<&String> = exported
        .files
        .keys()
        .filter(|k| k.starts_with("layout/blobs/"))
        .collect();
    assert_eq!(
        blobs.len(),
        7,
        "the image's manifest and config; the .sig's and .att's manifest and layer, and the `{{}}` config they share"
    );
    for name in blobs {
        let mut files = exported.files.clone();
        let bytes = files.get_mut(name).unwrap();
        bytes[0] ^= 1;
        let store = in_memory(&files, "layout");
        let err = block_on(export_layout(&store, &image, &digest, "copy"))
            .unwrap()
            .unwrap_err();
        assert_eq!(err.exit_code(), VERIFICATION_FAILED, "{name}: {err}");
        assert!(
            err.to_string()
                .contains(&format!("{name}: it does not hash to its name")),
            "{err}"
        );
        files.get_mut(name).unwrap().push(b'\n');
        let store = in_memory(&files, "layout");
        let err = block_on(export_layout(&store, &image, &digest, "copy"))
            .unwrap()
            .unwrap_err();
        assert!(
            err.to_string().contains(&format!("{name}: it holds")),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_tampered_signature_layer_fails_verification_from_memory() {
    let exported = export(&fixtures(), "1.4.2-ci", "layout");
    let (image, digest) = image("1.4.2-ci");
    let signature = block_on(fixtures().manifest(&image, &digest.cosign_tag("sig")))
        .unwrap()
        .unwrap()
        .unwrap();
    let layer = blob_name(&named(&signature.bytes).1[0]);
    let mut files = exported.files.clone();
    files.get_mut(&layer).unwrap()[10] ^= 1;
    let store = in_memory(&files, "layout");
    let err = block_on(fetch_artifacts(&store, &image.with_digest(digest.as_str())))
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, SupplyError::Corrupt { .. }), "{err}");
}

#[test]
fn an_image_signed_but_not_attested_exports_its_signature_only() {
    let exported = export(&fixtures(), "1.4.2-signed-only", "layout");
    assert!(exported.signed && !exported.attested);
    let store = in_memory(&exported.files, "layout");
    let (image, _) = image("1.4.2-signed-only");
    let artifacts = block_on(fetch_artifacts(&store, &image)).unwrap().unwrap();
    assert!(verify_signatures(&artifacts, &test_key()).is_ok());
    assert!(matches!(
        verify_attestations(&artifacts, &test_key(), "spdxjson"),
        Err(NotVerified::NoMatchingAttestations(_))
    ));
}

#[test]
fn an_unsigned_image_exports_the_image_alone() {
    let exported = export(&fixtures(), "1.4.2", "layout");
    assert!(!exported.signed && !exported.attested);
    assert_eq!(exported.files.len(), 4, "{:?}", exported.files.keys());
    let store = in_memory(&exported.files, "layout");
    let (image, _) = image("1.4.2");
    let artifacts = block_on(fetch_artifacts(&store, &image)).unwrap().unwrap();
    assert_eq!(
        verify_signatures(&artifacts, &test_key()).unwrap_err(),
        NotVerified::NoSignatures
    );
}

#[test]
fn an_image_the_store_lacks_is_not_found() {
    let (image, _) = image("1.4.2");
    let absent = Digest::sha256_of(b"no such image");
    let err = block_on(export_layout(&fixtures(), &image, &absent, "layout"))
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, SupplyError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains(absent.as_str()), "{err}");
}

#[test]
fn an_export_larger_than_its_budget_is_refused() {
    let (image, digest) = image("1.4.2-ci");
    let err = block_on(export_within(&fixtures(), &image, &digest, "layout", 1000))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.exit_code(), crate::exit_code::BAD_CONTENT_OR_USAGE);
    assert!(
        err.to_string()
            .contains("come to more than the 1000 bytes a submission carries (at manifest sha256:"),
        "{err}"
    );
    assert!(err.to_string().contains("`cosign clean`"), "{err}");
}

#[test]
fn a_prefix_that_is_not_a_plain_folder_name_is_refused() {
    let (image, digest) = image("1.4.2");
    for prefix in ["../up", "/abs", ".hidden", "a//b", "a/", "sp ace"] {
        let err = block_on(export_layout(&fixtures(), &image, &digest, prefix))
            .unwrap()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("is not a folder name for a layout"),
            "{prefix}: {err}"
        );
    }
}
