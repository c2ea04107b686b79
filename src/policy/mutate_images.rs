//! Kyverno's mutating-webhook half of `verifyImages` for one policy: every matching image is
//! verified, recorded in the verification metadata and, under `mutateDigest`, pinned to its
//! digest. Mirrors `pkg/engine/image_verify.go`, `pkg/engine/handlers/mutation/mutate_image.go`
//! and `pkg/engine/internal/imageverifier.go` (`Verify`, `verifyImage`, `handleMutateDigest`)
//! in kyverno/kyverno v1.19.0, including their quirks:
//! - a rule with no image in any entry's `imageReferences` gives no response at all;
//! - the images of a rule are those matching *any* of its entries, listed once per matching
//!   entry, and each entry then answers for each of them: an entry whose own references miss
//!   the image answers `skip` (`skipping image reference image ...`);
//! - the verification cache is keyed by policy, rule and image, not by entry
//!   (`pkg/image/verification/cache/client.go` `generateKey`).

use serde_json::Value;

use super::autogen::rules_for_kind;
use super::evaluate::{Artifacts, Container, Patch, Phase, RuleResponse, Status, containers};
use super::image_metadata::{ImageStatus, VerifiedImages};
use super::matching::{Request, applies, policy_in_scope};
use super::model::{KyvernoPolicy, VerifyImage};
use super::verify_entry::{FetchFailure, ImageOutcome, verify_image};
use super::wildcard;
use crate::supply::ImageRef;

/// Successful verifications kept across requests, as Kyverno's image verification cache does
/// (on by default through `useCache`; only passes are stored). Kyverno also keys by the
/// policy's UID and resource version; here one cache lives for one set of policies.
#[derive(Debug, Default)]
pub struct VerifyCache {
    passed: std::collections::HashSet<(String, String, String)>,
    /// Lookups answered from the cache.
    pub hits: u64,
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
    entries: &[crate::content::model::Sp<VerifyImage>],
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
    let (namespace, labels) = (request.namespace_name(), request.labels());
    let policy_namespace = policy.metadata.namespace.as_deref().unwrap_or("");
    let policy_name = policy.metadata.name.value.as_str();
    let mut out = PolicyMutation::default();
    if !policy_in_scope(policy, object) {
        return out;
    }
    for rule in rules_for_kind(policy, kind)
        .iter()
        .filter(|r| !r.rule.verify_images.is_empty() && applies(r, request))
    {
        let all = containers(object, rule.pod_spec);
        let images = matching_images(&rule.rule.verify_images, &all);
        if images.is_empty() {
            continue;
        }
        let action = policy.rule_action(rule.rule, namespace, labels);
        let respond = |status, message: String| RuleResponse {
            policy: policy_name.to_owned(),
            policy_namespace: policy.metadata.namespace.clone(),
            rule: rule.name.clone(),
            status,
            message,
            phase: Phase::Mutate,
            action,
        };
        for entry in &rule.rule.verify_images {
            // The deprecated `key` is an attestor too (`Convert` in image_verification_types.go).
            let verifies = !entry.attestors.is_empty()
                || !entry.attestations.is_empty()
                || entry.key.is_some();
            for (container, parsed) in &images {
                let Some(image) = parsed else {
                    out.responses.push(respond(
                        Status::Error,
                        format!("failed to add image to context {}", container.image),
                    ));
                    continue;
                };
                let mut shown = image.to_string();
                let fetched = artifacts.get(&shown).map(|r| r.as_ref());
                let key = (policy_key(policy), rule.name.clone(), shown.clone());
                let use_cache = entry.use_cache.unwrap_or(true);
                let outcome = if use_cache && cache.passed.contains(&key) {
                    cache.hits += 1;
                    Some((Status::Pass, "verified from cache".to_owned()))
                } else if !verifies {
                    None
                } else if !references(entry, &shown) {
                    Some((Status::Skip, skip_message(&shown, policy_name, &rule.name)))
                } else if skips(entry, &shown) {
                    ivm.add(&shown, ImageStatus::Skip);
                    Some((Status::Skip, skip_message(&shown, policy_name, &rule.name)))
                } else {
                    let missing = FetchFailure {
                        network: true,
                        message: "the image's artifacts were not fetched".into(),
                    };
                    let fresh = verify_image(&shown, entry, fetched.unwrap_or(Err(&missing)));
                    if matches!(fresh, ImageOutcome::Pass(_)) && use_cache {
                        cache.passed.insert(key);
                    }
                    Some(match fresh {
                        ImageOutcome::Pass(m) => (Status::Pass, m),
                        ImageOutcome::Fail(m) => (Status::Fail, m),
                        ImageOutcome::Error(m) => (Status::Error, m),
                    })
                };
                let mut outcome = outcome.map(|(status, message)| respond(status, message));
                if entry.effective_mutate_digest() && image.digest.is_none() {
                    match fetched {
                        Some(Ok(a)) => {
                            let tag = image.tag.as_deref().unwrap_or("latest");
                            push_unique(
                                &mut out.patches,
                                Patch {
                                    op: "replace",
                                    path: container.pointer.clone(),
                                    value: Value::String(format!(
                                        "{}:{tag}@{}",
                                        image.repository(),
                                        a.digest
                                    )),
                                },
                            );
                            outcome.get_or_insert_with(|| {
                                respond(Status::Pass, "mutated image digest".into())
                            });
                            shown = image.with_digest(a.digest.as_str()).to_string();
                        }
                        Some(Err(f)) => out.responses.push(respond(
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
                        ivm.add_scoped(policy_namespace, policy_name, &rule.name, &shown, status);
                    }
                    out.responses.push(response);
                }
            }
        }
    }
    out
}

/// `imageverifier.go`'s wording for an image an entry does not verify.
fn skip_message(image: &str, policy: &str, rule: &str) -> String {
    format!("skipping image reference image {image}, policy {policy} ruleName {rule}")
}

/// The cache's and the scoped annotation's name for a policy: `<ns>/<name>`.
fn policy_key(policy: &KyvernoPolicy) -> String {
    format!(
        "{}/{}",
        policy.metadata.namespace.as_deref().unwrap_or(""),
        policy.metadata.name.value
    )
}

/// Kyverno joins every policy's patches; two policies pinning the same image write the same
/// `replace` twice, which is kept once here.
fn push_unique(patches: &mut Vec<Patch>, patch: Patch) {
    if !patches.contains(&patch) {
        patches.push(patch);
    }
}
