//! Kyverno `kyverno.io/v1` `ClusterPolicy` and `Policy`, as far as image verification needs them.
//!
//! Field names and optionality follow `api/kyverno/v1/{spec_types,rule_types,
//! image_verification_types,match_resources_types}.go` in kyverno/kyverno v1.19.0. Fields that
//! Kyverno defaults are `Option`s here, so that "absent" (and therefore Kyverno's default) can be
//! told apart from an explicit value; the `effective_*` methods apply the defaults.
//! Rule kinds other than `verifyImages` are kept as opaque JSON.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::spanned::Spanned;

/// Kyverno's failure actions; also the mode of a lab's policy pack, as the state file keeps it
/// (spelled `Audit` and `Enforce`, as Kyverno writes them).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Deserialize,
    serde::Serialize,
    schemars::JsonSchema,
)]
pub enum FailureMode {
    /// Violations are reported and the resource is admitted (Kyverno's default).
    #[default]
    Audit,
    /// Violations block admission.
    Enforce,
}

impl FailureMode {
    /// A failure action as written in a policy the cluster returned, read as Kyverno reads it
    /// (`ValidationFailureAction.Enforce()`): `Enforce` and the deprecated `enforce` enforce,
    /// any other word audits.
    pub fn from_written(word: &str) -> FailureMode {
        match word {
            "Enforce" | "enforce" => FailureMode::Enforce,
            _ => FailureMode::Audit,
        }
    }

    /// The word Kyverno writes: `Audit` or `Enforce`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureMode::Audit => "Audit",
            FailureMode::Enforce => "Enforce",
        }
    }

    /// The word in lowercase, `audit` or `enforce`: the `lab` command that switches a pack to
    /// this mode, and the value of a test's `courselab.dev/mode` annotation.
    pub fn lowercase(self) -> &'static str {
        match self {
            FailureMode::Audit => "audit",
            FailureMode::Enforce => "enforce",
        }
    }
}

impl std::fmt::Display for FailureMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The failure action of each `verifyImages` entry of a policy as the cluster returns it
/// (JSON, with fields the model here does not know): the entry's `failureAction`, else the
/// spec's `validationFailureAction` ([`KyvernoPolicy::spec_action`]'s rule), each word read by
/// [`FailureMode::from_written`]. What `lab status` shows and `lab start` keeps.
pub fn live_entry_actions(policy: &Value) -> Vec<FailureMode> {
    let spec = policy
        .pointer("/spec/validationFailureAction")
        .and_then(Value::as_str)
        .map_or(FailureMode::Audit, FailureMode::from_written);
    let rules = policy
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    rules
        .iter()
        .filter_map(|r| r.get("verifyImages").and_then(Value::as_array))
        .flatten()
        .map(|e| {
            e.get("failureAction")
                .and_then(Value::as_str)
                .map_or(spec, FailureMode::from_written)
        })
        .collect()
}

/// The one action every `verifyImages` entry of a policy the cluster returned has; `None` when
/// they differ, or when it has none (then it enforces nothing on images).
pub fn live_action(policy: &Value) -> Option<FailureMode> {
    let actions = live_entry_actions(policy);
    let first = *actions.first()?;
    actions.iter().all(|a| *a == first).then_some(first)
}

/// Actions for a message: `Audit/Enforce`.
pub fn joined(actions: &[FailureMode]) -> String {
    actions
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join("/")
}

/// A Kyverno policy document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KyvernoPolicy {
    /// `kyverno.io/v1`.
    pub api_version: Spanned<String>,
    /// `ClusterPolicy` or `Policy`.
    pub kind: Spanned<PolicyKind>,
    /// Name, namespace, labels, annotations.
    pub metadata: ObjectMeta,
    /// The policy spec.
    pub spec: PolicySpec,
    /// Status written by Kyverno; ignored.
    #[serde(default)]
    pub status: Option<Value>,
}

/// The two policy kinds that carry `verifyImages` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PolicyKind {
    /// Cluster-wide policy.
    ClusterPolicy,
    /// Namespaced policy.
    Policy,
}

/// The metadata fields a policy file sets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectMeta {
    /// `metadata.name`.
    pub name: Spanned<String>,
    /// `metadata.namespace` (only for `Policy`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations, e.g. `pod-policies.kyverno.io/autogen-controllers`.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// The spec-level failure action. Its CRD enum also admits the lowercase spellings, which
/// Kyverno deprecates (`api/kyverno/v1/spec_types.go`: `auditOld`, `enforceOld`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SpecAction {
    /// `Audit`.
    Audit,
    /// `Enforce`.
    Enforce,
    /// `audit`, deprecated.
    #[serde(rename = "audit")]
    AuditOld,
    /// `enforce`, deprecated.
    #[serde(rename = "enforce")]
    EnforceOld,
}

impl SpecAction {
    /// What the action does (`ValidationFailureAction.Enforce()`: `Enforce` or `enforce`).
    pub fn mode(self) -> FailureMode {
        match self {
            SpecAction::Enforce | SpecAction::EnforceOld => FailureMode::Enforce,
            SpecAction::Audit | SpecAction::AuditOld => FailureMode::Audit,
        }
    }

    /// Whether this is a deprecated lowercase spelling.
    pub fn is_lowercase(self) -> bool {
        matches!(self, SpecAction::AuditOld | SpecAction::EnforceOld)
    }
}

/// One entry of `spec.validationFailureActionOverrides`
/// (`api/kyverno/v1/spec_types.go` `ValidationFailureActionOverride`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FailureActionOverride {
    /// The action for the namespaces this entry selects.
    pub action: Spanned<SpecAction>,
    /// Namespace names or wildcard patterns.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// A label selector on the namespace's labels.
    #[serde(default)]
    pub namespace_selector: Option<Value>,
}

/// `spec` of a policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySpec {
    /// Deprecated since v1.13 in favour of the rule-level `failureAction`; CRD default `Audit`.
    #[serde(default)]
    pub validation_failure_action: Option<Spanned<SpecAction>>,
    /// Per-namespace overrides of the spec-level action (ClusterPolicy only).
    #[serde(default)]
    pub validation_failure_action_overrides: Vec<Spanned<FailureActionOverride>>,
    /// Whether the reports controller re-evaluates existing resources; default `true`.
    #[serde(default)]
    pub background: Option<Spanned<bool>>,
    /// Whether the policy applies at admission; default `true`.
    #[serde(default)]
    pub admission: Option<Spanned<bool>>,
    /// Deprecated webhook failure policy (`Fail` or `Ignore`).
    #[serde(default)]
    pub failure_policy: Option<Spanned<String>>,
    /// Deprecated webhook timeout.
    #[serde(default)]
    pub webhook_timeout_seconds: Option<u32>,
    /// Webhook settings (failure policy, timeout, match conditions).
    #[serde(default)]
    pub webhook_configuration: Option<WebhookConfiguration>,
    /// Whether to return warnings to the API client.
    #[serde(default)]
    pub emit_warning: Option<bool>,
    /// Whether rules apply one after another or only the first match (`All`, `One`).
    #[serde(default)]
    pub apply_rules: Option<String>,
    /// Deprecated schema validation switch.
    #[serde(default)]
    pub schema_validation: Option<bool>,
    /// Generate rules: apply to existing resources.
    #[serde(default)]
    pub generate_existing: Option<bool>,
    /// Mutate rules: apply to existing resources on policy update.
    #[serde(default)]
    pub mutate_existing_on_policy_update: Option<bool>,
    /// Server-side apply for generate rules.
    #[serde(default)]
    pub use_server_side_apply: Option<bool>,
    /// The rules.
    pub rules: Vec<Rule>,
}

/// `spec.webhookConfiguration`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookConfiguration {
    /// `Fail` (default) or `Ignore`.
    #[serde(default)]
    pub failure_policy: Option<Spanned<String>>,
    /// 1 to 30 seconds; default 10.
    #[serde(default)]
    pub timeout_seconds: Option<u32>,
    /// CEL match conditions.
    #[serde(default)]
    pub match_conditions: Vec<Value>,
}

/// One rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    /// Rule name, unique in the policy.
    pub name: Spanned<String>,
    /// Which requests the rule applies to.
    #[serde(rename = "match")]
    pub match_resources: MatchResources,
    /// Which requests are excluded.
    #[serde(default)]
    pub exclude: Option<MatchResources>,
    /// Extra data loaded for the rule.
    #[serde(default)]
    pub context: Vec<Value>,
    /// Conditions evaluated before the rule.
    #[serde(default)]
    pub preconditions: Option<Value>,
    /// CEL preconditions.
    #[serde(default)]
    pub cel_preconditions: Vec<Value>,
    /// Custom image extractors for non-pod kinds.
    #[serde(default)]
    pub image_extractors: Option<Value>,
    /// Skip background requests.
    #[serde(default)]
    pub skip_background_requests: Option<bool>,
    /// Image verification.
    #[serde(default)]
    pub verify_images: Vec<Spanned<VerifyImage>>,
    /// A validate rule (opaque here).
    #[serde(default)]
    pub validate: Option<Value>,
    /// A mutate rule (opaque here).
    #[serde(default)]
    pub mutate: Option<Value>,
    /// A generate rule (opaque here).
    #[serde(default)]
    pub generate: Option<Value>,
}

/// `match` or `exclude`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MatchResources {
    /// Any of these filters.
    #[serde(default)]
    pub any: Vec<ResourceFilter>,
    /// All of these filters.
    #[serde(default)]
    pub all: Vec<ResourceFilter>,
    /// The older single-filter form.
    #[serde(default)]
    pub resources: Option<ResourceDescription>,
    /// Users and groups (older form).
    #[serde(default)]
    pub subjects: Vec<Value>,
    /// Roles (older form).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Cluster roles (older form).
    #[serde(default)]
    pub cluster_roles: Vec<String>,
}

/// One element of `any` / `all`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceFilter {
    /// Resources matched.
    #[serde(default)]
    pub resources: Option<ResourceDescription>,
    /// Users and groups.
    #[serde(default)]
    pub subjects: Vec<Value>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Cluster roles.
    #[serde(default)]
    pub cluster_roles: Vec<String>,
}

/// Which resources a filter selects.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceDescription {
    /// Kinds, e.g. `Pod` or `apps/v1/Deployment`.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Resource names (wildcards allowed).
    #[serde(default)]
    pub names: Vec<String>,
    /// Deprecated single name.
    #[serde(default)]
    pub name: Option<String>,
    /// Namespaces (wildcards allowed).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Annotations to match.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Label selector of the resource.
    #[serde(default)]
    pub selector: Option<Value>,
    /// Label selector of the resource's namespace.
    #[serde(default)]
    pub namespace_selector: Option<Value>,
    /// Admission operations (`CREATE`, `UPDATE`, ...).
    #[serde(default)]
    pub operations: Vec<String>,
}

/// One `verifyImages` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyImage {
    /// `Audit` or `Enforce` for this entry (since v1.13).
    #[serde(default)]
    pub failure_action: Option<Spanned<FailureMode>>,
    /// `Cosign` (default), `SigstoreBundle` or `Notary`.
    #[serde(default, rename = "type")]
    pub verifier_type: Option<String>,
    /// Image patterns the entry verifies (wildcards `*` and `?`).
    #[serde(default)]
    pub image_references: Vec<Spanned<String>>,
    /// Image patterns skipped.
    #[serde(default)]
    pub skip_image_references: Vec<String>,
    /// Signature attestor sets (AND across sets).
    #[serde(default)]
    pub attestors: Vec<AttestorSet>,
    /// Attestations to verify.
    #[serde(default)]
    pub attestations: Vec<Spanned<Attestation>>,
    /// Replace tags with digests; default `true`.
    #[serde(default)]
    pub mutate_digest: Option<Spanned<bool>>,
    /// Require images to be given by digest; default `true`.
    #[serde(default)]
    pub verify_digest: Option<Spanned<bool>>,
    /// Require a verification record on the resource; default `true`.
    #[serde(default)]
    pub required: Option<Spanned<bool>>,
    /// Cache verification results; default `true`.
    #[serde(default)]
    pub use_cache: Option<bool>,
    /// Alternate repository for signatures.
    #[serde(default)]
    pub repository: Option<String>,
    /// Use OCI 1.1 referrers for signatures.
    #[serde(default, rename = "cosignOCI11")]
    pub cosign_oci11: Option<bool>,
    /// Registry credentials and insecure access.
    #[serde(default)]
    pub image_registry_credentials: Option<Value>,
    /// Deny conditions on attestation payloads.
    #[serde(default)]
    pub validate: Option<Value>,
    /// Deprecated single image pattern.
    #[serde(default)]
    pub image: Option<String>,
    /// Deprecated single key.
    #[serde(default)]
    pub key: Option<String>,
}

impl VerifyImage {
    /// `mutateDigest` with Kyverno's default (true).
    pub fn effective_mutate_digest(&self) -> bool {
        self.mutate_digest.as_ref().is_none_or(|v| v.value)
    }
    /// `verifyDigest` with Kyverno's default (true).
    pub fn effective_verify_digest(&self) -> bool {
        self.verify_digest.as_ref().is_none_or(|v| v.value)
    }
    /// `required` with Kyverno's default (true).
    pub fn effective_required(&self) -> bool {
        self.required.as_ref().is_none_or(|v| v.value)
    }
    /// Every attestor entry, in signature attestors and attestation attestors alike.
    pub fn all_attestor_entries(&self) -> impl Iterator<Item = &Spanned<Attestor>> {
        self.attestors
            .iter()
            .chain(self.attestations.iter().flat_map(|a| a.attestors.iter()))
            .flat_map(|set| set.entries.iter())
    }
}

/// A set of attestors, `count` of which must verify (all when absent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestorSet {
    /// How many entries must verify.
    #[serde(default)]
    pub count: Option<Spanned<u32>>,
    /// The entries.
    #[serde(default)]
    pub entries: Vec<Spanned<Attestor>>,
}

/// One attestor: exactly one of `keys`, `certificates`, `keyless`, `attestor`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Attestor {
    /// Public keys.
    #[serde(default)]
    pub keys: Option<KeysAttestor>,
    /// Certificates.
    #[serde(default)]
    pub certificates: Option<CertificatesAttestor>,
    /// Keyless (Fulcio certificate identity).
    #[serde(default)]
    pub keyless: Option<KeylessAttestor>,
    /// A nested attestor set.
    #[serde(default)]
    pub attestor: Option<Value>,
    /// Annotations the signature payload must carry.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Alternate signature repository.
    #[serde(default)]
    pub repository: Option<String>,
    /// Signature digest algorithm (`sha256` default).
    #[serde(default)]
    pub signature_algorithm: Option<String>,
}

/// Key-based attestor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeysAttestor {
    /// One or more PEM public keys, or `k8s://ns/secret`.
    #[serde(default)]
    pub public_keys: Option<String>,
    /// A Secret holding `cosign.pub`.
    #[serde(default)]
    pub secret: Option<Value>,
    /// A KMS key URI.
    #[serde(default)]
    pub kms: Option<String>,
    /// Signature digest algorithm.
    #[serde(default)]
    pub signature_algorithm: Option<String>,
    /// Transparency log settings.
    #[serde(default)]
    pub rekor: Option<Spanned<Rekor>>,
    /// Certificate transparency settings.
    #[serde(default)]
    pub ctlog: Option<Spanned<CtLog>>,
}

/// Certificate-based attestor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CertificatesAttestor {
    /// The signing certificate (PEM).
    #[serde(default)]
    pub cert: Option<String>,
    /// Its chain (PEM).
    #[serde(default)]
    pub cert_chain: Option<String>,
    /// Transparency log settings.
    #[serde(default)]
    pub rekor: Option<Spanned<Rekor>>,
    /// Certificate transparency settings.
    #[serde(default)]
    pub ctlog: Option<Spanned<CtLog>>,
}

/// Keyless attestor: a Fulcio certificate's identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeylessAttestor {
    /// OIDC issuer (wildcards allowed).
    #[serde(default)]
    pub issuer: Option<Spanned<String>>,
    /// OIDC issuer as an (unanchored) regular expression.
    #[serde(default, rename = "issuerRegExp")]
    pub issuer_regexp: Option<Spanned<String>>,
    /// Subject, matched against any SAN (wildcards allowed).
    #[serde(default)]
    pub subject: Option<Spanned<String>>,
    /// Subject as an (unanchored) regular expression.
    #[serde(default, rename = "subjectRegExp")]
    pub subject_regexp: Option<Spanned<String>>,
    /// Root certificates (PEM).
    #[serde(default)]
    pub roots: Option<String>,
    /// Certificate extensions to match.
    #[serde(default)]
    pub additional_extensions: Option<Value>,
    /// Transparency log settings.
    #[serde(default)]
    pub rekor: Option<Spanned<Rekor>>,
    /// Certificate transparency settings.
    #[serde(default)]
    pub ctlog: Option<Spanned<CtLog>>,
}

/// `rekor` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rekor {
    /// Rekor URL; `https://rekor.sigstore.dev` when absent.
    #[serde(default)]
    pub url: Option<String>,
    /// Rekor public key (PEM).
    #[serde(default)]
    pub pubkey: Option<String>,
    /// Skip the transparency-log check.
    #[serde(default)]
    pub ignore_tlog: Option<bool>,
}

/// `ctlog` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CtLog {
    /// Skip the signed certificate timestamp check.
    #[serde(default, rename = "ignoreSCT")]
    pub ignore_sct: Option<bool>,
    /// CT log public key (PEM).
    #[serde(default)]
    pub pubkey: Option<String>,
    /// TSA certificate chain (PEM).
    #[serde(default)]
    pub tsa_cert_chain: Option<String>,
}

/// One attestation to verify.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Attestation {
    /// Name of the attestation (used in conditions).
    #[serde(default)]
    pub name: Option<String>,
    /// The in-toto predicate type.
    #[serde(default, rename = "type")]
    pub attestation_type: Option<String>,
    /// Deprecated spelling of `type`.
    #[serde(default)]
    pub predicate_type: Option<String>,
    /// Who must have signed the attestation.
    #[serde(default)]
    pub attestors: Vec<AttestorSet>,
    /// Conditions on the predicate.
    #[serde(default)]
    pub conditions: Vec<Value>,
}

impl KyvernoPolicy {
    /// Calls `f` on every inline `keys.publicKeys` of the policy's `verifyImages` attestors,
    /// those of images and those of attestations, in document order.
    pub fn for_each_public_key(&mut self, mut f: impl FnMut(&mut String)) {
        let mut in_sets = |sets: &mut Vec<AttestorSet>| {
            for set in sets {
                for entry in &mut set.entries {
                    if let Some(key) = entry
                        .value
                        .keys
                        .as_mut()
                        .and_then(|k| k.public_keys.as_mut())
                    {
                        f(key);
                    }
                }
            }
        };
        for rule in &mut self.spec.rules {
            for verify in &mut rule.verify_images {
                in_sets(&mut verify.value.attestors);
                for attestation in &mut verify.value.attestations {
                    in_sets(&mut attestation.value.attestors);
                }
            }
        }
    }

    /// The policy's name as reports and tests write it (`cache.MetaNamespaceKeyFunc`):
    /// `<name>` for a ClusterPolicy, `<ns>/<name>` for a Policy.
    pub fn key(&self) -> String {
        match &self.metadata.namespace {
            Some(ns) => format!("{ns}/{}", self.metadata.name.value),
            None => self.metadata.name.value.clone(),
        }
    }

    /// The failure action Kyverno's *policy validation* assigns to each `verifyImages` entry of
    /// a rule, for the mutateDigest check (`pkg/validation/policy/validate.go` L367-383 at
    /// v1.19.0): it starts from the spec-level `validationFailureAction` (unset counts as
    /// Audit), an entry's own `failureAction` replaces it, and that value carries over to later
    /// entries that set none. Overrides are ignored. This differs from [`Self::rule_action`],
    /// which is what admission uses at run time.
    pub fn validation_actions(&self, rule: &Rule) -> Vec<FailureMode> {
        let mut current = self.spec_action();
        rule.verify_images
            .iter()
            .map(|entry| {
                if let Some(action) = &entry.failure_action {
                    current = action.value;
                }
                current
            })
            .collect()
    }

    /// A rule's failure action for a resource in `namespace` (empty for a cluster-scoped
    /// resource) whose namespace carries `labels`, by Kyverno's precedence at admission
    /// (`pkg/engine/api/engineresponse.go` `failureActionForRule` and `ruleAction` at v1.19.0):
    /// if any `verifyImages` entry says Enforce, Enforce; else the first entry that sets an
    /// action; else the first `validationFailureActionOverrides` entry that selects the
    /// namespace ([`Self::matching_override`]); else the spec-level `validationFailureAction`
    /// (CRD default Audit).
    pub fn rule_action(
        &self,
        rule: &Rule,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> FailureMode {
        let actions: Vec<FailureMode> = rule
            .verify_images
            .iter()
            .filter_map(|e| e.failure_action.as_ref().map(|a| a.value))
            .collect();
        if actions.contains(&FailureMode::Enforce) {
            return FailureMode::Enforce;
        }
        actions
            .first()
            .copied()
            .or_else(|| self.matching_override(namespace, labels))
            .unwrap_or_else(|| self.spec_action())
    }

    /// The spec-level `validationFailureAction`, Audit when unset (the CRD default): where
    /// every reading of a policy's failure action starts.
    pub fn spec_action(&self) -> FailureMode {
        self.spec
            .validation_failure_action
            .as_ref()
            .map_or(FailureMode::Audit, |a| a.value.mode())
    }

    /// The action of the first `validationFailureActionOverrides` entry that selects the
    /// namespace (`engineresponse.go` `matchOverride`): an entry with neither `namespaces` nor
    /// `namespaceSelector` selects every namespace; `namespaces` are wildcard patterns; a
    /// `namespaceSelector` must also match the namespace's labels (unknown labels count as
    /// none, as Kyverno's nil map does). Kyverno reads the namespace's labels only for a policy
    /// whose rules select by namespace labels themselves ([`Self::reads_namespace_labels`]);
    /// otherwise a selector in the overrides is matched against no labels at all.
    pub fn matching_override(
        &self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> Option<FailureMode> {
        let none = BTreeMap::new();
        let labels = if self.reads_namespace_labels() {
            labels
        } else {
            &none
        };
        let selected = |o: &FailureActionOverride| {
            o.namespace_selector
                .as_ref()
                .is_none_or(|s| super::matching::selector_matches(s, labels))
        };
        self.spec
            .validation_failure_action_overrides
            .iter()
            .find(|o| {
                let named = o.namespaces.is_empty()
                    || o.namespaces
                        .iter()
                        .any(|p| crate::wildcard::matches(p, namespace));
                named && selected(o)
            })
            .map(|o| o.action.value.mode())
    }

    /// Whether Kyverno v1.19 fetches the namespace's labels for this policy at admission
    /// (`hasNamespaceSelector` in `pkg/utils/engine/labels.go`, called by the image verification
    /// and validation handlers): only when a rule has a `namespaceSelector` in `match` or
    /// `exclude` (top level, `any` or `all`) or in a `validate` rule's
    /// `failureActionOverrides`. The spec-level `validationFailureActionOverrides` are not
    /// looked at, so their `namespaceSelector` alone never sees a label: measured against the
    /// real admission controller (`tests/fixtures/differential/26-*`).
    pub fn reads_namespace_labels(&self) -> bool {
        let in_description = |d: &Option<ResourceDescription>| {
            d.as_ref().is_some_and(|d| d.namespace_selector.is_some())
        };
        let in_filters = |m: &MatchResources| {
            in_description(&m.resources)
                || m.any
                    .iter()
                    .chain(&m.all)
                    .any(|f| in_description(&f.resources))
        };
        self.spec.rules.iter().any(|rule| {
            in_filters(&rule.match_resources)
                || rule.exclude.as_ref().is_some_and(in_filters)
                || rule.validate.as_ref().is_some_and(|v| {
                    v["failureActionOverrides"]
                        .as_array()
                        .is_some_and(|o| o.iter().any(|o| !o["namespaceSelector"].is_null()))
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn live_actions_come_from_the_entry_then_the_spec() {
        let p = json!({"spec": {"validationFailureAction": "enforce", "rules": [
            {"verifyImages": [{"failureAction": "Audit"}, {}]}, {"validate": {}}]}});
        assert_eq!(
            live_entry_actions(&p),
            [FailureMode::Audit, FailureMode::Enforce]
        );
        assert_eq!(live_action(&p), None, "mixed");
        assert_eq!(joined(&live_entry_actions(&p)), "Audit/Enforce");
    }

    #[test]
    fn a_live_policy_is_in_one_action_only_when_every_entry_agrees() {
        let p = json!({"spec": {"rules": [{"verifyImages": [{"failureAction": "Enforce"}]},
            {"verifyImages": [{"failureAction": "enforce"}]}]}});
        assert_eq!(live_action(&p), Some(FailureMode::Enforce));
        let unset = json!({"spec": {"rules": [{"verifyImages": [{}]}]}});
        assert_eq!(
            live_action(&unset),
            Some(FailureMode::Audit),
            "the CRD default"
        );
        let none = json!({"spec": {"rules": [{"validate": {}}]}});
        assert_eq!(live_action(&none), None, "no entry enforces anything");
    }

    // The state file and `lab status` spell the pack's mode as Kyverno does; a state written
    // before the mode was typed must still read.
    #[test]
    fn the_mode_serializes_as_kyverno_spells_it() {
        assert_eq!(
            serde_json::to_value(FailureMode::Enforce).unwrap(),
            json!("Enforce")
        );
        assert_eq!(FailureMode::Audit.to_string(), "Audit");
        assert_eq!(FailureMode::from_written("bogus"), FailureMode::Audit);
    }
}
