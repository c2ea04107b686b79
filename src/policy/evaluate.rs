//! The offline admission evaluator: what Kyverno v1.19 does with a request, given the policies
//! and each image's cosign artifacts (fetched beforehand by the caller, from a registry or a
//! layout). It decides the verdict, words the denial as Kyverno does, and produces the digest
//! patches, the `kyverno.io/verify-images` annotation and the PolicyReport results.
//!
//! Kyverno sources mirrored: `pkg/engine/internal/imageverifier.go` (per-image outcome, digest
//! patch), `pkg/engine/handlers/validation/validate_image.go` (`missing digest for`),
//! `pkg/engine/api/engineresponse.go` (rule action precedence), `pkg/utils/engine/response.go`
//! (`BlockRequest`), `pkg/webhooks/utils/block.go` (denial text), `pkg/utils/report/results.go`.
//! Where Kyverno iterates images from a Go map (so which image's message a rule reports is not
//! deterministic), this evaluator uses container order and reports the first failure.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::autogen::rules_for_kind;
use super::matching::{Operation, Request, applies};
use super::model::{KyvernoPolicy, VerifyImage};
use super::verify_entry::{FetchFailure, ImageOutcome, verify_image};
use super::wildcard;
use crate::content::model::{FailureMode, Sp};
use crate::supply::ImageRef;
use crate::supply::cosign::CosignArtifacts;

/// The annotation Kyverno writes with each verified image's result.
pub const VERIFY_IMAGES_ANNOTATION: &str = "kyverno.io/verify-images";

/// Cosign artifacts per normalized image (`ImageRef::to_string`), fetched by the caller.
pub type Artifacts = BTreeMap<String, Result<CosignArtifacts, FetchFailure>>;

/// A rule's result status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every matched image verified.
    Pass,
    /// An image failed verification.
    Fail,
    /// Verification could not run.
    Error,
    /// The rule matched the resource but none of its images is in `imageReferences`.
    Skip,
}

impl Status {
    /// The lowercase word Kyverno's reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Skip => "skip",
        }
    }
}

/// The response of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleResponse {
    /// Policy name (`ns/name` for a namespaced Policy).
    pub policy: String,
    /// Rule name (`autogen-...` for generated rules).
    pub rule: String,
    /// The status.
    pub status: Status,
    /// Kyverno's message.
    pub message: String,
    /// The rule's effective failure action.
    #[serde(skip)]
    pub action: FailureMode,
}

/// A JSON patch operation on the resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Patch {
    /// Always `replace`.
    pub op: &'static str,
    /// JSON pointer to the container image.
    pub path: String,
    /// The new image (`repo:tag@sha256:...`).
    pub value: String,
}

/// A PolicyReport result (wgpolicyk8s.io/v1alpha2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportResult {
    /// Always `kyverno`.
    pub source: &'static str,
    /// Policy name.
    pub policy: String,
    /// Rule name.
    pub rule: String,
    /// `pass`, `fail` or `error`.
    pub result: Status,
    /// Kyverno's message.
    pub message: String,
    /// Whether the result counts.
    pub scored: bool,
    /// From the `policies.kyverno.io/category` annotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// From the `policies.kyverno.io/severity` annotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// `{process: admission review}`.
    pub properties: BTreeMap<&'static str, &'static str>,
}

/// What admission does with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdmissionResult {
    /// Whether the request is admitted.
    pub allowed: bool,
    /// The denial message, as the API server returns it after `denied the request:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial: Option<String>,
    /// Every rule that applied.
    pub rules: Vec<RuleResponse>,
    /// Digest patches (Enforce with `mutateDigest`).
    pub patches: Vec<Patch>,
    /// The value of the `kyverno.io/verify-images` annotation, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_images_annotation: Option<String>,
    /// PolicyReport results (only for admitted requests).
    pub report: Vec<ReportResult>,
}

/// A container image and where it sits in the resource.
struct Container {
    image: String,
    pointer: String,
}

fn containers(object: &Value, pod_spec: &str) -> Vec<Container> {
    let Some(spec) = object.pointer(pod_spec) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(image) = c.get("image").and_then(Value::as_str) {
                out.push(Container {
                    image: image.to_owned(),
                    pointer: format!("{pod_spec}/{list}/{i}/image"),
                });
            }
        }
    }
    out
}

/// Every image a request would need verified, normalized, for the caller to fetch.
pub fn images_to_fetch(object: &Value, policies: &[KyvernoPolicy]) -> Vec<ImageRef> {
    let kind = object["kind"].as_str().unwrap_or("");
    let request = Request {
        object,
        operation: Operation::Create,
        namespace_labels: None,
    };
    let mut images: Vec<ImageRef> = Vec::new();
    for policy in policies {
        for rule in rules_for_kind(policy, kind)
            .iter()
            .filter(|r| applies(r, &request))
        {
            for entry in &rule.rule.verify_images {
                for c in containers(object, rule.pod_spec) {
                    if let Ok(image) = ImageRef::parse(&c.image)
                        && references(entry, &image.to_string())
                        && !images.contains(&image)
                    {
                        images.push(image);
                    }
                }
            }
        }
    }
    images
}

fn references(entry: &VerifyImage, normalized: &str) -> bool {
    entry
        .image_references
        .iter()
        .any(|p| wildcard::matches(p, normalized))
        || entry
            .image
            .as_deref()
            .is_some_and(|p| wildcard::matches(p, normalized))
}

fn fails_closed(policy: &KyvernoPolicy) -> bool {
    let configured = policy
        .spec
        .webhook_configuration
        .as_ref()
        .and_then(|w| w.failure_policy.as_ref())
        .or(policy.spec.failure_policy.as_ref());
    configured.is_none_or(|f| f.as_str() != "Ignore")
}

/// Verification results kept across requests, as Kyverno's image verification cache does
/// (`pkg/imageverifycache/client.go`, on by default through `useCache`): only successful
/// verifications are kept, keyed by policy, rule and image (Kyverno also keys by the policy's
/// resource version; here a cache lives for one set of policies and artifacts).
#[derive(Debug, Default)]
pub struct VerifyCache {
    passed: std::collections::HashMap<(String, String, usize, String), ImageOutcome>,
    /// Lookups answered from the cache.
    pub hits: u64,
}

/// Evaluates one request, with its namespace's labels unknown, against the policies,
/// verifying every image afresh.
pub fn evaluate(
    object: &Value,
    operation: Operation,
    policies: &[KyvernoPolicy],
    artifacts: &Artifacts,
) -> AdmissionResult {
    let request = Request {
        object,
        operation,
        namespace_labels: None,
    };
    evaluate_cached(&request, policies, artifacts, &mut VerifyCache::default())
}

/// `imageReferences` as Go's `%s` prints a string slice: `[a b]`.
fn go_list(entries: &[Sp<VerifyImage>]) -> String {
    let refs: Vec<&str> = entries
        .iter()
        .flat_map(|e| {
            e.image_references
                .iter()
                .map(|r| r.value.as_str())
                .chain(e.image.as_deref())
        })
        .collect();
    format!("[{}]", refs.join(" "))
}

/// Evaluates one request against the policies, reusing successful verifications from `cache`
/// for entries with `useCache` (the default). The namespace's labels, when the request carries
/// them, feed `namespaceSelector`s in `match`/`exclude` and in
/// `validationFailureActionOverrides`.
pub fn evaluate_cached(
    request: &Request<'_>,
    policies: &[KyvernoPolicy],
    artifacts: &Artifacts,
    cache: &mut VerifyCache,
) -> AdmissionResult {
    let object = request.object;
    let kind = object["kind"].as_str().unwrap_or("");
    let no_labels = BTreeMap::new();
    let labels = request.namespace_labels.unwrap_or(&no_labels);
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut rules = Vec::new();
    let mut patches: Vec<Patch> = Vec::new();
    let mut annotation: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut blocked: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut report = Vec::new();
    for policy in policies {
        let policy_name = match &policy.metadata.namespace {
            Some(ns) => format!("{ns}/{}", policy.metadata.name.value),
            None => policy.metadata.name.value.clone(),
        };
        for rule in rules_for_kind(policy, kind)
            .iter()
            .filter(|r| applies(r, request))
        {
            let action = policy.rule_action(rule.rule, namespace, labels);
            let mut outcomes = Vec::new();
            for (entry_index, entry) in rule.rule.verify_images.iter().enumerate() {
                for c in containers(object, rule.pod_spec) {
                    let Ok(image) = ImageRef::parse(&c.image) else {
                        outcomes.push(ImageOutcome::Fail(format!(
                            "failed to verify image {}: invalid image reference",
                            c.image
                        )));
                        continue;
                    };
                    let normalized = image.to_string();
                    if !references(entry, &normalized) {
                        continue;
                    }
                    let fetched = artifacts.get(&normalized).map(|r| r.as_ref());
                    let missing = FetchFailure {
                        network: true,
                        message: "the image's artifacts were not fetched".into(),
                    };
                    let key = (
                        policy_name.clone(),
                        rule.name.clone(),
                        entry_index,
                        normalized.clone(),
                    );
                    let cached = entry
                        .use_cache
                        .unwrap_or(true)
                        .then(|| cache.passed.get(&key).cloned())
                        .flatten();
                    let outcome = match cached {
                        Some(hit) => {
                            cache.hits += 1;
                            hit
                        }
                        None => {
                            let fresh =
                                verify_image(&normalized, entry, fetched.unwrap_or(Err(&missing)));
                            if matches!(fresh, ImageOutcome::Pass(_))
                                && entry.use_cache.unwrap_or(true)
                            {
                                cache.passed.insert(key, fresh.clone());
                            }
                            fresh
                        }
                    };
                    let verified = fetched.and_then(|r| r.ok());
                    record(
                        entry,
                        &image,
                        verified,
                        &outcome,
                        &c,
                        &mut annotation,
                        &mut patches,
                    );
                    let outcome = match (&outcome, verified) {
                        (ImageOutcome::Pass(_), _)
                            if entry.effective_verify_digest()
                                && image.digest.is_none()
                                && !entry.effective_mutate_digest() =>
                        {
                            ImageOutcome::Fail(format!("missing digest for {normalized}"))
                        }
                        _ => outcome,
                    };
                    outcomes.push(outcome);
                }
            }
            let response = summarize(&policy_name, &rule.name, action, outcomes).unwrap_or_else(
                || RuleResponse {
                    // pkg/engine/handlers/mutation/mutate_image.go: no image in imageReferences.
                    policy: policy_name.clone(),
                    rule: rule.name.clone(),
                    status: Status::Skip,
                    message: format!(
                        "skip run verification as image in resource not found in imageRefs '{}'",
                        go_list(&rule.rule.verify_images)
                    ),
                    action,
                },
            );
            let blocks = (response.status == Status::Fail
                && response.action == FailureMode::Enforce)
                || (response.status == Status::Error && fails_closed(policy));
            if blocks {
                blocked
                    .entry(policy_name.clone())
                    .or_default()
                    .insert(response.rule.clone(), response.message.clone());
            }
            report.push(report_result(policy, &response));
            rules.push(response);
        }
    }
    let allowed = blocked.is_empty();
    AdmissionResult {
        allowed,
        denial: (!allowed).then(|| denial_text(object, &blocked)),
        rules,
        patches: if allowed { patches } else { Vec::new() },
        verify_images_annotation: (!annotation.is_empty())
            .then(|| serde_json::to_string(&annotation).expect("a map of strings serializes")),
        report: if allowed { report } else { Vec::new() },
    }
}

/// Records the annotation entry and, for a verified image by tag under `mutateDigest`, the patch.
fn record(
    entry: &VerifyImage,
    image: &ImageRef,
    verified: Option<&CosignArtifacts>,
    outcome: &ImageOutcome,
    container: &Container,
    annotation: &mut BTreeMap<String, &'static str>,
    patches: &mut Vec<Patch>,
) {
    let passed = matches!(outcome, ImageOutcome::Pass(_));
    if !entry.attestors.is_empty() || !entry.attestations.is_empty() {
        let key = verified.map_or_else(
            || image.to_string(),
            |a| image.with_digest(a.digest.as_str()).to_string(),
        );
        annotation.insert(key, if passed { "pass" } else { "fail" });
    }
    if let (true, Some(artifacts), None) = (
        passed && entry.effective_mutate_digest(),
        verified,
        &image.digest,
    ) {
        let tag = image.tag.as_deref().unwrap_or("latest");
        let value = format!("{}:{tag}@{}", image.repository(), artifacts.digest);
        if !patches.iter().any(|p| p.path == container.pointer) {
            patches.push(Patch {
                op: "replace",
                path: container.pointer.clone(),
                value,
            });
        }
    }
}

/// One response per rule: the first error or failure wins, else the last pass.
fn summarize(
    policy: &str,
    rule: &str,
    action: FailureMode,
    outcomes: Vec<ImageOutcome>,
) -> Option<RuleResponse> {
    let pick = outcomes
        .iter()
        .find(|o| matches!(o, ImageOutcome::Error(_)))
        .or_else(|| outcomes.iter().find(|o| matches!(o, ImageOutcome::Fail(_))))
        .or_else(|| outcomes.last())?;
    let (status, message) = match pick {
        ImageOutcome::Pass(m) => (Status::Pass, m),
        ImageOutcome::Fail(m) => (Status::Fail, m),
        ImageOutcome::Error(m) => (Status::Error, m),
    };
    Some(RuleResponse {
        policy: policy.to_owned(),
        rule: rule.to_owned(),
        status,
        message: message.clone(),
        action,
    })
}

fn report_result(policy: &KyvernoPolicy, response: &RuleResponse) -> ReportResult {
    let annotation = |key: &str| policy.metadata.annotations.get(key).cloned();
    ReportResult {
        source: "kyverno",
        policy: response.policy.clone(),
        rule: response.rule.clone(),
        result: response.status,
        message: response.message.clone(),
        scored: true,
        category: annotation("policies.kyverno.io/category"),
        severity: annotation("policies.kyverno.io/severity"),
        properties: BTreeMap::from([("process", "admission review")]),
    }
}

/// `\n\nresource <Kind>/<ns>/<name> was blocked due to the following policies \n\n<yaml>`.
fn denial_text(object: &Value, blocked: &BTreeMap<String, BTreeMap<String, String>>) -> String {
    let kind = object["kind"].as_str().unwrap_or("");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut text = format!(
        "\n\nresource {kind}/{namespace}/{name} was blocked due to the following policies \n\n"
    );
    for (policy, rules) in blocked {
        text.push_str(&format!("{}:\n", yaml_scalar(policy, 0)));
        for (rule, message) in rules {
            text.push_str(&format!(
                "  {}: {}\n",
                yaml_scalar(rule, 2),
                yaml_scalar(message, 2)
            ));
        }
    }
    text
}

/// A string as go-yaml v3 writes it: plain when it can be, single-quoted when it contains
/// `: ` or ` #` or starts with an indicator, a literal block when it has newlines.
fn yaml_scalar(s: &str, indent: usize) -> String {
    if s.contains('\n') {
        let pad = " ".repeat(indent + 2);
        return format!(
            "|-\n{}",
            s.lines()
                .map(|l| format!("{pad}{l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let needs_quotes = s.is_empty()
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        || s.ends_with(char::is_whitespace);
    if needs_quotes {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
#[path = "evaluate_tests.rs"]
mod behaviour_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_scalars_are_quoted_as_go_yaml_v3_quotes_them() {
        assert_eq!(yaml_scalar("check-image", 2), "check-image");
        assert_eq!(
            yaml_scalar("failed to verify image x: no signatures found", 2),
            "'failed to verify image x: no signatures found'"
        );
        assert_eq!(yaml_scalar("it's: here", 2), "'it''s: here'");
        assert_eq!(yaml_scalar("a\nb", 2), "|-\n    a\n    b");
    }

    // The expectation of Kyverno's own unit test, pkg/webhooks/utils/block_test.go.
    #[test]
    fn denial_text_has_kyvernos_shape() {
        let object =
            serde_json::json!({"kind": "foo", "metadata": {"name": "baz", "namespace": "bar"}});
        let blocked = BTreeMap::from([(
            "test".to_owned(),
            BTreeMap::from([("rule-fail".to_owned(), "message fail".to_owned())]),
        )]);
        assert_eq!(
            denial_text(&object, &blocked),
            "\n\nresource foo/bar/baz was blocked due to the following policies \n\ntest:\n  rule-fail: message fail\n"
        );
    }
}
