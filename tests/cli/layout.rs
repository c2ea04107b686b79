//! Verification from an OCI image layout on disk, offline: layouts written by skopeo (entries
//! named by tag) and in `cosign save`'s form (entries marked with a `kind` annotation).

use std::path::Path;

use super::registry::{
    key_pair, payload, push_attestations, push_signature_layers, registry_with_image, sign,
    spdx_document, statement,
};
use super::{lab, output, repo};

const SPDX: &str = "https://spdx.dev/Document";

/// `skopeo copy` of `addr/courselab/demo:<tag>` into the layout at `dir` under the same tag.
fn skopeo_copy(addr: &str, tag: &str, dir: &Path) {
    let out = super::registry::debian_tool("skopeo")
        .args([
            "copy",
            "--quiet",
            "--preserve-digests",
            "--src-tls-verify=false",
        ])
        .arg(format!("docker://{addr}/courselab/demo:{tag}"))
        .arg(format!("oci:{}:{tag}", dir.display()))
        .output()
        .expect("skopeo runs");
    assert!(
        out.status.success(),
        "skopeo copy {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A signed, attested image saved to a layout; the registry is already stopped on return.
fn saved_layout(sign_it: bool) -> (tempfile::TempDir, std::path::PathBuf, String, String) {
    let (registry, rt, digest) = registry_with_image("1.0", "saved");
    let (signer, public) = key_pair();
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    skopeo_copy(&registry.addr, "1.0", &layout);
    if sign_it {
        let signed = payload("courselab/demo", &digest);
        rt.block_on(push_signature_layers(
            &registry.addr,
            "courselab/demo",
            &digest,
            vec![(signed.clone(), sign(&signer, &signed))],
        ));
        let statements = vec![(
            statement("courselab/demo", &digest, SPDX, spdx_document("saved")),
            SPDX,
        )];
        rt.block_on(push_attestations(
            &registry.addr,
            "courselab/demo",
            &digest,
            &signer,
            &statements,
        ));
        let hex = digest.trim_start_matches("sha256:");
        skopeo_copy(&registry.addr, &format!("sha256-{hex}.sig"), &layout);
        skopeo_copy(&registry.addr, &format!("sha256-{hex}.att"), &layout);
    }
    std::fs::write(dir.path().join("cosign.pub"), public).unwrap();
    let image = format!("{}/courselab/demo:1.0", registry.addr);
    drop(registry);
    (dir, layout, image, digest)
}

fn verify_layout(dir: &Path, layout: &Path, image: &str, extra: &[&str]) -> (i32, String, String) {
    output(
        lab(&repo())
            .arg("verify")
            .arg(image)
            .arg("--layout")
            .arg(layout)
            .arg("--key")
            .arg(dir.join("cosign.pub"))
            .args(extra),
    )
}

#[test]
fn a_skopeo_layout_verifies_offline() {
    let (dir, layout, image, digest) = saved_layout(true);
    let (code, stdout, stderr) = verify_layout(
        dir.path(),
        &layout,
        &image,
        &["--attestation-type", "spdxjson"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("\"docker-manifest-digest\":\"{digest}\"")),
        "{stdout}"
    );
    assert!(stdout.contains("SBOM `saved` (SPDX-2.3)"), "{stdout}");
    let by_digest = image.replace(":1.0", &format!("@{digest}"));
    assert_eq!(verify_layout(dir.path(), &layout, &by_digest, &[]).0, 0);
}

#[test]
fn an_unsigned_image_in_a_layout_has_no_signatures() {
    let (dir, layout, image, _) = saved_layout(false);
    let (code, _, stderr) = verify_layout(dir.path(), &layout, &image, &[]);
    assert_eq!(code, 4);
    assert!(stderr.ends_with("no signatures found\n"), "{stderr}");
}

#[test]
fn a_corrupted_layout_is_reported_not_trusted() {
    let (dir, layout, image, _) = saved_layout(true);
    let blobs = layout.join("blobs/sha256");
    for entry in std::fs::read_dir(&blobs).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.push(b'\n');
        std::fs::write(&path, bytes).unwrap();
    }
    let (code, _, stderr) = verify_layout(dir.path(), &layout, &image, &[]);
    assert_eq!(code, 4, "bad evidence is a failed verification: {stderr}");
    assert!(
        stderr.contains("bytes, not the") && stderr.contains("bytes its descriptor gives"),
        "{stderr}"
    );
}

#[test]
fn a_folder_that_is_not_a_layout_is_named() {
    let (dir, _, image, _) = saved_layout(false);
    let (code, _, stderr) = verify_layout(dir.path(), dir.path(), &image, &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("is not an OCI image layout (no oci-layout file"),
        "{stderr}"
    );
}

// `cosign save` marks index entries with `kind` instead of naming them by tag
// (cosign pkg/oci/layout: kind = dev.cosignproject.cosign/image | /sigs | /atts).
#[test]
fn a_cosign_save_layout_verifies_offline() {
    let (dir, layout, image, digest) = saved_layout(true);
    let index_path = layout.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    for entry in index["manifests"].as_array_mut().unwrap() {
        let name = entry["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap()
            .to_owned();
        let kind = match name.rsplit_once('.') {
            Some((_, "sig")) => "dev.cosignproject.cosign/sigs",
            Some((_, "att")) => "dev.cosignproject.cosign/atts",
            _ => "dev.cosignproject.cosign/image",
        };
        entry["annotations"] = serde_json::json!({ "kind": kind });
    }
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    let (code, stdout, stderr) = verify_layout(
        dir.path(),
        &layout,
        &image,
        &["--attestation-type", "spdxjson"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "Verification for {}",
            image.replace(":1.0", &format!("@{digest}"))
        )),
        "{stdout}"
    );
}
