//! Reading a chapter's `kyverno-test.yaml` files into cases ready to evaluate: policies
//! rendered with the test variables and the mode the Test asks for, resources with their
//! placeholders filled, and the expected results resolved to resources.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::SuiteError;
use super::model::{
    DENIED_ANNOTATION, Expected, KyvernoTest, MODE_ANNOTATION, TestResult, TestValues,
};
use crate::content::chapter::Chapter;
use crate::content::diagnostic::{Diagnostic, did_you_mean};
use crate::content::load::{FileKind, parse_one};
use crate::content::model::{FailureMode, Spanned};
use crate::content::paths::resolve;
use crate::policy::model::KyvernoPolicy;

/// A resource of a test, and how results name it.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The object.
    pub object: Value,
    /// `Kind/namespace/name` (`Kind/name` when cluster-scoped).
    pub id: String,
}

/// One expected rule result on one resource.
#[derive(Debug, Clone)]
pub struct ExpectedResult {
    /// Index of the resource in [`PreparedTest::resources`].
    pub resource: usize,
    /// The policy name.
    pub policy: String,
    /// The rule name.
    pub rule: String,
    /// The expected result.
    pub result: Expected,
    /// The expected resource after mutation, if the test gives one.
    pub patched: Option<Value>,
    /// Where in the test file the expectation is written.
    pub line: u64,
}

/// A test file, ready to evaluate.
#[derive(Debug, Clone)]
pub struct PreparedTest {
    /// Course-relative path of the test file.
    pub file: String,
    /// The test's name.
    pub name: String,
    /// The mode the test asks for (`courselab.dev/mode`), if any.
    pub mode: Option<FailureMode>,
    /// The policies, rendered.
    pub policies: Vec<KyvernoPolicy>,
    /// The resources.
    pub resources: Vec<Resource>,
    /// The expected rule results.
    pub expected: Vec<ExpectedResult>,
    /// The resources admission must deny (`courselab.dev/denied`), if the test says.
    pub denied: Option<BTreeSet<String>>,
    /// Namespace labels from the test's values.
    pub namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
}

/// How results and messages name a resource: `Kind/namespace/name`, or `Kind/name`.
pub fn resource_id(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    match object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
    {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// The course path of a file the test names, which must exist.
fn existing(chapter: &Chapter, rel: &str, path: &Spanned<String>) -> Result<String, SuiteError> {
    let found = resolve(rel, path).map_err(|problem| {
        error_at(
            rel,
            path,
            "test/path",
            problem.to_string(),
            "name a file inside the course, relative to this test file",
        )
    })?;
    if chapter.files.text(&found).is_none() {
        return Err(error_at(
            rel,
            path,
            "test/missing-file",
            format!("`{}` does not exist", path.value),
            "the path is relative to this test file",
        ));
    }
    Ok(found)
}

fn error_at<T>(
    file: &str,
    sp: &Spanned<T>,
    code: &'static str,
    message: String,
    help: &str,
) -> SuiteError {
    SuiteError::Invalid(vec![
        Diagnostic::error(code, file, (sp.line, sp.column), message).help(help.to_owned()),
    ])
}

/// The diagnostic for a `courselab.dev/mode` value that is not a mode.
pub fn bad_mode(rel: &str, value: &Spanned<String>) -> SuiteError {
    error_at(
        rel,
        value,
        "test/mode",
        format!("`{MODE_ANNOTATION}: {}` is not a mode", value.value),
        "write `audit` or `enforce`",
    )
}

/// Reads and prepares the test file `rel`. `forced_mode` renders every policy in that mode,
/// whatever the Test asks for (the mutations use it).
pub fn prepare(
    chapter: &Chapter,
    rel: &str,
    values: &BTreeMap<String, String>,
    forced_mode: Option<FailureMode>,
) -> Result<PreparedTest, SuiteError> {
    let text = chapter.text(rel)?;
    let test: KyvernoTest =
        parse_one(rel, text, FileKind::KyvernoTest).map_err(|d| SuiteError::Invalid(vec![*d]))?;
    if test.api_version.value != "cli.kyverno.io/v1alpha1" || test.kind.value != "Test" {
        return Err(error_at(
            rel,
            &test.api_version,
            "test/api-version",
            format!(
                "expected `apiVersion: cli.kyverno.io/v1alpha1` and `kind: Test`, found `{}` `{}`",
                test.api_version.value, test.kind.value
            ),
            "kyverno test files are cli.kyverno.io/v1alpha1 Test documents",
        ));
    }
    let mode = test.mode().map_err(|v| bad_mode(rel, v))?;
    let mut policies = Vec::new();
    for path in &test.policies {
        let policy_rel = existing(chapter, rel, path)?;
        policies.extend(chapter.render_policies(&policy_rel, values, forced_mode.or(mode))?);
    }
    let mut resources = Vec::new();
    for path in &test.resources {
        let resource_rel = existing(chapter, rel, path)?;
        for object in chapter.resources(&resource_rel, values)? {
            resources.push(Resource {
                id: resource_id(&object),
                object,
            });
        }
    }
    let mut expected = Vec::new();
    for result in &test.results {
        expected.extend(expectations(
            chapter, rel, values, result, &policies, &resources,
        )?);
    }
    let denied = denied_resources(rel, &test, &resources)?;
    let namespace_labels = namespace_labels(chapter, rel, &test)?;
    Ok(PreparedTest {
        file: rel.to_owned(),
        name: test
            .metadata
            .name
            .or(test.name)
            .unwrap_or_else(|| rel.to_owned()),
        mode,
        policies,
        resources,
        expected,
        denied,
        namespace_labels,
    })
}

/// Checks that a result names a policy of the test and a rule of that policy. A rule nobody
/// has would give no response, which a `skip` expectation accepts: a misspelt rule must be an
/// error, or the case could never fail. `kyverno test` also takes the `autogen-` twins of a
/// rule (`lookupRuleResponses`).
fn check_policy_and_rule(
    rel: &str,
    r: &TestResult,
    policies: &[KyvernoPolicy],
) -> Result<(), SuiteError> {
    let policy_names: Vec<String> = policies.iter().map(KyvernoPolicy::key).collect();
    if !policy_names.contains(&r.policy.value) {
        return Err(error_at(
            rel,
            &r.policy,
            "test/unknown-policy",
            format!("no policy of this test is called `{}`", r.policy.value),
            &did_you_mean(&r.policy.value, policy_names.iter().map(String::as_str)).map_or_else(
                || format!("the test's policies are: {}", policy_names.join(", ")),
                |s| format!("did you mean `{s}`?"),
            ),
        ));
    }
    let policy_rules: Vec<String> = policies
        .iter()
        .filter(|p| p.key() == r.policy.value)
        .flat_map(|p| p.spec.rules.iter().map(|rule| rule.name.value.clone()))
        .collect();
    let bare = r
        .rule
        .value
        .strip_prefix("autogen-cronjob-")
        .or_else(|| r.rule.value.strip_prefix("autogen-"))
        .unwrap_or(&r.rule.value);
    if !policy_rules.iter().any(|n| n == bare || *n == r.rule.value) {
        return Err(error_at(
            rel,
            &r.rule,
            "test/unknown-rule",
            format!("policy `{}` has no rule `{}`", r.policy.value, r.rule.value),
            &did_you_mean(bare, policy_rules.iter().map(String::as_str)).map_or_else(
                || format!("its rules are: {}", policy_rules.join(", ")),
                |s| format!("did you mean `{s}`?"),
            ),
        ));
    }
    Ok(())
}

/// The expectations one `results:` entry makes: one per resource it names.
fn expectations(
    chapter: &Chapter,
    rel: &str,
    values: &BTreeMap<String, String>,
    result: &Spanned<TestResult>,
    policies: &[KyvernoPolicy],
    resources: &[Resource],
) -> Result<Vec<ExpectedResult>, SuiteError> {
    let r = &result.value;
    check_policy_and_rule(rel, r, policies)?;
    let Some(want) = r.result.as_ref().or(r.status.as_ref()) else {
        return Err(error_at(
            rel,
            result,
            "test/missing-result",
            "this result has no `result:`".into(),
            "add `result: pass` (or fail, skip, error)",
        ));
    };
    let patched = match &r.patched_resources {
        None => None,
        Some(path) => {
            let patched_rel = existing(chapter, rel, path)?;
            Some(chapter.resources(&patched_rel, values)?)
        }
    };
    let names: Vec<&Spanned<String>> = r.resources.iter().chain(r.resource.as_ref()).collect();
    if names.is_empty() {
        return Err(error_at(
            rel,
            result,
            "test/no-resources",
            "this result names no resources".into(),
            "add `resources: [name]`",
        ));
    }
    let mut out = Vec::new();
    for name in names {
        let index = find_resource(rel, r, name, resources)?;
        let patched = patched.as_ref().and_then(|docs| {
            docs.iter()
                .find(|d| resource_id(d) == resources[index].id)
                .cloned()
        });
        if let (Some(path), None) = (&r.patched_resources, &patched) {
            return Err(error_at(
                rel,
                path,
                "test/unknown-resource",
                format!("the patched resources hold no {}", resources[index].id),
                "add the resource as it should look after mutation",
            ));
        }
        out.push(ExpectedResult {
            resource: index,
            policy: r.policy.value.clone(),
            rule: r.rule.value.clone(),
            result: want.value,
            patched,
            line: result.line,
        });
    }
    Ok(out)
}

/// The index of the resource a result names (`name`, or `namespace/name`).
fn find_resource(
    rel: &str,
    r: &TestResult,
    name: &Spanned<String>,
    resources: &[Resource],
) -> Result<usize, SuiteError> {
    let (namespace, bare) = match name.value.split_once('/') {
        Some((ns, n)) => (Some(ns), n),
        None => (r.namespace.as_deref(), name.value.as_str()),
    };
    resources
        .iter()
        .position(|res| {
            res.object["kind"].as_str() == Some(r.kind.value.as_str())
                && res.object.pointer("/metadata/name").and_then(Value::as_str) == Some(bare)
                && namespace.is_none_or(|ns| {
                    res.object
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        == Some(ns)
                })
        })
        .ok_or_else(|| {
            error_at(
                rel,
                name,
                "test/unknown-resource",
                format!(
                    "no {} called `{}` among the test's resources",
                    r.kind.value, name.value
                ),
                "name a resource of the files under `resources:` (by name, or namespace/name)",
            )
        })
}

/// The resources `courselab.dev/denied` says admission must deny, if the test says.
fn denied_resources(
    rel: &str,
    test: &KyvernoTest,
    resources: &[Resource],
) -> Result<Option<BTreeSet<String>>, SuiteError> {
    let Some(list) = test.metadata.annotations.get(DENIED_ANNOTATION) else {
        return Ok(None);
    };
    let mut set = BTreeSet::new();
    for id in list
        .value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !resources.iter().any(|r| r.id == id) {
            return Err(error_at(
                rel,
                list,
                "test/unknown-resource",
                format!(
                    "`{DENIED_ANNOTATION}` names {id}, which is not among the test's resources"
                ),
                "write Kind/namespace/name of a resource in the test's files",
            ));
        }
        set.insert(id.to_owned());
    }
    Ok(Some(set))
}

/// Namespace labels from the test's values. Inline `values` win and the `variables` file is
/// then not read, as in kyverno test (`cmd/cli/kubectl-kyverno/variables/new.go`).
fn namespace_labels(
    chapter: &Chapter,
    rel: &str,
    test: &KyvernoTest,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, SuiteError> {
    Ok(match (&test.values, &test.variables) {
        (Some(inline), _) => inline.namespace_labels(),
        (None, Some(path)) => {
            let values_rel = existing(chapter, rel, path)?;
            let text = chapter.text(&values_rel)?;
            let file: TestValues = parse_one(&values_rel, text, FileKind::KyvernoTest)
                .map_err(|d| SuiteError::Invalid(vec![*d]))?;
            file.namespace_labels()
        }
        (None, None) => BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::CourseFiles;
    use crate::content::load::parse_one;

    const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7Ytf5kAvPGcs2PJ3pnfc1d4JMeyY\nKHKLUbwiEWtQ0vWnWUvQFaHXpz0P1HiCkCw7Of0nqnTHVcl1RtaVTMq6GA==\n-----END PUBLIC KEY-----\n";

    fn chapter(test: &str) -> (Chapter, BTreeMap<String, String>) {
        let embedded = CourseFiles::embedded();
        let mut files = CourseFiles::empty("");
        for (path, text) in embedded.texts() {
            files.insert_text(path, text.to_owned());
        }
        files.insert_text("labs/ch14/tests/t/kyverno-test.yaml", test.to_owned());
        files.insert_text(
            "labs/ch14/tests/t/pods.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: develop}\nspec: {containers: [{name: c, image: \"${image_registry}/demo:1\"}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: other}\nspec: {containers: [{name: c, image: nginx}]}\n".into(),
        );
        let lab = parse_one(
            "labs/ch14/lab.yaml",
            files.text("labs/ch14/lab.yaml").unwrap(),
            FileKind::Lab,
        )
        .unwrap();
        let values = BTreeMap::from([
            (
                "image_registry".to_owned(),
                "reg.example/courselab".to_owned(),
            ),
            ("cosign_public_key".to_owned(), PEM.to_owned()),
        ]);
        (
            Chapter {
                files,
                lab_file: "labs/ch14/lab.yaml".into(),
                lab,
                parsed: Default::default(),
            },
            values,
        )
    }

    fn test_file(annotations: &str, results: &str) -> String {
        format!(
            "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\n  annotations:\n{annotations}policies: [../../policies/keyed/verify-images.yaml]\nresources: [pods.yaml]\nresults:\n{results}"
        )
    }

    fn code<T: std::fmt::Debug>(result: Result<T, SuiteError>) -> &'static str {
        match result {
            Err(SuiteError::Invalid(d)) => d[0].code,
            other => panic!("expected a diagnostic, got {other:?}"),
        }
    }

    const RESULT: &str = "  - {policy: verify-signed-images, rule: verify-signature, kind: Pod, resources: [develop/a], result: pass}\n";

    #[test]
    fn a_test_renders_its_mode_and_resolves_namespaced_names() {
        let (ch, values) = chapter(&test_file(
            "    courselab.dev/mode: Enforce\n    courselab.dev/denied: Pod/other/a\n",
            RESULT,
        ));
        let test = prepare(&ch, "labs/ch14/tests/t/kyverno-test.yaml", &values, None).unwrap();
        assert_eq!(test.mode, Some(FailureMode::Enforce));
        let entry = &test.policies[0].spec.rules[0].verify_images[0];
        assert!(
            entry.effective_mutate_digest(),
            "Enforce turns on mutateDigest"
        );
        assert_eq!(test.resources[1].id, "Pod/other/a");
        assert_eq!(test.expected[0].resource, 0, "develop/a, not other/a");
        assert_eq!(
            test.denied,
            Some(BTreeSet::from(["Pod/other/a".to_owned()]))
        );
        assert_eq!(
            test.resources[0]
                .object
                .pointer("/spec/containers/0/image")
                .unwrap(),
            "reg.example/courselab/demo:1"
        );
        // A mutation's override wins over the test's own mode.
        let audit = prepare(
            &ch,
            "labs/ch14/tests/t/kyverno-test.yaml",
            &values,
            Some(FailureMode::Audit),
        )
        .unwrap();
        assert!(!audit.policies[0].spec.rules[0].verify_images[0].effective_mutate_digest());
    }

    #[test]
    fn bad_tests_are_diagnosed() {
        let file = "labs/ch14/tests/t/kyverno-test.yaml";
        let run = |annotations: &str, results: &str| {
            let (ch, values) = chapter(&test_file(annotations, results));
            prepare(&ch, file, &values, None)
        };
        assert_eq!(
            code(run("    courselab.dev/mode: strict\n", RESULT)),
            "test/mode"
        );
        assert_eq!(
            code(run("    courselab.dev/denied: Pod/develop/b\n", RESULT)),
            "test/unknown-resource"
        );
        assert_eq!(
            code(run(
                "    x: y\n",
                "  - {policy: verify-signed-images, rule: verify-signature, kind: Pod, resources: [b], result: pass}\n"
            )),
            "test/unknown-resource"
        );
        assert_eq!(
            code(run(
                "    x: y\n",
                "  - {policy: verify-signed-images, rule: verify-signature, kind: Pod, resources: [a]}\n"
            )),
            "test/missing-result"
        );
        assert_eq!(
            code(run(
                "    x: y\n",
                "  - {policy: nope, rule: verify-signature, kind: Pod, resources: [a], result: pass}\n"
            )),
            "test/unknown-policy"
        );
        assert_eq!(
            code(run(
                "    x: y\n",
                "  - {policy: verify-signed-images, rule: r, kind: Pod, resources: [a], result: maybe}\n"
            )),
            "schema/unknown-variant"
        );
    }

    // kyverno test's variables/new.go: inline `values` win and the `variables` file is not read;
    // `namespaces` objects win over `namespaceSelector` entries (variables.go).
    #[test]
    fn namespace_labels_come_from_the_values() {
        let labels = |test: &str, values_file: Option<&str>| {
            let (mut ch, values) = chapter(test);
            if let Some(text) = values_file {
                ch.files
                    .insert_text("labs/ch14/tests/t/values.yaml", text.to_owned());
            }
            prepare(&ch, "labs/ch14/tests/t/kyverno-test.yaml", &values, None)
                .map(|t| t.namespace_labels)
        };
        let base = test_file("    x: y\n", RESULT);
        let from_file = labels(
            &format!("{base}variables: values.yaml\n"),
            Some("apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\nnamespaceSelector:\n  - name: develop\n    labels: {env: dev}\n  - name: prod\n    labels: {env: prod}\nnamespaces:\n  - metadata: {name: develop, labels: {env: staging}}\n"),
        )
        .unwrap();
        assert_eq!(from_file["develop"]["env"], "staging");
        assert_eq!(from_file["prod"]["env"], "prod");
        let inline = labels(
            &format!("{base}variables: missing.yaml\nvalues:\n  namespaceSelector:\n    - {{name: develop, labels: {{tier: a}}}}\n"),
            None,
        )
        .unwrap();
        assert_eq!(inline["develop"]["tier"], "a");
        assert_eq!(
            code(labels(&format!("{base}variables: missing.yaml\n"), None)),
            "test/missing-file"
        );
        assert_eq!(
            code(labels(
                &format!("{base}values:\n  globalValues: {{a: b}}\n"),
                None
            )),
            "schema/unknown-field"
        );
    }
}
