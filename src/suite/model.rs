//! The `kyverno test` file format (`cli.kyverno.io/v1alpha1`, kind `Test`), as far as
//! verifyImages cases need it. Kyverno's definition: `cmd/cli/kubectl-kyverno/apis/v1alpha1/
//! test.go`, `test_result.go` and `values_spec.go`. Of the values (`variables:` file or inline
//! `values:`), only the namespaces' labels are read, because verifyImages rules see them through
//! `namespaceSelector`s and `validationFailureActionOverrides`. Fields that only matter to other
//! rule types (`userinfo`, `exceptions`, `checks`, `globalValues`, ...) are rejected with a clear
//! message rather than silently ignored, so a case never passes because part of it was not read.
//!
//! courselab reads two annotations of the Test's `metadata`, which `kyverno test` ignores:
//! `courselab.dev/mode` (`audit` or `enforce`: how the policies are rendered) and
//! `courselab.dev/denied` (the resources admission must deny, as `Kind/namespace/name`, comma
//! separated; every other resource must be admitted).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::content::model::{FailureMode, Spanned};
use crate::policy::matching::metadata_map;

/// The annotation giving the rollout mode the policies are rendered in.
pub const MODE_ANNOTATION: &str = "courselab.dev/mode";
/// The annotation listing the resources admission must deny.
pub const DENIED_ANNOTATION: &str = "courselab.dev/denied";

impl KyvernoTest {
    /// The mode `courselab.dev/mode` asks the policies to be rendered in, if any; a value that
    /// is not a mode is returned as the error, with where it is written. The one reading of
    /// the annotation, for running the cases and for exporting them.
    pub fn mode(&self) -> Result<Option<FailureMode>, &Spanned<String>> {
        let Some(value) = self.metadata.annotations.get(MODE_ANNOTATION) else {
            return Ok(None);
        };
        [FailureMode::Audit, FailureMode::Enforce]
            .into_iter()
            .find(|m| value.value.eq_ignore_ascii_case(m.as_str()))
            .map(Some)
            .ok_or(value)
    }
}

/// A `kyverno-test.yaml` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KyvernoTest {
    /// `cli.kyverno.io/v1alpha1`.
    pub api_version: Spanned<String>,
    /// `Test`.
    pub kind: Spanned<String>,
    /// Name and annotations.
    #[serde(default)]
    pub metadata: TestMetadata,
    /// The deprecated top-level name.
    #[serde(default)]
    pub name: Option<String>,
    /// Policy files, relative to this file.
    pub policies: Vec<Spanned<String>>,
    /// Resource files, relative to this file.
    pub resources: Vec<Spanned<String>>,
    /// The expected results.
    #[serde(default)]
    pub results: Vec<Spanned<TestResult>>,
    /// A values file (kind `Values`), relative to this file.
    #[serde(default)]
    pub variables: Option<Spanned<String>>,
    /// Values written in the test itself.
    #[serde(default)]
    pub values: Option<TestValues>,
}

/// The parts of `kyverno test` values (`ValuesSpec`) that verifyImages rules can see: the
/// labels of namespaces. Where both name a namespace, `namespaces` wins, as in Kyverno's
/// `variables.go` `NamespaceSelectors`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestValues {
    /// `cli.kyverno.io/v1alpha1` (in a values file).
    #[serde(default)]
    pub api_version: Option<String>,
    /// `Values` (in a values file).
    #[serde(default)]
    pub kind: Option<String>,
    /// Ignored.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    /// Namespace names with their labels.
    #[serde(default)]
    pub namespace_selector: Vec<NamespaceLabels>,
    /// Namespace objects; their `metadata.labels` are used.
    #[serde(default)]
    pub namespaces: Vec<serde_json::Value>,
}

impl TestValues {
    /// The labels of each namespace named.
    pub fn namespace_labels(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out: BTreeMap<String, BTreeMap<String, String>> = self
            .namespace_selector
            .iter()
            .map(|n| (n.name.clone(), n.labels.clone()))
            .collect();
        for ns in &self.namespaces {
            if let Some(name) = ns.pointer("/metadata/name").and_then(|v| v.as_str()) {
                out.insert(name.to_owned(), metadata_map(ns, "labels"));
            }
        }
        out
    }
}

/// One `namespaceSelector` entry of the values: a namespace and its labels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceLabels {
    /// The namespace.
    pub name: String,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The Test's metadata.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestMetadata {
    /// The test's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Annotations (courselab reads `courselab.dev/*`).
    #[serde(default)]
    pub annotations: BTreeMap<String, Spanned<String>>,
    /// Labels (ignored).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// One expected result: a policy rule's result on some resources.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestResult {
    /// The policy's name (`namespace/name` for a namespaced Policy).
    pub policy: Spanned<String>,
    /// The rule's name (`autogen-<rule>` for a generated one).
    pub rule: Spanned<String>,
    /// The resources' kind.
    pub kind: Spanned<String>,
    /// Resource names, `name` or `namespace/name`.
    #[serde(default)]
    pub resources: Vec<Spanned<String>>,
    /// The deprecated single resource name.
    #[serde(default)]
    pub resource: Option<Spanned<String>>,
    /// The deprecated namespace of `resource`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The expected result.
    #[serde(default)]
    pub result: Option<Spanned<Expected>>,
    /// The deprecated name of `result`.
    #[serde(default)]
    pub status: Option<Spanned<Expected>>,
    /// A file with the expected resources after mutation (digest patches), relative to the test.
    #[serde(default)]
    pub patched_resources: Option<Spanned<String>>,
}

/// The result a rule is expected to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expected {
    /// Every matched image verified.
    Pass,
    /// Verification failed.
    Fail,
    /// Skipped (`skipImageReferences`), or no response at all: no image was in the rule's
    /// `imageReferences`.
    Skip,
    /// Verification could not run.
    Error,
    /// A warning (never produced by verifyImages).
    Warn,
}

impl Expected {
    /// The lowercase word.
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Pass => "pass",
            Expected::Fail => "fail",
            Expected::Skip => "skip",
            Expected::Error => "error",
            Expected::Warn => "warn",
        }
    }
}
