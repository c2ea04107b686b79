//! Behaviour of one `verifyImages` entry over real signatures and certificates: attestor
//! kinds, conditions, annotations; each test names the Kyverno or cosign behaviour it mirrors.

use super::*;
use crate::policy::evaluate::behaviour_tests::indent;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SigningKey as _,
};
use serde_json::json;
use sigstore::crypto::{SigStoreSigner, SigningScheme};

use crate::supply::attestation::pae;
use crate::supply::cosign::{AttestationLayer, SignatureLayer};
use crate::supply::{Digest, ImageRef};

const IMAGE: &str = "kind-registry:5000/courselab/demo:1.0";

fn signer() -> SigStoreSigner {
    SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .unwrap()
}

fn public_pem(signer: &SigStoreSigner) -> String {
    signer
        .to_sigstore_keypair()
        .unwrap()
        .public_key_to_pem()
        .unwrap()
}

/// The same key as `signer`, for rcgen to certify.
fn key_pair(signer: &SigStoreSigner) -> KeyPair {
    let private = signer
        .to_sigstore_keypair()
        .unwrap()
        .private_key_to_pem()
        .unwrap();
    KeyPair::from_pem(&private).unwrap()
}

/// The image, signed by `signer` over a payload whose `optional` is `optional`.
fn signed(signer: &SigStoreSigner, optional: Value) -> CosignArtifacts {
    let image = ImageRef::parse(IMAGE).unwrap();
    let digest = Digest::sha256_of(b"demo image");
    let payload = serde_json::to_vec(&json!({
        "critical": {"identity": {"docker-reference": image.repository()},
                     "image": {"docker-manifest-digest": digest.as_str()},
                     "type": "cosign container image signature"},
        "optional": optional
    }))
    .unwrap();
    let layer = SignatureLayer {
        signature: STANDARD.encode(signer.sign(&payload).unwrap()),
        payload,
        certificate: None,
        chain: None,
        bundle: None,
    };
    CosignArtifacts {
        image,
        digest,
        signatures: vec![layer],
        attestations: Vec::new(),
    }
}

/// A certificate authority; `pem` is its certificate.
struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

impl TestCa {
    fn root(name: &str) -> Self {
        let params = ca_params(name);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa { params, key, pem }
    }

    fn intermediate(&self, name: &str) -> Self {
        let params = ca_params(name);
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let pem = params.signed_by(&key, &issuer).unwrap().pem();
        TestCa { params, key, pem }
    }

    /// A code-signing certificate for `signer`'s key.
    fn issue(&self, signer: &SigStoreSigner, extensions: Vec<CustomExtension>) -> String {
        let mut params = leaf_params();
        params.custom_extensions = extensions;
        let issuer = Issuer::from_params(&self.params, &self.key);
        params.signed_by(&key_pair(signer), &issuer).unwrap().pem()
    }
}

fn leaf_params() -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "courselab signer");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    params
}

/// A self-signed certificate for `signer`'s key, as `cosign sign --certificate` takes.
fn self_signed(signer: &SigStoreSigner) -> String {
    leaf_params().self_signed(&key_pair(signer)).unwrap().pem()
}

/// A stand-in for Rekor: a key that signs bundle payloads (cosign's bundle format).
struct TestRekor {
    key: KeyPair,
    log_id: String,
}

impl TestRekor {
    fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let der = crate::supply::keyless::pem_block(key.public_key_pem().as_bytes()).unwrap();
        let log_id = Digest::sha256_of(&der).hex().to_owned();
        TestRekor { key, log_id }
    }

    /// A bundle for a `hashedrekord` entry of the layer's payload and signature, logged
    /// with the public key `logged_pem`.
    fn bundle(&self, layer: &SignatureLayer, logged_pem: &str) -> String {
        let body = json!({
            "apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": Digest::sha256_of(&layer.payload).hex()}},
                "signature": {"content": layer.signature, "publicKey": {"content": STANDARD.encode(logged_pem)}}
            }
        });
        let entry = json!({
            "body": STANDARD.encode(serde_json::to_vec(&body).unwrap()),
            "integratedTime": 1_790_000_000, "logIndex": 7, "logID": self.log_id,
        });
        let canonical = serde_json_canonicalizer::to_vec(&entry).unwrap();
        let set = STANDARD.encode(self.key.sign(&canonical).unwrap());
        json!({"SignedEntryTimestamp": set, "Payload": entry}).to_string()
    }
}

/// A `verifyImages` entry whose only attestor entry is `attestor` (YAML, at column 0).
fn entry_with(attestor: &str) -> VerifyImage {
    let attestor = indent(attestor, 8);
    let text = format!(
        "imageReferences: [\"kind-registry:5000/*\"]\nattestors:\n  - entries:\n      - {}\n",
        attestor.trim_start()
    );
    serde_saphyr::from_str(&text).unwrap()
}

/// A `certificates` attestor; `settings` are further lines of it (`rekor`, `ctlog`).
fn certificates(cert: Option<&str>, chain: Option<&str>, settings: &str) -> VerifyImage {
    let mut attestor = String::from("certificates:\n");
    if let Some(cert) = cert {
        attestor += &format!("  cert: |-\n{}\n", indent(cert, 4));
    }
    if let Some(chain) = chain {
        attestor += &format!("  certChain: |-\n{}\n", indent(chain, 4));
    }
    attestor += &indent(settings, 2);
    entry_with(&attestor)
}

/// A `keys` attestor for `signer` that requires `annotations` (YAML flow map).
fn keys_with_annotations(signer: &SigStoreSigner, annotations: &str) -> VerifyImage {
    entry_with(&format!(
        "keys:\n  publicKeys: |-\n{}\n  rekor: {{ignoreTlog: true}}\n  ctlog: {{ignoreSCT: true}}\nannotations: {annotations}",
        indent(&public_pem(signer), 4)
    ))
}

fn verify(entry: &VerifyImage, artifacts: &CosignArtifacts) -> ImageOutcome {
    verify_image(IMAGE, entry, Ok(artifacts))
}

const SKIP_LOGS: &str = "rekor: {ignoreTlog: true}\nctlog: {ignoreSCT: true}";

// cosign.go buildCosignOptions: `cert` alone makes the certificate's public key the verifier.
#[test]
fn a_certificate_attestor_accepts_a_signature_by_the_certificates_key() {
    let key = signer();
    let entry = certificates(Some(&self_signed(&key)), None, SKIP_LOGS);
    assert_eq!(
        verify(&entry, &signed(&key, Value::Null)),
        ImageOutcome::Pass(format!("verified image signatures for {IMAGE}"))
    );
}

#[test]
fn a_certificate_attestor_rejects_a_signature_by_another_key() {
    let entry = certificates(Some(&self_signed(&signer())), None, SKIP_LOGS);
    assert_eq!(
        verify(&entry, &signed(&signer(), Value::Null)),
        ImageOutcome::Fail(format!(
            "failed to verify image {IMAGE}: .attestors[0].entries[0].certificates: no matching signatures: invalid signature when validating ASN.1 encoded signature"
        ))
    );
}

// cosign.go loadCert: the certificate may also be given as base64 of its PEM.
#[test]
fn a_base64_certificate_is_read_as_kyverno_reads_it() {
    let key = signer();
    let cert = STANDARD.encode(self_signed(&key));
    let entry = certificates(Some(&cert), None, SKIP_LOGS);
    assert!(matches!(
        verify(&entry, &signed(&key, Value::Null)),
        ImageOutcome::Pass(_)
    ));
}

// cosign.go buildCosignOptions fails for a certificate it cannot load, and imageverifier.go
// handleRegistryErrors reports that as a failure (only network errors are errors), so Audit
// admits and reports it.
#[test]
fn a_malformed_certificate_fails_the_entry_naming_the_field() {
    let entry = certificates(Some("not a certificate"), None, SKIP_LOGS);
    let outcome = verify(&entry, &signed(&signer(), Value::Null));
    let ImageOutcome::Fail(message) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        message.contains(
            ".attestors[0].entries[0].certificates: failed to load certificate from `cert`"
        ),
        "{message}"
    );
}

// cosign ValidateAndUnpackCertWithChain: the last certificate is the root, the others
// intermediates.
#[test]
fn a_certificate_that_chains_gets_to_the_sct_check() {
    let root = TestCa::root("courselab root");
    let intermediate = root.intermediate("courselab intermediate");
    let key = signer();
    let cert = intermediate.issue(&key, Vec::new());
    let chain = format!("{}{}", intermediate.pem, root.pem);
    let entry = certificates(Some(&cert), Some(&chain), SKIP_LOGS);
    assert!(
        matches!(verify(&entry, &signed(&key, Value::Null)), ImageOutcome::Fail(m) if m.ends_with("certificate does not include required embedded SCT and no detached SCT was set")),
        "the chain verified; only the SCT is missing"
    );
    let root_only = certificates(Some(&cert), Some(&root.pem), SKIP_LOGS);
    assert!(
        matches!(verify(&root_only, &signed(&key, Value::Null)), ImageOutcome::Fail(m) if m.contains("signed by unknown authority")),
        "without its intermediate the certificate does not chain"
    );
}

#[test]
fn a_certificate_from_another_ca_fails_the_chain_check() {
    let key = signer();
    let cert = TestCa::root("courselab root").issue(&key, Vec::new());
    let foreign = TestCa::root("someone else's root");
    let entry = certificates(Some(&cert), Some(&foreign.pem), SKIP_LOGS);
    assert_eq!(
        verify(&entry, &signed(&key, Value::Null)),
        ImageOutcome::Fail(format!(
            "failed to verify image {IMAGE}: .attestors[0].entries[0].certificates: failed to load validate certificate chain: cert verification failed: x509: certificate signed by unknown authority. Check your TUF root (see cosign initialize) or set a custom root with env var SIGSTORE_ROOT_FILE"
        ))
    );
}

// cosign ValidateAndUnpackCertWithIntermediates, under Kyverno's option order (cosign.go
// buildCosignOptions): a chained certificate needs an embedded SCT even with
// `ctlog.ignoreSCT: true`; one that has an SCT cannot be checked offline.
#[test]
fn a_chained_certificate_needs_an_sct_even_with_ignore_sct() {
    let root = TestCa::root("courselab root");
    let key = signer();
    let cert = root.issue(&key, Vec::new());
    for ctlog in ["", "\nctlog: {ignoreSCT: true}"] {
        let entry = certificates(
            Some(&cert),
            Some(&root.pem),
            &format!("rekor: {{ignoreTlog: true}}{ctlog}"),
        );
        assert_eq!(
            verify(&entry, &signed(&key, Value::Null)),
            ImageOutcome::Fail(format!(
                "failed to verify image {IMAGE}: .attestors[0].entries[0].certificates: failed to load validate certificate chain: certificate does not include required embedded SCT and no detached SCT was set"
            )),
            "ctlog settings: {ctlog:?}"
        );
    }
    let sct = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2], vec![4, 0]);
    let with_sct = root.issue(&key, vec![sct]);
    let entry = certificates(
        Some(&with_sct),
        Some(&root.pem),
        "rekor: {ignoreTlog: true}",
    );
    assert!(
        matches!(verify(&entry, &signed(&key, Value::Null)), ImageOutcome::Undecided(m) if m.contains("cannot verify the certificate's embedded SCT")),
        "an SCT needs the CT log's key, which offline evaluation does not have"
    );
}

// cosign.go buildCosignOptions: without `certChain`, no SCT is looked for, but unless
// `ctlog.ignoreSCT` is true the CT log keys are still loaded: from `ctlog.pubkey`, or from
// Sigstore's TUF root (getCTLogPubs), which offline evaluation cannot fetch.
#[test]
fn an_unchained_certificate_needs_no_sct_but_kyverno_still_loads_the_ct_log_keys() {
    let key = signer();
    let with_ct_key = format!(
        "rekor: {{ignoreTlog: true}}\nctlog:\n  pubkey: |-\n{}",
        indent(&TestRekor::new().key.public_key_pem(), 4)
    );
    let entry = certificates(Some(&self_signed(&key)), None, &with_ct_key);
    assert!(matches!(
        verify(&entry, &signed(&key, Value::Null)),
        ImageOutcome::Pass(_)
    ));
    let entry = certificates(Some(&self_signed(&key)), None, "rekor: {ignoreTlog: true}");
    assert!(
        matches!(verify(&entry, &signed(&key, Value::Null)), ImageOutcome::Undecided(m) if m.ends_with("Kyverno fetches the CT log keys from Sigstore's TUF root unless `ctlog.ignoreSCT` is true, which offline evaluation cannot do; set `ctlog.ignoreSCT: true` (or give the key in `ctlog.pubkey`)"))
    );
}

// imageverifier.go defaults `rekor` to https://rekor.sigstore.dev, whose keys come from TUF.
#[test]
fn a_certificate_attestor_without_a_rekor_setting_is_an_error_saying_what_to_set() {
    let key = signer();
    let entry = certificates(Some(&self_signed(&key)), None, "ctlog: {ignoreSCT: true}");
    assert_eq!(
        verify(&entry, &signed(&key, Value::Null)),
        ImageOutcome::Undecided(format!(
            "{IMAGE}: .attestors[0].entries[0].certificates: offline evaluation needs `rekor.pubkey` or `rekor.ignoreTlog: true`"
        ))
    );
}

// cosign VerifyBundle: the SET verifies with the Rekor key and the entry logs this key.
#[test]
fn a_certificate_attestor_checks_the_rekor_bundle_offline() {
    let (key, rekor) = (signer(), TestRekor::new());
    let settings = format!(
        "rekor:\n  pubkey: |-\n{}\nctlog: {{ignoreSCT: true}}",
        indent(&rekor.key.public_key_pem(), 4)
    );
    let entry = certificates(Some(&self_signed(&key)), None, &settings);
    let mut artifacts = signed(&key, Value::Null);
    let unbundled = verify(&entry, &artifacts);
    assert!(
        matches!(&unbundled, ImageOutcome::Fail(m) if m.contains("set `rekor.ignoreTlog: true`")),
        "{unbundled:?}"
    );
    let bundle = rekor.bundle(&artifacts.signatures[0], &public_pem(&key));
    artifacts.signatures[0].bundle = Some(bundle);
    assert!(matches!(verify(&entry, &artifacts), ImageOutcome::Pass(_)));
    let other_key = rekor.bundle(&artifacts.signatures[0], &public_pem(&signer()));
    artifacts.signatures[0].bundle = Some(other_key);
    assert!(
        matches!(verify(&entry, &artifacts), ImageOutcome::Fail(m) if m.ends_with("the Rekor entry is for another key"))
    );
    // cosign keyBytes: a certificate on the signature must hold the attestor's key.
    artifacts.signatures[0].certificate = Some(self_signed(&signer()));
    assert!(
        matches!(verify(&entry, &artifacts), ImageOutcome::Fail(m) if m.ends_with("both public key and certificate were provided but did not match"))
    );
}

// cosign.go buildCosignOptions: `certChain` alone is the roots for the signature's own
// certificate.
#[test]
fn a_cert_chain_alone_is_the_roots_of_the_signatures_certificate() {
    let (root, key) = (TestCa::root("courselab root"), signer());
    let mut artifacts = signed(&key, Value::Null);
    artifacts.signatures[0].certificate = Some(root.issue(&key, Vec::new()));
    let entry = certificates(None, Some(&root.pem), SKIP_LOGS);
    assert!(matches!(verify(&entry, &artifacts), ImageOutcome::Pass(_)));
    let foreign = certificates(None, Some(&TestCa::root("other").pem), SKIP_LOGS);
    assert!(
        matches!(verify(&foreign, &artifacts), ImageOutcome::Fail(m) if m.contains("does not chain to the given roots"))
    );
}

// cosign.go checkAnnotations: a verified payload must carry every annotation.
#[test]
fn annotations_pass_when_the_payload_carries_them() {
    let key = signer();
    let entry = keys_with_annotations(&key, "{env: prod, team: courselab}");
    let artifacts = signed(&key, json!({"env": "prod", "team": "courselab", "x": "y"}));
    assert_eq!(
        verify(&entry, &artifacts),
        ImageOutcome::Pass(format!("verified image signatures for {IMAGE}"))
    );
}

#[test]
fn annotations_fail_when_the_payload_lacks_one_or_has_another_value() {
    let key = signer();
    let entry = keys_with_annotations(&key, "{env: prod, team: courselab}");
    let expected = ImageOutcome::Fail(format!(
        "failed to verify image {IMAGE}: .attestors[0].entries[0].keys: no signature matched the required annotations"
    ));
    for optional in [
        Value::Null,
        json!({"env": "prod"}),
        json!({"env": "staging", "team": "courselab"}),
        json!({"env": ["prod"], "team": "courselab"}),
    ] {
        assert_eq!(
            verify(&entry, &signed(&key, optional.clone())),
            expected,
            "{optional}"
        );
    }
}

// cosign.go FetchAttestations checks annotations too, against the DSSE envelope read as a
// simple-signing payload, which carries none.
#[test]
fn annotations_on_an_attestation_attestor_never_match() {
    let key = signer();
    let mut artifacts = signed(&key, json!({"env": "prod"}));
    let statement = serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://example.com/review/v1",
        "subject": [{"name": "demo", "digest": {"sha256": artifacts.digest.hex()}}],
        "predicate": {"reviewed": true}
    }))
    .unwrap();
    let signature = key
        .sign(&pae("application/vnd.in-toto+json", &statement))
        .unwrap();
    let envelope = json!({"payloadType": "application/vnd.in-toto+json", "payload": STANDARD.encode(&statement),
                          "signatures": [{"keyid": "", "sig": STANDARD.encode(signature)}]});
    artifacts.attestations.push(AttestationLayer {
        envelope: serde_json::to_vec(&envelope).unwrap(),
        predicate_type: None,
        certificate: None,
        chain: None,
        bundle: None,
    });
    let attestation = |annotations: &str| -> VerifyImage {
        let text = format!(
            "imageReferences: [\"kind-registry:5000/*\"]\nattestations:\n  - type: https://example.com/review/v1\n    attestors:\n      - entries:\n          - keys:\n              publicKeys: |-\n{}\n              rekor: {{ignoreTlog: true}}\n              ctlog: {{ignoreSCT: true}}\n            annotations: {annotations}\n",
            indent(&public_pem(&key), 16)
        );
        serde_saphyr::from_str(&text).unwrap()
    };
    assert!(matches!(
        verify(&attestation("{}"), &artifacts),
        ImageOutcome::Pass(_)
    ));
    assert_eq!(
        verify(&attestation("{env: prod}"), &artifacts),
        ImageOutcome::Fail(
            "image attestations verification failed, verifiedCount: 0, requiredCount: 1, error: no signature matched the required annotations".into()
        )
    );
}

#[test]
fn conditions_follow_any_and_all() {
    let predicate =
        json!({"spdxVersion": "SPDX-2.3", "creationInfo": {"creators": ["Tool: syft"]}});
    let ok = [
        json!({"all": [{"key": "{{ spdxVersion }}", "operator": "AnyIn", "value": ["SPDX-2.2", "SPDX-2.3"]}]}),
    ];
    assert_eq!(conditions_hold(&ok, &predicate), Ok(None));
    let bad = [
        json!({"all": [{"key": "{{spdxVersion}}", "operator": "Equals", "value": "SPDX-2.2", "message": "old SPDX"}]}),
    ];
    assert_eq!(
        conditions_hold(&bad, &predicate),
        Ok(Some("old SPDX".into()))
    );
    let any = [
        json!({"any": [{"key": "{{ spdxVersion }}", "operator": "Equals", "value": 1}, {"key": "{{ spdxVersion }}", "operator": "NotEquals", "value": "x"}]}),
    ];
    assert_eq!(conditions_hold(&any, &predicate), Ok(None));
    let jmes =
        [json!({"all": [{"key": "{{ length(packages) }}", "operator": "Equals", "value": 1}]})];
    assert!(
        conditions_hold(&jmes, &predicate).is_err(),
        "unsupported expressions are errors, not silent passes"
    );
}

/// A `keys` attestor for `signer` with `settings` (further lines under `keys:`).
fn keys(signer: &SigStoreSigner, settings: &str) -> VerifyImage {
    entry_with(&format!(
        "keys:\n  publicKeys: |-\n{}\n{}",
        indent(&public_pem(signer), 4),
        indent(settings, 2)
    ))
}

// imageverifier.go buildCosignVerifier: without `rekor` a keys attestor gets
// RekorURL https://rekor.sigstore.dev and IgnoreTlog false, without `ctlog` IgnoreSCT false;
// cosign.go buildCosignOptions then loads Rekor's keys (getRekorPubs) and the CT log's
// (getCTLogPubs) from Sigstore's TUF root, which offline evaluation cannot reach.
#[test]
fn a_keys_attestor_needs_offline_tlog_and_ctlog_settings() {
    let key = signer();
    let artifacts = signed(&key, Value::Null);
    let rekor_error = ImageOutcome::Undecided(format!(
        "{IMAGE}: .attestors[0].entries[0].keys: offline evaluation needs `rekor.pubkey` or `rekor.ignoreTlog: true`"
    ));
    for settings in [
        "",
        "ctlog: {ignoreSCT: true}",
        "rekor: {url: \"https://rekor.sigstore.dev\"}\nctlog: {ignoreSCT: true}",
        "rekor: {ignoreTlog: false}\nctlog: {ignoreSCT: true}",
    ] {
        assert_eq!(
            verify(&keys(&key, settings), &artifacts),
            rekor_error,
            "{settings:?}"
        );
    }
    let ctlog_error = ImageOutcome::Undecided(format!(
        "{IMAGE}: .attestors[0].entries[0].keys: Kyverno fetches the CT log keys from Sigstore's TUF root unless `ctlog.ignoreSCT` is true, which offline evaluation cannot do; set `ctlog.ignoreSCT: true` (or give the key in `ctlog.pubkey`)"
    ));
    for settings in [
        "rekor: {ignoreTlog: true}",
        "rekor: {ignoreTlog: true}\nctlog: {ignoreSCT: false}",
    ] {
        assert_eq!(
            verify(&keys(&key, settings), &artifacts),
            ctlog_error,
            "{settings:?}"
        );
    }
    assert!(matches!(
        verify(&keys(&key, SKIP_LOGS), &artifacts),
        ImageOutcome::Pass(_)
    ));
}

// cosign.go getCTLogPubs: with `ctlog.pubkey` the CT log key is parsed, not fetched; a key
// attestor's signature carries no SCT to check with it.
#[test]
fn a_keys_attestor_with_a_ct_log_key_needs_no_tuf() {
    let key = signer();
    let artifacts = signed(&key, Value::Null);
    let settings = format!(
        "rekor: {{ignoreTlog: true}}\nctlog:\n  pubkey: |-\n{}",
        indent(&TestRekor::new().key.public_key_pem(), 4)
    );
    assert!(matches!(
        verify(&keys(&key, &settings), &artifacts),
        ImageOutcome::Pass(_)
    ));
    let broken = "rekor: {ignoreTlog: true}\nctlog: {pubkey: not a key}";
    assert!(
        matches!(verify(&keys(&key, broken), &artifacts), ImageOutcome::Fail(m) if m.contains("keys: failed to load CTLogs public keys: `ctlog.pubkey` is not a PEM public key (no PEM block found)")),
        "a malformed log key fails the entry, as any buildCosignOptions error does"
    );
}

// cosign verify.go verifyInternal and VerifyBundle: without ignoreTlog the signature's Rekor
// bundle must verify with the log's key and record this public key (keyBytes); a signature
// without a bundle would be looked up in Rekor online, which offline evaluation cannot do.
#[test]
fn a_keys_attestor_with_a_rekor_key_checks_each_bundle_offline() {
    let (key, rekor) = (signer(), TestRekor::new());
    let settings = format!(
        "rekor:\n  pubkey: |-\n{}\nctlog: {{ignoreSCT: true}}",
        indent(&rekor.key.public_key_pem(), 4)
    );
    let entry = keys(&key, &settings);
    let mut artifacts = signed(&key, Value::Null);
    assert_eq!(
        verify(&entry, &artifacts),
        ImageOutcome::Fail(format!(
            "failed to verify image {IMAGE}: .attestors[0].entries[0].keys: no matching signatures: the signature has no Rekor bundle, and offline evaluation cannot search Rekor for it; attach the bundle when signing or set `rekor.ignoreTlog: true`"
        ))
    );
    artifacts.signatures[0].bundle =
        Some(rekor.bundle(&artifacts.signatures[0], &public_pem(&key)));
    assert_eq!(
        verify(&entry, &artifacts),
        ImageOutcome::Pass(format!("verified image signatures for {IMAGE}"))
    );
    artifacts.signatures[0].bundle =
        Some(rekor.bundle(&artifacts.signatures[0], &public_pem(&signer())));
    assert_eq!(
        verify(&entry, &artifacts),
        ImageOutcome::Fail(format!(
            "failed to verify image {IMAGE}: .attestors[0].entries[0].keys: no matching signatures: the Rekor entry is for another key"
        ))
    );
    artifacts.signatures[0].bundle =
        Some(TestRekor::new().bundle(&artifacts.signatures[0], &public_pem(&key)));
    assert!(
        matches!(verify(&entry, &artifacts), ImageOutcome::Fail(m) if m.ends_with("no matching signatures: the Rekor bundle is from another log than the given Rekor key"))
    );
}

// cosign.go buildCosignOptions loads the CT log keys for every attestor kind; a Fulcio
// certificate's SCT is then verified with them, which this evaluator does not implement.
#[test]
fn a_keyless_attestor_needs_ignore_sct_offline() {
    let root = TestCa::root("courselab fulcio");
    let entry = |ctlog: &str| {
        entry_with(&format!(
            "keyless:\n  subject: \"*\"\n  roots: |-\n{}\n  rekor: {{ignoreTlog: true}}\n{}",
            indent(&root.pem, 4),
            indent(ctlog, 2)
        ))
    };
    let artifacts = signed(&signer(), Value::Null);
    assert!(
        matches!(verify(&entry(""), &artifacts), ImageOutcome::Undecided(m) if m.ends_with("keyless: Kyverno fetches the CT log keys from Sigstore's TUF root unless `ctlog.ignoreSCT` is true, which offline evaluation cannot do; set `ctlog.ignoreSCT: true` (or give the key in `ctlog.pubkey`)"))
    );
    let with_key = format!(
        "ctlog:\n  pubkey: |-\n{}",
        indent(&TestRekor::new().key.public_key_pem(), 4)
    );
    assert!(
        matches!(verify(&entry(&with_key), &artifacts), ImageOutcome::Undecided(m) if m.ends_with("keyless: offline evaluation cannot verify the Fulcio certificate's SCT with `ctlog.pubkey`; set `ctlog.ignoreSCT: true`, or check this attestor in a cluster"))
    );
    assert!(
        matches!(verify(&entry("ctlog: {ignoreSCT: true}"), &artifacts), ImageOutcome::Fail(m) if m.contains("the signature carries no certificate")),
        "with ignoreSCT the signature itself is checked"
    );
}

/// The image `signatures` sign, with one signature layer per (signer, payload digest).
fn signed_layers(layers: &[(&SigStoreSigner, &str)], critical_type: &str) -> CosignArtifacts {
    let mut artifacts = signed(&signer(), Value::Null);
    artifacts.signatures = layers
        .iter()
        .map(|(key, digest)| {
            let payload = serde_json::to_vec(&json!({
                "critical": {"identity": {"docker-reference": "kind-registry:5000/courselab/demo"},
                             "image": {"docker-manifest-digest": digest}, "type": critical_type},
                "optional": null
            }))
            .unwrap();
            SignatureLayer {
                signature: STANDARD.encode(key.sign(&payload).unwrap()),
                payload,
                certificate: None,
                chain: None,
                bundle: None,
            }
        })
        .collect();
    artifacts
}

// cosign verify.go verifySignatures: every signature's error, in order, joined with "\n " and
// not deduplicated; verifiers.go SimpleClaimVerifier names the digest the payload claims.
#[test]
fn signature_errors_are_joined_as_cosign_joins_them() {
    let (trusted, stranger) = (signer(), signer());
    let this = Digest::sha256_of(b"demo image").to_string();
    let other = Digest::sha256_of(b"another image").to_string();
    let entry = keys(&trusted, SKIP_LOGS);
    let artifacts = signed_layers(
        &[(&stranger, &this), (&trusted, &other), (&stranger, &this)],
        "cosign container image signature",
    );
    assert_eq!(
        verify(&entry, &artifacts),
        ImageOutcome::Fail(format!(
            "failed to verify image {IMAGE}: .attestors[0].entries[0].keys: no matching signatures: invalid signature when validating ASN.1 encoded signature\n invalid or missing digest in claim: {other}\n invalid signature when validating ASN.1 encoded signature"
        ))
    );
    let one_good = signed_layers(
        &[(&stranger, &this), (&trusted, &this)],
        "cosign container image signature",
    );
    assert!(matches!(verify(&entry, &one_good), ImageOutcome::Pass(_)));
}

// verifiers.go SimpleClaimVerifier reads only the digest (and annotations) of the payload;
// `critical.type` is not checked by cosign or Kyverno.
#[test]
fn the_payload_type_is_not_checked() {
    let key = signer();
    let this = Digest::sha256_of(b"demo image").to_string();
    let artifacts = signed_layers(&[(&key, &this)], "something else");
    assert!(matches!(
        verify(&keys(&key, SKIP_LOGS), &artifacts),
        ImageOutcome::Pass(_)
    ));
}

/// An attestation layer: `statement` in a DSSE envelope signed by `signer`.
fn attestation_layer(signer: &SigStoreSigner, statement: &Value) -> AttestationLayer {
    let payload = serde_json::to_vec(statement).unwrap();
    let signature = signer
        .sign(&pae("application/vnd.in-toto+json", &payload))
        .unwrap();
    let envelope = json!({"payloadType": "application/vnd.in-toto+json", "payload": STANDARD.encode(&payload),
                          "signatures": [{"keyid": "", "sig": STANDARD.encode(signature)}]});
    AttestationLayer {
        envelope: serde_json::to_vec(&envelope).unwrap(),
        predicate_type: None,
        certificate: None,
        chain: None,
        bundle: None,
    }
}

fn statement(digest_hex: &str, predicate_type: &str, predicate: Value) -> Value {
    json!({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": predicate_type,
           "subject": [{"name": "demo", "digest": {"sha256": digest_hex}}], "predicate": predicate})
}

/// A `verifyImages` entry with one attestation of `kind`, whose attestor sets are `sets` (YAML
/// list items at column 0) and whose conditions are `conditions` (YAML, may be empty).
fn attestation_entry(kind: &str, sets: &str, conditions: &str) -> VerifyImage {
    let conditions = if conditions.is_empty() {
        String::new()
    } else {
        format!("    conditions:\n{}\n", indent(conditions, 6))
    };
    let text = format!(
        "imageReferences: [\"kind-registry:5000/*\"]\nattestations:\n  - type: {kind}\n    attestors:\n{}\n{conditions}",
        indent(sets, 6)
    );
    serde_saphyr::from_str(&text).unwrap()
}

/// One attestor set with a `keys` entry for each signer (and `count`, if any).
fn key_set(signers: &[&SigStoreSigner], count: Option<u32>) -> String {
    let mut set = count.map_or("- entries:\n".to_owned(), |c| {
        format!("- count: {c}\n  entries:\n")
    });
    for key in signers {
        set += &format!(
            "    - keys:\n        publicKeys: |-\n{}\n        rekor: {{ignoreTlog: true}}\n        ctlog: {{ignoreSCT: true}}\n",
            indent(&public_pem(key), 10)
        );
    }
    set
}

const REVIEW: &str = "https://example.com/review/v1";

/// The image pinned to its digest (tag dropped), as Kyverno names it in the attestation checks
/// when a signature check of the same entry ran first.
fn pinned() -> String {
    format!(
        "kind-registry:5000/courselab/demo@{}",
        Digest::sha256_of(b"demo image")
    )
}

fn count_failure(error: &str) -> ImageOutcome {
    ImageOutcome::Fail(format!(
        "image attestations verification failed, verifiedCount: 0, requiredCount: 1, error: {error}"
    ))
}

// cosign verify.go VerifyImageAttestation: with no `.att` layers nothing is verified and
// nothing joined, so the error is "no matching attestations: " (trailing space); Kyverno's
// FetchAttestations returns it without the entry path.
#[test]
fn an_image_without_attestations_fails_with_cosigns_empty_list() {
    let key = signer();
    let entry = attestation_entry(REVIEW, &key_set(&[&key], None), "");
    assert_eq!(
        verify(&entry, &signed(&key, Value::Null)),
        count_failure("no matching attestations: ")
    );
}

// go-securesystemslib v0.11.0 dsse/verify.go VerifyAndDecode: no signature of the envelope
// verifies with the key; cosign joins the layers' errors with "\n ".
#[test]
fn an_attestation_by_another_key_is_cosigns_dsse_threshold_error() {
    let (trusted, stranger) = (signer(), signer());
    let mut artifacts = signed(&trusted, Value::Null);
    let subject = artifacts.digest.hex().to_owned();
    for _ in 0..2 {
        artifacts.attestations.push(attestation_layer(
            &stranger,
            &statement(&subject, REVIEW, json!({"reviewed": true})),
        ));
    }
    let entry = attestation_entry(REVIEW, &key_set(&[&trusted], None), "");
    assert_eq!(
        verify(&entry, &artifacts),
        count_failure(
            "no matching attestations: accepted signatures do not match threshold, Found: 0, Expected 1\n accepted signatures do not match threshold, Found: 0, Expected 1"
        )
    );
    artifacts.attestations.push(attestation_layer(
        &trusted,
        &statement(&subject, REVIEW, json!({"reviewed": true})),
    ));
    assert_eq!(
        verify(&entry, &artifacts),
        ImageOutcome::Pass(format!("verified image attestations for {IMAGE}"))
    );
}

// cosign verifiers.go IntotoSubjectClaimVerifier: no subject names this digest.
#[test]
fn an_attestation_for_another_digest_has_no_matching_subject() {
    let key = signer();
    let mut artifacts = signed(&key, Value::Null);
    artifacts.attestations.push(attestation_layer(
        &key,
        &statement(&"ab".repeat(32), REVIEW, json!({"reviewed": true})),
    ));
    let entry = attestation_entry(REVIEW, &key_set(&[&key], None), "");
    assert_eq!(
        verify(&entry, &artifacts),
        count_failure("no matching attestations: no matching subject digest found")
    );
}

// imageverifier.go verifyAttestation: FetchAttestations keeps every predicate type; the type is
// then looked up literally (`statementsByPredicate[attestation.Type]`), so a cosign shorthand
// names no statement, and the error (typo included) carries the entry path.
#[test]
fn the_attestation_type_is_compared_literally_after_fetching() {
    let key = signer();
    let mut artifacts = signed(&key, Value::Null);
    let subject = artifacts.digest.hex().to_owned();
    artifacts.attestations.push(attestation_layer(
        &key,
        &statement(
            &subject,
            "https://spdx.dev/Document",
            json!({"spdxVersion": "SPDX-2.3"}),
        ),
    ));
    for kind in ["spdxjson", REVIEW] {
        let entry = attestation_entry(kind, &key_set(&[&key], None), "");
        assert_eq!(
            verify(&entry, &artifacts),
            count_failure(&format!(
                ".attestations[0].attestors[0].entries[0].keys: attestions not found for predicate type {kind}"
            )),
        );
    }
    // Kyverno evaluates only `conditions`: an SBOM that is no sane SPDX document still passes.
    let entry = attestation_entry("https://spdx.dev/Document", &key_set(&[&key], None), "");
    assert!(matches!(verify(&entry, &artifacts), ImageOutcome::Pass(_)));
}

// utils.go getRawResp: some verified statement must have an object predicate.
#[test]
fn statements_without_an_object_predicate_are_kyvernos_error() {
    let key = signer();
    let mut artifacts = signed(&key, Value::Null);
    let subject = artifacts.digest.hex().to_owned();
    artifacts.attestations.push(attestation_layer(
        &key,
        &statement(&subject, REVIEW, json!("reviewed")),
    ));
    let entry = attestation_entry(REVIEW, &key_set(&[&key], None), "");
    assert_eq!(
        verify(&entry, &artifacts),
        count_failure("predicate not found in any statement")
    );
}

// imageverifier.go verifyAttestations declares errorList once per attestation, so when a later
// attestor set fails, the errors of the earlier sets' entries are in its message too.
#[test]
fn errors_of_earlier_attestor_sets_are_in_a_later_sets_failure() {
    let (trusted, stranger) = (signer(), signer());
    let mut artifacts = signed(&trusted, Value::Null);
    let subject = artifacts.digest.hex().to_owned();
    artifacts.attestations.push(attestation_layer(
        &trusted,
        &statement(&subject, REVIEW, json!({"reviewed": true})),
    ));
    let sets = format!(
        "{}{}",
        key_set(&[&stranger, &trusted], Some(1)),
        key_set(&[&stranger], None)
    );
    let threshold = "no matching attestations: accepted signatures do not match threshold, Found: 0, Expected 1";
    assert_eq!(
        verify(&attestation_entry(REVIEW, &sets, ""), &artifacts),
        count_failure(&format!("{threshold}; {threshold}"))
    );
}

// evaluate.go: a condition whose key Kyverno would resolve with JMESPath cannot be evaluated
// offline, which is an error, not a failed check.
#[test]
fn unsupported_conditions_are_undecided() {
    let key = signer();
    let mut artifacts = signed(&key, Value::Null);
    let subject = artifacts.digest.hex().to_owned();
    artifacts.attestations.push(attestation_layer(
        &key,
        &statement(&subject, REVIEW, json!({"reviewers": ["a", "b"]})),
    ));
    let conditions = "- all:\n    - key: \"{{ time_since('', reviewedAt, '') }}\"\n      operator: Equals\n      value: 2";
    let entry = attestation_entry(REVIEW, &key_set(&[&key], None), conditions);
    assert!(
        matches!(verify(&entry, &artifacts), ImageOutcome::Undecided(m) if m.starts_with(&format!("{IMAGE}: .attestations[0].attestors[0].entries[0].keys: `time_since('', reviewedAt, '')`: Kyverno's function `time_since` does not run offline"))),
    );
    // JMESPath that runs offline is decided.
    let counted =
        "- all:\n    - key: \"{{ length(reviewers) }}\"\n      operator: Equals\n      value: 2";
    let entry = attestation_entry(REVIEW, &key_set(&[&key], None), counted);
    assert!(matches!(verify(&entry, &artifacts), ImageOutcome::Pass(_)));
    let wildcard = "- all:\n    - key: \"{{ reviewers }}\"\n      operator: AllIn\n      value: [\"?\"]\n      message: one-letter reviewers";
    let entry = attestation_entry(REVIEW, &key_set(&[&key], None), wildcard);
    assert!(matches!(verify(&entry, &artifacts), ImageOutcome::Pass(_)));
}

// verifyAttestorSet: Kyverno tries every entry; an entry offline evaluation cannot decide (a
// key in a Secret) matters only when the others do not reach the count.
#[test]
fn an_undecidable_entry_does_not_hide_another_that_verifies() {
    let key = signer();
    let artifacts = signed(&key, Value::Null);
    let decided = keys(&key, SKIP_LOGS);
    let mut entry = decided.clone();
    let mut secret = entry.attestors[0].entries[0].clone();
    secret.value.keys.as_mut().unwrap().public_keys = None;
    entry.attestors[0].entries.insert(0, secret);
    entry.attestors[0].count = Some(Spanned {
        value: 1,
        line: 0,
        column: 0,
    });
    assert!(
        matches!(verify(&entry, &artifacts), ImageOutcome::Pass(_)),
        "the second entry verifies"
    );
    entry.attestors[0].count = None;
    assert!(
        matches!(verify(&entry, &artifacts), ImageOutcome::Undecided(m) if m.contains("entries[0].keys: offline evaluation needs the key inline")),
        "with both required, the undecidable one decides the outcome"
    );
}

// Entries whose signatures Kyverno would read elsewhere, or check some other way, are errors
// offline, not verdicts nobody checked.
#[test]
fn what_the_offline_evaluator_does_not_read_is_an_error() {
    let key = signer();
    let artifacts = signed(&key, Value::Null);
    let base = keys(&key, SKIP_LOGS);
    type Change = Box<dyn Fn(&mut VerifyImage)>;
    let cases: [(&str, Change); 5] = [
        (
            "not `type: Notary`",
            Box::new(|e| e.verifier_type = Some("Notary".into())),
        ),
        (
            "the deprecated `key`",
            Box::new(|e| e.key = Some("PEM".into())),
        ),
        (
            "an attestor's own `repository`",
            Box::new(|e| {
                e.attestors[0].entries[0].value.repository = Some("ghcr.io/x/sigs".into());
            }),
        ),
        (
            "OCI 1.1 referrers",
            Box::new(|e| e.cosign_oci11 = Some(true)),
        ),
        (
            "`validate`",
            Box::new(|e| e.validate = Some(json!({"deny": {}}))),
        ),
    ];
    for (wording, change) in cases {
        let mut entry = base.clone();
        change(&mut entry);
        assert!(
            matches!(verify(&entry, &artifacts), ImageOutcome::Undecided(m) if m.contains(wording)),
            "{wording}"
        );
    }
    assert!(matches!(verify(&base, &artifacts), ImageOutcome::Pass(_)));
}

// Measured against the real Kyverno v1.19 (tests/cli/differential/): an entry with attestations
// alone names the image as written, since the digest an attestation fetch returns is always
// empty (`decodeStatement` reads it from a `critical.image` a DSSE envelope does not have); with
// a signature check first, `verifyImage` hands the signature's digest on, and the image is named
// by it.
#[test]
fn attestations_name_the_image_by_digest_only_after_a_signature_check() {
    let key = signer();
    let mut artifacts = signed(&key, Value::Null);
    let subject = artifacts.digest.hex().to_owned();
    artifacts.attestations.push(attestation_layer(
        &key,
        &statement(&subject, REVIEW, json!({"reviewed": true})),
    ));
    let alone = attestation_entry(REVIEW, &key_set(&[&key], None), "");
    assert_eq!(
        verify(&alone, &artifacts),
        ImageOutcome::Pass(format!("verified image attestations for {IMAGE}"))
    );
    let mut after_signatures = alone.clone();
    let with_attestors: VerifyImage = serde_saphyr::from_str(&format!(
        "imageReferences: [\"kind-registry:5000/*\"]\nattestors:\n{}",
        indent(&key_set(&[&key], None), 2)
    ))
    .unwrap();
    after_signatures.attestors = with_attestors.attestors;
    assert_eq!(
        verify(&after_signatures, &artifacts),
        ImageOutcome::Pass(format!("verified image attestations for {}", pinned()))
    );
}

/// A Fulcio-style certificate for `signer`: a SAN URI and the v1 OIDC issuer extension.
fn fulcio_leaf(ca: &TestCa, signer: &SigStoreSigner, subject: &str, issuer: &str) -> String {
    let mut params = leaf_params();
    params.subject_alt_names = vec![rcgen::SanType::URI(subject.try_into().unwrap())];
    params.custom_extensions = vec![CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
        issuer.as_bytes().to_vec(),
    )];
    let issuer_ref = Issuer::from_params(&ca.params, &ca.key);
    params
        .signed_by(&key_pair(signer), &issuer_ref)
        .unwrap()
        .pem()
}

fn keyless_entry(roots: Option<&str>, subject: &str, logs: &str) -> VerifyImage {
    let roots = roots.map_or(String::new(), |r| {
        format!("  roots: |-\n{}\n", indent(r, 4))
    });
    entry_with(&format!(
        "keyless:\n  issuer: https://token.actions.githubusercontent.com\n  subject: \"{subject}\"\n{roots}{}",
        indent(logs, 2)
    ))
}

// The live checks judge the learner's image by the pack's own attestors: the key the pack
// renders in, or its keyless identity, exactly as the cluster's Kyverno does.
#[test]
fn the_pack_judges_a_signature_by_its_key_attestor() {
    let key = signer();
    let artifacts = signed(&key, Value::Null);
    let pack = keys(&key, SKIP_LOGS);
    assert_eq!(
        verify_by_entries([&pack], IMAGE, &artifacts, None),
        PackVerdict::Verified(1)
    );
    let other = keys(&signer(), SKIP_LOGS);
    assert!(matches!(
        verify_by_entries([&other], IMAGE, &artifacts, None),
        PackVerdict::NotVerified(why) if why.starts_with(".attestors[0].entries[0].keys: ")
    ));
    assert_eq!(
        verify_by_entries([&pack], "docker.io/library/nginx:1.27", &artifacts, None),
        PackVerdict::NoEntry,
        "an image no entry references is not judged"
    );
    assert_eq!(
        verify_by_entries([&pack], IMAGE, &artifacts, Some("spdx")),
        PackVerdict::NoEntry,
        "an entry without attestations does not judge an SBOM"
    );
}

#[test]
fn the_pack_judges_a_keyless_signature_by_identity_under_its_roots() {
    let root = TestCa::root("courselab fulcio");
    let key = signer();
    let mut artifacts = signed(&key, Value::Null);
    artifacts.signatures[0].certificate = Some(fulcio_leaf(
        &root,
        &key,
        "https://github.com/courselab/demo/.github/workflows/release.yml@refs/heads/main",
        "https://token.actions.githubusercontent.com",
    ));
    let ours = keyless_entry(Some(&root.pem), "https://github.com/courselab/*", SKIP_LOGS);
    assert_eq!(
        verify_by_entries([&ours], IMAGE, &artifacts, None),
        PackVerdict::Verified(1)
    );
    let theirs = keyless_entry(
        Some(&root.pem),
        "https://github.com/someone-else/*",
        SKIP_LOGS,
    );
    assert!(matches!(
        verify_by_entries([&theirs], IMAGE, &artifacts, None),
        PackVerdict::NotVerified(why) if why.starts_with(".attestors[0].entries[0].keyless: ")
    ));
    let other_root = TestCa::root("another fulcio");
    let wrong_roots = keyless_entry(
        Some(&other_root.pem),
        "https://github.com/courselab/*",
        SKIP_LOGS,
    );
    assert!(matches!(
        verify_by_entries([&wrong_roots], IMAGE, &artifacts, None),
        PackVerdict::NotVerified(_)
    ));
}

// ch14's keyless pack trusts the public Sigstore (roots from its TUF repository, Rekor online):
// nothing this machine can check, so the verdict says why instead of guessing.
#[test]
fn a_keyless_pack_on_the_public_sigstore_is_unusable_here() {
    let key = signer();
    let artifacts = signed(&key, Value::Null);
    let public = keyless_entry(
        None,
        "https://github.com/courselab/*",
        "rekor: {url: https://rekor.sigstore.dev}",
    );
    assert!(matches!(
        verify_by_entries([&public], IMAGE, &artifacts, None),
        PackVerdict::Unusable(why) if why.contains("roots")
    ));
}

#[test]
fn the_pack_judges_an_attestation_by_the_attestors_of_that_type() {
    let key = signer();
    let mut artifacts = signed(&key, Value::Null);
    let subject = artifacts.digest.hex().to_owned();
    artifacts.attestations.push(attestation_layer(
        &key,
        &statement(&subject, REVIEW, json!({"reviewed": true})),
    ));
    let pack = attestation_entry(REVIEW, &key_set(&[&key], None), "");
    assert_eq!(
        verify_by_entries([&pack], IMAGE, &artifacts, Some(REVIEW)),
        PackVerdict::Verified(1)
    );
    let other = attestation_entry(REVIEW, &key_set(&[&signer()], None), "");
    assert!(matches!(
        verify_by_entries([&other], IMAGE, &artifacts, Some(REVIEW)),
        PackVerdict::NotVerified(why) if why.starts_with(".attestations[0].attestors[0].entries[0].keys: ")
    ));
    assert_eq!(
        verify_by_entries(
            [&pack],
            IMAGE,
            &artifacts,
            Some("https://spdx.dev/Document")
        ),
        PackVerdict::NoEntry
    );
}

// imageverifier.go verifyAttestorSet: an entry holding an `attestor` set is verified by
// recursion; the nested set counts once toward its parent's count and its failures keep their
// own paths under `.attestor`. Differential case 70 shows the same on the real controller.
#[test]
fn a_nested_attestor_set_counts_once_and_reports_its_own_paths() {
    let (signer_key, other) = (signer(), signer());
    let artifacts = signed(&signer_key, Value::Null);
    let keys_entry = |s: &SigStoreSigner| {
        format!(
            "keys:\n  publicKeys: |-\n{}\n{}",
            indent(&public_pem(s), 4),
            indent(SKIP_LOGS, 2)
        )
    };
    let nested = |entries: &[&SigStoreSigner], count: &str| {
        let listed: Vec<String> = entries
            .iter()
            .map(|s| format!("  - {}", indent(&keys_entry(s), 4).trim_start()))
            .collect();
        entry_with(&format!(
            "attestor:\n{count}  entries:\n{}",
            indent(&listed.join("\n"), 2)
        ))
    };
    assert!(matches!(
        verify(&nested(&[&other, &signer_key], "  count: 1\n"), &artifacts),
        ImageOutcome::Pass(_)
    ));
    match verify(&nested(&[&other, &signer_key], ""), &artifacts) {
        ImageOutcome::Fail(m) => assert!(
            m.starts_with(&format!(
                "failed to verify image {IMAGE}: .attestors[0].entries[0].attestor.entries[0].keys: "
            )),
            "{m}"
        ),
        other => panic!("without count every nested entry must verify: {other:?}"),
    }
}
