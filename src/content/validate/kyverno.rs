//! Kyverno pitfalls in `verifyImages` policies: what Kyverno v1.19 rejects outright, and what
//! it accepts but then behaves differently from what a course author expects. Each rule names
//! the Kyverno source file whose behaviour it mirrors.

use std::collections::{BTreeMap, BTreeSet};

use super::placeholders;
use crate::content::diagnostic::Diagnostic;
use crate::content::load::at;
use crate::content::model::FailureMode;
use crate::policy::model::{
    Attestor, FailureActionOverride, KyvernoPolicy, PolicyKind, ResourceFilter, Rule, VerifyImage,
};
use crate::spanned::Spanned;
use crate::supply::ImageRef;
use crate::wildcard;

/// What the rules know about the lab that applies a policy.
pub(super) struct LabContext {
    /// The Kyverno release the lab pins.
    pub kyverno_version: Option<semver::Version>,
    /// The images the lab deploys, normalized.
    pub images: Vec<ImageRef>,
    /// Whether images come from a registry on the learner's machine (no Rekor entries exist).
    pub local_registry: bool,
    /// Variable defaults, to render `${placeholders}` in image patterns.
    pub variables: BTreeMap<String, Option<String>>,
}

const VALIDATE_GO: &str = "kyverno pkg/validation/policy/validate.go";
const IVT_GO: &str = "kyverno api/kyverno/v1/image_verification_types.go";
const CRD_ATTESTOR_SET: &str = "kyverno config/crds/kyverno/kyverno.io_clusterpolicies.yaml (an attestor set's count: minimum 1)";
const CRD_SCHEMA: &str = "kyverno config/crds/kyverno/kyverno.io_clusterpolicies.yaml (the v1 openAPIV3Schema, committed as src/policy/crd/clusterpolicy-v1.json)";
const SPEC_TYPES_GO: &str = "kyverno api/kyverno/v1/spec_types.go";
const UTILS_GO: &str = "kyverno api/kyverno/v1/utils.go";
const IMAGE_VERIFIER_GO: &str = "kyverno pkg/engine/internal/imageverifier.go";
const VALIDATE_IMAGE_GO: &str = "kyverno pkg/engine/handlers/validation/validate_image.go";
const IMAGE_INFOS_GO: &str = "kyverno pkg/utils/image/infos.go and ext/wildcard/match.go";
const SCANNER_GO: &str = "kyverno pkg/controllers/report/utils/scanner.go";
const COSIGN_GO: &str = "kyverno pkg/image/verifiers/cpol/cosign/cosign.go";
const POLICY_TYPES_DOC: &str =
    "kyverno pkg/deprecations/deprecations.go and docs policy-types/overview.md (deprecated v1.18)";

/// A digest that stands for "some digest" when testing whether patterns match pinned images.
const ANY_DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

pub(super) fn check(
    file: &str,
    docs: &[KyvernoPolicy],
    lab: Option<&LabContext>,
    out: &mut Vec<Diagnostic>,
) {
    for policy in docs {
        check_policy(file, policy, lab, out);
    }
}

/// Every `kyverno.io/v1` policy of `file` held to Kyverno's CRD schema (`policy::crd`), as the
/// API server holds it before any webhook sees it. Once per file, whatever lab applies it; a
/// problem a more specific rule already reported at the same place is not reported again.
pub(super) fn check_crd_schema(
    file: &str,
    docs: &[crate::spanned::Node],
    out: &mut Vec<Diagnostic>,
) {
    use crate::spanned::NodeValue;
    let field = |doc: &crate::spanned::Node, name: &str| -> Option<String> {
        let NodeValue::Map(members) = &doc.value else {
            return None;
        };
        members
            .iter()
            .find(|(k, _)| k.value == name)
            .and_then(|(_, v)| match &v.value {
                NodeValue::String(s) => Some(s.clone()),
                _ => None,
            })
    };
    let reported: BTreeSet<(u64, u64)> = out
        .iter()
        .filter(|d| d.file == file && d.code.starts_with("kyverno/"))
        .map(|d| (d.line, d.column))
        .collect();
    for doc in docs {
        let is_v1_policy = field(doc, "apiVersion").as_deref() == Some("kyverno.io/v1")
            && matches!(
                field(doc, "kind").as_deref(),
                Some("ClusterPolicy" | "Policy")
            );
        if !is_v1_policy {
            continue;
        }
        for problem in crate::policy::crd::check(doc)
            .into_iter()
            .filter(|p| !reported.contains(&(p.line, p.column)))
        {
            out.push(
                Diagnostic::error(
                    "kyverno/crd-schema",
                    file,
                    (problem.line, problem.column),
                    format!(
                        "Kyverno rejects this policy: `{}` {} (the kyverno.io/v1 CRD schema of Kyverno {})",
                        problem.path,
                        problem.message,
                        crate::policy::crd::CRD_KYVERNO_VERSION
                    ),
                )
                .help(format!(
                    "`kubectl apply` refuses the whole policy; fix `{}` (`kubectl explain clusterpolicy.{}` describes the field)",
                    problem.path,
                    explain_path(&problem.path)
                ))
                .reference(CRD_SCHEMA),
            );
        }
    }
}

/// A field path as `kubectl explain` takes it: no list indices.
fn explain_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}

/// `validationFailureActionOverrides`: ClusterPolicy only (`spec_types.go` `Validate`), no
/// namespace both audited and enforced (`validate.go` `validateNamespaces`), and the lowercase
/// actions deprecated (`validate.go` `checkValidationFailureAction`).
fn check_overrides(file: &str, policy: &KyvernoPolicy, out: &mut Vec<Diagnostic>) {
    let name = policy.metadata.name.as_str();
    let overrides = &policy.spec.validation_failure_action_overrides;
    if let (PolicyKind::Policy, Some(first)) = (policy.kind.value, overrides.first()) {
        out.push(
            Diagnostic::error(
                "kyverno/overrides-namespaced",
                file,
                at(first),
                format!("policy `{name}` is a namespaced Policy, which cannot use `validationFailureActionOverrides`"),
            )
            .help("Kyverno rejects it (\"supported only with ClusterPolicy\"); set `failureAction` on the `verifyImages` entries instead")
            .reference(SPEC_TYPES_GO),
        );
    }
    let lowercase = policy
        .spec
        .validation_failure_action
        .iter()
        .map(|a| (a.value, a.line, a.column))
        .chain(
            overrides
                .iter()
                .map(|o| (o.action.value, o.action.line, o.action.column)),
        )
        .find(|(a, _, _)| a.is_lowercase());
    if let Some((action, line, column)) = lowercase {
        let mode = action.mode();
        out.push(
            Diagnostic::warning(
                "kyverno/lowercase-action",
                file,
                (line, column),
                format!("`{}` is a deprecated spelling (policy `{name}`)", mode.lowercase()),
            )
            .help(format!("write `{mode}`: Kyverno warns \"Validation failure actions enforce/audit are deprecated, use Enforce/Audit instead.\""))
            .reference(VALIDATE_GO),
        );
    }
    check_override_conflicts(file, name, overrides, out);
}

/// Overrides that give one namespace both actions (by name, pattern or overlapping patterns)
/// are rejected by Kyverno; the first conflict is reported.
fn check_override_conflicts(
    file: &str,
    name: &str,
    overrides: &[Spanned<FailureActionOverride>],
    out: &mut Vec<Diagnostic>,
) {
    // Exact names and wildcard patterns seen so far, per action.
    let mut names: [Vec<&str>; 2] = [Vec::new(), Vec::new()];
    let mut patterns: [Vec<&str>; 2] = [Vec::new(), Vec::new()];
    for o in overrides {
        let mine = usize::from(o.action.value.mode() == FailureMode::Enforce);
        let other = 1 - mine;
        let (these_patterns, these_names): (Vec<&str>, Vec<&str>) = o
            .namespaces
            .iter()
            .map(String::as_str)
            .partition(|n| n.contains(['*', '?']));
        let conflict = these_names
            .iter()
            .find(|n| names[other].contains(n))
            .map(|n| format!("namespace `{n}` is given both actions"))
            .or_else(|| {
                these_patterns.iter().find_map(|p| {
                    names[other]
                        .iter()
                        .find(|n| wildcard::matches(p, n))
                        .map(|n| format!("the pattern `{p}` matches namespace `{n}`, which has the other action"))
                })
            })
            .or_else(|| {
                these_names.iter().find_map(|n| {
                    patterns[other]
                        .iter()
                        .find(|p| wildcard::matches(p, n))
                        .map(|p| format!("namespace `{n}` is matched by the pattern `{p}`, which has the other action"))
                })
            })
            .or_else(|| {
                these_patterns.iter().find_map(|p| {
                    patterns[other]
                        .iter()
                        .find(|q| wildcard::matches(p, q) || wildcard::matches(q, p))
                        .map(|q| format!("the patterns `{p}` and `{q}` overlap with different actions"))
                })
            });
        if let Some(message) = conflict {
            out.push(
                Diagnostic::error(
                    "kyverno/overrides-conflict",
                    file,
                    at(o),
                    format!("in `validationFailureActionOverrides` of policy `{name}`, {message}"),
                )
                .help("give each namespace one action; Kyverno rejects conflicting overrides")
                .reference(VALIDATE_GO),
            );
            return;
        }
        names[mine].extend(these_names);
        patterns[mine].extend(these_patterns);
    }
}

fn check_policy(
    file: &str,
    policy: &KyvernoPolicy,
    lab: Option<&LabContext>,
    out: &mut Vec<Diagnostic>,
) {
    let name = policy.metadata.name.as_str();
    if policy.api_version.as_str() != "kyverno.io/v1" {
        out.push(
            Diagnostic::error(
                "kyverno/api-version",
                file,
                at(&policy.api_version),
                format!("policy `{name}` uses `{}`", policy.api_version.value),
            )
            .help("ClusterPolicy and Policy are served as `kyverno.io/v1`; use that apiVersion"),
        );
    }
    check_deprecated_kind(file, policy, lab, out);
    check_overrides(file, policy, out);
    // `ValidateAutogenAnnotation` (api/kyverno/v1/utils.go), called by the policy webhook.
    if policy
        .metadata
        .annotations
        .get(crate::policy::autogen::AUTOGEN_ANNOTATION)
        .is_some_and(|v| v == "all")
    {
        out.push(
            Diagnostic::error(
                "kyverno/autogen-all",
                file,
                at(&policy.metadata.name),
                format!("Kyverno rejects this policy: policy `{name}` sets `{}: all` (\"Autogen annotation does not support 'all' anymore, remove the annotation or set it to a valid value\")", crate::policy::autogen::AUTOGEN_ANNOTATION),
            )
            .help("remove the annotation (every pod controller then gets the generated rules), or list the controllers, e.g. `Deployment,StatefulSet`, or `none`")
            .reference(UTILS_GO),
        );
    }
    if let Some(action) = &policy.spec.validation_failure_action {
        out.push(
            Diagnostic::warning(
                "kyverno/deprecated-validation-failure-action",
                file,
                at(action),
                format!("`spec.validationFailureAction` is deprecated since Kyverno 1.13 (policy `{name}`)"),
            )
            .help("remove it and set `failureAction: Audit` (or `Enforce`) on each `verifyImages` entry instead")
            .reference(SPEC_TYPES_GO),
        );
    }
    let verifies_images = policy
        .spec
        .rules
        .iter()
        .any(|r| !r.verify_images.is_empty());
    if verifies_images && policy.spec.background.as_ref().is_none_or(|b| b.value) {
        let position = policy
            .spec
            .background
            .as_ref()
            .map_or(at(&policy.metadata.name), at);
        out.push(
            Diagnostic::warning(
                "kyverno/background-verify-images",
                file,
                position,
                format!("policy `{name}` verifies images with `background: true` (the default)"),
            )
            .help("set `spec.background: false`: background scans re-verify every running image against the registry on a timer, and their report results are not the admission decisions learners study")
            .reference(SCANNER_GO),
        );
    }
    for rule in &policy.spec.rules {
        check_match_kinds(file, name, rule, out);
        for (entry, action) in rule
            .verify_images
            .iter()
            .zip(policy.validation_actions(rule))
        {
            check_entry(file, policy, rule.name.as_str(), action, entry, lab, out);
        }
    }
}

/// `validate.go` `validateMatchKindHelper`: every `match` filter (each of `any`, else each of
/// `all`, else the single `resources`) must name kinds; `exclude` filters need not.
fn check_match_kinds(file: &str, policy: &str, rule: &Rule, out: &mut Vec<Diagnostic>) {
    let block = &rule.match_resources;
    let kinds = |f: &ResourceFilter| f.resources.as_ref().is_some_and(|d| !d.kinds.is_empty());
    let named = if !block.any.is_empty() {
        block.any.iter().all(kinds)
    } else if !block.all.is_empty() {
        block.all.iter().all(kinds)
    } else {
        block
            .resources
            .as_ref()
            .is_some_and(|d| !d.kinds.is_empty())
    };
    if !named {
        out.push(
            Diagnostic::error(
                "kyverno/match-without-kinds",
                file,
                at(&rule.name),
                format!("Kyverno rejects this policy: a `match` filter of rule `{}` in policy `{policy}` names no `kinds`", rule.name.value),
            )
            .help("add `kinds:` (e.g. `[Pod]`) to every filter under `match`; Kyverno: \"the kind attribute is mandatory when working with the resources element\"; to leave objects out by namespace, name or label, use `exclude`")
            .reference(VALIDATE_GO),
        );
    }
}

fn check_deprecated_kind(
    file: &str,
    policy: &KyvernoPolicy,
    lab: Option<&LabContext>,
    out: &mut Vec<Diagnostic>,
) {
    let kind = match policy.kind.value {
        PolicyKind::ClusterPolicy => "ClusterPolicy",
        PolicyKind::Policy => "Policy",
    };
    let pinned = lab.and_then(|l| l.kyverno_version.as_ref());
    let removed = pinned.is_some_and(|v| *v >= semver::Version::new(1, 20, 0));
    let shown = pinned.map_or_else(
        || "Kyverno".to_owned(),
        |v| format!("the pinned Kyverno v{v}"),
    );
    let message = if removed {
        format!("{kind} is planned for removal in Kyverno 1.20 and {shown} may no longer serve it")
    } else {
        format!(
            "{kind} is deprecated since Kyverno 1.18 in favour of ImageValidatingPolicy; {shown} still serves it, and warns on every apply"
        )
    };
    let help = if removed {
        "rewrite the policy as an ImageValidatingPolicy (policies.kyverno.io/v1), or pin Kyverno 1.19"
    } else {
        "fine for this course, which teaches ClusterPolicy; plan the move to ImageValidatingPolicy before Kyverno 1.20"
    };
    let diagnostic = if removed {
        Diagnostic::error
    } else {
        Diagnostic::warning
    };
    out.push(
        diagnostic("kyverno/deprecated-kind", file, at(&policy.kind), message)
            .help(help)
            .reference(POLICY_TYPES_DOC),
    );
}

fn check_entry(
    file: &str,
    policy: &KyvernoPolicy,
    rule: &str,
    action: FailureMode,
    entry: &crate::content::model::Spanned<VerifyImage>,
    lab: Option<&LabContext>,
    out: &mut Vec<Diagnostic>,
) {
    let where_ = format!("rule `{rule}` of policy `{}`", policy.metadata.name.value);
    if action == FailureMode::Audit && entry.effective_mutate_digest() {
        let position = entry.mutate_digest.as_ref().map_or(at(entry), at);
        let how = if entry.mutate_digest.is_some() {
            "is true"
        } else {
            "defaults to true"
        };
        out.push(
            Diagnostic::error(
                "kyverno/audit-mutate-digest",
                file,
                position,
                format!("Kyverno rejects this policy: `mutateDigest` {how} but the failure action of {where_} is Audit"),
            )
            .help("set `mutateDigest: false` on this entry while it is in Audit (Kyverno: \"mutateDigest must be set to false for ‘Audit’ failure action\"); turn it on together with `failureAction: Enforce`")
            .reference(VALIDATE_GO),
        );
    }
    if action == FailureMode::Audit && entry.effective_verify_digest() {
        let position = entry.verify_digest.as_ref().map_or(at(entry), at);
        out.push(
            Diagnostic::warning(
                "kyverno/audit-verify-digest",
                file,
                position,
                format!("`verifyDigest` is on in Audit ({where_}): every image deployed by tag is reported as `missing digest for <image>`"),
            )
            .help("set `verifyDigest: false` while in Audit, so the report shows signature results rather than the missing digest; require digests once you Enforce")
            .reference(VALIDATE_IMAGE_GO),
        );
    }
    if entry.image_references.is_empty() && entry.image.is_none() {
        out.push(
            Diagnostic::error(
                "kyverno/no-image-references",
                file,
                at(entry),
                format!("{where_} has a verifyImages entry without `imageReferences`"),
            )
            .help("list the image patterns to verify, e.g. `\"${image_registry}/*\"`")
            .reference(VALIDATE_GO),
        );
    }
    // `imageRefHasVariables` (pkg/validation/policy/validate.go): Kyverno's policy webhook
    // refuses `{{ ... }}` in an image reference (the deprecated `image` included, as `Convert`
    // makes it one); `\{{` is an escaped brace, not a variable.
    let has_variable = |reference: &str| {
        reference
            .match_indices("{{")
            .any(|(i, _)| !reference[..i].ends_with('\\') && reference[i + 2..].contains("}}"))
    };
    let with_variable = entry
        .image_references
        .iter()
        .find(|r| has_variable(&r.value))
        .map(|r| (r.value.as_str(), at(r)))
        .or_else(|| {
            entry
                .image
                .as_deref()
                .filter(|i| has_variable(i))
                .map(|i| (i, at(entry)))
        });
    if let Some((reference, position)) = with_variable {
        out.push(
            Diagnostic::error(
                "kyverno/variables-in-image-references",
                file,
                position,
                format!("Kyverno rejects this policy: {where_} has a variable in an image reference (`{reference}`): \"variables are not allowed in image reference\""),
            )
            .help("write the registry and repository out (a course placeholder such as `${image_registry}` is filled before Kyverno sees the policy; `{{ }}` is not)")
            .reference(VALIDATE_GO),
        );
    }
    if entry.verifier_type.as_deref() == Some("Notary") {
        for attestor in entry.attestors.iter().flat_map(|s| s.entries.iter()) {
            for (field, set) in [
                ("keys", attestor.keys.is_some()),
                ("keyless", attestor.keyless.is_some()),
            ] {
                if set {
                    out.push(
                        Diagnostic::error(
                            "kyverno/notary-attestor",
                            file,
                            at(attestor),
                            format!("Kyverno rejects this policy: a `type: Notary` entry of {where_} has a `{field}` attestor (\"{} field is not allowed for type notary\")", if field == "keys" { "Keys" } else { "Keyless" }),
                        )
                        .help("Notary signatures are verified with `certificates` attestors; use `type: Cosign` for cosign keys")
                        .reference(IVT_GO),
                    );
                }
            }
        }
    }
    check_attestors(file, entry, &where_, lab, out);
    if let Some(lab) = lab {
        check_patterns(file, entry, &where_, lab, out);
    }
}

fn check_attestors(
    file: &str,
    entry: &crate::content::model::Spanned<VerifyImage>,
    where_: &str,
    lab: Option<&LabContext>,
    out: &mut Vec<Diagnostic>,
) {
    let sets = entry
        .attestors
        .iter()
        .chain(entry.attestations.iter().flat_map(|a| a.attestors.iter()));
    for set in sets {
        if let Some(count) = &set.count
            && count.value < 1
        {
            out.push(
                Diagnostic::error("kyverno/count-below-one", file, at(count), format!("Kyverno rejects this policy: `count: {}` in {where_}, and its CRD requires at least 1", count.value))
                    .help("leave `count` out to require every entry, or set 1 to require any one of them")
                    .reference(CRD_ATTESTOR_SET),
            );
        }
        if set.entries.is_empty() {
            out.push(
                Diagnostic::error("kyverno/attestor-set-empty", file, at(entry), format!("Kyverno rejects this policy: an attestor set of {where_} has no entries (\"An entry is required\")"))
                    .help("add an entry (`keys`, `certificates`, `keyless` or `attestor`), or remove the set")
                    .reference(IVT_GO),
            );
        }
        if let Some(count) = &set.count
            && count.value as usize > set.entries.len()
        {
            out.push(
                Diagnostic::error("kyverno/count-exceeds-entries", file, at(count), format!("`count: {}` but the attestor set has {} entries", count.value, set.entries.len()))
                    .help("lower `count` or add entries; Kyverno rejects a count above the number of entries")
                    .reference(VALIDATE_GO),
            );
        }
    }
    for attestor in entry.all_attestor_entries() {
        let kinds = [
            attestor.keys.is_some(),
            attestor.certificates.is_some(),
            attestor.keyless.is_some(),
            attestor.attestor.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            out.push(
                Diagnostic::error("kyverno/attestor-kind", file, at(attestor), format!("an attestor entry in {where_} must set exactly one of `keys`, `certificates`, `keyless`, `attestor`"))
                    .help("split it into one entry per kind of attestor")
                    .reference(VALIDATE_GO),
            );
        }
        check_transparency_log(file, attestor, where_, lab, out);
        check_keyless_log(file, attestor, where_, out);
        check_cert_chain_sct(file, attestor, where_, out);
    }
    for attestation in &entry.attestations {
        match attestation.attestation_type.as_deref().or(attestation.predicate_type.as_deref()) {
            None => out.push(
                Diagnostic::error("kyverno/attestation-type", file, at(attestation), format!("an attestation in {where_} has no `type`"))
                    .help("set `type: https://spdx.dev/Document` for an SPDX SBOM"),
            ),
            Some(alias @ ("spdx" | "spdxjson" | "cyclonedx" | "slsaprovenance" | "slsaprovenance02" | "slsaprovenance1" | "vuln" | "custom" | "link" | "openvex")) => out.push(
                Diagnostic::error("kyverno/attestation-type", file, at(attestation), format!("`type: {alias}` is a cosign shorthand, but Kyverno compares the full predicate type URI"))
                    .help("write the URI, e.g. `https://spdx.dev/Document` for cosign's `spdxjson`")
                    .reference(IMAGE_VERIFIER_GO),
            ),
            Some(_) => {}
        }
    }
}

/// A `certificates` attestor with `cert` and `certChain`: Kyverno v1.19 validates `cert`
/// against the chain, SCT included, before it copies `ctlog.ignoreSCT` into cosign's options
/// (`buildCosignOptions`), so `ignoreSCT: true` does not spare a certificate without an
/// embedded SCT. Source: `pkg/image/verifiers/cpol/cosign/cosign.go` at v1.19.0.
fn check_cert_chain_sct(
    file: &str,
    attestor: &crate::content::model::Spanned<Attestor>,
    where_: &str,
    out: &mut Vec<Diagnostic>,
) {
    let Some(certificates) = &attestor.certificates else {
        return;
    };
    let ignores_sct = certificates
        .ctlog
        .as_ref()
        .is_some_and(|c| c.ignore_sct == Some(true));
    if certificates.cert.is_none() || certificates.cert_chain.is_none() || !ignores_sct {
        return;
    }
    out.push(
        Diagnostic::warning(
            "kyverno/cert-chain-needs-sct",
            file,
            at(attestor),
            format!("the certificate attestor in {where_} sets `cert`, `certChain` and `ctlog.ignoreSCT: true`, but Kyverno v1.19 checks the certificate's embedded SCT while validating the chain, before it reads `ignoreSCT`"),
        )
        .help("a certificate without an embedded SCT is rejected whatever `ignoreSCT` says: issue it from a CT-logging CA, or drop `certChain` and trust `cert` alone")
        .reference(COSIGN_GO),
    );
}

/// Kyverno rejects a keyless attestor with neither `rekor.url` nor `roots`, and one whose
/// `rekor` block has no `url` (e.g. only `ignoreTlog`); nothing defaults the URL in the CRD.
/// Source: `api/kyverno/v1/image_verification_types.go` L533-543 at v1.19.0.
fn check_keyless_log(
    file: &str,
    attestor: &crate::content::model::Spanned<Attestor>,
    where_: &str,
    out: &mut Vec<Diagnostic>,
) {
    let Some(keyless) = &attestor.keyless else {
        return;
    };
    let (message, position) = match (&keyless.rekor, &keyless.roots) {
        (None, None) => ("Either Rekor URL or roots are required", at(attestor)),
        (Some(rekor), _) if rekor.url.is_none() => ("An URL is required", at(rekor)),
        _ => return,
    };
    out.push(
        Diagnostic::error(
            "kyverno/keyless-rekor-url",
            file,
            position,
            format!("Kyverno rejects this policy: the keyless attestor in {where_} has no `rekor.url`{} (Kyverno: \"{message}\")", if keyless.rekor.is_none() { " and no `roots`" } else { "" }),
        )
        .help("add `rekor: {url: https://rekor.sigstore.dev}` for public Sigstore (the cluster then needs to reach it), or `roots:` with your own CA; `ignoreTlog` alone is not enough")
        .reference(IVT_GO),
    );
}

/// Key and certificate attestors contact Rekor (and check SCTs) unless told not to, which a lab
/// whose images live in a registry on the learner's machine cannot satisfy.
fn check_transparency_log(
    file: &str,
    attestor: &crate::content::model::Spanned<Attestor>,
    where_: &str,
    lab: Option<&LabContext>,
    out: &mut Vec<Diagnostic>,
) {
    let (rekor, ctlog) = match (&attestor.keys, &attestor.certificates) {
        (Some(k), _) => (&k.rekor, &k.ctlog),
        (None, Some(c)) => (&c.rekor, &c.ctlog),
        _ => return,
    };
    let ignores_tlog = rekor.as_ref().is_some_and(|r| r.ignore_tlog == Some(true));
    let ignores_sct = ctlog.as_ref().is_some_and(|c| c.ignore_sct == Some(true));
    if ignores_tlog && ignores_sct {
        return;
    }
    let missing: Vec<&str> = [
        (!ignores_tlog).then_some("`rekor.ignoreTlog: true`"),
        (!ignores_sct).then_some("`ctlog.ignoreSCT: true`"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let local = lab.is_some_and(|l| l.local_registry);
    let message = format!(
        "a key attestor in {where_} will look the signature up in Rekor (https://rekor.sigstore.dev) and fetch the Sigstore TUF root{}",
        if local {
            ", which images signed with `cosign sign --tlog-upload=false` in a local lab do not have"
        } else {
            ""
        }
    );
    let help = format!(
        "add {} under `keys:` for offline, locally signed images; without them every verification fails or errors",
        missing.join(" and ")
    );
    let diagnostic = if local {
        Diagnostic::error
    } else {
        Diagnostic::warning
    };
    out.push(
        diagnostic(
            "kyverno/keys-need-tlog-settings",
            file,
            at(attestor),
            message,
        )
        .help(help)
        .reference(IMAGE_VERIFIER_GO),
    );
}

/// `imageReferences` are matched against the whole normalized image, and a digest-pinned image
/// is matched in the form `registry/path@sha256:...` with its tag dropped.
fn check_patterns(
    file: &str,
    entry: &VerifyImage,
    where_: &str,
    lab: &LabContext,
    out: &mut Vec<Diagnostic>,
) {
    if lab.images.is_empty() {
        return;
    }
    let variables: BTreeMap<&str, Option<&str>> = lab
        .variables
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    for pattern in &entry.image_references {
        let rendered = placeholders::substitute(pattern, &variables);
        if rendered.contains("${") {
            continue; // the undefined placeholder is reported on its own
        }
        let tag_form: Vec<String> = lab.images.iter().map(ToString::to_string).collect();
        let digest_form: Vec<String> = lab
            .images
            .iter()
            .map(|i| i.with_digest(ANY_DIGEST).to_string())
            .collect();
        let matches_tag = tag_form.iter().any(|i| wildcard::matches(&rendered, i));
        let matches_digest = digest_form.iter().any(|i| wildcard::matches(&rendered, i));
        if matches_digest {
            continue;
        }
        let (code, message, help) = if matches_tag {
            (
                "kyverno/pattern-misses-digest",
                format!(
                    "`{rendered}` in {where_} matches the lab's images by tag but not once they are pinned by digest"
                ),
                format!(
                    "Kyverno matches a pinned image as `{}` with the tag dropped; end the pattern with `*` after the repository, e.g. `{}*`",
                    digest_form[0],
                    lab.images[0].repository()
                ),
            )
        } else {
            (
                "kyverno/pattern-matches-nothing",
                format!(
                    "`{rendered}` in {where_} matches none of the lab's images, so the rule never verifies anything"
                ),
                format!(
                    "Kyverno matches the whole normalized reference (`docker.io/` added, tag `latest` by default); the lab deploys {}",
                    tag_form.join(", ")
                ),
            )
        };
        out.push(
            Diagnostic::error(code, file, at(pattern), message)
                .help(help)
                .reference(IMAGE_INFOS_GO),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(policy_text: &str) -> Vec<&'static str> {
        let docs: Vec<KyvernoPolicy> = serde_saphyr::from_multiple(policy_text).unwrap();
        let mut out = Vec::new();
        check("p.yaml", &docs, None, &mut out);
        out.into_iter().map(|d| d.code).collect()
    }

    const TWO_ENTRIES: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  background: false\n  rules:\n    - name: r\n      match: {any: [{resources: {kinds: [Pod]}}]}\n      verifyImages:\n        - imageReferences: ['a/*']\n          failureAction: ACTION\n          attestors: []\n        - imageReferences: ['b/*']\n          verifyDigest: false\n          attestors: []\n";

    // Policy validation resolves the action entry by entry, carrying the last one set forward
    // (validate.go L367-383), unlike the run-time "any Enforce wins" rule.
    #[test]
    fn mutate_digest_is_judged_as_policy_validation_does() {
        let rejected = |text: String| {
            codes(&text)
                .iter()
                .filter(|c| **c == "kyverno/audit-mutate-digest")
                .count()
        };
        let with = |first: &str, second: &str| {
            TWO_ENTRIES.replace("ACTION", first).replace(
                "          verifyDigest: false\n",
                &format!("          verifyDigest: false\n{second}"),
            )
        };
        assert_eq!(
            rejected(with("Enforce", "")),
            0,
            "Enforce carries over to the second entry"
        );
        assert_eq!(rejected(with("Audit", "")), 2, "Audit carries over too");
        assert_eq!(
            rejected(with("Audit", "          failureAction: Enforce\n")),
            1,
            "only the Audit entry is rejected, though the rule enforces at run time"
        );
    }

    #[test]
    fn keyless_needs_a_rekor_url_or_roots() {
        let keyless = |block: &str| {
            format!(
                "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: p}}\nspec:\n  background: false\n  rules:\n    - name: r\n      match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n      verifyImages:\n        - imageReferences: ['a/*']\n          failureAction: Enforce\n          attestors:\n            - entries:\n                - keyless:\n                    subject: 'x'\n{block}"
            )
        };
        let count = |text: String| {
            codes(&text)
                .iter()
                .filter(|c| **c == "kyverno/keyless-rekor-url")
                .count()
        };
        assert_eq!(count(keyless("")), 1);
        assert_eq!(
            count(keyless("                    rekor: {ignoreTlog: true}\n")),
            1
        );
        assert_eq!(
            count(keyless(
                "                    rekor: {url: 'https://rekor.sigstore.dev'}\n"
            )),
            0
        );
        assert_eq!(count(keyless("                    roots: 'PEM'\n")), 0);
    }

    // validate.go validateMatchKindHelper: the evaluator matches a kindless filter as the
    // engine would, but Kyverno never installs a policy with one under `match`.
    #[test]
    fn a_match_filter_without_kinds_is_rejected_and_an_exclude_one_is_not() {
        let with = |blocks: &str| {
            let text = TWO_ENTRIES.replace("ACTION", "Enforce").replace(
                "      match: {any: [{resources: {kinds: [Pod]}}]}\n",
                blocks,
            );
            codes(&text)
                .iter()
                .filter(|c| **c == "kyverno/match-without-kinds")
                .count()
        };
        assert_eq!(
            with(
                "      match: {any: [{resources: {kinds: [Pod]}}, {resources: {namespaces: [a]}}]}\n"
            ),
            1
        );
        assert_eq!(with("      match: {all: [{resources: {names: [a]}}]}\n"), 1);
        assert_eq!(with("      match: {resources: {namespaces: [a]}}\n"), 1);
        assert_eq!(with("      match: {resources: {kinds: [Pod]}}\n"), 0);
        assert_eq!(
            with(
                "      match: {any: [{resources: {kinds: [Pod]}}]}\n      exclude: {any: [{resources: {namespaces: [kube-system]}}]}\n"
            ),
            0
        );
    }
}
