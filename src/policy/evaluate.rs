//! The offline admission evaluator: what Kyverno v1.19 does with a request, given the policies
//! and each image's cosign artifacts (fetched beforehand by the caller, from a registry or a
//! layout). Like Kyverno it runs in two webhooks:
//! 1. the mutating webhook verifies the images ([`super::mutate_images`]), blocks the request
//!    or returns its patches: the digest pins and the verification annotations;
//! 2. the validating webhook sees the patched resource and runs `verifyDigest` and `required`
//!    ([`super::validate_images`]); it may block too.
//!
//! Kyverno registers each webhook twice, `-fail` for policies whose failure policy is `Fail`
//! (the default) and `-ignore` for the others; the API server calls them in name order and
//! stops at the first denial, so the `-fail` webhook speaks first.
//!
//! Kyverno sources mirrored (v1.19.0): `pkg/webhooks/resource/handlers.go` and
//! `imageverification/handler.go` (the webhooks), `pkg/engine/api/engineresponse.go` (rule
//! action precedence), `pkg/utils/engine/response.go` (`BlockRequest`),
//! `pkg/webhooks/utils/block.go` (denial text), `pkg/utils/report/results.go` (report results).
//! Where Kyverno iterates images from a Go map (so which image's message a rule reports is not
//! deterministic), this evaluator uses container order; like Kyverno, the last message of a
//! rule is the one the denial shows.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::autogen::rules_for_kind;
use super::denial::denial_text;
use super::image_metadata::{ScopedRecords, VerifiedImages};
use super::matching::{Operation, Request, applies, policy_in_scope};
use super::model::FailureMode;
use super::model::KyvernoPolicy;
pub use super::mutate_images::VerifyCache;
use super::mutate_images::{mutate_policy, push_unique, references};
use super::validate_images::validate_policy;
use super::verify_entry::FetchFailure;
use crate::supply::ImageRef;
use crate::supply::cosign::CosignArtifacts;

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
    /// The image was not verified by this entry (`skipImageReferences`, or another entry's
    /// reference).
    Skip,
    /// A failure of a policy annotated `policies.kyverno.io/scored: "false"` (reports only).
    Warn,
    /// Not Kyverno's: the offline evaluator cannot tell what Kyverno would answer (a JMESPath
    /// it does not support, `preconditions`, an attestor it cannot check offline...). A request
    /// with such a response has no verdict here ([`AdmissionResult::undecided`]).
    Undecided,
}

impl Status {
    /// The lowercase word Kyverno's reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Undecided => "undecided",
        }
    }
}

/// Which webhook produced a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The mutating webhook: signatures, attestations, digest pins.
    Mutate,
    /// The validating webhook: `verifyDigest` and `required`.
    Validate,
}

impl Phase {
    /// `mutate` or `validate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Mutate => "mutate",
            Phase::Validate => "validate",
        }
    }

    /// The webhook's name, as the API server quotes it in a denial.
    pub fn webhook(self, fails_closed: bool) -> &'static str {
        match (self, fails_closed) {
            (Phase::Mutate, true) => "mutate.kyverno.svc-fail",
            (Phase::Mutate, false) => "mutate.kyverno.svc-ignore",
            (Phase::Validate, true) => "validate.kyverno.svc-fail",
            (Phase::Validate, false) => "validate.kyverno.svc-ignore",
        }
    }
}

/// The response of one rule (for one image, in the mutating webhook).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleResponse {
    /// Policy name.
    pub policy: String,
    /// The namespace of a namespaced `Policy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_namespace: Option<String>,
    /// Rule name (`autogen-...` for generated rules).
    pub rule: String,
    /// The status.
    pub status: Status,
    /// Kyverno's message.
    pub message: String,
    /// The webhook that produced it.
    pub phase: Phase,
    /// The rule's effective failure action.
    #[serde(skip)]
    pub action: FailureMode,
}

/// A JSON patch operation on the resource, as the mutating webhook returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Patch {
    /// `add` or `replace`.
    pub op: &'static str,
    /// JSON pointer.
    pub path: String,
    /// The new value (`repo:tag@sha256:...` for a digest pin).
    pub value: Value,
}

/// A PolicyReport result (wgpolicyk8s.io/v1alpha2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportResult {
    /// Always `kyverno`.
    pub source: &'static str,
    /// `<name>` for a ClusterPolicy, `<ns>/<name>` for a Policy.
    pub policy: String,
    /// Rule name.
    pub rule: String,
    /// `pass`, `fail`, `warn`, `error` or `skip`.
    pub result: Status,
    /// Kyverno's message.
    pub message: String,
    /// False when the policy is annotated `policies.kyverno.io/scored: "false"`.
    pub scored: bool,
    /// From the `policies.kyverno.io/category` annotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// From the `policies.kyverno.io/severity` annotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// `process`: `background scan` when the policy has `background` on (the default),
    /// `admission review` otherwise.
    pub properties: BTreeMap<&'static str, &'static str>,
}

/// What admission does with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdmissionResult {
    /// Whether the request is admitted.
    pub allowed: bool,
    /// The webhook that denied it, e.g. `mutate.kyverno.svc-fail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_by: Option<&'static str>,
    /// The denial message, as the API server returns it after `denied the request:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial: Option<String>,
    /// Every response, mutating webhook first.
    pub rules: Vec<RuleResponse>,
    /// The mutating webhook's patches: the annotations first, then the digest pins (only for
    /// admitted requests).
    pub patches: Vec<Patch>,
    /// The verification annotations the admitted resource carries.
    pub annotations: BTreeMap<&'static str, String>,
    /// The results Kyverno's admission writes for an admitted request: those of the mutating
    /// webhook, then those of the validating one. Kyverno's PolicyReport keeps one result per
    /// rule, the later one; when both land in the same second it keeps whichever it reads
    /// first, so a check must accept either.
    pub report: Vec<ReportResult>,
    /// Why no policy saw the request, when Kyverno's configuration left it out
    /// (`policy::kyverno_config`): it is admitted untouched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_out: Option<String>,
    /// What the offline evaluator could not decide, and why: when not empty, the request has
    /// no verdict here (`allowed` is false, nothing was denied, and no patch, annotation or
    /// report result is known).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<String>,
}

impl AdmissionResult {
    /// A request Kyverno's configuration leaves out, for `why`: admitted, untouched.
    pub fn left_out(why: String) -> Self {
        AdmissionResult {
            allowed: true,
            denied_by: None,
            denial: None,
            rules: Vec::new(),
            patches: Vec::new(),
            annotations: BTreeMap::new(),
            report: Vec::new(),
            left_out: Some(why),
            undecided: Vec::new(),
        }
    }

    /// Whether the offline evaluator could not decide the request.
    pub fn is_undecided(&self) -> bool {
        !self.undecided.is_empty()
    }

    /// Every response of a policy's rule (a test's `policy` may be `ns/name`).
    pub fn responses<'a>(
        &'a self,
        policy: &'a str,
        rule: &'a str,
    ) -> impl Iterator<Item = &'a RuleResponse> {
        let name = policy.rsplit('/').next().unwrap_or(policy);
        self.rules
            .iter()
            .filter(move |r| r.policy == name && r.rule == rule)
    }
}

/// A container image and where it sits in the resource.
#[derive(Debug, Clone)]
pub struct Container {
    /// The image as written.
    pub image: String,
    /// JSON pointer to it.
    pub pointer: String,
}

/// The images of init, regular and ephemeral containers of the pod spec at `pod_spec`.
pub fn containers(object: &Value, pod_spec: &str) -> Vec<Container> {
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

/// Every image a request would need verified, normalized, for the caller to fetch: those of
/// the rules that apply to it (namespace labels included) and are in `imageReferences`.
pub fn images_to_fetch(request: &Request<'_>, policies: &[KyvernoPolicy]) -> Vec<ImageRef> {
    let object = request.object;
    let kind = object["kind"].as_str().unwrap_or("");
    let mut images: Vec<ImageRef> = Vec::new();
    for policy in policies.iter().filter(|p| policy_in_scope(p, object)) {
        for rule in rules_for_kind(policy, kind)
            .iter()
            .filter(|r| applies(r, request))
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

/// The images whose signatures an entry's `repository` keeps elsewhere, each with that
/// repository: their artifacts are fetched from there ([`super::fetch::fetch_with`]).
pub fn repositories_to_fetch(
    request: &Request<'_>,
    policies: &[KyvernoPolicy],
) -> Vec<(ImageRef, ImageRef)> {
    let object = request.object;
    let kind = object["kind"].as_str().unwrap_or("");
    let mut pairs: Vec<(ImageRef, ImageRef)> = Vec::new();
    for policy in policies.iter().filter(|p| policy_in_scope(p, object)) {
        for rule in rules_for_kind(policy, kind)
            .iter()
            .filter(|r| applies(r, request))
        {
            for entry in &rule.rule.verify_images {
                let Some(repository) = entry
                    .repository
                    .as_deref()
                    .and_then(|r| ImageRef::parse(r).ok())
                else {
                    continue;
                };
                for c in containers(object, rule.pod_spec) {
                    if let Ok(image) = ImageRef::parse(&c.image)
                        && references(entry, &image.to_string())
                        && !pairs.iter().any(|(i, r)| *i == image && *r == repository)
                    {
                        pairs.push((image, repository.clone()));
                    }
                }
            }
        }
    }
    pairs
}

/// Whether the policy's failure policy is `Fail` (the default): its errors then block.
fn fails_closed(policy: &KyvernoPolicy) -> bool {
    let configured = policy
        .spec
        .webhook_configuration
        .as_ref()
        .and_then(|w| w.failure_policy.as_ref())
        .or(policy.spec.failure_policy.as_ref());
    configured.is_none_or(|f| f.as_str() != "Ignore")
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

/// `BlockRequest` over one webhook's responses: a failure whose rule resolves to Enforce, or
/// an error when the webhook's failure policy is `Fail`.
fn blocks(responses: &[RuleResponse], fails_closed: bool) -> bool {
    responses.iter().any(|r| {
        (r.status == Status::Fail && r.action == FailureMode::Enforce)
            || (r.status == Status::Error && fails_closed)
    })
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
    let groups: Vec<(bool, Vec<&KyvernoPolicy>)> = [true, false]
        .into_iter()
        .map(|fail| {
            let group = policies
                .iter()
                .filter(|p| fails_closed(p) == fail)
                .collect();
            (fail, group)
        })
        .collect();
    let mut rules = Vec::new();
    let mut ivm = VerifiedImages::default();
    let mut image_patches = Vec::new();
    for (fail, group) in &groups {
        let start = rules.len();
        for policy in group {
            let out = mutate_policy(policy, request, artifacts, cache, &mut ivm);
            rules.extend(out.responses);
            for patch in out.patches {
                push_unique(&mut image_patches, patch);
            }
        }
        if rules.iter().any(|r| r.status == Status::Undecided) {
            return undecided(rules);
        }
        if blocks(&rules[start..], *fail) {
            return denied(request.object, Phase::Mutate.webhook(*fail), rules, start);
        }
    }
    let has_annotations = request
        .object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| !a.is_empty());
    let annotations = ivm.annotations();
    let mut patches = VerifiedImages::patches(&annotations, has_annotations);
    patches.extend(image_patches);
    let mutated = apply_patches(request.object, &patches);
    let validating = Request {
        object: &mutated,
        ..request.clone()
    };
    let records = ScopedRecords::of(&mutated);
    for (fail, group) in &groups {
        let start = rules.len();
        for policy in group {
            rules.extend(validate_policy(policy, &validating, &records));
        }
        if rules.iter().any(|r| r.status == Status::Undecided) {
            return undecided(rules);
        }
        if blocks(&rules[start..], *fail) {
            return denied(request.object, Phase::Validate.webhook(*fail), rules, start);
        }
    }
    let report = rules
        .iter()
        .filter_map(|r| {
            let policy = policies.iter().find(|p| {
                p.metadata.name.value == r.policy && p.metadata.namespace == r.policy_namespace
            })?;
            Some(report_result(policy, r))
        })
        .collect();
    AdmissionResult {
        allowed: true,
        denied_by: None,
        denial: None,
        rules,
        patches,
        annotations,
        report,
        left_out: None,
        undecided: Vec::new(),
    }
}

/// A request some response of which the offline evaluator could not decide: no verdict, and
/// every such response's reason.
fn undecided(rules: Vec<RuleResponse>) -> AdmissionResult {
    let reasons = rules
        .iter()
        .filter(|r| r.status == Status::Undecided)
        .map(|r| format!("{}/{}: {}", r.policy, r.rule, r.message))
        .collect();
    AdmissionResult {
        allowed: false,
        denied_by: None,
        denial: None,
        rules,
        patches: Vec::new(),
        annotations: BTreeMap::new(),
        report: Vec::new(),
        left_out: None,
        undecided: reasons,
    }
}

/// The request denied by `webhook`, whose responses are `rules[from..]`.
fn denied(
    object: &Value,
    webhook: &'static str,
    rules: Vec<RuleResponse>,
    from: usize,
) -> AdmissionResult {
    AdmissionResult {
        allowed: false,
        denied_by: Some(webhook),
        denial: Some(denial_text(object, &rules[from..])),
        rules,
        patches: Vec::new(),
        annotations: BTreeMap::new(),
        report: Vec::new(),
        left_out: None,
        undecided: Vec::new(),
    }
}

/// The resource with JSON patches applied (`add` and `replace` of object members and array
/// elements, which is all the evaluator produces).
pub fn apply_patches(object: &Value, patches: &[Patch]) -> Value {
    let mut out = object.clone();
    for patch in patches {
        let Some((parent, last)) = patch.path.rsplit_once('/') else {
            continue;
        };
        let key = if last.contains('~') {
            last.replace("~1", "/").replace("~0", "~")
        } else {
            last.to_owned()
        };
        match out.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.insert(key, patch.value.clone());
            }
            Some(Value::Array(items)) => {
                if let Some(slot) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    *slot = patch.value.clone();
                }
            }
            _ => {}
        }
    }
    out
}

fn report_result(policy: &KyvernoPolicy, response: &RuleResponse) -> ReportResult {
    let annotation = |key: &str| policy.metadata.annotations.get(key).cloned();
    let scored = annotation("policies.kyverno.io/scored").as_deref() != Some("false");
    let background = policy.spec.background.as_ref().is_none_or(|b| b.value);
    let process = if background {
        "background scan"
    } else {
        "admission review"
    };
    ReportResult {
        source: "kyverno",
        policy: policy.key(),
        rule: response.rule.clone(),
        result: match response.status {
            Status::Fail if !scored => Status::Warn,
            other => other,
        },
        message: response.message.clone(),
        scored,
        category: annotation("policies.kyverno.io/category"),
        severity: annotation("policies.kyverno.io/severity"),
        properties: BTreeMap::from([("process", process)]),
    }
}

#[cfg(test)]
#[path = "evaluate_tests.rs"]
pub(crate) mod behaviour_tests;
