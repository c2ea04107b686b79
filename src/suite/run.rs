//! Running prepared tests: fetch every image the cases need once (from fixture layouts or a
//! live registry), evaluate each resource as admission would, compare with the expected
//! results, then run the mutations and record which cases notice each one.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::SuiteError;
use super::model::Expected;
use super::prepare::{ExpectedResult, PreparedTest, prepare};
use crate::content::chapter::Chapter;
use crate::content::model::FailureMode;
use crate::policy::evaluate::{
    AdmissionResult, Artifacts, Patch, Phase, RuleResponse, VerifyCache, apply_patches,
    evaluate_cached, images_to_fetch,
};
use crate::policy::image_metadata::{VERIFY_IMAGES_ANNOTATION, VERIFY_IMAGES_SCOPED_ANNOTATION};
use crate::policy::matching::Request;
use crate::policy::model::KyvernoPolicy;
use crate::supply::fixture::SigningKey;
use crate::supply::{ImageRef, SupplyError};

pub use crate::policy::fetch::{ImageSource, layout_dir};

/// One checked expectation.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// What is checked, e.g. `verify-signed-images/verify-signature Pod/develop/demo`.
    pub name: String,
    /// Whether the expectation held.
    pub passed: bool,
    /// The expected outcome.
    pub expected: String,
    /// The actual outcome.
    pub actual: String,
    /// Kyverno's message for the outcome (the rule message or the denial).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The line of the test file the expectation is written on (0: from an annotation).
    pub line: u64,
}

/// The cases of one test file.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// Course-relative path of the test file.
    pub file: String,
    /// The test's name.
    pub name: String,
    /// The mode the policies were rendered in (`audit`, `enforce`, or `as-written`).
    pub mode: &'static str,
    /// The cases.
    pub cases: Vec<Case>,
}

/// What a mutation did to the cases.
#[derive(Debug, Clone, Serialize)]
pub struct MutationReport {
    /// Short id, e.g. `wrong-signer-key`.
    pub id: &'static str,
    /// What the mutation changes.
    pub description: &'static str,
    /// False when the chapter has nothing the mutation could change.
    pub applicable: bool,
    /// The cases that failed under the mutation (`file: case`). Empty: the mutation survived.
    pub noticed_by: Vec<String>,
}

impl MutationReport {
    /// Applicable, and no case noticed it.
    pub fn survived(&self) -> bool {
        self.applicable && self.noticed_by.is_empty()
    }
}

/// Everything `lab test` found.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    /// The chapter id.
    pub chapter: String,
    /// Where images came from.
    pub images_from: String,
    /// Per test file.
    pub tests: Vec<TestReport>,
    /// The mutation run (empty when mutations were not run).
    pub mutations: Vec<MutationReport>,
    /// Why mutations were not run, if they were not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutations_skipped: Option<String>,
}

impl SuiteReport {
    /// Cases in all.
    pub fn cases(&self) -> usize {
        self.tests.iter().map(|t| t.cases.len()).sum()
    }

    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.tests
            .iter()
            .flat_map(|t| &t.cases)
            .filter(|c| !c.passed)
            .count()
    }

    /// Every case passed and no applicable mutation survived.
    pub fn passed(&self) -> bool {
        self.failed() == 0 && !self.mutations.iter().any(MutationReport::survived)
    }
}

/// The resource as admission leaves it, for a test's `patchedResources`: every patch applied,
/// then Kyverno's two verification annotations taken out again (with the annotations map, if
/// that is all it held), so that an author writes the images, not Kyverno's bookkeeping.
pub fn patched(object: &Value, patches: &[Patch]) -> Value {
    let mut out = apply_patches(object, patches);
    if let Some(metadata) = out.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(annotations) = metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
    {
        annotations.remove(VERIFY_IMAGES_ANNOTATION);
        annotations.remove(VERIFY_IMAGES_SCOPED_ANNOTATION);
        if annotations.is_empty() && object.pointer("/metadata/annotations").is_none() {
            metadata.remove("annotations");
        }
    }
    out
}

fn image_lines(object: &Value) -> String {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "image" {
                        if let Some(s) = v.as_str() {
                            out.push(s.to_owned());
                        }
                    } else {
                        walk(v, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut images = Vec::new();
    walk(object, &mut images);
    images.join(", ")
}

/// Checks one expectation as `kyverno test` does (`cmd/cli/kubectl-kyverno/commands/test/
/// output.go`): every response of the rule (one per image in the mutating webhook, one in the
/// validating webhook; `autogen-` variants of the rule included, as `lookupRuleResponses`
/// includes them) must have the expected status. A resource no rule applied to is a pass for
/// `kyverno test` whatever the expectation ("Excluded"); here it satisfies only `skip`, so a
/// case that expects `pass` or `fail` cannot pass by not being evaluated.
fn compare(result: &AdmissionResult, want: &ExpectedResult) -> (String, bool, Option<String>) {
    let autogen = format!("autogen-{}", want.rule);
    let cronjob = format!("autogen-cronjob-{}", want.rule);
    let responses: Vec<&RuleResponse> = [want.rule.as_str(), &autogen, &cronjob]
        .into_iter()
        .flat_map(|rule| result.responses(&want.policy, rule))
        .collect();
    let expected = want.result.as_str();
    if responses.is_empty() {
        return (
            "no result (no rule applied)".into(),
            want.result == Expected::Skip,
            None,
        );
    }
    let mut statuses: Vec<&str> = Vec::new();
    for r in &responses {
        if !statuses.contains(&r.status.as_str()) {
            statuses.push(r.status.as_str());
        }
    }
    let odd = responses.iter().find(|r| r.status.as_str() != expected);
    let shown = odd.or(responses.last()).map(|r| {
        format!(
            "{} ({} webhook)",
            r.message,
            if r.phase == Phase::Mutate {
                "mutating"
            } else {
                "validating"
            }
        )
    });
    (statuses.join("/"), odd.is_none(), shown)
}

/// The admission request for a test resource: its namespace's labels come from the test's
/// values; a namespace they do not name has none, as under `kyverno test`.
fn request_for<'a>(test: &'a PreparedTest, object: &'a Value) -> Request<'a> {
    Request::create(object, &test.namespace_labels)
}

/// Evaluates every resource of every test and checks the expectations.
pub fn check(tests: &[PreparedTest], artifacts: &Artifacts) -> Vec<TestReport> {
    tests
        .iter()
        .map(|test| {
            let mut cache = VerifyCache::default();
            let results: Vec<AdmissionResult> = test
                .resources
                .iter()
                .map(|r| {
                    evaluate_cached(
                        &request_for(test, &r.object),
                        &test.policies,
                        artifacts,
                        &mut cache,
                    )
                })
                .collect();
            let mut cases = Vec::new();
            for want in &test.expected {
                let resource = &test.resources[want.resource];
                let result = &results[want.resource];
                let (actual, passed, message) = compare(result, want);
                cases.push(Case {
                    name: format!("{}/{} {}", want.policy, want.rule, resource.id),
                    passed,
                    expected: want.result.as_str().to_owned(),
                    actual,
                    message,
                    line: want.line,
                });
                if let Some(expected) = &want.patched {
                    let actual = patched(&resource.object, &result.patches);
                    cases.push(Case {
                        name: format!("{}/{} {} patched", want.policy, want.rule, resource.id),
                        passed: &actual == expected,
                        expected: image_lines(expected),
                        actual: image_lines(&actual),
                        message: None,
                        line: want.line,
                    });
                }
            }
            if let Some(denied) = &test.denied {
                for (resource, result) in test.resources.iter().zip(&results) {
                    let expected = if denied.contains(&resource.id) {
                        "denied"
                    } else {
                        "admitted"
                    };
                    let actual = if result.allowed { "admitted" } else { "denied" };
                    cases.push(Case {
                        name: format!("admission {}", resource.id),
                        passed: expected == actual,
                        expected: expected.to_owned(),
                        actual: actual.to_owned(),
                        message: result.denial.clone(),
                        line: 0,
                    });
                }
            }
            TestReport {
                file: test.file.clone(),
                name: test.name.clone(),
                mode: test.mode.map_or("as-written", FailureMode::lowercase),
                cases,
            }
        })
        .collect()
}

/// The mutations `lab test` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// Tests that ask for Enforce get the policies in Audit.
    AuditForEnforce,
    /// Every key attestor trusts a freshly generated key instead of the chapter's signer.
    WrongSignerKey,
    /// Every image loses its signatures.
    UnsignedImages,
    /// Every image loses its attestations.
    AttestationsMissing,
}

impl Mutation {
    /// All of them, in report order.
    pub const ALL: [Mutation; 4] = [
        Mutation::AuditForEnforce,
        Mutation::WrongSignerKey,
        Mutation::UnsignedImages,
        Mutation::AttestationsMissing,
    ];

    /// Short id.
    pub fn id(self) -> &'static str {
        match self {
            Mutation::AuditForEnforce => "audit-instead-of-enforce",
            Mutation::WrongSignerKey => "wrong-signer-key",
            Mutation::UnsignedImages => "unsigned-images",
            Mutation::AttestationsMissing => "attestations-missing",
        }
    }

    /// What it changes.
    pub fn description(self) -> &'static str {
        match self {
            Mutation::AuditForEnforce => {
                "the policies are left in Audit where a test expects Enforce"
            }
            Mutation::WrongSignerKey => "the policies trust another signer's key",
            Mutation::UnsignedImages => "every image's signatures are removed",
            Mutation::AttestationsMissing => "every image's attestations are removed",
        }
    }
}

/// Replaces every inline public key of the policies; returns how many were replaced.
fn swap_keys(policies: &mut [KyvernoPolicy], pem: &str) -> usize {
    let mut swapped = 0;
    for entry in policies
        .iter_mut()
        .flat_map(|p| p.spec.rules.iter_mut())
        .flat_map(|r| r.verify_images.iter_mut())
    {
        let entry = &mut entry.value;
        let sets = entry.attestors.iter_mut().chain(
            entry
                .attestations
                .iter_mut()
                .flat_map(|a| a.attestors.iter_mut()),
        );
        for set in sets {
            for attestor in &mut set.entries {
                if let Some(keys) = attestor.value.keys.as_mut()
                    && keys.public_keys.is_some()
                {
                    keys.public_keys = Some(pem.to_owned());
                    swapped += 1;
                }
            }
        }
    }
    swapped
}

/// Runs one mutation; `None` when it does not apply to the chapter.
fn mutate(
    mutation: Mutation,
    chapter: &Chapter,
    tests: &[PreparedTest],
    values: &BTreeMap<String, String>,
    artifacts: &Artifacts,
) -> Result<Option<Vec<TestReport>>, SuiteError> {
    match mutation {
        Mutation::AuditForEnforce => {
            if !tests.iter().any(|t| t.mode == Some(FailureMode::Enforce)) {
                return Ok(None);
            }
            let mutated = tests
                .iter()
                .map(|t| prepare(chapter, &t.file, values, Some(FailureMode::Audit)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(check(&mutated, artifacts)))
        }
        Mutation::WrongSignerKey => {
            let stranger = SigningKey::generate()?.public_pem()?;
            let mut mutated = tests.to_vec();
            let swapped: usize = mutated
                .iter_mut()
                .map(|t| swap_keys(&mut t.policies, &stranger))
                .sum();
            Ok((swapped > 0).then(|| check(&mutated, artifacts)))
        }
        Mutation::UnsignedImages | Mutation::AttestationsMissing => {
            let mut changed = false;
            let mutated: Artifacts = artifacts
                .iter()
                .map(|(k, v)| {
                    let v = v.clone().map(|mut a| {
                        if mutation == Mutation::UnsignedImages {
                            changed |= !a.signatures.is_empty();
                            a.signatures.clear();
                        } else {
                            changed |= !a.attestations.is_empty();
                            a.attestations.clear();
                        }
                        a
                    });
                    (k.clone(), v)
                })
                .collect();
            Ok(changed.then(|| check(tests, &mutated)))
        }
    }
}

/// Runs the chapter's tests, then (if `mutations` and every case passed) the mutations.
pub fn run_suite(
    chapter: &Chapter,
    values: &BTreeMap<String, String>,
    source: &ImageSource,
    mutations: bool,
) -> Result<SuiteReport, SuiteError> {
    let files = chapter.test_files();
    if files.is_empty() {
        return Err(SuiteError::Usage(format!(
            "{} has no kyverno-test.yaml under {}/tests/; write the chapter's policy cases there",
            chapter.lab.id.value.0,
            chapter.shown(chapter.dir())
        )));
    }
    let tests = files
        .iter()
        .map(|f| prepare(chapter, f, values, None))
        .collect::<Result<Vec<_>, _>>()?;
    let mut images: Vec<ImageRef> = Vec::new();
    let mut elsewhere: Vec<(ImageRef, ImageRef)> = Vec::new();
    for test in &tests {
        for resource in &test.resources {
            let request = request_for(test, &resource.object);
            for image in images_to_fetch(&request, &test.policies) {
                if !images.contains(&image) {
                    images.push(image);
                }
            }
            for pair in crate::policy::evaluate::repositories_to_fetch(&request, &test.policies) {
                if !elsewhere.contains(&pair) {
                    elsewhere.push(pair);
                }
            }
        }
    }
    let fetched = crate::runtime::block_on(crate::policy::fetch::fetch_with(
        &images, &elsewhere, source,
    ))??;
    if let Some((target, reason)) = fetched.unreachable.into_iter().next() {
        return Err(SupplyError::Unreachable { target, reason }.into());
    }
    let artifacts = fetched.artifacts;
    let reports = check(&tests, &artifacts);
    let mut report = SuiteReport {
        chapter: chapter.lab.id.value.0.clone(),
        images_from: source.describe(),
        tests: reports,
        mutations: Vec::new(),
        mutations_skipped: None,
    };
    if !mutations {
        report.mutations_skipped = Some("--no-mutations was given".into());
        return Ok(report);
    }
    if report.failed() > 0 {
        report.mutations_skipped =
            Some("cases failed; mutations only mean something once every case passes".into());
        return Ok(report);
    }
    for mutation in Mutation::ALL {
        let outcome = mutate(mutation, chapter, &tests, values, &artifacts)?;
        report.mutations.push(MutationReport {
            id: mutation.id(),
            description: mutation.description(),
            applicable: outcome.is_some(),
            noticed_by: outcome
                .into_iter()
                .flatten()
                .flat_map(|t| {
                    t.cases
                        .into_iter()
                        .filter(|c| !c.passed)
                        .map(move |c| format!("{}: {}", t.file, c.name))
                })
                .collect(),
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::evaluate::Status;

    #[test]
    fn patches_replace_the_image_they_point_at_and_kyvernos_annotations_are_left_out() {
        let object = serde_json::json!({"metadata": {"name": "x"}, "spec": {"containers": [{"image": "a:1"}, {"image": "b:2"}]}});
        let out = patched(
            &object,
            &[
                Patch {
                    op: "add",
                    path: "/metadata/annotations".into(),
                    value: serde_json::json!({}),
                },
                Patch {
                    op: "add",
                    path: "/metadata/annotations/kyverno.io~1verify-images".into(),
                    value: "{}".into(),
                },
                Patch {
                    op: "replace",
                    path: "/spec/containers/1/image".into(),
                    value: "b:2@sha256:00".into(),
                },
            ],
        );
        assert_eq!(out["metadata"], serde_json::json!({"name": "x"}));
        assert_eq!(out["spec"]["containers"][0]["image"], "a:1");
        assert_eq!(out["spec"]["containers"][1]["image"], "b:2@sha256:00");
        assert_eq!(image_lines(&out), "a:1, b:2@sha256:00");
    }

    fn admission(statuses: &[(Status, Phase)]) -> AdmissionResult {
        AdmissionResult {
            allowed: true,
            denied_by: None,
            denial: None,
            rules: statuses
                .iter()
                .map(|(status, phase)| RuleResponse {
                    policy: "p".into(),
                    policy_namespace: None,
                    rule: "autogen-r".into(),
                    status: *status,
                    message: format!("{status:?}"),
                    phase: *phase,
                    action: FailureMode::Audit,
                })
                .collect(),
            patches: Vec::new(),
            annotations: BTreeMap::new(),
            report: Vec::new(),
            left_out: None,
            undecided: Vec::new(),
        }
    }

    fn expecting(result: Expected) -> ExpectedResult {
        ExpectedResult {
            resource: 0,
            policy: "p".into(),
            rule: "r".into(),
            result,
            patched: None,
            line: 1,
        }
    }

    #[test]
    fn every_response_of_the_rule_must_match_and_exclusion_is_only_a_skip() {
        let both = admission(&[
            (Status::Fail, Phase::Mutate),
            (Status::Fail, Phase::Validate),
        ]);
        let (actual, passed, _) = compare(&both, &expecting(Expected::Fail));
        assert_eq!(
            (actual.as_str(), passed),
            ("fail", true),
            "autogen-r answers for r"
        );
        let mixed = admission(&[
            (Status::Pass, Phase::Mutate),
            (Status::Fail, Phase::Validate),
        ]);
        let (actual, passed, message) = compare(&mixed, &expecting(Expected::Pass));
        assert_eq!((actual.as_str(), passed), ("pass/fail", false));
        assert_eq!(message.as_deref(), Some("Fail (validating webhook)"));
        let none = admission(&[]);
        assert!(
            !compare(&none, &expecting(Expected::Pass)).1,
            "kyverno test would pass it"
        );
        assert!(compare(&none, &expecting(Expected::Skip)).1);
    }

    #[test]
    fn every_inline_key_is_swapped_in_attestors_and_attestations() {
        let text = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  rules:\n    - name: r\n      match: {any: [{resources: {kinds: [Pod]}}]}\n      verifyImages:\n        - imageReferences: [\"*\"]\n          attestors: [{entries: [{keys: {publicKeys: A}}, {keyless: {subject: s, issuer: i}}]}]\n          attestations: [{type: t, attestors: [{entries: [{keys: {publicKeys: B}}]}]}]\n";
        let mut policies: Vec<KyvernoPolicy> = vec![serde_saphyr::from_str(text).unwrap()];
        assert_eq!(swap_keys(&mut policies, "NEW"), 2);
        let entry = &policies[0].spec.rules[0].verify_images[0];
        assert_eq!(
            entry.attestors[0].entries[0]
                .keys
                .as_ref()
                .unwrap()
                .public_keys
                .as_deref(),
            Some("NEW")
        );
        assert_eq!(
            entry.attestations[0].attestors[0].entries[0]
                .keys
                .as_ref()
                .unwrap()
                .public_keys
                .as_deref(),
            Some("NEW")
        );
        assert!(entry.attestors[0].entries[1].keyless.is_some());
    }
}
