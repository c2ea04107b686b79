//! Kyverno's mutating-webhook half of `verifyImages` for one policy: every matching image is
//! verified, recorded in the verification metadata and, under `mutateDigest`, pinned to its
//! digest. Mirrors `pkg/engine/image_verify.go`, `pkg/engine/handlers/mutation/mutate_image.go`
//! and `pkg/engine/internal/imageverifier.go` (`Verify`, `verifyImage`, `handleMutateDigest`)
//! in kyverno/kyverno v1.19.0, including their quirks:
//! - a rule with no image in any entry's `imageReferences` gives no response at all;
//! - the images of a rule are those matching *any* of its entries, listed once per matching
//!   entry, and each entry then answers for each of them: an entry whose own references miss
//!   the image answers `skip` (`skipping image reference image ...`);
//! - each entry records its answer in the verification metadata under the image as it then
//!   names it (pinned, when its own `mutateDigest` pinned it), the later entry's answer
//!   overwriting: a second entry that does not reference the image records `skip` over the
//!   first entry's `pass`;
//! - the verification cache is keyed by policy, rule and image, not by entry
//!   (`pkg/image/verification/cache/client.go` `generateKey`), so with the cache on (the
//!   chart's default) that second entry is answered from the first one's pass; `lab admit
//!   --no-verify-cache` judges as a Kyverno started with `--imageVerifyCacheEnabled=false`.

use serde_json::Value;

use super::autogen::rules_for_kind;
use super::conditions::{ConditionError, preconditions_hold, request_context};
use super::evaluate::{Artifacts, Container, Patch, Phase, RuleResponse, Status, containers};
use super::image_metadata::{ImageStatus, VerifiedImages};
use super::matching::{Request, applies, policy_in_scope};
use super::model::FailureMode;
use super::model::{KyvernoPolicy, VerifyImage};
use super::verify_entry::{FetchFailure, ImageOutcome, RuleValidation, verify_image_in};
use crate::supply::ImageRef;
use crate::wildcard;

/// Successful verifications kept across requests, as Kyverno's image verification cache does
/// (on by default through `useCache`; only passes are stored). Kyverno also keys by the
/// policy's UID and resource version; here one cache lives for one set of policies.
#[derive(Debug, Default)]
pub struct VerifyCache {
    passed: std::collections::HashSet<(String, String, String)>,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Kyverno started with `--imageVerifyCacheEnabled=false`: nothing is kept or reused
    /// (`GetWithPayload` and `SetWithPayload` return at once).
    off: bool,
}

impl VerifyCache {
    /// The cache of a Kyverno started with `--imageVerifyCacheEnabled=false`.
    pub fn disabled() -> Self {
        VerifyCache {
            off: true,
            ..VerifyCache::default()
        }
    }
}

/// Whether `normalized` matches one of the entry's `imageReferences` (or the deprecated
/// `image`).
pub fn references(entry: &VerifyImage, normalized: &str) -> bool {
    entry
        .image_references
        .iter()
        .any(|p| wildcard::matches(p, normalized))
        || entry
            .image
            .as_deref()
            .is_some_and(|p| wildcard::matches(p, normalized))
}

fn skips(entry: &VerifyImage, normalized: &str) -> bool {
    entry
        .skip_image_references
        .iter()
        .any(|p| wildcard::matches(p, normalized))
}

/// The rule's images as `GetMatchingImages` lists them: each container once per entry whose
/// references it matches. Unparseable images are kept so that they can be reported.
fn matching_images<'c>(
    entries: &[crate::spanned::Spanned<VerifyImage>],
    containers: &'c [Container],
) -> Vec<(&'c Container, Option<ImageRef>)> {
    let mut out = Vec::new();
    for c in containers {
        let parsed = ImageRef::parse(&c.image).ok();
        let normalized = parsed
            .as_ref()
            .map_or_else(|| c.image.clone(), ImageRef::to_string);
        for entry in entries {
            if references(entry, &normalized) || parsed.is_none() {
                out.push((c, parsed.clone()));
            }
        }
    }
    out
}

/// What the mutating webhook made of one policy.
#[derive(Debug, Default)]
pub struct PolicyMutation {
    /// One response per rule and verified image.
    pub responses: Vec<RuleResponse>,
    /// Digest patches.
    pub patches: Vec<Patch>,
}

/// One rule of one policy at work: what its responses carry.
struct RuleRun<'a> {
    policy: &'a KyvernoPolicy,
    rule: &'a str,
    action: FailureMode,
    /// The rule's `validate` blocks, when it has any.
    validation: Option<RuleValidation<'a>>,
}

impl RuleRun<'_> {
    fn respond(&self, status: Status, message: String) -> RuleResponse {
        RuleResponse {
            policy: self.policy.metadata.name.value.clone(),
            policy_namespace: self.policy.metadata.namespace.clone(),
            rule: self.rule.to_owned(),
            status,
            message,
            phase: Phase::Mutate,
            action: self.action,
        }
    }

    fn policy_namespace(&self) -> &str {
        self.policy.metadata.namespace.as_deref().unwrap_or("")
    }

    fn policy_name(&self) -> &str {
        &self.policy.metadata.name.value
    }
}

/// Runs the policy's `verifyImages` rules over `request`, recording metadata in `ivm`.
pub fn mutate_policy(
    policy: &KyvernoPolicy,
    request: &Request<'_>,
    artifacts: &Artifacts,
    cache: &mut VerifyCache,
    ivm: &mut VerifiedImages,
) -> PolicyMutation {
    let object = request.object;
    let kind = object["kind"].as_str().unwrap_or("");
    let mut out = PolicyMutation::default();
    if !policy_in_scope(policy, object) {
        return out;
    }
    let mut state = State {
        artifacts,
        cache,
        ivm,
        out: &mut out,
    };
    // Kyverno's context as far as it is known here, made for the first rule that reads it.
    let mut context = None;
    for rule in rules_for_kind(policy, kind)
        .iter()
        .filter(|r| !r.rule.verify_images.is_empty() && applies(r, request))
    {
        let all = containers(object, rule.pod_spec);
        let images = matching_images(&rule.rule.verify_images, &all);
        if images.is_empty() {
            continue;
        }
        let mut run = RuleRun {
            policy,
            rule: &rule.name,
            action: policy.rule_action(rule.rule, request.namespace_name(), request.labels()),
            validation: None,
        };
        if let Some(what) = not_evaluated(rule.rule) {
            state.out.responses.push(run.respond(
                Status::Undecided,
                format!("{what} of this rule cannot be evaluated offline, so its verdict is not known here; check the rule in a cluster"),
            ));
            continue;
        }
        if let Some(preconditions) = &rule.rule.preconditions {
            let known = context.get_or_insert_with(|| request_context(request));
            if let Some((status, message)) =
                preconditions_verdict(preconditions, &known.data, known.known)
            {
                state.out.responses.push(run.respond(status, message));
                continue;
            }
        }
        // `validate` blocks make the rule's attestation checks read Kyverno's context.
        let blocks: Vec<&Value> = rule
            .rule
            .verify_images
            .iter()
            .filter_map(|e| e.validate.as_ref())
            .collect();
        if !blocks.is_empty() {
            let known = context.get_or_insert_with(|| request_context(request));
            run.validation = Some(RuleValidation {
                rule: &rule.name,
                attesting_entries: rule
                    .rule
                    .verify_images
                    .iter()
                    .filter(|e| !e.attestations.is_empty())
                    .count(),
                entries: rule.rule.verify_images.len(),
                blocks,
                request: &known.json,
                known: known.known,
            });
        }
        for entry in &rule.rule.verify_images {
            for (container, parsed) in &images {
                let Some(image) = parsed else {
                    state.out.responses.push(run.respond(
                        Status::Error,
                        format!("failed to add image to context {}", container.image),
                    ));
                    continue;
                };
                verify_container(&run, entry, image, container, &mut state);
            }
        }
    }
    out
}

/// What a rule's `preconditions` make of it before any image is verified
/// (`engine.go` `invokeRuleHandler`): nothing when they hold; else the rule's response, a skip
/// (`preconditions not met`, with the false conditions' messages), an error, or undecided when
/// this evaluator cannot tell.
pub fn preconditions_verdict(
    preconditions: &Value,
    context: &jmespath::Rcvar,
    known: &[&[&str]],
) -> Option<(Status, String)> {
    match preconditions_hold(preconditions, context, known) {
        Ok(None) => None,
        Ok(Some(message)) if message.is_empty() => {
            Some((Status::Skip, "preconditions not met".to_owned()))
        }
        Ok(Some(message)) => Some((Status::Skip, format!("preconditions not met; {message}"))),
        Err(ConditionError::Kyverno(why)) => Some((
            Status::Error,
            format!("failed to evaluate preconditions: {why}"),
        )),
        Err(ConditionError::Unsupported(why)) => Some((
            Status::Undecided,
            format!(
                "the `preconditions` of this rule cannot be evaluated offline ({why}), so its verdict is not known here; check the rule in a cluster"
            ),
        )),
    }
}

/// Parts of a rule that decide whether it runs or which images it sees, and that this
/// evaluator does not evaluate: a verdict without them could be wrong either way.
pub fn not_evaluated(rule: &crate::policy::model::Rule) -> Option<&'static str> {
    if !rule.cel_preconditions.is_empty() {
        Some("the `celPreconditions`")
    } else if !rule.context.is_empty() {
        Some("the `context` entries")
    } else if rule.image_extractors.is_some() {
        Some("the `imageExtractors`")
    } else {
        None
    }
}

/// What the verification of one policy reads and writes.
struct State<'a> {
    artifacts: &'a Artifacts,
    cache: &'a mut VerifyCache,
    ivm: &'a mut VerifiedImages,
    out: &'a mut PolicyMutation,
}

/// `Verify` for one image of the rule under one entry: the verification (or the cache), then
/// the digest pin, then the record in the verification metadata.
fn verify_container(
    run: &RuleRun<'_>,
    entry: &VerifyImage,
    image: &ImageRef,
    container: &Container,
    state: &mut State<'_>,
) {
    let State {
        artifacts,
        cache,
        ivm,
        out,
    } = state;
    // The deprecated `key` is an attestor too (`Convert` in image_verification_types.go).
    let verifies =
        !entry.attestors.is_empty() || !entry.attestations.is_empty() || entry.key.is_some();
    let mut shown = image.to_string();
    // An entry's `repository`: the signatures were fetched from there, under their own key.
    let key = match entry
        .repository
        .as_deref()
        .and_then(|r| ImageRef::parse(r).ok())
    {
        Some(repository) => super::fetch::artifacts_key(&shown, &repository.repository()),
        None => shown.clone(),
    };
    let fetched = artifacts.get(&key).map(|r| r.as_ref());
    let mut outcome = outcome(run, entry, &shown, fetched, verifies, cache, ivm)
        .map(|(status, message)| run.respond(status, message));
    if entry.effective_mutate_digest() && image.digest.is_none() {
        // handleMutateDigest: pinned to the verified digest, or to the tag's when unverified.
        match fetched {
            Some(Ok(a)) => {
                let tag = image.tag.as_deref().unwrap_or("latest");
                push_unique(
                    &mut out.patches,
                    Patch {
                        op: "replace",
                        path: container.pointer.clone(),
                        value: Value::String(format!("{}:{tag}@{}", image.repository(), a.digest)),
                    },
                );
                outcome.get_or_insert_with(|| {
                    run.respond(Status::Pass, "mutated image digest".into())
                });
                shown = image.with_digest(a.digest.as_str()).to_string();
            }
            Some(Err(f)) => out.responses.push(run.respond(
                Status::Error,
                format!("failed to update digest: {}", f.message),
            )),
            None => {}
        }
    }
    if let Some(response) = outcome {
        if verifies {
            let status = match response.status {
                Status::Pass => ImageStatus::Pass,
                Status::Skip => ImageStatus::Skip,
                _ => ImageStatus::Fail,
            };
            ivm.add_scoped(
                run.policy_namespace(),
                run.policy_name(),
                run.rule,
                &shown,
                status,
            );
        }
        out.responses.push(response);
    }
}

/// The verification part of `Verify` and `verifyImage`: a cached pass, nothing for an entry
/// without attestors, a skip for an image this entry does not reference or skips, else the
/// entry's verdict (a pass is cached).
fn outcome(
    run: &RuleRun<'_>,
    entry: &VerifyImage,
    shown: &str,
    fetched: Option<Result<&crate::supply::cosign::CosignArtifacts, &FetchFailure>>,
    verifies: bool,
    cache: &mut VerifyCache,
    ivm: &mut VerifiedImages,
) -> Option<(Status, String)> {
    // Kyverno keys by the policy's UID; its `<ns>/<name>` is as unique here.
    let key = (
        format!("{}/{}", run.policy_namespace(), run.policy_name()),
        run.rule.to_owned(),
        shown.to_owned(),
    );
    let use_cache = !cache.off && entry.use_cache.unwrap_or(true);
    if use_cache && cache.passed.contains(&key) {
        cache.hits += 1;
        return Some((Status::Pass, "verified from cache".to_owned()));
    }
    if !verifies {
        return None;
    }
    if !references(entry, shown) {
        return Some((
            Status::Skip,
            skip_message(shown, run.policy_name(), run.rule),
        ));
    }
    if skips(entry, shown) {
        ivm.add(shown, ImageStatus::Skip);
        return Some((
            Status::Skip,
            skip_message(shown, run.policy_name(), run.rule),
        ));
    }
    let missing = FetchFailure {
        network: true,
        message: "the image's artifacts were not fetched".into(),
    };
    Some(
        match verify_image_in(
            shown,
            entry,
            fetched.unwrap_or(Err(&missing)),
            run.validation.as_ref(),
        ) {
            ImageOutcome::Pass(m) => {
                if use_cache {
                    cache.passed.insert(key);
                }
                (Status::Pass, m)
            }
            ImageOutcome::Fail(m) => (Status::Fail, m),
            ImageOutcome::Error(m) => (Status::Error, m),
            ImageOutcome::Undecided(m) => (Status::Undecided, m),
        },
    )
}

/// `imageverifier.go`'s wording for an image an entry does not verify.
fn skip_message(image: &str, policy: &str, rule: &str) -> String {
    format!("skipping image reference image {image}, policy {policy} ruleName {rule}")
}

/// Kyverno joins every policy's patches; two policies pinning the same image write the same
/// `replace` twice, which is kept once here.
pub(super) fn push_unique(patches: &mut Vec<Patch>, patch: Patch) {
    if !patches.contains(&patch) {
        patches.push(patch);
    }
}
