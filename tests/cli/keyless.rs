//! Keyless verification, offline, against a real registry: a test CA issues Fulcio-style
//! certificates (SAN URI, OIDC issuer extension, code-signing EKU), a test "Rekor" key signs the
//! bundle, and `lab verify` must accept exactly the right identity, and never a genuine
//! certificate copied onto a signature made with another key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType, SigningKey,
};
use serde_json::json;

use super::registry::{TestRegistry, payload, push_image, push_signature_layers_with, runtime};
use super::{lab, output, repo};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SUBJECT: &str =
    "https://github.com/courselab/demo/.github/workflows/release.yml@refs/heads/main";

pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    pub pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa { params, key, pem }
    }

    /// A short-lived signing certificate for `subject` from `issuer`, with its key.
    pub fn leaf(&self, subject: &str, issuer: &str) -> (String, KeyPair) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![SanType::URI(subject.try_into().unwrap())];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        // Fulcio's v1 issuer extension holds the raw string.
        params.custom_extensions = vec![CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
            issuer.as_bytes().to_vec(),
        )];
        let now = time_now();
        params.not_before = now - time::Duration::minutes(1);
        params.not_after = now + time::Duration::minutes(10);
        let key = KeyPair::generate().unwrap();
        let issuer_ref = Issuer::from_params(&self.params, &self.key);
        (params.signed_by(&key, &issuer_ref).unwrap().pem(), key)
    }
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// A stand-in for Rekor: a key that signs bundle payloads.
struct TestRekor {
    key: KeyPair,
    public_pem: String,
    log_id: String,
}

impl TestRekor {
    fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let public_pem = key.public_key_pem();
        let der = courselab::supply::keyless::pem_block(public_pem.as_bytes()).unwrap();
        let log_id = courselab::supply::Digest::sha256_of(&der).hex().to_owned();
        TestRekor {
            key,
            public_pem,
            log_id,
        }
    }

    /// A bundle for a hashedrekord entry of (payload, signature, certificate).
    fn bundle(&self, payload: &[u8], signature_b64: &str, cert_pem: &str) -> String {
        let body = json!({
            "apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": courselab::supply::Digest::sha256_of(payload).hex()}},
                "signature": {"content": signature_b64, "publicKey": {"content": STANDARD.encode(cert_pem)}}
            }
        });
        let entry = json!({
            "body": STANDARD.encode(serde_json::to_vec(&body).unwrap()),
            "integratedTime": time_now().unix_timestamp(),
            "logIndex": 7,
            "logID": self.log_id,
        });
        let canonical = serde_json_canonicalizer::to_vec(&entry).unwrap();
        let set = STANDARD.encode(self.key.sign(&canonical).unwrap());
        json!({"SignedEntryTimestamp": set, "Payload": entry}).to_string()
    }
}

struct Scene {
    registry: TestRegistry,
    dir: tempfile::TempDir,
    image: String,
}

/// An image at `demo:1.0` signed with `signing_key` under `cert`; bundle from `rekor` if any.
fn scene(ca: &TestCa, cert: &str, signing_key: &KeyPair, rekor: Option<&TestRekor>) -> Scene {
    let registry = TestRegistry::start();
    let rt = runtime();
    let digest = rt.block_on(push_image(
        &registry.addr,
        "courselab/demo",
        "1.0",
        "keyless",
    ));
    let signed = payload("courselab/demo", &digest);
    let signature = STANDARD.encode(signing_key.sign(&signed).unwrap());
    let bundle = rekor.map(|r| r.bundle(&signed, &signature, cert));
    let annotations = json!({
        "dev.cosignproject.cosign/signature": signature,
        "dev.sigstore.cosign/certificate": cert,
        "dev.sigstore.cosign/chain": ca.pem,
        "dev.sigstore.cosign/bundle": bundle,
    });
    rt.block_on(push_signature_layers_with(
        &registry.addr,
        "courselab/demo",
        &digest,
        vec![(signed, annotations)],
    ));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("roots.pem"), &ca.pem).unwrap();
    if let Some(r) = rekor {
        std::fs::write(dir.path().join("rekor.pub"), &r.public_pem).unwrap();
    }
    let image = format!("{}/courselab/demo:1.0", registry.addr);
    Scene {
        registry,
        dir,
        image,
    }
}

impl Scene {
    fn verify(&self, identity: &[&str]) -> (i32, String, String) {
        let roots = self.dir.path().join("roots.pem");
        let rekor = self.dir.path().join("rekor.pub");
        let mut cmd = lab(&repo());
        cmd.arg("verify")
            .arg(&self.image)
            .args(identity)
            .arg("--ca-roots")
            .arg(roots);
        if rekor.exists() {
            cmd.arg("--rekor-public-key").arg(rekor);
        } else {
            cmd.arg("--insecure-ignore-tlog");
        }
        let _ = &self.registry;
        output(&mut cmd)
    }
}

const RIGHT: [&str; 4] = [
    "--certificate-identity",
    SUBJECT,
    "--certificate-oidc-issuer",
    ISSUER,
];

#[test]
fn the_right_identity_verifies_with_the_rekor_bundle() {
    let (ca, rekor) = (TestCa::new("test fulcio"), TestRekor::new());
    let (cert, key) = ca.leaf(SUBJECT, ISSUER);
    let scene = scene(&ca, &cert, &key, Some(&rekor));
    let (code, stdout, stderr) = scene.verify(&RIGHT);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("the Rekor bundle verified offline"),
        "{stdout}"
    );
}

#[test]
fn wildcards_and_unanchored_regexps_match_as_kyverno_does() {
    let ca = TestCa::new("test fulcio");
    let (cert, key) = ca.leaf(SUBJECT, ISSUER);
    let scene = scene(&ca, &cert, &key, None);
    let wildcard = [
        "--certificate-identity",
        "https://github.com/courselab/*",
        "--certificate-oidc-issuer",
        ISSUER,
    ];
    assert_eq!(scene.verify(&wildcard).0, 0);
    let regexp = [
        "--certificate-identity-regexp",
        "courselab/demo",
        "--certificate-oidc-issuer-regexp",
        "githubusercontent",
    ];
    assert_eq!(scene.verify(&regexp).0, 0, "regexps are unanchored");
}

#[test]
fn a_wrong_subject_or_issuer_is_rejected() {
    let ca = TestCa::new("test fulcio");
    let (cert, key) = ca.leaf(SUBJECT, ISSUER);
    let scene = scene(&ca, &cert, &key, None);
    let (code, _, stderr) = scene.verify(&[
        "--certificate-identity",
        "https://github.com/someone-else/*",
        "--certificate-oidc-issuer",
        ISSUER,
    ]);
    assert_eq!(code, 4);
    assert!(
        stderr.contains("subject mismatch: expected https://github.com/someone-else/*"),
        "{stderr}"
    );
    let (code, _, stderr) = scene.verify(&[
        "--certificate-identity",
        SUBJECT,
        "--certificate-oidc-issuer",
        "https://accounts.google.com",
    ]);
    assert_eq!(code, 4);
    assert!(stderr.contains("issuer mismatch"), "{stderr}");
}

#[test]
fn a_certificate_from_another_ca_is_rejected() {
    let (trusted, rogue) = (TestCa::new("trusted"), TestCa::new("rogue"));
    let (cert, key) = rogue.leaf(SUBJECT, ISSUER);
    let scene = scene(&rogue, &cert, &key, None);
    std::fs::write(scene.dir.path().join("roots.pem"), &trusted.pem).unwrap();
    let (code, _, stderr) = scene.verify(&RIGHT);
    assert_eq!(code, 4);
    assert!(
        stderr.contains("does not chain to the given roots"),
        "{stderr}"
    );
}

// sigstore-rs 0.15 accepts this case (its identity verifiers never check the signature with
// the certificate's key); a genuine certificate and bundle are public on every signed image.
#[test]
fn a_genuine_certificate_on_a_forged_signature_is_rejected() {
    let (ca, rekor) = (TestCa::new("test fulcio"), TestRekor::new());
    let (cert, _genuine_key) = ca.leaf(SUBJECT, ISSUER);
    let forger = KeyPair::generate().unwrap();
    let scene = scene(&ca, &cert, &forger, Some(&rekor));
    let (code, _, stderr) = scene.verify(&RIGHT);
    assert_eq!(code, 4);
    // cosign verifyInternal checks the signature with the certificate's key, and reports the
    // ECDSA verifier's error (sigstore pkg/signature/ecdsa.go).
    assert!(
        stderr.contains(
            "no matching signatures: invalid signature when validating ASN.1 encoded signature"
        ),
        "{stderr}"
    );
}

#[test]
fn a_bundle_from_another_log_or_without_tlog_flags_is_rejected() {
    let (ca, rekor, other) = (
        TestCa::new("test fulcio"),
        TestRekor::new(),
        TestRekor::new(),
    );
    let (cert, key) = ca.leaf(SUBJECT, ISSUER);
    let scene = scene(&ca, &cert, &key, Some(&rekor));
    std::fs::write(scene.dir.path().join("rekor.pub"), &other.public_pem).unwrap();
    let (code, _, stderr) = scene.verify(&RIGHT);
    assert_eq!(code, 4);
    assert!(stderr.contains("from another log"), "{stderr}");

    let roots = scene.dir.path().join("roots.pem");
    let (code, _, stderr) = output(
        lab(&repo())
            .arg("verify")
            .arg(&scene.image)
            .args(RIGHT)
            .arg("--ca-roots")
            .arg(roots),
    );
    assert_eq!(
        code, 2,
        "neither --rekor-public-key nor --insecure-ignore-tlog"
    );
    assert!(stderr.contains("--insecure-ignore-tlog"), "{stderr}");
}

#[test]
fn keyless_needs_roots_identity_and_issuer() {
    let (code, _, stderr) = output(lab(&repo()).args([
        "verify",
        "127.0.0.1:1/x:1",
        "--certificate-identity",
        SUBJECT,
        "--insecure-ignore-tlog",
        "--ca-roots",
        "r.pem",
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("--certificate-oidc-issuer"), "{stderr}");
    let (code, _, stderr) = output(lab(&repo()).args([
        "verify",
        "127.0.0.1:1/x:1",
        "--certificate-identity",
        SUBJECT,
        "--certificate-oidc-issuer",
        ISSUER,
        "--insecure-ignore-tlog",
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("--ca-roots"), "{stderr}");
    let (code, _, _) = output(lab(&repo()).args(["verify", "127.0.0.1:1/x:1"]));
    assert_eq!(code, 2, "neither --key nor an identity");
}
