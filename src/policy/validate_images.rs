//! Kyverno's validating-webhook half of `verifyImages` for one policy: on the resource as the
//! mutating webhook left it (digests pinned, annotations written), every image an entry
//! references must carry a digest under `verifyDigest` (`missing digest for <image>`) and,
//! under `required`, be recorded as verified for this policy and rule in the scoped annotation
//! (`unverified image <image>`). Mirrors `pkg/engine/handlers/validation/validate_image.go`
//! and `pkg/engine/validation.go` in kyverno/kyverno v1.19.0. `skipImageReferences` is not
//! consulted here, as in Kyverno: a skipped image passes `required` through its `skip` record,
//! but still needs a digest under `verifyDigest`.

use super::autogen::rules_for_kind;
use super::conditions::request_context;
use super::evaluate::{Phase, RuleResponse, Status, containers};
use super::image_metadata::{ImageStatus, ScopedRecords};
use super::matching::{Request, applies, policy_in_scope};
use super::model::{KyvernoPolicy, Rule};
use super::mutate_images::{not_evaluated, preconditions_verdict, references};
use crate::supply::ImageRef;

/// `Rule.HasVerifyImageChecks`: an entry with `verifyDigest` or `required` (both default true).
pub fn has_checks(rule: &Rule) -> bool {
    rule.verify_images
        .iter()
        .any(|e| e.effective_verify_digest() || e.effective_required())
}

/// Runs the policy's image checks over `request.object`, the mutated resource, whose scoped
/// annotation `records` holds.
pub fn validate_policy(
    policy: &KyvernoPolicy,
    request: &Request<'_>,
    records: &ScopedRecords,
) -> Vec<RuleResponse> {
    let object = request.object;
    let kind = object["kind"].as_str().unwrap_or("");
    let (namespace, labels) = (request.namespace_name(), request.labels());
    let policy_namespace = policy.metadata.namespace.as_deref().unwrap_or("");
    let policy_name = policy.metadata.name.value.as_str();
    let mut out = Vec::new();
    if !policy_in_scope(policy, object) {
        return out;
    }
    let mut context = None;
    for rule in rules_for_kind(policy, kind)
        .iter()
        .filter(|r| has_checks(r.rule) && applies(r, request) && not_evaluated(r.rule).is_none())
    {
        let images: Vec<(String, bool)> = containers(object, rule.pod_spec)
            .iter()
            .filter_map(|c| ImageRef::parse(&c.image).ok())
            .map(|i| (i.to_string(), i.digest.is_some()))
            .collect();
        let entries = &rule.rule.verify_images;
        if !images
            .iter()
            .any(|(i, _)| entries.iter().any(|e| references(e, i)))
        {
            continue;
        }
        let respond = |status, message: String| RuleResponse {
            policy: policy_name.to_owned(),
            policy_namespace: policy.metadata.namespace.clone(),
            rule: rule.name.clone(),
            status,
            message,
            phase: Phase::Validate,
            action: policy.rule_action(rule.rule, namespace, labels),
        };
        if let Some(preconditions) = &rule.rule.preconditions {
            let known = context.get_or_insert_with(|| request_context(request));
            match preconditions_verdict(preconditions, &known.data, known.known) {
                // Undecided: the mutating webhook's response already says so.
                Some((Status::Undecided, _)) => continue,
                Some((status, message)) => {
                    out.push(respond(status, message));
                    continue;
                }
                None => {}
            }
        }
        let mut passed = Vec::new();
        let mut skipped = Vec::new();
        let mut failure = None;
        'entries: for entry in entries {
            for (image, pinned) in images.iter().filter(|(i, _)| references(entry, i)) {
                if entry.effective_verify_digest() && !pinned {
                    failure = Some(format!("missing digest for {image}"));
                    break 'entries;
                }
                if !entry.effective_required() {
                    continue;
                }
                match records.status(policy_namespace, policy_name, &rule.name, image) {
                    Err(why) => {
                        failure = Some(why);
                        break 'entries;
                    }
                    Ok(ImageStatus::Fail) => {
                        failure = Some(format!("unverified image {image}"));
                        break 'entries;
                    }
                    Ok(ImageStatus::Skip) => skipped.push(image.clone()),
                    Ok(ImageStatus::Pass) => passed.push(image.clone()),
                }
            }
        }
        out.push(match failure {
            Some(message) => respond(Status::Fail, message),
            None if !passed.is_empty() || skipped.is_empty() => {
                if skipped.is_empty() {
                    respond(Status::Pass, "image verified".into())
                } else {
                    respond(
                        Status::Pass,
                        format!("image verified, skipped images: {}", skipped.join(" ")),
                    )
                }
            }
            None => respond(
                Status::Skip,
                format!("image skipped, skipped images: {}", skipped.join(" ")),
            ),
        });
    }
    out
}
