//! Reading a chapter's `kyverno-test.yaml` files into cases ready to evaluate: policies
//! rendered with the test variables and the mode the Test asks for, resources with their
//! placeholders filled, and the expected results resolved to resources.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use super::SuiteError;
use super::model::{DENIED_ANNOTATION, Expected, KyvernoTest, MODE_ANNOTATION, TestValues};
use crate::content::diagnostic::{Diagnostic, did_you_mean};
use crate::content::files::CourseFiles;
use crate::content::load::{FileKind, parse_one};
use crate::content::model::{FailureMode, Lab, Sp};
use crate::content::paths::{resolve, resolve_in_workdir};
use crate::input::{self, InputError};
use crate::policy::matching::default_namespace;
use crate::policy::model::KyvernoPolicy;
use crate::policy::render::{RenderError, apply_mode, substitute};

/// Who set a variable's value, which decides where a `from_file` path is read from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// The lab's `default:`, relative to the working directory.
    Default,
    /// The lab's `tests.variables` (at this line), relative to the lab file.
    TestVariable(u64),
    /// `--set`, as the user wrote it.
    CommandLine,
}

/// A chapter as `lab test` and `lab admit` need it.
pub struct Chapter {
    /// The course snapshot (and, for a course on disk, where it is).
    pub files: CourseFiles,
    /// `labs/<ch>/lab.yaml`.
    pub lab_file: String,
    /// The parsed lab.
    pub lab: Lab,
}

impl Chapter {
    /// Finds the lab whose id or alias is `id`.
    pub fn find(files: CourseFiles, id: &str) -> Result<Chapter, SuiteError> {
        let mut known = Vec::new();
        let mut found = None;
        for (rel, text) in files
            .texts()
            .filter(|(p, _)| p.starts_with("labs/") && p.ends_with("/lab.yaml"))
        {
            let lab: Lab =
                parse_one(rel, text, FileKind::Lab).map_err(|d| SuiteError::Invalid(vec![*d]))?;
            let names: Vec<String> = std::iter::once(lab.id.value.0.clone())
                .chain(lab.aliases.iter().map(|a| a.value.0.clone()))
                .collect();
            if names.iter().any(|n| n == id) {
                found = Some((rel.to_owned(), lab));
                break;
            }
            known.extend(names);
        }
        if let Some((lab_file, lab)) = found {
            return Ok(Chapter {
                lab_file,
                lab,
                files,
            });
        }
        Err(SuiteError::UnknownChapter {
            id: id.to_owned(),
            suggestion: did_you_mean(id, known.iter().map(String::as_str)).map(str::to_owned),
        })
    }

    /// The lab's folder, course-relative (`labs/ch14`).
    pub fn dir(&self) -> &str {
        self.lab_file.rsplit_once('/').map_or("", |(d, _)| d)
    }

    /// Values for the lab's `${placeholders}`: defaults, then (for `lab test`) the lab's test
    /// variables, then `overrides` (`--set`). A `from_file` variable's value is read from the
    /// file it names: a test variable's inside the course, relative to the lab file; a
    /// default's in the working directory; a `--set` value's wherever the user says. Paths a
    /// lab file names follow the one rule of [`crate::content::paths`]. A file that does not
    /// exist leaves the variable without a value, so that rendering reports exactly where it
    /// is needed; a file that is not a readable text file of key size is an error.
    pub fn values(
        &self,
        for_tests: bool,
        overrides: &[(String, String)],
    ) -> Result<BTreeMap<String, String>, SuiteError> {
        let mut raw: BTreeMap<String, (String, Origin)> = BTreeMap::new();
        for v in &self.lab.variables {
            if let Some(default) = &v.default {
                raw.insert(v.name.value.clone(), (default.clone(), Origin::Default));
            }
        }
        if for_tests && let Some(tests) = &self.lab.tests {
            for (name, value) in &tests.variables {
                raw.insert(
                    name.clone(),
                    (value.value.clone(), Origin::TestVariable(value.line)),
                );
            }
        }
        for (name, value) in overrides {
            if !self.lab.variables.iter().any(|v| v.name.value == *name) {
                return Err(SuiteError::Usage(format!(
                    "--set {name}=...: the lab {} has no variable `{name}`{}",
                    self.lab.id.value.0,
                    did_you_mean(
                        name,
                        self.lab.variables.iter().map(|v| v.name.value.as_str())
                    )
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default()
                )));
            }
            raw.insert(name.clone(), (value.clone(), Origin::CommandLine));
        }
        let mut values = BTreeMap::new();
        for (name, (value, origin)) in raw {
            let from_file = self
                .lab
                .variables
                .iter()
                .any(|v| v.name.value == name && v.from_file);
            if !from_file {
                values.insert(name, value);
                continue;
            }
            let path = self.variable_file(&name, &value, origin)?;
            match input::read_text(&path, input::limit::KEY, "a key file") {
                Ok(text) => drop(values.insert(name, text)),
                Err(InputError::Unreadable { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(SuiteError::Usage(format!(
                        "the value of `{name}` is read from a file: {e}"
                    )));
                }
            }
        }
        Ok(values)
    }

    /// Where the file of the `from_file` variable `name`, set to `value` by `origin`, is.
    fn variable_file(
        &self,
        name: &str,
        value: &str,
        origin: Origin,
    ) -> Result<PathBuf, SuiteError> {
        let refused = |problem: crate::content::paths::PathProblem, line: u64| {
            SuiteError::Invalid(vec![
                Diagnostic::error(
                    "ref/outside-course",
                    &self.lab_file,
                    (line, 1),
                    format!("the file of `{name}`: {problem}"),
                )
                .help(problem.help()),
            ])
        };
        match origin {
            Origin::CommandLine => Ok(PathBuf::from(value)),
            Origin::Default => resolve_in_workdir(value).map_err(|p| refused(p, 0)),
            Origin::TestVariable(line) => {
                let key = resolve(&self.lab_file, value).map_err(|p| refused(p, line))?;
                match self.files.dir() {
                    Some(_) => self.files.disk_path(&key).map_err(|p| refused(p, line)),
                    None => Err(SuiteError::Usage(format!(
                        "the test variable `{name}` is read from {key}, which the built-in course does not carry; run in a course checkout or pass --course DIR"
                    ))),
                }
            }
        }
    }

    /// Renders the policy file `rel` (course-relative) with `values`, in `mode` if given.
    pub fn render_policies(
        &self,
        rel: &str,
        values: &BTreeMap<String, String>,
        mode: Option<FailureMode>,
    ) -> Result<Vec<KyvernoPolicy>, SuiteError> {
        let text = self.text(rel)?;
        let shown = self.shown(rel);
        let mut rendered = substitute(&shown, text, values).map_err(|e| self.explain(e))?;
        if let Some(mode) = mode {
            rendered = apply_mode(&shown, &rendered, mode)?;
        }
        serde_saphyr::from_multiple(&rendered).map_err(|e| {
            SuiteError::Render(crate::policy::render::RenderError::Invalid {
                file: shown,
                reason: e.without_snippet().to_string(),
            })
        })
    }

    /// The Kubernetes objects of the file `rel`, with placeholders filled.
    pub fn resources(
        &self,
        rel: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<Vec<Value>, SuiteError> {
        let shown = self.shown(rel);
        let rendered = substitute(&shown, self.text(rel)?, values).map_err(|e| self.explain(e))?;
        let docs: Vec<Value> = serde_saphyr::from_multiple(&rendered).map_err(|e| {
            let at = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            SuiteError::Invalid(vec![
                Diagnostic::error(
                    "test/resource-yaml",
                    rel,
                    at,
                    e.without_snippet().to_string(),
                )
                .help("fix the YAML of this resource file"),
            ])
        })?;
        Ok(docs
            .into_iter()
            .filter(|d| !d.is_null())
            .map(|mut d| {
                default_namespace(&mut d);
                d
            })
            .collect())
    }

    /// A missing value of a `from_file` variable usually means its file could not be read.
    fn explain(&self, error: RenderError) -> SuiteError {
        if let RenderError::MissingValue { name, .. } = &error
            && let Some(v) = self
                .lab
                .variables
                .iter()
                .find(|v| v.name.value == *name && v.from_file)
        {
            return SuiteError::Usage(format!(
                "{error}\n  note: `{name}` is read from a file{}; pass --set {name}=PATH to a readable file",
                v.default
                    .as_ref()
                    .map(|d| format!(" (by default `{d}`, relative to the current directory), which could not be read"))
                    .unwrap_or_default()
            ));
        }
        error.into()
    }

    fn text(&self, rel: &str) -> Result<&str, SuiteError> {
        self.files.text(rel).ok_or_else(|| {
            SuiteError::Usage(format!(
                "{} does not exist or is not a YAML file",
                self.shown(rel)
            ))
        })
    }

    /// A course-relative path as the user sees it.
    pub fn shown(&self, rel: &str) -> String {
        format!("{}{rel}", self.files.display_root)
    }

    /// The course-relative paths of the chapter's `kyverno-test.yaml` files.
    pub fn test_files(&self) -> Vec<String> {
        let prefix = format!("{}/tests/", self.dir());
        self.files
            .texts()
            .map(|(p, _)| p)
            .filter(|p| {
                p.starts_with(&prefix)
                    && (p.ends_with("/kyverno-test.yaml") || p.ends_with("/kyverno-test.yml"))
            })
            .map(str::to_owned)
            .collect()
    }
}

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

/// How a test run differs from the chapter as written (mutations change these).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Render every test in this mode, whatever it asks for.
    pub mode: Option<FailureMode>,
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
fn existing(chapter: &Chapter, rel: &str, path: &Sp<String>) -> Result<String, SuiteError> {
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
    sp: &Sp<T>,
    code: &'static str,
    message: String,
    help: &str,
) -> SuiteError {
    SuiteError::Invalid(vec![
        Diagnostic::error(code, file, (sp.line, sp.column), message).help(help.to_owned()),
    ])
}

/// Reads and prepares the test file `rel`.
pub fn prepare(
    chapter: &Chapter,
    rel: &str,
    values: &BTreeMap<String, String>,
    overrides: &Overrides,
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
    let mode = match test.metadata.annotations.get(MODE_ANNOTATION) {
        None => None,
        Some(v) => Some(match v.value.to_ascii_lowercase().as_str() {
            "audit" => FailureMode::Audit,
            "enforce" => FailureMode::Enforce,
            other => {
                return Err(error_at(
                    rel,
                    v,
                    "test/mode",
                    format!("`{MODE_ANNOTATION}: {other}` is not a mode"),
                    "write `audit` or `enforce`",
                ));
            }
        }),
    };
    let render_mode = overrides.mode.or(mode);
    let mut policies = Vec::new();
    for path in &test.policies {
        let policy_rel = existing(chapter, rel, path)?;
        policies.extend(chapter.render_policies(&policy_rel, values, render_mode)?);
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
    let policy_names: Vec<String> = policies.iter().map(KyvernoPolicy::key).collect();
    let mut expected = Vec::new();
    for result in &test.results {
        let r = &result.value;
        if !policy_names.contains(&r.policy.value) {
            return Err(error_at(
                rel,
                &r.policy,
                "test/unknown-policy",
                format!("no policy of this test is called `{}`", r.policy.value),
                &did_you_mean(&r.policy.value, policy_names.iter().map(String::as_str))
                    .map_or_else(
                        || format!("the test's policies are: {}", policy_names.join(", ")),
                        |s| format!("did you mean `{s}`?"),
                    ),
            ));
        }
        // A rule nobody has would give no response, which a `skip` expectation accepts: a
        // misspelt rule must be an error, or the case could never fail. `kyverno test` also
        // takes the `autogen-` twins of a rule (`lookupRuleResponses`).
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
        let names: Vec<&Sp<String>> = r.resources.iter().chain(r.resource.as_ref()).collect();
        if names.is_empty() {
            return Err(error_at(
                rel,
                result,
                "test/no-resources",
                "this result names no resources".into(),
                "add `resources: [name]`",
            ));
        }
        for name in names {
            let (namespace, bare) = match name.value.split_once('/') {
                Some((ns, n)) => (Some(ns), n),
                None => (r.namespace.as_deref(), name.value.as_str()),
            };
            let found = resources.iter().position(|res| {
                res.object["kind"].as_str() == Some(r.kind.value.as_str())
                    && res.object.pointer("/metadata/name").and_then(Value::as_str) == Some(bare)
                    && namespace.is_none_or(|ns| {
                        res.object
                            .pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            == Some(ns)
                    })
            });
            let Some(index) = found else {
                return Err(error_at(
                    rel,
                    name,
                    "test/unknown-resource",
                    format!(
                        "no {} called `{}` among the test's resources",
                        r.kind.value, name.value
                    ),
                    "name a resource of the files under `resources:` (by name, or namespace/name)",
                ));
            };
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
            expected.push(ExpectedResult {
                resource: index,
                policy: r.policy.value.clone(),
                rule: r.rule.value.clone(),
                result: want.value,
                patched,
                line: result.line,
            });
        }
    }
    let denied = match test.metadata.annotations.get(DENIED_ANNOTATION) {
        None => None,
        Some(list) => {
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
            Some(set)
        }
    };
    // Inline `values` win and the `variables` file is then not read, as in kyverno test
    // (`cmd/cli/kubectl-kyverno/variables/new.go`).
    let namespace_labels = match (&test.values, &test.variables) {
        (Some(inline), _) => inline.namespace_labels(),
        (None, Some(path)) => {
            let values_rel = existing(chapter, rel, path)?;
            let text = chapter.text(&values_rel)?;
            let file: TestValues = parse_one(&values_rel, text, FileKind::KyvernoTest)
                .map_err(|d| SuiteError::Invalid(vec![*d]))?;
            file.namespace_labels()
        }
        (None, None) => BTreeMap::new(),
    };
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

#[cfg(test)]
mod tests {
    use super::*;
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
        let test = prepare(
            &ch,
            "labs/ch14/tests/t/kyverno-test.yaml",
            &values,
            &Overrides::default(),
        )
        .unwrap();
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
            &Overrides {
                mode: Some(FailureMode::Audit),
            },
        )
        .unwrap();
        assert!(!audit.policies[0].spec.rules[0].verify_images[0].effective_mutate_digest());
    }

    #[test]
    fn bad_tests_are_diagnosed() {
        let file = "labs/ch14/tests/t/kyverno-test.yaml";
        let run = |annotations: &str, results: &str| {
            let (ch, values) = chapter(&test_file(annotations, results));
            prepare(&ch, file, &values, &Overrides::default())
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
            prepare(
                &ch,
                "labs/ch14/tests/t/kyverno-test.yaml",
                &values,
                &Overrides::default(),
            )
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
