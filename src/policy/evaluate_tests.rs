//! Behaviour of the evaluator against real signatures (sigstore-made ECDSA P-256 keys) over
//! in-memory cosign artifacts; each test names the Kyverno behaviour it mirrors.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigstore::crypto::{SigStoreSigner, SigningScheme};

use super::*;
use crate::policy::image_metadata::{VERIFY_IMAGES_ANNOTATION, VERIFY_IMAGES_SCOPED_ANNOTATION};
use crate::policy::matching::Request;
use crate::spanned::Spanned;
use crate::supply::Digest;
use crate::supply::cosign::{AttestationLayer, SignatureLayer};

const REGISTRY: &str = "kind-registry:5000/courselab";

struct Key {
    signer: SigStoreSigner,
    public: String,
}

fn key() -> Key {
    let signer = SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .unwrap();
    let public = signer
        .to_sigstore_keypair()
        .unwrap()
        .public_key_to_pem()
        .unwrap();
    Key { signer, public }
}

fn digest_of(content: &str) -> Digest {
    Digest::sha256_of(content.as_bytes())
}

/// Artifacts of `image` (a tag reference) with content `content`, signed by `signer` if any.
fn artifacts(
    image: &str,
    content: &str,
    signer: Option<&Key>,
    sbom: bool,
) -> (String, Result<CosignArtifacts, FetchFailure>) {
    let image = ImageRef::parse(image).unwrap();
    let digest = digest_of(content);
    let payload = serde_json::to_vec(&json!({"critical": {"identity": {"docker-reference": image.repository()}, "image": {"docker-manifest-digest": digest.as_str()}, "type": "cosign container image signature"}, "optional": null})).unwrap();
    let signatures = signer
        .map(|k| SignatureLayer {
            signature: STANDARD.encode(k.signer.sign(&payload).unwrap()),
            payload,
            certificate: None,
            chain: None,
            bundle: None,
        })
        .into_iter()
        .collect();
    let attestations = match (signer, sbom) {
        (Some(k), true) => {
            let statement = serde_json::to_vec(&json!({
                "_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://spdx.dev/Document",
                "subject": [{"name": image.repository(), "digest": {"sha256": digest.hex()}}],
                "predicate": {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "demo",
                              "creationInfo": {"created": "2026-11-22T00:00:00Z", "creators": ["Tool: test"]},
                              "packages": [{"SPDXID": "SPDXRef-Package-a", "name": "a"}]}
            }))
            .unwrap();
            let pae = crate::supply::attestation::pae("application/vnd.in-toto+json", &statement);
            let envelope = json!({"payloadType": "application/vnd.in-toto+json", "payload": STANDARD.encode(&statement), "signatures": [{"keyid": "", "sig": STANDARD.encode(k.signer.sign(&pae).unwrap())}]});
            vec![AttestationLayer {
                envelope: serde_json::to_vec(&envelope).unwrap(),
                predicate_type: None,
                certificate: None,
                chain: None,
                bundle: None,
            }]
        }
        _ => Vec::new(),
    };
    (
        image.to_string(),
        Ok(CosignArtifacts {
            image,
            digest,
            signatures,
            attestations,
        }),
    )
}

/// `text` with every line indented by `spaces`, for splicing PEM blocks into YAML.
pub(crate) fn indent(text: &str, spaces: usize) -> String {
    text.trim_end()
        .lines()
        .map(|l| format!("{}{l}", " ".repeat(spaces)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A verify-images policy in `mode` for `key`, optionally requiring an SBOM attestation.
fn policy(mode: &str, key: &Key, extra: &str) -> KyvernoPolicy {
    let digest_handling = if mode == "Enforce" {
        ""
    } else {
        "          mutateDigest: false\n          verifyDigest: false\n"
    };
    let text = format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: verify-signed-images\n  annotations:\n    policies.kyverno.io/category: Supply Chain Security\n    policies.kyverno.io/severity: high\nspec:\n  background: false\n{extra}  rules:\n    - name: verify-signature\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n              namespaces: [develop]\n      verifyImages:\n        - imageReferences: [\"{REGISTRY}/*\"]\n          failureAction: {mode}\n{digest_handling}          attestors:\n            - entries:\n                - keys:\n                    publicKeys: |-\n{}\n                    rekor: {{ignoreTlog: true}}\n                    ctlog: {{ignoreSCT: true}}\n",
        indent(&key.public, 22)
    );
    serde_saphyr::from_str(&text).unwrap()
}

fn sbom_policy(mode: &str, key: &Key) -> KyvernoPolicy {
    let text = format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: require-sbom-attestation\nspec:\n  background: false\n  rules:\n    - name: verify-spdx-attestation\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      verifyImages:\n        - imageReferences: [\"{REGISTRY}/*\"]\n          failureAction: {mode}\n          mutateDigest: false\n          verifyDigest: false\n          attestations:\n            - type: https://spdx.dev/Document\n              attestors:\n                - entries:\n                    - keys:\n                        publicKeys: |-\n{}\n                        rekor: {{ignoreTlog: true}}\n                        ctlog: {{ignoreSCT: true}}\n              conditions:\n                - all:\n                    - key: \"{{{{ spdxVersion }}}}\"\n                      operator: AnyIn\n                      value: [SPDX-2.2, SPDX-2.3]\n",
        indent(&key.public, 26)
    );
    serde_saphyr::from_str(&text).unwrap()
}

fn pod(image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "demo", "namespace": "develop"}, "spec": {"containers": [{"name": "app", "image": image}]}})
}

fn run(
    object: &Value,
    policies: &[KyvernoPolicy],
    fetched: Vec<(String, Result<CosignArtifacts, FetchFailure>)>,
) -> AdmissionResult {
    evaluate(
        object,
        Operation::Create,
        policies,
        &fetched.into_iter().collect(),
    )
}

const HOTFIX: &str = "kind-registry:5000/courselab/demo:1.4.2-hotfix";
const CI: &str = "kind-registry:5000/courselab/demo:1.4.2-ci";

/// The digest pins among the patches (the annotation patches left out).
fn pins(result: &AdmissionResult) -> Vec<(&str, &str)> {
    result
        .patches
        .iter()
        .filter(|p| !p.path.starts_with("/metadata/annotations"))
        .map(|p| (p.path.as_str(), p.value.as_str().unwrap_or("")))
        .collect()
}

fn response(status: Status, message: &str, phase: Phase, action: FailureMode) -> RuleResponse {
    RuleResponse {
        policy: "verify-signed-images".into(),
        policy_namespace: None,
        rule: "verify-signature".into(),
        status,
        message: message.into(),
        phase,
        action,
    }
}

// imageverifier.go: an unsigned image fails with "no signatures found"; in Audit it is admitted
// and the failure goes to the report (response.go: only Enforce failures block). The mutating
// webhook records the failure under the image as written (no digest mutation in Audit), and the
// validating webhook's `required` check then finds it unverified (validate_image.go).
#[test]
fn audit_admits_an_unsigned_image_and_reports_it_from_both_webhooks() {
    let k = key();
    let result = run(
        &pod(HOTFIX),
        &[policy("Audit", &k, "")],
        vec![artifacts(HOTFIX, "hotfix", None, false)],
    );
    assert!(result.allowed && result.denied_by.is_none());
    let message = format!(
        "failed to verify image {HOTFIX}: .attestors[0].entries[0].keys: no signatures found"
    );
    assert_eq!(
        result.rules,
        [
            response(Status::Fail, &message, Phase::Mutate, FailureMode::Audit),
            response(
                Status::Fail,
                &format!("unverified image {HOTFIX}"),
                Phase::Validate,
                FailureMode::Audit
            )
        ]
    );
    assert_eq!(
        result
            .report
            .iter()
            .map(|r| (r.result, r.message.as_str()))
            .collect::<Vec<_>>(),
        [
            (Status::Fail, message.as_str()),
            (Status::Fail, format!("unverified image {HOTFIX}").as_str())
        ]
    );
    assert_eq!(
        result.report[0].category.as_deref(),
        Some("Supply Chain Security")
    );
    assert_eq!(
        result.report[0].properties["process"], "admission review",
        "background: false"
    );
    assert_eq!(
        result.annotations[VERIFY_IMAGES_ANNOTATION],
        format!("{{\"{HOTFIX}\":\"fail\"}}")
    );
    assert_eq!(
        result.annotations[VERIFY_IMAGES_SCOPED_ANNOTATION],
        format!(
            "{{\"version\":1,\"policies\":{{\"/verify-signed-images\":{{\"verify-signature\":{{\"{HOTFIX}\":\"fail\"}}}}}}}}"
        )
    );
    assert!(pins(&result).is_empty(), "no digest pin in Audit");
}

// block.go: the denial text names the resource, then `policy:` / `  rule: 'message'`; the
// mutating webhook denies, so the validating one never runs.
#[test]
fn enforce_denies_an_unsigned_image_with_kyvernos_text() {
    let k = key();
    let result = run(
        &pod(HOTFIX),
        &[policy("Enforce", &k, "")],
        vec![artifacts(HOTFIX, "hotfix", None, false)],
    );
    assert!(!result.allowed);
    assert_eq!(result.denied_by, Some("mutate.kyverno.svc-fail"));
    assert_eq!(
        result.denial.as_deref(),
        Some(format!("\n\nresource Pod/develop/demo was blocked due to the following policies \n\nverify-signed-images:\n  verify-signature: 'failed to verify image {HOTFIX}: .attestors[0].entries[0].keys: no signatures found'\n").as_str())
    );
    assert!(result.rules.iter().all(|r| r.phase == Phase::Mutate));
    assert!(
        result.report.is_empty() && result.patches.is_empty() && result.annotations.is_empty(),
        "a denied request creates nothing"
    );
}

// utils.go makeAddDigestPatch: a verified tag is pinned, keeping the tag; the annotation then
// names the pinned image, which the validating webhook finds verified.
#[test]
fn enforce_admits_a_signed_image_and_pins_its_digest() {
    let k = key();
    let result = run(
        &pod(CI),
        &[policy("Enforce", &k, "")],
        vec![artifacts(CI, "ci", Some(&k), false)],
    );
    assert!(result.allowed, "{result:?}");
    assert_eq!(
        result.rules[0].message,
        format!("verified image signatures for {CI}")
    );
    let pinned = format!("{CI}@{}", digest_of("ci"));
    assert_eq!(
        pins(&result),
        [("/spec/containers/0/image", pinned.as_str())]
    );
    assert_eq!(
        result.patches[0].path, "/metadata/annotations",
        "annotation patches come first, with an empty map when the Pod had none"
    );
    assert_eq!(
        result.annotations[VERIFY_IMAGES_ANNOTATION],
        format!(
            "{{\"kind-registry:5000/courselab/demo@{}\":\"pass\"}}",
            digest_of("ci")
        )
    );
    assert_eq!(
        result.rules[1],
        response(
            Status::Pass,
            "image verified",
            Phase::Validate,
            FailureMode::Enforce
        )
    );
}

#[test]
fn a_signature_from_another_key_does_not_match() {
    let (trusted, other) = (key(), key());
    let result = run(
        &pod(CI),
        &[policy("Enforce", &trusted, "")],
        vec![artifacts(CI, "ci", Some(&other), false)],
    );
    assert!(!result.allowed);
    assert!(result.rules[0].message.ends_with(".attestors[0].entries[0].keys: no matching signatures: invalid signature when validating ASN.1 encoded signature"), "{}", result.rules[0].message);
}

// autogen: a Deployment is checked by `autogen-<rule>`, and patched in its pod template.
#[test]
fn a_deployment_is_checked_by_the_generated_rule() {
    let k = key();
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "demo", "namespace": "develop"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": CI}]}}}});
    let result = run(
        &deployment,
        &[policy("Enforce", &k, "")],
        vec![artifacts(CI, "ci", Some(&k), false)],
    );
    assert!(result.allowed);
    assert_eq!(result.rules[0].rule, "autogen-verify-signature");
    assert_eq!(pins(&result)[0].0, "/spec/template/spec/containers/0/image");
}

// mutate_image.go NewMutateImageHandler and validate_image.go NewValidateImageHandler: when
// no image of the resource matches the rule's imageReferences there is no handler, and so no
// rule response at all (nothing is fetched either).
#[test]
fn an_image_outside_the_registry_gets_no_response() {
    let k = key();
    let result = run(
        &pod("docker.io/library/nginx:1.27"),
        &[policy("Enforce", &k, "")],
        vec![],
    );
    assert!(result.allowed && result.patches.is_empty());
    assert!(result.rules.is_empty() && result.report.is_empty());
    assert!(
        images_to_fetch(
            &Request {
                object: &pod("docker.io/library/nginx:1.27"),
                operation: Operation::Create,
                namespace_labels: None
            },
            &[policy("Enforce", &k, "")]
        )
        .is_empty()
    );
}

// pkg/imageverifycache: a successful verification is reused; a failure is never cached.
#[test]
fn the_cache_reuses_passes_only() {
    let k = key();
    let other = key();
    let policies = [policy("Enforce", &k, "")];
    let signed: Artifacts = [artifacts(CI, "ci", Some(&k), false)].into();
    let object = pod(CI);
    let request = Request {
        object: &object,
        operation: Operation::Create,
        namespace_labels: None,
    };
    let mut cache = VerifyCache::default();
    for _ in 0..3 {
        let result = evaluate_cached(&request, &policies, &signed, &mut cache);
        assert!(result.allowed);
    }
    assert_eq!(cache.hits, 2);
    let wrong: Artifacts = [artifacts(CI, "ci", Some(&other), false)].into();
    let mut cache = VerifyCache::default();
    for _ in 0..2 {
        let result = evaluate_cached(&request, &policies, &wrong, &mut cache);
        assert!(!result.allowed);
    }
    assert_eq!(cache.hits, 0);
}

// response.go BlockRequest: an error blocks even in Audit when the failure policy is Fail
// (the default), and not when it is Ignore.
#[test]
fn registry_errors_block_even_in_audit_unless_failure_policy_is_ignore() {
    let k = key();
    let unreachable = || {
        (
            ImageRef::parse(CI).unwrap().to_string(),
            Err(FetchFailure {
                network: true,
                message: "dial tcp: connection refused".into(),
            }),
        )
    };
    let result = run(&pod(CI), &[policy("Audit", &k, "")], vec![unreachable()]);
    assert!(!result.allowed);
    assert_eq!(result.rules[0].status, Status::Error);
    let ignore = policy(
        "Audit",
        &k,
        "  webhookConfiguration:\n    failurePolicy: Ignore\n",
    );
    assert!(run(&pod(CI), &[ignore], vec![unreachable()]).allowed);
}

// imageverifier.go: a signed image without the attestation fails with Kyverno's count message.
#[test]
fn a_missing_sbom_attestation_is_reported_with_kyvernos_counts() {
    let k = key();
    let result = run(
        &pod(CI),
        &[sbom_policy("Enforce", &k)],
        vec![artifacts(CI, "ci", Some(&k), false)],
    );
    assert!(!result.allowed);
    assert_eq!(
        result.rules[0].message,
        "image attestations verification failed, verifiedCount: 0, requiredCount: 1, error: no matching attestations: "
    );
    let attested = run(
        &pod(CI),
        &[sbom_policy("Enforce", &k)],
        vec![artifacts(CI, "ci", Some(&k), true)],
    );
    assert!(attested.allowed, "{attested:?}");
    // An entry with attestations alone names the image as written (measured against the real
    // admission controller: the digest of an attestation fetch is always empty).
    assert_eq!(
        attested.rules[0].message,
        format!("verified image attestations for {CI}")
    );
}

// validate_image.go: with verifyDigest on (the default) a tag-only image fails in the validating
// webhook with "missing digest for", even when its signature verified in the mutating one.
#[test]
fn verify_digest_reports_tag_only_images_as_missing_digest() {
    let k = key();
    let mut p = policy("Audit", &k, "");
    p.spec.rules[0].verify_images[0].value.verify_digest = None;
    let result = run(&pod(CI), &[p], vec![artifacts(CI, "ci", Some(&k), false)]);
    assert!(result.allowed, "Audit reports, it does not block");
    assert_eq!(
        result
            .rules
            .iter()
            .map(|r| (r.phase, r.status, r.message.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                Phase::Mutate,
                Status::Pass,
                format!("verified image signatures for {CI}").as_str()
            ),
            (
                Phase::Validate,
                Status::Fail,
                format!("missing digest for {CI}").as_str()
            ),
        ]
    );
    let pinned = format!("kind-registry:5000/courselab/demo@{}", digest_of("ci"));
    let mut p = policy("Audit", &k, "");
    p.spec.rules[0].verify_images[0].value.verify_digest = None;
    let result = run(
        &pod(&pinned),
        &[p],
        vec![artifacts(&pinned, "ci", Some(&k), false)],
    );
    assert!(
        result.rules.iter().all(|r| r.status == Status::Pass),
        "{:?}",
        result.rules
    );
}

// validate_image.go: under Enforce the same check denies, from the validating webhook.
#[test]
fn a_tag_without_digest_pinning_is_denied_by_the_validating_webhook_in_enforce() {
    let k = key();
    let mut p = policy("Enforce", &k, "");
    p.spec.rules[0].verify_images[0].value.mutate_digest = Some(Spanned {
        value: false,
        line: 0,
        column: 0,
    });
    let result = run(&pod(CI), &[p], vec![artifacts(CI, "ci", Some(&k), false)]);
    assert_eq!(result.denied_by, Some("validate.kyverno.svc-fail"));
    assert!(
        result
            .denial
            .as_deref()
            .is_some_and(|d| d.ends_with(&format!("verify-signature: missing digest for {CI}\n"))),
        "{:?}",
        result.denial
    );
}

// kyverno/kyverno test/cli/test/images/secure-images: `required` with no attestors has nothing
// recording the image as verified, so the validating webhook reports "unverified image".
#[test]
fn required_without_attestors_finds_the_image_unverified() {
    let text = format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: verify-signed-images}}\nspec:\n  background: false\n  rules:\n    - name: verify-signature\n      match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n      verifyImages:\n        - imageReferences: [\"{REGISTRY}/*\"]\n          failureAction: Enforce\n          mutateDigest: false\n          verifyDigest: false\n"
    );
    let p: KyvernoPolicy = serde_saphyr::from_str(&text).unwrap();
    let result = run(&pod(CI), &[p], vec![artifacts(CI, "ci", None, false)]);
    assert_eq!(result.denied_by, Some("validate.kyverno.svc-fail"));
    assert_eq!(
        result.rules,
        [response(
            Status::Fail,
            &format!("unverified image {CI}"),
            Phase::Validate,
            FailureMode::Enforce
        )]
    );
}

// imageverifier.go Verify: with no attestors, mutateDigest still pins the tag ("mutated image
// digest") and nothing is recorded in the annotations.
#[test]
fn mutate_digest_alone_pins_without_verifying() {
    let text = format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: pin}}\nspec:\n  rules:\n    - name: pin\n      match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n      verifyImages:\n        - imageReferences: [\"{REGISTRY}/*\"]\n          failureAction: Enforce\n          required: false\n"
    );
    let p: KyvernoPolicy = serde_saphyr::from_str(&text).unwrap();
    let result = run(&pod(CI), &[p], vec![artifacts(CI, "ci", None, false)]);
    assert!(result.allowed, "{result:?}");
    assert_eq!(result.rules[0].message, "mutated image digest");
    assert_eq!(result.rules[1].message, "image verified");
    assert_eq!(pins(&result).len(), 1);
    assert!(result.annotations.is_empty());
}

// imageverifier.go verifyImage: an image in skipImageReferences is skipped and recorded as
// `skip`; the validating webhook accepts the record but still wants a digest under verifyDigest.
#[test]
fn skipped_images_are_recorded_and_still_need_a_digest() {
    let k = key();
    let mut p = policy("Audit", &k, "");
    p.spec.rules[0].verify_images[0].value.skip_image_references =
        vec![format!("{REGISTRY}/demo:1.4.2-*")];
    let result = run(
        &pod(HOTFIX),
        std::slice::from_ref(&p),
        vec![artifacts(HOTFIX, "hotfix", None, false)],
    );
    assert_eq!(
        result.rules.iter().map(|r| (r.status, r.message.as_str())).collect::<Vec<_>>(),
        [
            (Status::Skip, format!("skipping image reference image {HOTFIX}, policy verify-signed-images ruleName verify-signature").as_str()),
            (Status::Skip, format!("image skipped, skipped images: {HOTFIX}").as_str()),
        ]
    );
    assert_eq!(
        result.annotations[VERIFY_IMAGES_ANNOTATION],
        format!("{{\"{HOTFIX}\":\"skip\"}}")
    );
    p.spec.rules[0].verify_images[0].value.verify_digest = None;
    let result = run(
        &pod(HOTFIX),
        &[p],
        vec![artifacts(HOTFIX, "hotfix", None, false)],
    );
    assert_eq!(
        result.rules[1].message,
        format!("missing digest for {HOTFIX}")
    );
}

// block.go GetBlockedMessages: the denial lists every failing rule of the webhook's policies,
// including an Audit policy's, although only the Enforce one blocked.
#[test]
fn the_denial_lists_audit_failures_beside_the_enforced_one() {
    let k = key();
    let result = run(
        &pod(HOTFIX),
        &[policy("Enforce", &k, ""), sbom_policy("Audit", &k)],
        vec![artifacts(HOTFIX, "hotfix", None, false)],
    );
    let denial = result.denial.unwrap();
    assert!(denial.contains("\nrequire-sbom-attestation:\n  verify-spdx-attestation: 'image attestations verification failed"), "{denial}");
    assert!(
        denial.contains("\nverify-signed-images:\n  verify-signature: 'failed to verify image"),
        "{denial}"
    );
}

// pkg/image/verification/cache/client.go generateKey: the cache key is policy, rule and image,
// not the verifyImages entry, so a second entry of the same rule is answered from the first
// entry's pass, even with a key that would not verify.
#[test]
fn the_cache_key_ignores_the_entry_as_kyvernos_does() {
    let (k, stranger) = (key(), key());
    let mut p = policy("Enforce", &k, "");
    let mut second = p.spec.rules[0].verify_images[0].clone();
    let other = policy("Enforce", &stranger, "");
    second.value.attestors = other.spec.rules[0].verify_images[0].value.attestors.clone();
    p.spec.rules[0].verify_images.push(second);
    let result = run(&pod(CI), &[p], vec![artifacts(CI, "ci", Some(&k), false)]);
    assert!(result.allowed, "{result:?}");
    assert_eq!(result.rules[1].message, "verified from cache");
}

// imageverifier.go Verify: every entry of a rule answers for every image any entry matched,
// and records its answer under the image as it then names it (pinned when its mutateDigest
// pins it). With Kyverno's cache off, a second entry that does not reference the image
// records `skip` over the first entry's `pass`; one that does not pin records it under the
// tag. With the cache on (the chart's default), the second entry is answered from the first's
// pass. Differential case 62 shows the cache-off answers on the real admission controller.
#[test]
fn a_second_entry_that_skips_an_image_overwrites_its_pass_unless_the_cache_answers() {
    let k = key();
    let with_second = |mutate_digest: &str| {
        let mut p = policy("Enforce", &k, "");
        let mut second = p.spec.rules[0].verify_images[0].clone();
        let text = format!(
            "imageReferences: [\"elsewhere.example/*\"]\n{mutate_digest}attestors: [{{entries: [{{keys: {{publicKeys: x}}}}]}}]\n"
        );
        second.value = serde_saphyr::from_str(&text).unwrap();
        p.spec.rules[0].verify_images.push(second);
        p
    };
    let object = pod(CI);
    let request = Request {
        object: &object,
        operation: Operation::Create,
        namespace_labels: None,
    };
    let signed: Artifacts = [artifacts(CI, "ci", Some(&k), false)].into();
    let pinned = format!("kind-registry:5000/courselab/demo@{}", digest_of("ci"));
    let annotation = |policy: KyvernoPolicy, cache: &mut VerifyCache| {
        let result = evaluate_cached(&request, &[policy], &signed, cache);
        assert!(result.allowed, "{result:?}");
        serde_json::from_str::<Value>(&result.annotations[VERIFY_IMAGES_ANNOTATION]).unwrap()
    };
    assert_eq!(
        annotation(with_second(""), &mut VerifyCache::disabled()),
        json!({ pinned.as_str(): "skip" })
    );
    assert_eq!(
        annotation(
            with_second("mutateDigest: false\n"),
            &mut VerifyCache::disabled()
        ),
        json!({ pinned.as_str(): "pass", CI: "skip" })
    );
    let mut on = VerifyCache::default();
    assert_eq!(
        annotation(with_second(""), &mut on),
        json!({ pinned.as_str(): "pass" })
    );
    assert_eq!(on.hits, 1);
}

// results.go: a policy annotated `scored: "false"` reports failures as warn, and with
// `background` left on (the default) results say `process: background scan`.
#[test]
fn unscored_failures_are_warnings_and_background_policies_say_so() {
    let k = key();
    let mut p = policy("Audit", &k, "");
    p.metadata
        .annotations
        .insert("policies.kyverno.io/scored".into(), "false".into());
    p.spec.background = None;
    let result = run(
        &pod(HOTFIX),
        &[p],
        vec![artifacts(HOTFIX, "hotfix", None, false)],
    );
    assert!(
        result
            .report
            .iter()
            .all(|r| r.result == Status::Warn && !r.scored)
    );
    assert_eq!(result.report[0].properties["process"], "background scan");
}

// controller.go webhookNameAndPath: a policy with failurePolicy Ignore is served by the
// `-ignore` webhook, which denies an Enforce failure too, under its own name.
#[test]
fn an_ignore_policy_denies_from_the_ignore_webhook() {
    let k = key();
    let p = policy(
        "Enforce",
        &k,
        "  webhookConfiguration:\n    failurePolicy: Ignore\n",
    );
    let result = run(
        &pod(HOTFIX),
        &[p],
        vec![artifacts(HOTFIX, "hotfix", None, false)],
    );
    assert_eq!(result.denied_by, Some("mutate.kyverno.svc-ignore"));
}

// imageverifymetadata.go Patches: the mutating webhook's annotation patch replaces whatever the
// Pod carried, so a hand-written "pass" cannot satisfy `required`.
#[test]
fn a_forged_verification_annotation_is_overwritten() {
    let k = key();
    let mut object = pod(HOTFIX);
    object["metadata"]["annotations"] = json!({
        VERIFY_IMAGES_SCOPED_ANNOTATION: format!("{{\"version\":1,\"policies\":{{\"/verify-signed-images\":{{\"verify-signature\":{{\"{HOTFIX}\":\"pass\"}}}}}}}}")
    });
    let result = run(
        &object,
        &[policy("Audit", &k, "")],
        vec![artifacts(HOTFIX, "hotfix", None, false)],
    );
    assert_eq!(
        result.rules[1].message,
        format!("unverified image {HOTFIX}")
    );
    assert_ne!(
        result.patches[0].path, "/metadata/annotations",
        "the Pod had annotations"
    );
}

/// `policy` in Audit with its entry's `failureAction` removed and `spec` lines added.
fn policy_without_entry_action(k: &Key, spec: &str) -> KyvernoPolicy {
    let mut p = policy("Audit", k, spec);
    p.spec.rules[0].verify_images[0].failure_action = None;
    p
}

fn admitted_with_labels(
    p: &KyvernoPolicy,
    labels: Option<&std::collections::BTreeMap<String, String>>,
) -> (bool, FailureMode) {
    let object = pod(HOTFIX);
    let request = Request {
        object: &object,
        operation: Operation::Create,
        namespace_labels: labels,
    };
    let fetched: Artifacts = [artifacts(HOTFIX, "hotfix", None, false)]
        .into_iter()
        .collect();
    let result = evaluate_cached(
        &request,
        std::slice::from_ref(p),
        &fetched,
        &mut VerifyCache::default(),
    );
    (result.allowed, result.rules[0].action)
}

// engineresponse.go failureActionForRule/matchOverride (v1.19.0): with no action on the entry,
// the first override that selects the resource's namespace decides, before the spec field.
#[test]
fn an_override_for_the_namespace_decides_when_the_entry_sets_no_action() {
    let k = key();
    let by_name = policy_without_entry_action(
        &k,
        "  validationFailureAction: Audit\n  validationFailureActionOverrides:\n    - action: Audit\n      namespaces: [staging]\n    - action: Enforce\n      namespaces: [\"dev*\"]\n",
    );
    assert_eq!(
        admitted_with_labels(&by_name, None),
        (false, FailureMode::Enforce)
    );
    let other = policy_without_entry_action(
        &k,
        "  validationFailureAction: Audit\n  validationFailureActionOverrides:\n    - action: Enforce\n      namespaces: [prod]\n",
    );
    assert_eq!(
        admitted_with_labels(&other, None),
        (true, FailureMode::Audit)
    );
    // The deprecated lowercase spelling enforces too (spec_types.go Enforce()).
    let lowercase = policy_without_entry_action(
        &k,
        "  validationFailureActionOverrides:\n    - action: enforce\n",
    );
    assert_eq!(
        admitted_with_labels(&lowercase, None),
        (false, FailureMode::Enforce)
    );
}

// matchOverride: a namespaceSelector must match the namespace's labels; labels that are not
// known count as none, so a matchLabels selector then selects nothing. And Kyverno reads the
// labels only for a policy whose rules select by them (labels.go `hasNamespaceSelector`, which
// skips the spec-level overrides): measured against the real admission controller, an override
// selector alone never matches (tests/fixtures/differential/26-overrides-namespace-selector).
#[test]
fn an_override_with_a_namespace_selector_needs_the_labels() {
    let k = key();
    let mut p = policy_without_entry_action(
        &k,
        "  validationFailureActionOverrides:\n    - action: Enforce\n      namespaceSelector:\n        matchLabels: {env: prod}\n",
    );
    let prod: std::collections::BTreeMap<String, String> =
        [("env".to_owned(), "prod".to_owned())].into();
    let dev: std::collections::BTreeMap<String, String> =
        [("env".to_owned(), "dev".to_owned())].into();
    assert_eq!(
        admitted_with_labels(&p, Some(&prod)),
        (true, FailureMode::Audit),
        "the labels are never read for this policy"
    );
    assert_eq!(admitted_with_labels(&p, None), (true, FailureMode::Audit));
    // Once a rule selects by namespace labels, Kyverno has them, and the override applies.
    let filter = p.spec.rules[0].match_resources.any[0]
        .resources
        .as_mut()
        .unwrap();
    filter.namespace_selector =
        Some(json!({"matchExpressions": [{"key": "env", "operator": "Exists"}]}));
    assert_eq!(
        admitted_with_labels(&p, Some(&prod)),
        (false, FailureMode::Enforce)
    );
    assert_eq!(
        admitted_with_labels(&p, Some(&dev)),
        (true, FailureMode::Audit)
    );
}

// ruleAction: an action on a verifyImages entry wins over every override.
#[test]
fn the_entrys_own_action_beats_an_override() {
    let k = key();
    let p = policy(
        "Audit",
        &k,
        "  validationFailureActionOverrides:\n    - action: Enforce\n      namespaces: [develop]\n",
    );
    assert_eq!(admitted_with_labels(&p, None), (true, FailureMode::Audit));
}

// imageverifier.go verifyAttestations: an attestation whose conditions fail does not count; the
// count message carries the entry's error (with Kyverno's path, the attestation index in the
// entry's place).
#[test]
fn failing_attestation_conditions_are_reported_inside_the_count_message() {
    let k = key();
    let mut p = sbom_policy("Enforce", &k);
    p.spec.rules[0].verify_images[0].value.attestations[0]
        .value
        .conditions = vec![json!(
        {"all": [{"key": "{{ spdxVersion }}", "operator": "Equals", "value": "SPDX-2.2", "message": "SPDX 2.2 wanted"}]}
    )];
    let result = run(&pod(CI), &[p], vec![artifacts(CI, "ci", Some(&k), true)]);
    assert_eq!(
        result.rules[0].message,
        format!(
            "image attestations verification failed, verifiedCount: 0, requiredCount: 1, error: .attestations[0].attestors[0].entries[0].keys: attestation checks failed for {CI} and predicate https://spdx.dev/Document: SPDX 2.2 wanted"
        )
    );
}

// utils.go ExpandStaticKeys: several keys in one `publicKeys` are one entry each, so with no
// `count` every key must have signed; with `count: 1` one is enough. Every failing entry's
// error is in the message, joined as multierr joins them.
#[test]
fn several_public_keys_in_one_entry_must_all_have_signed_unless_count_says_otherwise() {
    let (k, other) = (key(), key());
    let mut p = policy("Enforce", &k, "");
    let both = format!("{}\n{}", k.public.trim_end(), other.public.trim_end());
    let entry = &mut p.spec.rules[0].verify_images[0].value.attestors[0];
    entry.entries[0].value.keys.as_mut().unwrap().public_keys = Some(both);
    let result = run(
        &pod(CI),
        std::slice::from_ref(&p),
        vec![artifacts(CI, "ci", Some(&k), false)],
    );
    assert!(!result.allowed);
    assert!(
        result.rules[0]
            .message
            .contains(".attestors[0].entries[1].keys: no matching signatures"),
        "{}",
        result.rules[0].message
    );
    p.spec.rules[0].verify_images[0].value.attestors[0].count = Some(Spanned {
        value: 1,
        line: 0,
        column: 0,
    });
    let result = run(&pod(CI), &[p], vec![artifacts(CI, "ci", Some(&k), false)]);
    assert!(result.allowed, "{:?}", result.rules);
}

// match.go: a namespaced Policy applies only to resources of its own namespace.
#[test]
fn a_namespaced_policy_applies_only_in_its_namespace() {
    let k = key();
    let mut p = policy("Enforce", &k, "");
    p.kind.value = crate::policy::model::PolicyKind::Policy;
    p.metadata.namespace = Some("other".into());
    let result = run(
        &pod(HOTFIX),
        std::slice::from_ref(&p),
        vec![artifacts(HOTFIX, "hotfix", None, false)],
    );
    assert!(result.allowed && result.rules.is_empty(), "{result:?}");
    p.metadata.namespace = Some("develop".into());
    let result = run(
        &pod(HOTFIX),
        &[p],
        vec![artifacts(HOTFIX, "hotfix", None, false)],
    );
    assert!(!result.allowed);
    assert_eq!(result.rules[0].policy_namespace.as_deref(), Some("develop"));
}

// A rule that selects its namespace by labels needs its images fetched like any other: the
// images to fetch are computed with the namespace's labels (a regression: they were computed
// without them, and the rule then erred for want of artifacts).
#[test]
fn a_namespace_selector_rule_gets_its_images_fetched_and_verified() {
    let k = key();
    let mut p = policy("Enforce", &k, "");
    let filter = p.spec.rules[0].match_resources.any[0]
        .resources
        .as_mut()
        .unwrap();
    filter.namespaces.clear();
    filter.namespace_selector = Some(json!({"matchLabels": {"env": "dev"}}));
    let labels: std::collections::BTreeMap<String, String> =
        [("env".to_owned(), "dev".to_owned())].into();
    let object = pod(CI);
    let request = Request {
        object: &object,
        operation: Operation::Create,
        namespace_labels: Some(&labels),
    };
    let policies = [p];
    assert_eq!(
        images_to_fetch(&request, &policies),
        [ImageRef::parse(CI).unwrap()]
    );
    let fetched: Artifacts = [artifacts(CI, "ci", Some(&k), false)].into();
    let result = evaluate_cached(&request, &policies, &fetched, &mut VerifyCache::default());
    assert!(
        result.allowed && result.rules[0].status == Status::Pass,
        "{result:?}"
    );
    let unlabelled = Request {
        namespace_labels: None,
        ..request.clone()
    };
    assert!(images_to_fetch(&unlabelled, &policies).is_empty());
}

// imageverifier.go buildCosignVerifier defaults a keys attestor's Rekor to the public instance
// and cosign.go buildCosignOptions then needs Sigstore's TUF root, which offline evaluation
// cannot reach: the rule is an error, which blocks even in Audit (failurePolicy Fail).
#[test]
fn a_keys_attestor_without_tlog_settings_is_undecided_offline_and_never_a_denial() {
    let k = key();
    let mut p = policy("Audit", &k, "");
    let attestor = &mut p.spec.rules[0].verify_images[0].value.attestors[0].entries[0];
    attestor.value.keys.as_mut().unwrap().rekor = None;
    let result = run(&pod(CI), &[p], vec![artifacts(CI, "ci", Some(&k), false)]);
    assert!(result.is_undecided(), "{result:?}");
    assert_eq!(result.denied_by, None, "{result:?}");
    assert_eq!(result.denial, None, "{result:?}");
    assert_eq!(result.undecided.len(), 1, "{result:?}");
    assert_eq!(result.rules[0].status, Status::Undecided, "{result:?}");
    assert!(
        result.rules[0]
            .message
            .contains(".attestors[0].entries[0].keys: offline evaluation needs `rekor.pubkey` or `rekor.ignoreTlog: true`"),
        "{}",
        result.rules[0].message
    );
}

// imageverifier.go verifyAttestation compares `type` literally with the statement's
// predicateType, and evaluate.go / equal.go take the wildcard from the condition's value.
#[test]
fn sbom_conditions_take_wildcards_and_the_type_is_not_a_cosign_shorthand() {
    let k = key();
    let mut p = sbom_policy("Enforce", &k);
    let attestation = &mut p.spec.rules[0].verify_images[0].value.attestations[0];
    attestation.conditions = vec![json!(
        {"all": [{"key": "{{ spdxVersion }}", "operator": "Equals", "value": "SPDX-2.*"}]}
    )];
    let result = run(
        &pod(CI),
        std::slice::from_ref(&p),
        vec![artifacts(CI, "ci", Some(&k), true)],
    );
    assert!(result.allowed, "{result:?}");
    p.spec.rules[0].verify_images[0].value.attestations[0].attestation_type =
        Some("spdxjson".into());
    let result = run(&pod(CI), &[p], vec![artifacts(CI, "ci", Some(&k), true)]);
    assert_eq!(
        result.rules[0].message,
        "image attestations verification failed, verifiedCount: 0, requiredCount: 1, error: .attestations[0].attestors[0].entries[0].keys: attestions not found for predicate type spdxjson"
    );
}

// resource.go (kyverno test) and the API server: a Pod written without a namespace is in
// `default`, so a Policy there applies to it, and the denial names it there.
#[test]
fn an_object_without_a_namespace_is_in_default() {
    let k = key();
    let mut p = policy("Enforce", &k, "");
    p.kind.value = crate::policy::model::PolicyKind::Policy;
    p.metadata.namespace = Some("default".into());
    p.spec.rules[0].match_resources.any[0]
        .resources
        .as_mut()
        .unwrap()
        .namespaces = vec!["default".into()];
    let mut object = pod(HOTFIX);
    object["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("namespace");
    crate::policy::matching::default_namespace(&mut object);
    assert_eq!(object["metadata"]["namespace"], "default");
    let result = run(
        &object,
        &[p],
        vec![artifacts(HOTFIX, "hotfix", None, false)],
    );
    assert!(
        result
            .denial
            .as_deref()
            .is_some_and(|d| d.contains("resource Pod/default/demo was blocked")),
        "{result:?}"
    );
    let mut namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "develop"}});
    crate::policy::matching::default_namespace(&mut namespace);
    assert!(
        namespace["metadata"].get("namespace").is_none(),
        "cluster-scoped"
    );
}

// pkg/utils/api/image.go: init containers are verified too, and each image gets its own
// response; with one of two images failing, the rule fails, and the denial shows the last
// failing image's message (block.go: one message per rule, the last wins).
#[test]
fn every_container_is_verified_and_a_failing_one_denies() {
    let k = key();
    let mut object = pod(CI);
    object["spec"]["initContainers"] = json!([{"name": "init", "image": HOTFIX}]);
    let result = run(
        &object,
        &[policy("Enforce", &k, "")],
        vec![
            artifacts(CI, "ci", Some(&k), false),
            artifacts(HOTFIX, "hotfix", None, false),
        ],
    );
    assert!(!result.allowed);
    let statuses: Vec<(Status, &str)> = result
        .rules
        .iter()
        .map(|r| (r.status, r.message.as_str()))
        .collect();
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .any(|(s, m)| *s == Status::Fail && m.contains(HOTFIX))
    );
    assert!(statuses.iter().any(|(s, _)| *s == Status::Pass));
    assert!(result.denial.unwrap().contains(HOTFIX));
}

// autogen: a CronJob is checked by `autogen-cronjob-<rule>` and pinned in its job template.
#[test]
fn a_cronjob_is_checked_and_pinned_in_its_job_template() {
    let k = key();
    let cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "develop"},
        "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": CI}]}}}}}});
    let result = run(
        &cronjob,
        &[policy("Enforce", &k, "")],
        vec![artifacts(CI, "ci", Some(&k), false)],
    );
    assert!(result.allowed, "{result:?}");
    assert_eq!(result.rules[0].rule, "autogen-cronjob-verify-signature");
    assert_eq!(
        pins(&result)[0].0,
        "/spec/jobTemplate/spec/template/spec/containers/0/image"
    );
}

// infos.go and handleMutateDigest: an image given as `repo:tag@sha256:...` already has its
// digest, so it is not pinned again, and Kyverno records it without the tag.
#[test]
fn a_tag_with_a_digest_is_not_pinned_and_is_recorded_without_the_tag() {
    let k = key();
    let both = format!("{CI}@{}", digest_of("ci"));
    let (_, fetched) = artifacts(CI, "ci", Some(&k), false);
    let key_form = format!("kind-registry:5000/courselab/demo@{}", digest_of("ci"));
    let result = run(
        &pod(&both),
        &[policy("Enforce", &k, "")],
        vec![(key_form.clone(), fetched)],
    );
    assert!(result.allowed, "{result:?}");
    assert!(pins(&result).is_empty());
    assert_eq!(
        result.annotations[VERIFY_IMAGES_ANNOTATION],
        format!("{{\"{key_form}\":\"pass\"}}")
    );
}

// Preconditions decide whether Kyverno runs a rule at all (engine.go invokeRuleHandler, after
// the images are found and before any is verified): each condition's key and value are
// substituted against the request as it is evaluated. Not met, the rule is skipped with the
// false conditions' messages; failing, it is an error; reading what is not known offline (the
// user), it is undecided and nothing is guessed.
#[test]
fn a_rules_preconditions_are_evaluated_against_the_request() {
    let k = key();
    let with = |preconditions: Value| {
        let mut p = policy("Enforce", &k, "");
        p.spec.rules[0].preconditions = Some(preconditions);
        run(
            &pod(HOTFIX),
            &[p],
            vec![artifacts(HOTFIX, "hotfix", None, false)],
        )
    };
    let on_create = with(
        json!({"all": [{"key": "{{ request.operation }}", "operator": "Equals", "value": "CREATE"}]}),
    );
    assert!(
        !on_create.allowed,
        "held: the unsigned image is verified and denied"
    );
    let labelled = with(
        json!({"any": [{"key": "{{ request.object.metadata.labels.verify || 'no' }}",
        "operator": "Equals", "value": "yes", "message": "not asked to verify"}]}),
    );
    assert!(labelled.allowed, "{labelled:?}");
    assert_eq!(
        labelled
            .rules
            .iter()
            .map(|r| (r.status, r.message.as_str(), r.phase))
            .collect::<Vec<_>>(),
        [
            (
                Status::Skip,
                "preconditions not met; not asked to verify",
                Phase::Mutate
            ),
            (
                Status::Skip,
                "preconditions not met; not asked to verify",
                Phase::Validate
            ),
        ]
    );
    let missing = with(
        json!({"all": [{"key": "{{ request.object.metadata.annotations.verify }}", "operator": "Equals", "value": "yes"}]}),
    );
    assert_eq!(missing.rules[0].status, Status::Error);
    assert_eq!(
        missing.rules[0].message,
        "failed to evaluate preconditions: failed to substitute variables in condition key: failed to resolve request.object.metadata.annotations.verify at path : JMESPath query failed: Unknown key \"annotations\" in path"
    );
    assert!(!missing.allowed, "an error blocks under Enforce");
    let user = with(
        json!({"all": [{"key": "{{ request.userInfo.username }}", "operator": "Equals", "value": "admin"}]}),
    );
    assert_eq!(user.rules.len(), 1, "{:?}", user.rules);
    assert_eq!(user.rules[0].status, Status::Undecided);
    assert!(
        user.rules[0]
            .message
            .starts_with("the `preconditions` of this rule cannot be evaluated offline")
            && user.rules[0]
                .message
                .contains("`request.userInfo.username`"),
        "{}",
        user.rules[0].message
    );
    assert!(
        user.is_undecided() && user.denied_by.is_none() && user.patches.is_empty(),
        "no verdict, no denial, nothing patched: {user:?}"
    );
}

// imageverifier.go validate/validateDeny/getDenyMessage: once an entry's attestations verify,
// the rule's `validate.deny` conditions read the predicate under the attestation's `name`;
// holding, they fail the image with the entry's message and the holding conditions' messages;
// not holding, the rule passes with Kyverno's message. Differential case 69 shows the same on
// the real admission controller.
#[test]
fn validate_deny_reads_the_named_attestation_and_fails_the_image_when_it_holds() {
    let k = key();
    let with = |validate: &str| {
        let mut p = sbom_policy("Enforce", &k);
        let entry = &mut p.spec.rules[0].verify_images[0].value;
        entry.attestations[0].value.name = Some("sbom".into());
        entry.validate = Some(serde_saphyr::from_str(validate).unwrap());
        run(&pod(CI), &[p], vec![artifacts(CI, "ci", Some(&k), true)])
    };
    let denied = with(
        "message: no package a\ndeny:\n  conditions:\n    any:\n      - key: \"{{ sbom.packages[].name }}\"\n        operator: AnyIn\n        value: [a]\n        message: a is listed\n",
    );
    assert_eq!(denied.rules[0].status, Status::Fail, "{denied:?}");
    assert_eq!(
        denied.rules[0].message,
        "validation in verifyImages failed: no package a; a is listed"
    );
    let passed = with(
        "deny:\n  conditions:\n    all:\n      - key: \"{{ length(sbom.packages) }}\"\n        operator: Equals\n        value: 0\n",
    );
    assert_eq!(
        (passed.rules[0].status, passed.rules[0].message.as_str()),
        (
            Status::Pass,
            "verifyImages validation is passed in verify-spdx-attestation rule"
        )
    );
    let unresolved = with(
        "deny:\n  conditions:\n    all:\n      - key: \"{{ sbom.creationInfo.tools }}\"\n        operator: Equals\n        value: x\n",
    );
    assert_eq!(
        unresolved.rules[0].message,
        "validation in verifyImages failed: failed to check deny conditions: failed to substitute variables in condition key: failed to resolve sbom.creationInfo.tools at path : JMESPath query failed: Unknown key \"tools\" in path"
    );
    // A message with variables is substituted before the attestations are in the context:
    // not modelled, so not guessed.
    let templated = with(
        "message: \"{{ sbom.name }} is denied\"\ndeny:\n  conditions:\n    all:\n      - key: a\n        operator: Equals\n        value: a\n",
    );
    assert_eq!(
        templated.rules[0].status,
        Status::Undecided,
        "{templated:?}"
    );
    assert!(templated.is_undecided());
}

// cosign's --repository, Kyverno's `repository`: the signatures are read from another
// repository by the image's digest; they are fetched under their own key, and an image whose
// signatures are only beside it does not verify through that entry.
#[test]
fn an_entrys_repository_is_where_its_signatures_are_read() {
    let k = key();
    let mut p = policy("Enforce", &k, "");
    p.spec.rules[0].verify_images[0].value.repository =
        Some("kind-registry:5000/courselab/signatures".into());
    let object = pod(CI);
    let request = Request {
        object: &object,
        operation: Operation::Create,
        namespace_labels: None,
    };
    let wanted = repositories_to_fetch(&request, std::slice::from_ref(&p));
    assert_eq!(
        wanted
            .iter()
            .map(|(i, r)| (i.to_string(), r.repository()))
            .collect::<Vec<_>>(),
        [(
            CI.to_owned(),
            "kind-registry:5000/courselab/signatures".to_owned()
        )]
    );
    let (image, signed) = artifacts(CI, "ci", Some(&k), false);
    let elsewhere: Artifacts = [(
        super::super::fetch::artifacts_key(&image, "kind-registry:5000/courselab/signatures"),
        signed,
    )]
    .into();
    let result = evaluate_cached(
        &request,
        std::slice::from_ref(&p),
        &elsewhere,
        &mut VerifyCache::default(),
    );
    assert!(result.allowed, "{result:?}");
    let beside: Artifacts = [artifacts(CI, "ci", Some(&k), false)].into();
    let result = evaluate_cached(&request, &[p], &beside, &mut VerifyCache::default());
    assert!(
        !result.allowed,
        "signatures beside the image are not read: {result:?}"
    );
}
