//! Turns a [`CourseFiles`] snapshot into typed documents. A file that does not parse becomes a
//! diagnostic at the line and column serde-saphyr reports, never a panic or an early exit, and
//! the other files are still read.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::files::CourseFiles;
use super::model::{AnswerKey, KindCluster, Lab, Quiz, Spanned};
use super::yaml;
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

    /// What a file of this kind holds, for the help of an empty one.
    pub fn contents(self) -> &'static str {
        match self {
            FileKind::Lab => {
                "a lab file holds one mapping that starts with `schema_version: 1` and `id:` (see schemas/lab.schema.json)"
            }
            FileKind::Quiz => {
                "a quiz holds `schema_version: 1`, `lab:`, `title:`, `pass_percent:` and `questions:` (see schemas/quiz.schema.json)"
            }
            FileKind::AnswerKey => {
                "an answer key holds `schema_version: 1`, `lab:` and `answers:` (see schemas/answer-key.schema.json)"
            }
            FileKind::KindConfig => {
                "a kind cluster config holds `kind: Cluster` and `apiVersion: kind.x-k8s.io/v1alpha4` (see schemas/kind-config.schema.json)"
            }
            FileKind::Policies => {
                "a policy file holds one or more Kyverno policies (`apiVersion: kyverno.io/v1`, `kind: ClusterPolicy`), separated by `---` lines"
            }
            FileKind::KyvernoTest => {
                "a kyverno test file holds `apiVersion: cli.kyverno.io/v1alpha1` and `kind: Test`"
            }
            FileKind::Manifests => {
                "a manifest holds one or more Kubernetes objects, each with `apiVersion` and `kind`, separated by `---` lines"
            }
            FileKind::Markdown | FileKind::Unknown => {
                "a course YAML file holds a lab, a quiz, an answer key, a kind config, Kyverno policies or Kubernetes manifests"
            }
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

/// What a file is, and the YAML error that kept the probe from telling, if there was one.
#[derive(Debug)]
pub struct Classified {
    /// The kind.
    pub kind: FileKind,
    /// Why the YAML could not be read (syntax or a limit); reported, never dropped.
    pub yaml_error: Option<serde_saphyr::Error>,
}

/// Decides what a file is: by its name, then by its `apiVersion` and keys. When the YAML does
/// not parse, or holds no document, the file is known by where it lives instead.
pub fn classify(rel: &str, text: &str) -> Classified {
    let known = |kind| Classified {
        kind,
        yaml_error: None,
    };
    if rel.ends_with(".md") {
        return known(FileKind::Markdown);
    }
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if name.ends_with(".key.yaml") {
        return known(FileKind::AnswerKey);
    }
    if name == "lab.yaml" && rel.starts_with("labs/") {
        return known(FileKind::Lab);
    }
    let probe = match yaml::from_multiple::<Probe>(text) {
        Ok(docs) => docs.into_iter().next(),
        // A document that is no mapping, or an `apiVersion` that is no string: the YAML is
        // fine, it is just none of the probed shapes.
        Err(e) if !yaml::is_yaml_error(&e) => None,
        Err(e) => {
            return Classified {
                kind: kind_by_place(rel),
                yaml_error: Some(e),
            };
        }
    };
    let Some(probe) = probe else {
        return known(kind_by_place(rel));
    };
    known(match probe.api_version.as_deref() {
        Some(v) if v.starts_with("kyverno.io/") => FileKind::Policies,
        Some(v) if v.starts_with("kind.x-k8s.io/") => FileKind::KindConfig,
        Some(v) if v.starts_with("cli.kyverno.io/") => FileKind::KyvernoTest,
        Some(_) => FileKind::Manifests,
        None if probe.answers.is_some() => FileKind::AnswerKey,
        None if probe.questions.is_some() || rel.starts_with("quizzes/") => FileKind::Quiz,
        None if probe.steps.is_some() => FileKind::Lab,
        None => FileKind::Unknown,
    })
}

/// What a file is by the course layout alone: `quizzes/`, `kind-config/`, and a chapter's
/// `policies/` and `manifests/` folders.
fn kind_by_place(rel: &str) -> FileKind {
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        ["quizzes", ..] => FileKind::Quiz,
        ["kind-config", ..] => FileKind::KindConfig,
        ["labs", _, "policies", _, ..] => FileKind::Policies,
        ["labs", _, "manifests", _, ..] => FileKind::Manifests,
        _ => FileKind::Unknown,
    }
}

/// A Kubernetes object, read loosely: only what the validator needs. Each document's `spec`
/// is dropped once its images are taken, so a manifest of thousands of objects stays small.
#[derive(Debug, Deserialize)]
#[serde(from = "RawManifest")]
pub struct Manifest {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    images: Vec<String>,
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    #[serde(default)]
    spec: Value,
}

impl From<RawManifest> for Manifest {
    fn from(raw: RawManifest) -> Self {
        let images = pod_images(&raw.kind, &raw.spec);
        Manifest {
            api_version: raw.api_version,
            kind: raw.kind,
            images,
        }
    }
}

impl Manifest {
    /// Container images of a Pod or a pod controller, in the order Kyverno reads them
    /// (`pkg/utils/api/image.go`: init, regular, ephemeral containers).
    pub fn images(&self) -> &[String] {
        &self.images
    }
}

fn pod_images(kind: &str, spec: &Value) -> Vec<String> {
    let pod_spec = match kind {
        "Pod" => Some(spec),
        "CronJob" => spec.pointer("/jobTemplate/spec/template/spec"),
        _ => spec.pointer("/template/spec"),
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
    /// The same policy files as YAML nodes, every position kept, for the rules that follow a
    /// document's own structure (Kyverno's CRD schema). Only for files that parsed as policies.
    pub policy_nodes: BTreeMap<String, Vec<crate::spanned::Node>>,
    /// Manifest files by path (several documents each).
    pub manifests: BTreeMap<String, Vec<Manifest>>,
    /// The kind of every file read.
    pub kinds: BTreeMap<String, FileKind>,
    /// Files that are there but did not parse (empty, broken YAML, wrong shape) or could not
    /// be read at all ([`CourseFiles::problems`]): their own error says so, and rules that
    /// need their content stay silent about them.
    pub unparsed: BTreeSet<String>,
    /// Parse problems.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses every text file of the snapshot.
pub fn load(files: &CourseFiles) -> LoadedCourse {
    let mut course = LoadedCourse::default();
    for (rel, text) in files.texts() {
        course.read(rel, text);
    }
    course
        .unparsed
        .extend(files.problems().map(|(rel, _)| rel.to_owned()));
    course
}

impl LoadedCourse {
    /// Whether a file is there, whatever became of its content.
    pub fn exists(&self, rel: &str) -> bool {
        self.kinds.contains_key(rel) || self.unparsed.contains(rel)
    }

    fn read(&mut self, rel: &str, text: &str) {
        let Classified { kind, yaml_error } = classify(rel, text);
        self.kinds.insert(rel.to_owned(), kind);
        if kind != FileKind::Markdown && yaml::is_empty(text) {
            return self.reject(rel, yaml::empty_file(rel, kind));
        }
        // The probe read every document to its end, so its error is the file's first YAML
        // error; a typed parse could stop earlier, at a value of the wrong type.
        if let Some(error) = yaml_error {
            return self.reject(rel, yaml::to_diagnostic(rel, text, &error, kind));
        }
        let key = rel.to_owned();
        let parsed = match kind {
            FileKind::Lab => parse_one(rel, text, kind).map(|d| drop(self.labs.insert(key, d))),
            FileKind::Quiz => parse_one(rel, text, kind).map(|d| drop(self.quizzes.insert(key, d))),
            FileKind::AnswerKey => {
                parse_one(rel, text, kind).map(|d| drop(self.keys.insert(key, d)))
            }
            FileKind::KindConfig => {
                parse_one(rel, text, kind).map(|d| drop(self.kind_configs.insert(key, d)))
            }
            FileKind::Policies => parse_many(rel, text, kind).map(|d| {
                // The same text read again as nodes; it parsed once, so it parses again.
                if let Ok(nodes) = parse_many(rel, text, kind) {
                    self.policy_nodes.insert(key.clone(), nodes);
                }
                self.policies.insert(key, d);
            }),
            FileKind::Manifests => {
                parse_many(rel, text, kind).map(|d| drop(self.manifests.insert(key, d)))
            }
            FileKind::KyvernoTest | FileKind::Markdown => Ok(()),
            FileKind::Unknown => {
                self.diagnostics.push(
                    Diagnostic::warning(
                        "content/unknown-file",
                        rel,
                        (0, 0),
                        "this YAML file is not a lab, quiz, answer key, kind config, policy or manifest",
                    )
                    .help("give it an `apiVersion`, move it out of the course folders, or name it from a lab"),
                );
                Ok(())
            }
        };
        if let Err(diagnostic) = parsed {
            self.reject(rel, *diagnostic);
        }
    }

    fn reject(&mut self, rel: &str, diagnostic: Diagnostic) {
        self.unparsed.insert(rel.to_owned());
        self.diagnostics.push(diagnostic);
    }
}

/// Parses a single-document file.
pub fn parse_one<T: DeserializeOwned>(
    rel: &str,
    text: &str,
    kind: FileKind,
) -> Result<T, Box<Diagnostic>> {
    yaml::from_str(text).map_err(|e| Box::new(yaml::to_diagnostic(rel, text, &e, kind)))
}

/// Parses a multi-document file (`---` separated).
pub fn parse_many<T: DeserializeOwned>(
    rel: &str,
    text: &str,
    kind: FileKind,
) -> Result<Vec<T>, Box<Diagnostic>> {
    yaml::from_multiple(text).map_err(|e| Box::new(yaml::to_diagnostic(rel, text, &e, kind)))
}

/// Position of a spanned value, as `(line, column)`.
pub fn at<T>(sp: &Spanned<T>) -> (u64, u64) {
    (sp.line, sp.column)
}

/// A Markdown heading: where its line starts (byte offset), its level (1 to 6), its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// Byte offset of the heading's line.
    pub offset: usize,
    /// `#` count.
    pub level: u8,
    /// The heading's text.
    pub title: String,
}

/// The headings of a Markdown file, outside fenced code blocks (```` ``` ```` or `~~~`).
pub fn markdown_headings(text: &str) -> Vec<Heading> {
    let mut in_fence = false;
    let mut headings = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence && line.starts_with('#') {
            let level = line.chars().take_while(|c| *c == '#').count();
            headings.push(Heading {
                offset,
                level: level.min(6) as u8,
                title: line.trim_start_matches('#').trim().to_owned(),
            });
        }
        offset += line.len();
    }
    headings
}

/// The GitHub-style anchor of a heading's text: lowercase, punctuation dropped, spaces as `-`.
pub fn heading_slug(title: &str) -> String {
    title
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// GitHub-style anchors of a Markdown file's headings (`## Roll back by digest` -> `roll-back-by-digest`).
pub fn markdown_anchors(text: &str) -> Vec<String> {
    markdown_headings(text)
        .iter()
        .map(|h| heading_slug(&h.title))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Severity;

    fn kind_of(rel: &str, text: &str) -> FileKind {
        let classified = classify(rel, text);
        assert!(classified.yaml_error.is_none(), "{rel}: {classified:?}");
        classified.kind
    }

    #[test]
    fn classifies_by_api_version_then_place() {
        assert_eq!(kind_of("labs/x/lab.yaml", "id: x"), FileKind::Lab);
        assert_eq!(
            kind_of("p.yaml", "apiVersion: kyverno.io/v1\nkind: ClusterPolicy"),
            FileKind::Policies
        );
        assert_eq!(
            kind_of("k.yaml", "apiVersion: kind.x-k8s.io/v1alpha4"),
            FileKind::KindConfig
        );
        assert_eq!(
            kind_of("m.yaml", "apiVersion: v1\nkind: Namespace"),
            FileKind::Manifests
        );
        assert_eq!(
            kind_of("quizzes/ch14.key.yaml", "answers: []"),
            FileKind::AnswerKey
        );
        assert_eq!(
            kind_of("quizzes/ch14.yaml", "questions: []"),
            FileKind::Quiz
        );
        assert_eq!(kind_of("x.yaml", "foo: 1"), FileKind::Unknown);
        assert_eq!(
            kind_of("labs/x/policies/empty.yaml", "# nothing yet\n"),
            FileKind::Policies
        );
    }

    // Broken YAML used to make the probe give up silently: the file became "of unknown kind",
    // a warning, and `lab validate` exited 0.
    #[test]
    fn broken_yaml_is_classified_by_place_and_keeps_its_error() {
        let broken = "apiVersion: kyverno.io/v1\nkind: [ClusterPolicy\n";
        for (rel, kind) in [
            ("labs/ch/policies/p.yaml", FileKind::Policies),
            ("labs/ch/policies/keyed/p.yaml", FileKind::Policies),
            ("labs/ch/manifests/m.yaml", FileKind::Manifests),
            ("kind-config/k.yaml", FileKind::KindConfig),
            ("quizzes/q.yaml", FileKind::Quiz),
            ("labs/ch/notes.yaml", FileKind::Unknown),
        ] {
            let classified = classify(rel, broken);
            assert_eq!(classified.kind, kind, "{rel}");
            let error = classified.yaml_error.expect("the parse error is kept");
            assert_eq!(error.location().map(|l| l.line()), Some(2), "{rel}");
        }
    }

    #[test]
    fn a_document_of_another_shape_is_not_a_yaml_error() {
        assert_eq!(
            kind_of("labs/ch/tests/list.yaml", "- a\n- b\n"),
            FileKind::Unknown
        );
        assert_eq!(
            kind_of("labs/ch/manifests/m.yaml", "apiVersion: [v1]\n"),
            FileKind::Manifests
        );
    }

    #[test]
    fn one_broken_file_does_not_stop_the_others() {
        let mut files = CourseFiles::empty("");
        files.insert_text(
            "labs/ch/policies/a.yaml",
            "kind: [ClusterPolicy]\nmetadata: \"x\n---\n".to_owned(),
        );
        files.insert_text("labs/ch/manifests/empty.yaml", "---\n# later\n".to_owned());
        files.insert_text(
            "labs/ch/manifests/ns.yaml",
            "apiVersion: v1\nkind: Namespace\n".to_owned(),
        );
        let course = load(&files);
        let found: Vec<(&str, &str, u64)> = course
            .diagnostics
            .iter()
            .map(|d| (d.file.as_str(), d.code, d.line))
            .collect();
        assert_eq!(
            found,
            [
                ("labs/ch/manifests/empty.yaml", "yaml/empty-file", 0),
                ("labs/ch/policies/a.yaml", "yaml/syntax", 3),
            ]
        );
        assert!(
            course
                .diagnostics
                .iter()
                .all(|d| d.severity == Severity::Error)
        );
        assert_eq!(
            course.unparsed.iter().collect::<Vec<_>>(),
            ["labs/ch/manifests/empty.yaml", "labs/ch/policies/a.yaml"]
        );
        assert!(course.manifests.contains_key("labs/ch/manifests/ns.yaml"));
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
