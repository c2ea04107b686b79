//! `lab verify` against a real registry: the signed case, every negative case the chapter's
//! scenario produces, attestations, and independent cross-checks (skopeo, openssl).

use std::process::Command;

use serde_json::json;

use super::registry::{
    TestRegistry, key_pair, payload, push_attestations, push_image, push_signature_layers,
    registry_with_image, runtime, sign, sign_with_sigstore, spdx_document, statement,
};
use super::{lab, output, repo};

const SPDX: &str = "https://spdx.dev/Document";

/// Writes a public key into a temp dir and returns (dir, path).
fn key_file(public_pem: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cosign.pub");
    std::fs::write(&path, public_pem).unwrap();
    (dir, path)
}

fn verify(image: &str, key: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    output(
        lab(&repo())
            .arg("verify")
            .arg(image)
            .arg("--key")
            .arg(key)
            .args(extra),
    )
}

#[test]
fn a_signed_image_verifies_by_tag_and_by_digest() {
    let (registry, rt, digest) = registry_with_image("1.4.2-ci", "ci build");
    let (signer, public) = key_pair();
    rt.block_on(sign_with_sigstore(
        &registry.addr,
        "courselab/demo",
        &digest,
        signer,
    ));
    let (_dir, key) = key_file(&public);

    let (code, stdout, stderr) = verify(
        &format!("{}/courselab/demo:1.4.2-ci", registry.addr),
        &key,
        &[],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "Verification for {}/courselab/demo@{digest} --\n",
            registry.addr
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("\"docker-manifest-digest\":\"{digest}\"")),
        "{stdout}"
    );

    let (code, stdout, _) = verify(
        &format!("{}/courselab/demo@{digest}", registry.addr),
        &key,
        &["--json"],
    );
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["digest"], digest.as_str());
    assert_eq!(
        doc["signatures"][0]["critical"]["type"],
        "cosign container image signature"
    );
}

#[test]
fn an_unsigned_image_has_no_signatures() {
    let registry = TestRegistry::start();
    let digest = runtime().block_on(push_image(
        &registry.addr,
        "courselab/demo",
        "1.4.2-hotfix",
        "workstation build",
    ));
    let (_signer, public) = key_pair();
    let (_dir, key) = key_file(&public);
    let (code, stdout, stderr) = verify(
        &format!("{}/courselab/demo:1.4.2-hotfix", registry.addr),
        &key,
        &[],
    );
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(stdout.is_empty());
    assert_eq!(
        stderr,
        format!(
            "error: {}/courselab/demo@{digest}: no signatures found\n",
            registry.addr
        )
    );
}

#[test]
fn a_signature_from_another_key_does_not_match() {
    let (registry, rt, digest) = registry_with_image("1.0", "x");
    let (signer, _) = key_pair();
    rt.block_on(sign_with_sigstore(
        &registry.addr,
        "courselab/demo",
        &digest,
        signer,
    ));
    let (_other, other_public) = key_pair();
    let (_dir, key) = key_file(&other_public);
    let (code, _, stderr) = verify(&format!("{}/courselab/demo:1.0", registry.addr), &key, &[]);
    assert_eq!(code, 4);
    assert!(
        stderr.contains(
            "no matching signatures: invalid signature when validating ASN.1 encoded signature"
        ),
        "{stderr}"
    );
}

#[test]
fn a_tampered_payload_does_not_verify() {
    let (registry, rt, digest) = registry_with_image("1.0", "x");
    let (signer, public) = key_pair();
    let genuine = payload("courselab/demo", &digest);
    let signature = sign(&signer, &genuine);
    let mut tampered = genuine.clone();
    let last = tampered.len() - 1;
    tampered.insert(last, b' '); // same claims, different bytes
    rt.block_on(push_signature_layers(
        &registry.addr,
        "courselab/demo",
        &digest,
        vec![(tampered, signature)],
    ));
    let (_dir, key) = key_file(&public);
    let (code, _, stderr) = verify(&format!("{}/courselab/demo:1.0", registry.addr), &key, &[]);
    assert_eq!(code, 4);
    assert!(stderr.contains("no matching signatures"), "{stderr}");
}

// cosign verifiers.go SimpleClaimVerifier: the error names the digest the payload claims.
#[test]
fn a_signature_for_another_image_names_the_digest_it_claims() {
    let (registry, rt, this) = registry_with_image("1.0", "this");
    let other = rt.block_on(push_image(&registry.addr, "courselab/demo", "2.0", "other"));
    let (signer, public) = key_pair();
    // A genuine signature of the other image, copied onto this one.
    let copied = payload("courselab/demo", &other);
    let signature = sign(&signer, &copied);
    rt.block_on(push_signature_layers(
        &registry.addr,
        "courselab/demo",
        &this,
        vec![(copied, signature)],
    ));
    let (_dir, key) = key_file(&public);
    let (code, _, stderr) = verify(&format!("{}/courselab/demo:1.0", registry.addr), &key, &[]);
    assert_eq!(code, 4);
    assert_eq!(
        stderr,
        format!(
            "error: {}/courselab/demo@{this}: no matching signatures: invalid or missing digest in claim: {other}\n",
            registry.addr
        )
    );
}

// The chapter's incident: the CI build is signed, then a workstation rebuild is pushed under
// the same tag. The tag now names an unsigned image; the signed digest still verifies.
#[test]
fn a_tag_moved_after_signing_no_longer_verifies() {
    let (registry, rt, ci) = registry_with_image("1.4.2", "ci build");
    let (signer, public) = key_pair();
    rt.block_on(sign_with_sigstore(
        &registry.addr,
        "courselab/demo",
        &ci,
        signer,
    ));
    let rebuilt = rt.block_on(push_image(
        &registry.addr,
        "courselab/demo",
        "1.4.2",
        "workstation rebuild",
    ));
    assert_ne!(ci, rebuilt);
    let (_dir, key) = key_file(&public);
    let (code, _, stderr) = verify(
        &format!("{}/courselab/demo:1.4.2", registry.addr),
        &key,
        &[],
    );
    assert_eq!(code, 4);
    assert!(
        stderr.contains(&format!("demo@{rebuilt}: no signatures found")),
        "{stderr}"
    );
    let (code, _, _) = verify(&format!("{}/courselab/demo@{ci}", registry.addr), &key, &[]);
    assert_eq!(code, 0, "the promoted digest is unaffected by the tag");
}

/// An image signed by `signer`'s key, with the given attestations; returns (registry, digest, key dir, key path).
fn signed_and_attested(
    statements: impl FnOnce(&str) -> Vec<(Vec<u8>, &'static str)>,
) -> (TestRegistry, String, tempfile::TempDir, std::path::PathBuf) {
    let (registry, rt, digest) = registry_with_image("1.0", "attested");
    let (signer, public) = key_pair();
    rt.block_on(push_signature_layers(
        &registry.addr,
        "courselab/demo",
        &digest,
        vec![(
            payload("courselab/demo", &digest),
            sign(&signer, &payload("courselab/demo", &digest)),
        )],
    ));
    rt.block_on(push_attestations(
        &registry.addr,
        "courselab/demo",
        &digest,
        &signer,
        &statements(&digest),
    ));
    let (dir, key) = key_file(&public);
    (registry, digest, dir, key)
}

#[test]
fn an_spdx_attestation_verifies_and_is_summarized() {
    let (registry, digest, _dir, key) = signed_and_attested(|d| {
        vec![(
            statement("courselab/demo", d, SPDX, spdx_document("demo-1.0")),
            SPDX,
        )]
    });
    let image = format!("{}/courselab/demo:1.0", registry.addr);
    let (code, stdout, stderr) = verify(&image, &key, &["--attestation-type", "spdxjson"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("The in-toto subject is {digest}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("SBOM `demo-1.0` (SPDX-2.3): 2 package(s)"),
        "{stdout}"
    );
    let (_, json_out, _) = verify(&image, &key, &["--attestation-type", SPDX, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(doc["attestations"][0]["sbom"]["packages"], 2);
}

#[test]
fn an_attestation_of_another_predicate_type_does_not_match() {
    let (registry, _, _dir, key) = signed_and_attested(|d| {
        vec![(
            statement(
                "courselab/demo",
                d,
                "https://slsa.dev/provenance/v0.2",
                json!({"builder": {"id": "x"}}),
            ),
            "https://slsa.dev/provenance/v0.2",
        )]
    });
    let (code, _, stderr) = verify(
        &format!("{}/courselab/demo:1.0", registry.addr),
        &key,
        &["--attestation-type", "spdxjson"],
    );
    assert_eq!(code, 4);
    // cmd/cosign/cli/verify/verify_attestation.go names the type as given and every type found.
    assert!(
        stderr.ends_with(": none of the attestations matched the predicate type: spdxjson, found: https://slsa.dev/provenance/v0.2\n"),
        "{stderr}"
    );
}

#[test]
fn an_attestation_for_another_digest_does_not_match() {
    let other = format!("sha256:{}", "ab".repeat(32));
    let (registry, _, _dir, key) = signed_and_attested(move |_| {
        vec![(
            statement("courselab/demo", &other, SPDX, spdx_document("x")),
            SPDX,
        )]
    });
    let (code, _, stderr) = verify(
        &format!("{}/courselab/demo:1.0", registry.addr),
        &key,
        &["--attestation-type", "spdxjson"],
    );
    assert_eq!(code, 4);
    // cosign verifiers.go IntotoSubjectClaimVerifier.
    assert!(
        stderr.ends_with(": no matching attestations: no matching subject digest found\n"),
        "{stderr}"
    );
}

#[test]
fn a_malformed_spdx_document_is_rejected() {
    let mut broken = spdx_document("broken");
    broken["creationInfo"]["creators"] = json!([]);
    let (registry, _, _dir, key) =
        signed_and_attested(move |d| vec![(statement("courselab/demo", d, SPDX, broken), SPDX)]);
    let (code, _, stderr) = verify(
        &format!("{}/courselab/demo:1.0", registry.addr),
        &key,
        &["--attestation-type", "spdxjson"],
    );
    assert_eq!(code, 4);
    assert!(
        stderr.contains("the SBOM is not a valid SPDX document: `creationInfo.creators` is empty"),
        "{stderr}"
    );
}

#[test]
fn a_signed_image_without_attestations_fails_the_attestation_check() {
    let (registry, _, _dir, key) = signed_and_attested(|_| vec![]);
    let (code, _, stderr) = verify(
        &format!("{}/courselab/demo:1.0", registry.addr),
        &key,
        &["--attestation-type", "spdxjson"],
    );
    assert_eq!(code, 4);
    // cosign verify.go VerifyImageAttestation joins no errors at all.
    assert!(
        stderr.ends_with(": no matching attestations: \n"),
        "{stderr}"
    );
}

// go-securesystemslib v0.11.0 dsse/verify.go: no envelope signature verifies with the key.
#[test]
fn an_attestation_by_another_key_is_the_dsse_threshold_error() {
    let (registry, rt, digest) = registry_with_image("1.0", "attested elsewhere");
    let (signer, public) = key_pair();
    let (stranger, _) = key_pair();
    let signed = payload("courselab/demo", &digest);
    rt.block_on(push_signature_layers(
        &registry.addr,
        "courselab/demo",
        &digest,
        vec![(signed.clone(), sign(&signer, &signed))],
    ));
    rt.block_on(push_attestations(
        &registry.addr,
        "courselab/demo",
        &digest,
        &stranger,
        &[(
            statement("courselab/demo", &digest, SPDX, spdx_document("x")),
            SPDX,
        )],
    ));
    let (_dir, key) = key_file(&public);
    let (code, _, stderr) = verify(
        &format!("{}/courselab/demo:1.0", registry.addr),
        &key,
        &["--attestation-type", "spdxjson"],
    );
    assert_eq!(code, 4);
    assert_eq!(
        stderr,
        format!(
            "error: {}/courselab/demo@{digest}: no matching attestations: accepted signatures do not match threshold, Found: 0, Expected 1\n",
            registry.addr
        )
    );
}

// cosign verify.go verifySignatures: every signature's error, joined with "\n ", none dropped.
#[test]
fn every_failing_signature_is_reported() {
    let (registry, rt, digest) = registry_with_image("1.0", "x");
    let (stranger, _) = key_pair();
    let (_signer, public) = key_pair();
    let signed = payload("courselab/demo", &digest);
    rt.block_on(push_signature_layers(
        &registry.addr,
        "courselab/demo",
        &digest,
        vec![
            (signed.clone(), sign(&stranger, &signed)),
            (signed.clone(), sign(&stranger, &signed)),
        ],
    ));
    let (_dir, key) = key_file(&public);
    let (code, _, stderr) = verify(&format!("{}/courselab/demo:1.0", registry.addr), &key, &[]);
    assert_eq!(code, 4);
    let mismatch = "invalid signature when validating ASN.1 encoded signature";
    assert!(
        stderr.ends_with(&format!(
            ": no matching signatures: {mismatch}\n {mismatch}\n"
        )),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_registry_exits_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_signer, public) = key_pair();
    let (_dir, key) = key_file(&public);
    let (code, stdout, stderr) = verify(&format!("127.0.0.1:{port}/courselab/demo:1.0"), &key, &[]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn a_missing_image_is_named() {
    let registry = TestRegistry::start();
    let (_signer, public) = key_pair();
    let (_dir, key) = key_file(&public);
    let (code, _, stderr) = verify(
        &format!("{}/courselab/nothing:1.0", registry.addr),
        &key,
        &[],
    );
    assert_eq!(code, 4);
    assert!(stderr.contains("was not found in the registry"), "{stderr}");
}

#[test]
fn bad_input_is_a_usage_error() {
    let (_signer, public) = key_pair();
    let (_dir, key) = key_file(&public);
    let (code, _, stderr) = verify("Not/An/Image", &key, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not an image reference"), "{stderr}");
    let (code, _, stderr) = verify(
        "127.0.0.1:1/x:1",
        std::path::Path::new("/no/such/cosign.pub"),
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("the key: cannot read /no/such/cosign.pub: No such file or directory"),
        "{stderr}"
    );
}

// Independent implementations agree with ours: skopeo on the digest, openssl on the signature.
#[test]
fn skopeo_and_openssl_agree() {
    let (registry, rt, digest) = registry_with_image("1.0", "cross-check");
    let (signer, public) = key_pair();
    let signed = payload("courselab/demo", &digest);
    let signature = signer.sign(&signed).unwrap();
    rt.block_on(push_signature_layers(
        &registry.addr,
        "courselab/demo",
        &digest,
        vec![(signed.clone(), sign(&signer, &signed))],
    ));

    let skopeo = super::registry::debian_tool("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{}/courselab/demo:1.0", registry.addr))
        .output()
        .expect("skopeo runs");
    assert!(
        skopeo.status.success(),
        "{}",
        String::from_utf8_lossy(&skopeo.stderr)
    );
    assert_eq!(String::from_utf8(skopeo.stdout).unwrap().trim(), digest);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cosign.pub"), &public).unwrap();
    std::fs::write(dir.path().join("payload.json"), &signed).unwrap();
    std::fs::write(dir.path().join("sig.der"), &signature).unwrap();
    let openssl = super::registry::debian_tool("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            "cosign.pub",
            "-signature",
            "sig.der",
            "payload.json",
        ])
        .current_dir(dir.path())
        .output()
        .expect("openssl runs");
    assert_eq!(
        String::from_utf8_lossy(&openssl.stdout).trim(),
        "Verified OK"
    );

    let (code, _, _) = verify(
        &format!("{}/courselab/demo:1.0", registry.addr),
        &dir.path().join("cosign.pub"),
        &[],
    );
    assert_eq!(code, 0);
}

/// `pyspdxtools` from PATH or from the venv `.ci/run` creates.
fn pyspdxtools() -> std::path::PathBuf {
    let venv = repo().join(".ci/.venv/bin/pyspdxtools");
    if venv.exists() {
        return venv;
    }
    super::registry::installed(
        "pyspdxtools",
        "`pip install spdx-tools==0.8.5` (`.ci/test` puts it in .ci/.venv)",
    )
}

// PyPI's spdx-tools and our SPDX check must agree on a sane and on a malformed document.
#[test]
fn pyspdxtools_agrees_with_our_spdx_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut broken = super::registry::spdx_document("broken");
    broken["creationInfo"]["creators"] = json!([]);
    for (name, doc, valid) in [
        ("good", super::registry::spdx_document("good"), true),
        ("broken", broken, false),
    ] {
        assert_eq!(
            courselab::supply::attestation::check_spdx(&doc).is_ok(),
            valid,
            "{name}: our check"
        );
        let path = dir.path().join(format!("{name}.spdx.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        let out = Command::new(pyspdxtools())
            .arg("-i")
            .arg(&path)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.status.success(),
            valid,
            "{name}: pyspdxtools said {said}"
        );
    }
}
