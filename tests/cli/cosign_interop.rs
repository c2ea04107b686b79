//! cosign interoperability, both ways, with the real cosign (built by `.ci/peers/build` at the
//! version Kyverno v1.19 links) against a real registry: what cosign signs and attests in the
//! classic `.sig`/`.att` tag layout, `lab verify` verifies; what `lab test --push` pushes, cosign
//! verifies; and in every negative case of the chapter's scenario both refuse.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use super::peers::{peer_command, write};
use super::registry::{TestRegistry, push_image, runtime, spdx_document};
use super::{lab, output, registry_with_ch14_fixtures, repo};

/// The flags that make cosign v3 write the classic tag layout offline: no bundle format (v3's
/// default stores an OCI referrer), no signing config (which would ask for a transparency log).
const SIGN_FLAGS: [&str; 4] = [
    "--new-bundle-format=false",
    "--use-signing-config=false",
    "--tlog-upload=false",
    "--yes",
];
const VERIFY_FLAGS: [&str; 2] = ["--insecure-ignore-tlog", "--new-bundle-format=false"];
const PASSWORD: &str = "courselab-interop";

fn cosign(dir: &Path) -> Command {
    let mut cmd = peer_command("cosign");
    cmd.current_dir(dir)
        .env("COSIGN_PASSWORD", PASSWORD)
        .env("TUF_ROOT", dir.join("tuf"))
        .env("HOME", dir);
    cmd
}

/// Runs cosign; (success, stdout and stderr together).
fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A cosign key pair made by cosign itself: (private key, public key).
fn cosign_keys(dir: &Path, prefix: &str) -> (PathBuf, PathBuf) {
    let (ok, text) = run(cosign(dir).args(["generate-key-pair", "--output-key-prefix", prefix]));
    assert!(ok, "cosign generate-key-pair: {text}");
    (
        dir.join(format!("{prefix}.key")),
        dir.join(format!("{prefix}.pub")),
    )
}

fn cosign_sign(dir: &Path, key: &Path, image: &str) {
    let (ok, text) = run(cosign(dir)
        .args(["sign", "--key"])
        .arg(key)
        .args(SIGN_FLAGS)
        .arg(image));
    assert!(ok, "cosign sign {image}: {text}");
}

fn cosign_attest(dir: &Path, key: &Path, image: &str, kind: &str, predicate: &Path) {
    let (ok, text) = run(cosign(dir)
        .args(["attest", "--key"])
        .arg(key)
        .args(["--type", kind, "--predicate"])
        .arg(predicate)
        .args(SIGN_FLAGS)
        .arg(image));
    assert!(ok, "cosign attest {image}: {text}");
}

/// `cosign verify` (and, with a type, `cosign verify-attestation`): did it verify?
fn cosign_verifies(
    dir: &Path,
    key: &Path,
    image: &str,
    attestation: Option<&str>,
) -> (bool, String) {
    let mut cmd = cosign(dir);
    match attestation {
        None => cmd.arg("verify"),
        Some(kind) => cmd.args(["verify-attestation", "--type", kind]),
    };
    run(cmd.arg("--key").arg(key).args(VERIFY_FLAGS).arg(image))
}

/// `lab verify`'s exit code and output.
fn lab_verify(key: &Path, image: &str, attestation: Option<&str>) -> (i32, String) {
    let mut cmd = lab(&repo());
    cmd.args(["verify", image, "--key"]).arg(key);
    if let Some(kind) = attestation {
        cmd.args(["--attestation-type", kind]);
    }
    let (code, stdout, stderr) = output(&mut cmd);
    (code, format!("{stdout}{stderr}"))
}

/// Both tools give the same verdict on `image`: verified (lab exits 0) or not (lab exits 4).
fn both_agree(dir: &Path, key: &Path, image: &str, attestation: Option<&str>, verified: bool) {
    let (cosign_ok, cosign_text) = cosign_verifies(dir, key, image, attestation);
    let (code, lab_text) = lab_verify(key, image, attestation);
    let what = attestation.map_or("signature".to_owned(), |t| format!("{t} attestation"));
    assert_eq!(
        cosign_ok, verified,
        "cosign on the {what} of {image}: {cosign_text}"
    );
    assert_eq!(
        code,
        if verified { 0 } else { 4 },
        "lab verify on the {what} of {image}: {lab_text}"
    );
}

struct Scene {
    dir: tempfile::TempDir,
    registry: TestRegistry,
    sbom: PathBuf,
}

fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let sbom = write(
        dir.path(),
        "sbom.spdx.json",
        &spdx_document("demo-1.4.2").to_string(),
    );
    Scene {
        registry: TestRegistry::start(),
        dir,
        sbom,
    }
}

impl Scene {
    fn push(&self, tag: &str, content: &str) -> (String, String) {
        let digest = runtime().block_on(push_image(
            &self.registry.addr,
            "courselab/demo",
            tag,
            content,
        ));
        (
            format!("{}/courselab/demo:{tag}", self.registry.addr),
            format!("{}/courselab/demo@{digest}", self.registry.addr),
        )
    }
}

#[test]
fn what_cosign_signs_and_attests_lab_verifies() {
    let s = scene();
    let dir = s.dir.path();
    let (key, public) = cosign_keys(dir, "trusted");
    let (_, by_digest) = s.push("1.4.2-ci", "the CI build");
    cosign_sign(dir, &key, &by_digest);
    cosign_attest(dir, &key, &by_digest, "spdxjson", &s.sbom);

    // The classic layout, which Kyverno's default `type: Cosign` reads.
    let (ok, tags) =
        run(peer_command("crane").args(["ls", &format!("{}/courselab/demo", s.registry.addr)]));
    assert!(ok, "{tags}");
    let hex = by_digest.rsplit_once("sha256:").unwrap().1;
    assert!(tags.contains(&format!("sha256-{hex}.sig")), "{tags}");
    assert!(tags.contains(&format!("sha256-{hex}.att")), "{tags}");

    let tagged = format!("{}/courselab/demo:1.4.2-ci", s.registry.addr);
    for image in [&tagged, &by_digest] {
        both_agree(dir, &public, image, None, true);
        both_agree(dir, &public, image, Some("spdxjson"), true);
    }
    let (code, text) = lab_verify(&public, &tagged, Some("spdxjson"));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("https://spdx.dev/Document"), "{text}");
}

#[test]
fn cosign_and_lab_refuse_the_same_images() {
    let s = scene();
    let dir = s.dir.path();
    let (key, public) = cosign_keys(dir, "trusted");
    let (other_key, _) = cosign_keys(dir, "other");

    // Unsigned: the workstation rebuild.
    let (unsigned, _) = s.push("1.4.2", "workstation rebuild");
    both_agree(dir, &public, &unsigned, None, false);
    both_agree(dir, &public, &unsigned, Some("spdxjson"), false);

    // Signed and attested, by a key nobody trusts.
    let (_, other) = s.push("1.4.2-other", "other signer");
    cosign_sign(dir, &other_key, &other);
    cosign_attest(dir, &other_key, &other, "spdxjson", &s.sbom);
    both_agree(dir, &public, &other, None, false);
    both_agree(dir, &public, &other, Some("spdxjson"), false);

    // The tag moved after signing: the signature is for the old digest.
    let (moved, signed_digest) = s.push("1.4.2-moved", "signed build");
    cosign_sign(dir, &key, &signed_digest);
    both_agree(dir, &public, &moved, None, true);
    s.push("1.4.2-moved", "rebuilt on a workstation");
    both_agree(dir, &public, &moved, None, false);
    both_agree(dir, &public, &signed_digest, None, true);

    // An attestation of another type: a CycloneDX SBOM where SPDX is required.
    let (_, cyclonedx) = s.push("1.4.2-cdx", "cyclonedx only");
    let bom = write(
        dir,
        "bom.cdx.json",
        &json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": []})
            .to_string(),
    );
    cosign_sign(dir, &key, &cyclonedx);
    cosign_attest(dir, &key, &cyclonedx, "cyclonedx", &bom);
    both_agree(dir, &public, &cyclonedx, Some("cyclonedx"), true);
    both_agree(dir, &public, &cyclonedx, Some("spdxjson"), false);
}

#[test]
fn what_lab_test_pushes_cosign_verifies() {
    let registry = registry_with_ch14_fixtures();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let keys = repo().join("labs/ch14/tests/keys");
    let trusted = keys.join("test-only-signer.pub");
    let image = |tag: &str| format!("{}/courselab/demo:{tag}", registry.addr);

    let (ok, text) = cosign_verifies(dir, &trusted, &image("1.4.2-ci"), None);
    assert!(ok, "{text}");
    // cosign prints the verified payload: it names the digest the tag resolves to.
    assert!(
        text.contains("\"docker-manifest-digest\":\"sha256:"),
        "{text}"
    );
    let (ok, text) = cosign_verifies(dir, &trusted, &image("1.4.2-ci"), Some("spdxjson"));
    assert!(ok, "{text}");
    assert!(
        text.contains("\"payloadType\":\"application/vnd.in-toto+json\""),
        "{text}"
    );

    // The chapter's negative images are refused by cosign as by lab.
    for (tag, attestation, verified) in [
        ("1.4.2", None, false),
        ("1.4.2-hotfix", None, false),
        ("1.4.2-signed-only", None, true),
        ("1.4.2-signed-only", Some("spdxjson"), false),
        ("1.4.2-other-signer", None, false),
        ("1.4.2-other-signer", Some("spdxjson"), false),
    ] {
        both_agree(dir, &trusted, &image(tag), attestation, verified);
    }
    // And the other signer's images verify with the other signer's key.
    let other = keys.join("test-only-other-signer.pub");
    both_agree(
        dir,
        &other,
        &image("1.4.2-other-signer"),
        Some("spdxjson"),
        true,
    );
}

/// `cosign verify --local-image DIR` (and, with a type, `verify-attestation --local-image`).
fn cosign_verifies_layout(
    dir: &Path,
    key: &Path,
    layout: &Path,
    attestation: Option<&str>,
) -> (bool, String) {
    let mut cmd = cosign(dir);
    match attestation {
        None => cmd.arg("verify"),
        Some(kind) => cmd.args(["verify-attestation", "--type", kind]),
    };
    run(cmd
        .arg("--local-image")
        .arg("--key")
        .arg(key)
        .args(VERIFY_FLAGS)
        .arg(layout))
}

/// Writes `files` (names relative) under `root`, as `lab grade` never does but a person may.
fn write_files(root: &Path, files: &std::collections::BTreeMap<String, Vec<u8>>) {
    for (name, bytes) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

// Issue 21: a submission carries the promoted image as an OCI layout without the image's
// layers. The real cosign must verify it offline as it verifies `cosign save`'s layouts: its
// `--local-image` reader (pkg/oci/layout) finds the entries by `kind` and reads the image's
// manifest, never its layers.
#[test]
fn an_exported_layout_without_the_image_layers_verifies_with_cosign_local_image() {
    use base64::Engine as _;
    use courselab::supply::export::export_layout;
    use courselab::supply::registry::{RegistryStore, Retry};
    use courselab::supply::{Digest, ImageRef};

    let Scene {
        dir,
        registry,
        sbom,
    } = scene();
    let dir = dir.path();
    let (key, public) = cosign_keys(dir, "trusted");
    let pushed = runtime().block_on(push_image(
        &registry.addr,
        "courselab/demo",
        "1.4.2-ci",
        "the CI build",
    ));
    let by_digest = format!("{}/courselab/demo@{pushed}", registry.addr);
    cosign_sign(dir, &key, &by_digest);
    cosign_attest(dir, &key, &by_digest, "spdxjson", &sbom);

    let image = ImageRef::parse(&by_digest).unwrap();
    let digest = Digest::parse(&pushed).unwrap();
    let store = RegistryStore::new(&image, false, Retry::default());
    let exported = runtime()
        .block_on(export_layout(&store, &image, &digest, "image/layout"))
        .unwrap();
    assert!(exported.signed && exported.attested);
    assert_eq!(exported.left_out, 1, "push_image pushes one layer");
    let layer = Digest::sha256_of(b"the CI build");
    assert!(
        !exported
            .files
            .keys()
            .any(|name| name.ends_with(layer.hex())),
        "the image's layer is left out"
    );
    write_files(&dir.join("submission"), &exported.files);
    let layout = dir.join("submission/image/layout");
    // Offline from here on: nothing is read from the registry.
    drop(registry);

    let (ok, text) = cosign_verifies_layout(dir, &public, &layout, None);
    assert!(ok, "cosign verify --local-image: {text}");
    assert!(
        text.contains(&format!("\"docker-manifest-digest\":\"{pushed}\"")),
        "{text}"
    );
    let (ok, text) = cosign_verifies_layout(dir, &public, &layout, Some("spdxjson"));
    assert!(ok, "cosign verify-attestation --local-image: {text}");
    // cosign prints the verified envelope; its statement is the SBOM of this digest.
    let envelope: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let statement = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&statement).unwrap();
    assert_eq!(statement["predicateType"], "https://spdx.dev/Document");
    assert_eq!(statement["subject"][0]["digest"]["sha256"], digest.hex());

    let (code, stdout, stderr) = output(
        lab(&repo())
            .args(["verify", &by_digest, "--layout"])
            .arg(&layout)
            .arg("--key")
            .arg(&public)
            .args(["--attestation-type", "spdxjson"]),
    );
    assert_eq!(code, 0, "lab verify --layout: {stdout}{stderr}");
    assert!(
        stdout.contains(&format!("Verification for {by_digest}")),
        "{stdout}"
    );

    // Another signer's key: both refuse the same layout.
    let (_, other) = cosign_keys(dir, "other");
    let (ok, text) = cosign_verifies_layout(dir, &other, &layout, None);
    assert!(!ok, "cosign verified with the wrong key: {text}");
    let (code, _, stderr) = output(
        lab(&repo())
            .args(["verify", &by_digest, "--layout"])
            .arg(&layout)
            .arg("--key")
            .arg(&other),
    );
    assert_eq!(code, 4, "{stderr}");

    // A changed byte in the signed payload: cosign's signature check and lab's digest check
    // both refuse it.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let sigs = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["annotations"]["kind"] == "dev.cosignproject.cosign/sigs")
        .unwrap();
    let blob = |digest: &serde_json::Value| {
        layout
            .join("blobs/sha256")
            .join(digest.as_str().unwrap().trim_start_matches("sha256:"))
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(&sigs["digest"])).unwrap()).unwrap();
    let payload = blob(&manifest["layers"][0]["digest"]);
    let mut bytes = std::fs::read(&payload).unwrap();
    let at = bytes.iter().position(|b| *b == b'{').unwrap();
    bytes[at] = b' ';
    std::fs::write(&payload, bytes).unwrap();
    let (ok, text) = cosign_verifies_layout(dir, &public, &layout, None);
    assert!(!ok, "cosign verified a changed payload: {text}");
    assert!(
        text.contains("no matching signatures: invalid signature"),
        "{text}"
    );
    let (code, _, stderr) = output(
        lab(&repo())
            .args(["verify", &by_digest, "--layout"])
            .arg(&layout)
            .arg("--key")
            .arg(&public),
    );
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("it does not hash to its name"), "{stderr}");
}
