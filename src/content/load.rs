//! Turns a [`CourseFiles`] snapshot into typed documents. A file that does not parse becomes a
//! diagnostic at the line and column serde-saphyr reports, never a panic or an early exit.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::Value;

use super::diagnostic::{Diagnostic, did_you_mean};
use super::files::CourseFiles;
use super::model::{AnswerKey, KindCluster, Lab, Quiz, Sp};
use crate::policy::model::KyvernoPolicy;

/// What a course file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `labs/<ch>/lab.yaml`.
    Lab,
    /// A quiz.
    Quiz,
    /// A quiz answer key (`*.key.yaml`).
    AnswerKey,
    /// A kind `Cluster` config.
    KindConfig,
    /// Kyverno policies.
    Policies,
    /// A `kyverno test` file (`cli.kyverno.io`); checked by `lab test`.
    KyvernoTest,
    /// Other Kubernetes manifests.
    Manifests,
    /// Markdown.
    Markdown,
    /// YAML that is none of the above.
    Unknown,
}

impl FileKind {
    /// What the file is, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            FileKind::Lab => "lab file",
            FileKind::Quiz => "quiz",
            FileKind::AnswerKey => "quiz answer key",
            FileKind::KindConfig => "kind cluster config",
            FileKind::Policies => "Kyverno policy file",
            FileKind::KyvernoTest => "kyverno test file",
            FileKind::Manifests => "Kubernetes manifest",
            FileKind::Markdown => "Markdown file",
            FileKind::Unknown => "YAML file of unknown kind",
        }
    }

    /// The schema file that describes this kind, for help texts.
    pub fn schema(self) -> Option<&'static str> {
        match self {
            FileKind::Lab => Some("schemas/lab.schema.json"),
            FileKind::Quiz => Some("schemas/quiz.schema.json"),
            FileKind::AnswerKey => Some("schemas/answer-key.schema.json"),
            FileKind::KindConfig => Some("schemas/kind-config.schema.json"),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    questions: Option<IgnoredAny>,
    answers: Option<IgnoredAny>,
    steps: Option<IgnoredAny>,
}

/// Decides what a file is: first by its `apiVersion`, then by where it lives and its keys.
pub fn classify(rel: &str, text: &str) -> FileKind {
    if rel.ends_with(".md") {
        return FileKind::Markdown;
    }
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if name.ends_with(".key.yaml") {
        return FileKind::AnswerKey;
    }
    if name == "lab.yaml" && rel.starts_with("labs/") {
        return FileKind::Lab;
    }
    let probe = serde_saphyr::from_multiple::<Probe>(text)
        .ok()
        .and_then(|docs| docs.into_iter().next());
    let Some(probe) = probe else {
        return if rel.starts_with("quizzes/") {
            FileKind::Quiz
        } else {
            FileKind::Unknown
        };
    };
    match probe.api_version.as_deref() {
        Some(v) if v.starts_with("kyverno.io/") => FileKind::Policies,
        Some(v) if v.starts_with("kind.x-k8s.io/") => FileKind::KindConfig,
        Some(v) if v.starts_with("cli.kyverno.io/") => FileKind::KyvernoTest,
        Some(_) => FileKind::Manifests,
        None if probe.answers.is_some() => FileKind::AnswerKey,
        None if probe.questions.is_some() || rel.starts_with("quizzes/") => FileKind::Quiz,
        None if probe.steps.is_some() => FileKind::Lab,
        None => FileKind::Unknown,
    }
}

/// A Kubernetes object, read loosely: only what the validator needs.
#[derive(Debug, Deserialize)]
pub struct Manifest {
    /// `apiVersion`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata`.
    #[serde(default)]
    pub metadata: Value,
    /// `spec`, if any.
    #[serde(default)]
    pub spec: Value,
}

impl Manifest {
    /// Container images of a Pod or a pod controller, in the order Kyverno reads them
    /// (`pkg/utils/api/image.go`: init, regular, ephemeral containers).
    pub fn images(&self) -> Vec<String> {
        let pod_spec = match self.kind.as_str() {
            "Pod" => Some(&self.spec),
            "CronJob" => self.spec.pointer("/jobTemplate/spec/template/spec"),
            _ => self.spec.pointer("/template/spec"),
        };
        let Some(pod_spec) = pod_spec else {
            return Vec::new();
        };
        ["initContainers", "containers", "ephemeralContainers"]
            .iter()
            .filter_map(|k| pod_spec.get(k).and_then(Value::as_array))
            .flatten()
            .filter_map(|c| c.get("image").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }
}

/// Every document of a course, parsed, with the diagnostics of files that did not parse.
#[derive(Debug, Default)]
pub struct LoadedCourse {
    /// Lab files by path.
    pub labs: BTreeMap<String, Lab>,
    /// Quizzes by path.
    pub quizzes: BTreeMap<String, Quiz>,
    /// Answer keys by path.
    pub keys: BTreeMap<String, AnswerKey>,
    /// kind configs by path.
    pub kind_configs: BTreeMap<String, KindCluster>,
    /// Policy files by path (several documents each).
    pub policies: BTreeMap<String, Vec<KyvernoPolicy>>,
    /// Manifest files by path (several documents each).
    pub manifests: BTreeMap<String, Vec<Manifest>>,
    /// The kind of every file read.
    pub kinds: BTreeMap<String, FileKind>,
    /// Parse problems.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses every text file of the snapshot.
pub fn load(files: &CourseFiles) -> LoadedCourse {
    let mut course = LoadedCourse::default();
    for (rel, text) in files.texts() {
        let kind = classify(rel, text);
        course.kinds.insert(rel.to_owned(), kind);
        let result = match kind {
            FileKind::Lab => {
                parse_one(rel, text, kind).map(|d| drop(course.labs.insert(rel.to_owned(), d)))
            }
            FileKind::Quiz => {
                parse_one(rel, text, kind).map(|d| drop(course.quizzes.insert(rel.to_owned(), d)))
            }
            FileKind::AnswerKey => {
                parse_one(rel, text, kind).map(|d| drop(course.keys.insert(rel.to_owned(), d)))
            }
            FileKind::KindConfig => parse_one(rel, text, kind)
                .map(|d| drop(course.kind_configs.insert(rel.to_owned(), d))),
            FileKind::Policies => {
                parse_many(rel, text, kind).map(|d| drop(course.policies.insert(rel.to_owned(), d)))
            }
            FileKind::Manifests => parse_many(rel, text, kind)
                .map(|d| drop(course.manifests.insert(rel.to_owned(), d))),
            FileKind::KyvernoTest | FileKind::Markdown => Ok(()),
            FileKind::Unknown => Err(Box::new(Diagnostic::warning(
                "content/unknown-file",
                rel,
                (0, 0),
                "this YAML file is not a lab, quiz, answer key, kind config, policy or manifest",
            )
            .help(
                "give it an `apiVersion`, move it out of the course folders, or name it from a lab",
            ))),
        };
        if let Err(diagnostic) = result {
            course.diagnostics.push(*diagnostic);
        }
    }
    course
}

/// Parses a single-document file.
pub fn parse_one<T: DeserializeOwned>(
    rel: &str,
    text: &str,
    kind: FileKind,
) -> Result<T, Box<Diagnostic>> {
    serde_saphyr::from_str(text).map_err(|e| Box::new(to_diagnostic(rel, &e, kind)))
}

/// Parses a multi-document file (`---` separated).
pub fn parse_many<T: DeserializeOwned>(
    rel: &str,
    text: &str,
    kind: FileKind,
) -> Result<Vec<T>, Box<Diagnostic>> {
    serde_saphyr::from_multiple(text).map_err(|e| Box::new(to_diagnostic(rel, &e, kind)))
}

fn to_diagnostic(rel: &str, error: &serde_saphyr::Error, kind: FileKind) -> Diagnostic {
    let at = error.location().map_or((0, 0), |l| (l.line(), l.column()));
    let full = error.without_snippet().to_string();
    let message = full
        .rfind(" at line ")
        .map_or(full.as_str(), |i| &full[..i])
        .to_owned();
    let schema_help = kind.schema().map_or_else(String::new, |s| {
        format!("; the fields are described in {s}")
    });
    if let Some((word, expected)) = unknown_name(&message) {
        let code = if message.starts_with("unknown variant") {
            "schema/unknown-variant"
        } else {
            "schema/unknown-field"
        };
        let help = match did_you_mean(&word, expected.iter().map(String::as_str)) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("expected one of: {}{schema_help}", expected.join(", ")),
        };
        return Diagnostic::error(code, rel, at, message).help(help);
    }
    if let Some(field) = between(&message, "missing field `", "`") {
        return Diagnostic::error("schema/missing-field", rel, at, message.clone())
            .help(format!("add `{field}:` here{schema_help}"));
    }
    if !is_syntax_error(error) {
        return Diagnostic::error("schema/invalid-value", rel, at, message).help(format!(
            "change the value to the expected type{schema_help}"
        ));
    }
    Diagnostic::error("yaml/syntax", rel, at, message)
        .help("fix the YAML here: check indentation, quoting, and that every `[` and `{` is closed")
}

/// Errors the YAML parser raises, as opposed to values of the wrong type for a field.
fn is_syntax_error(error: &serde_saphyr::Error) -> bool {
    use serde_saphyr::Error as E;
    matches!(
        error.without_snippet(),
        E::ExternalMessage { .. }
            | E::Eof { .. }
            | E::IndentationError { .. }
            | E::DuplicateMappingKey { .. }
            | E::UnknownAnchor { .. }
            | E::ContainerEndMismatch { .. }
            | E::QuotingRequired { .. }
            | E::MultipleDocuments { .. }
    )
}

/// From "unknown field `x`, expected one of a, b" takes `x` and the expected names.
fn unknown_name(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (word, rest) = rest.split_once('`')?;
    let list = rest
        .split_once("expected one of ")
        .map(|(_, l)| l)
        .or_else(|| rest.split_once("expected ").map(|(_, l)| l))
        .unwrap_or("");
    let expected = list
        .split([',', ' '])
        .map(|w| w.trim().trim_matches('`'))
        .filter(|w| !w.is_empty() && *w != "or")
        .map(str::to_owned)
        .collect();
    Some((word.to_owned(), expected))
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &s[s.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// Position of a spanned value, as `(line, column)`.
pub fn at<T>(sp: &Sp<T>) -> (u64, u64) {
    (sp.line, sp.column)
}

/// GitHub-style anchors of a Markdown file's headings (`## Roll back by digest` -> `roll-back-by-digest`).
pub fn markdown_anchors(text: &str) -> Vec<String> {
    let mut in_fence = false;
    let mut anchors = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if in_fence || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        anchors.push(slug);
    }
    anchors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_api_version_then_place() {
        assert_eq!(classify("labs/x/lab.yaml", "id: x"), FileKind::Lab);
        assert_eq!(
            classify("p.yaml", "apiVersion: kyverno.io/v1\nkind: ClusterPolicy"),
            FileKind::Policies
        );
        assert_eq!(
            classify("k.yaml", "apiVersion: kind.x-k8s.io/v1alpha4"),
            FileKind::KindConfig
        );
        assert_eq!(
            classify("m.yaml", "apiVersion: v1\nkind: Namespace"),
            FileKind::Manifests
        );
        assert_eq!(
            classify("quizzes/ch14.key.yaml", "answers: []"),
            FileKind::AnswerKey
        );
        assert_eq!(
            classify("quizzes/ch14.yaml", "questions: []"),
            FileKind::Quiz
        );
        assert_eq!(classify("x.yaml", "foo: 1"), FileKind::Unknown);
    }

    #[test]
    fn unknown_fields_get_a_suggestion() {
        let err = parse_one::<Quiz>(
            "q.yaml",
            "schema_version: 1\nlab: ch14\ntitel: x\n",
            FileKind::Quiz,
        )
        .unwrap_err();
        assert_eq!(
            (err.code, err.line, err.column),
            ("schema/unknown-field", 3, 1)
        );
        assert_eq!(err.help.as_deref(), Some("did you mean `title`?"));
    }

    #[test]
    fn anchors_follow_github_slugs() {
        let md = "# Runbook\n## 2. Triage: who signed?\n```\n# not a heading\n```\n## Roll back by digest\n";
        assert_eq!(
            markdown_anchors(md),
            ["runbook", "2-triage-who-signed", "roll-back-by-digest"]
        );
    }

    #[test]
    fn images_come_from_pod_templates() {
        let m: Manifest = serde_saphyr::from_str(
            "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      initContainers: [{name: i, image: a}]\n      containers: [{name: c, image: b}]\n",
        )
        .unwrap();
        assert_eq!(m.images(), ["a", "b"]);
    }
}
