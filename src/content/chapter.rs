//! A chapter of the course as the commands that act on one need it (`lab test`, `lab admit
//! --chapter`, later `lab start`): its lab file found by id or alias, the values of its
//! `${placeholders}` (reading `from_file` variables under the course's one path rule), and
//! its policy and manifest files rendered with them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::ContentError;
use super::diagnostic::{Diagnostic, did_you_mean};
use super::files::CourseFiles;
use super::load::{FileKind, parse_one};
use super::model::{FailureMode, Lab};
use super::paths::{resolve, resolve_in_workdir};
use super::yaml;
use crate::input::{self, InputError};
use crate::policy::matching::default_namespace;
use crate::policy::model::KyvernoPolicy;
use crate::policy::render::{RenderError, apply_mode, substitute};
use crate::supply::public_key;

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
    /// The manifests parsed, by their text once filled in (see [`Chapter::resources`]).
    pub(crate) parsed: ParsedManifests,
}

/// Manifests parsed, by their filled-in text: a grader renders the same manifest for every
/// learner of a class, and parsing YAML costs more than filling it in. Bounded: past
/// [`ParsedManifests::MAX`] texts, a manifest is parsed each time.
#[derive(Default)]
pub(crate) struct ParsedManifests(std::sync::Mutex<std::collections::HashMap<String, Vec<Value>>>);

impl ParsedManifests {
    const MAX: usize = 64;

    fn get_or_parse<E>(
        &self,
        text: String,
        parse: impl FnOnce(&str) -> Result<Vec<Value>, E>,
    ) -> Result<Vec<Value>, E> {
        let lock = || {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(docs) = lock().get(&text) {
            return Ok(docs.clone());
        }
        let docs = parse(&text)?;
        let mut parsed = lock();
        if parsed.len() < Self::MAX {
            parsed.insert(text, docs.clone());
        }
        Ok(docs)
    }
}

impl Chapter {
    /// Finds the lab whose id or alias is `id`. Another chapter's broken lab file does not
    /// stand in the way; if no lab is found, the broken ones are reported, since one of them
    /// may be the one asked for.
    pub fn find(files: CourseFiles, id: &str) -> Result<Chapter, ContentError> {
        let mut known = Vec::new();
        let mut found = None;
        let mut broken = Vec::new();
        for (rel, text) in files
            .texts()
            .filter(|(p, _)| p.starts_with("labs/") && p.ends_with("/lab.yaml"))
        {
            let lab: Lab = match parse_one(rel, text, FileKind::Lab) {
                Ok(lab) => lab,
                Err(diagnostic) => {
                    broken.push(*diagnostic);
                    continue;
                }
            };
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
                parsed: ParsedManifests::default(),
            });
        }
        if !broken.is_empty() {
            return Err(ContentError::Invalid(broken));
        }
        Err(ContentError::UnknownLab {
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
    /// is needed; a file that is not a readable text file of key size is an error, and so is
    /// one that is not a PEM public key: its content goes into the policies on the cluster.
    pub fn values(
        &self,
        for_tests: bool,
        overrides: &[(String, String)],
    ) -> Result<BTreeMap<String, String>, ContentError> {
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
                return Err(ContentError::UnknownVariable {
                    name: name.clone(),
                    lab: self.lab.id.value.0.clone(),
                    suggestion: did_you_mean(
                        name,
                        self.lab.variables.iter().map(|v| v.name.value.as_str()),
                    )
                    .map(str::to_owned),
                });
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
                Ok(text) => {
                    public_key::check_pem(&text).map_err(|problem| {
                        ContentError::NotAPublicKey {
                            name: name.clone(),
                            path: path.clone(),
                            problem,
                        }
                    })?;
                    values.insert(name, text);
                }
                Err(InputError::Unreadable { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(ContentError::VariableFile { name, source }),
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
    ) -> Result<PathBuf, ContentError> {
        let refused = |problem: crate::content::paths::PathProblem, line: u64| {
            ContentError::Invalid(vec![
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
                    None => Err(ContentError::NotOnDisk {
                        name: name.to_owned(),
                        key,
                    }),
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
    ) -> Result<Vec<KyvernoPolicy>, ContentError> {
        let text = self.text(rel)?;
        let shown = self.shown(rel);
        let mut rendered = substitute(&shown, text, values).map_err(|e| self.explain(e))?;
        if let Some(mode) = mode {
            rendered = apply_mode(&shown, &rendered, mode)?;
        }
        yaml::from_multiple(&rendered).map_err(|e| {
            ContentError::Invalid(vec![yaml::to_diagnostic(
                rel,
                &rendered,
                &e,
                FileKind::Policies,
            )])
        })
    }

    /// A path the lab file names, course-relative.
    pub fn resolve(&self, reference: &str) -> Result<String, ContentError> {
        resolve(&self.lab_file, reference).map_err(|problem| {
            ContentError::Invalid(vec![
                Diagnostic::error(
                    "ref/outside-course",
                    &self.lab_file,
                    (0, 1),
                    format!("`{reference}`: {problem}"),
                )
                .help(problem.help()),
            ])
        })
    }

    /// The policy files of the pack for the values' `signing_mode`, course-relative.
    pub fn pack_files(
        &self,
        values: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, ContentError> {
        let signing_mode = values.get("signing_mode");
        self.lab
            .policies
            .iter()
            .filter(|p| match (&p.signing_mode, signing_mode) {
                (Some(wanted), Some(mode)) => wanted.value == *mode,
                _ => true,
            })
            .map(|p| self.resolve(&p.file.0))
            .collect()
    }

    /// The pack's policies, rendered with `values` in `mode`, as the JSON objects the cluster
    /// is sent.
    pub fn policy_objects(
        &self,
        values: &BTreeMap<String, String>,
        mode: FailureMode,
    ) -> Result<Vec<Value>, ContentError> {
        let mut objects = Vec::new();
        for rel in self.pack_files(values)? {
            let shown = self.shown(&rel);
            let text = substitute(&shown, self.text(&rel)?, values).map_err(|e| self.explain(e))?;
            let rendered = apply_mode(&shown, &text, mode)?;
            let docs: Vec<Value> = yaml::from_multiple(&rendered).map_err(|e| {
                ContentError::Invalid(vec![yaml::to_diagnostic(
                    &rel,
                    &rendered,
                    &e,
                    FileKind::Policies,
                )])
            })?;
            objects.extend(docs.into_iter().filter(|d| !d.is_null()));
        }
        Ok(objects)
    }

    /// Fills the placeholders of the course file `rel`, whose text is `text`.
    pub fn fill_file(
        &self,
        rel: &str,
        text: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<String, ContentError> {
        substitute(&self.shown(rel), text, values).map_err(|e| self.explain(e))
    }

    /// Fills the placeholders of one string the lab file writes (a check's image, say).
    pub fn fill(
        &self,
        text: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<String, ContentError> {
        substitute(&self.shown(&self.lab_file), text, values).map_err(|e| self.explain(e))
    }

    /// Fills the placeholders whose values are known and leaves the others as written, for
    /// text a person reads (a step, a hint, a solution, the runbook) before every value exists:
    /// offline, a `digest_of` variable has none. Text that cannot be filled at all (a multi-line
    /// value inside a line) is shown as written.
    pub fn fill_known(&self, text: &str, values: &BTreeMap<String, String>) -> String {
        let mut known = values.clone();
        for v in &self.lab.variables {
            known
                .entry(v.name.value.clone())
                .or_insert_with(|| format!("${{{}}}", v.name.value));
        }
        self.fill(text, &known).unwrap_or_else(|_| text.to_owned())
    }

    /// Gives each `digest_of` variable without a value the digest recorded for its image
    /// (`digests`: seed image -> digest, as `lab start` found them in the registry). A recorded
    /// value that is not a digest (a state edited by hand) is not used: it would be shown in
    /// commands.
    pub fn add_digests(
        &self,
        values: &mut BTreeMap<String, String>,
        digests: &BTreeMap<String, String>,
    ) {
        for v in &self.lab.variables {
            let Some(image) = &v.digest_of else { continue };
            if let Some(digest) = digests.get(&image.value)
                && crate::supply::Digest::parse(digest).is_ok()
            {
                values
                    .entry(v.name.value.clone())
                    .or_insert_with(|| digest.clone());
            }
        }
    }

    /// The Kubernetes objects of the file `rel`, with placeholders filled.
    pub fn resources(
        &self,
        rel: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<Vec<Value>, ContentError> {
        let shown = self.shown(rel);
        let rendered = substitute(&shown, self.text(rel)?, values).map_err(|e| self.explain(e))?;
        let docs = self.parsed.get_or_parse(rendered, |rendered| {
            yaml::from_multiple::<Value>(rendered).map_err(|e| {
                ContentError::Invalid(vec![yaml::to_diagnostic(
                    rel,
                    rendered,
                    &e,
                    FileKind::Manifests,
                )])
            })
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
    fn explain(&self, error: RenderError) -> ContentError {
        if let RenderError::MissingValue { name, .. } = &error
            && let Some(v) = self
                .lab
                .variables
                .iter()
                .find(|v| v.name.value == *name && v.from_file)
        {
            return ContentError::MissingVariableFile {
                name: name.clone(),
                default: v.default.clone(),
                error,
            };
        }
        error.into()
    }

    /// The text of the course file `rel`, which a chapter's file names.
    pub fn text(&self, rel: &str) -> Result<&str, ContentError> {
        self.files.text(rel).ok_or_else(|| ContentError::NotYaml {
            file: self.shown(rel),
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

    /// `sha256:` of the chapter's files as this `lab` has them: every text file under the lab's
    /// folder, its quiz and its runbook (never the quiz's answer key), each by path and content.
    /// Two copies of a chapter have the same fingerprint exactly when a learner would see the
    /// same lab.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest as _, Sha256};
        let prefix = format!("{}/", self.dir());
        let named: Vec<String> = [&self.lab.quiz.value.0, &self.lab.runbook.value.0]
            .into_iter()
            .filter_map(|link| {
                let path = link.split_once('#').map_or(link.as_str(), |(p, _)| p);
                self.resolve(path).ok()
            })
            .collect();
        let mut files: Vec<(&str, &str)> = self
            .files
            .texts()
            .filter(|(p, _)| p.starts_with(&prefix) || named.iter().any(|n| n == p))
            .collect();
        files.sort();
        let mut hash = Sha256::new();
        for (path, text) in files {
            for part in [path.as_bytes(), text.as_bytes()] {
                hash.update((part.len() as u64).to_be_bytes());
                hash.update(part);
            }
        }
        format!("sha256:{}", hex::encode(hash.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch14() -> Chapter {
        Chapter::find(CourseFiles::embedded(), "ch14").unwrap()
    }

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn a_digest_of_variable_takes_the_digest_recorded_for_its_image() {
        let chapter = ch14();
        let mut values = chapter.values(false, &[]).unwrap();
        assert!(!values.contains_key("promoted_digest"), "offline: no value");
        let recorded = BTreeMap::from([
            ("demo:1.4.2-ci".to_owned(), DIGEST.to_owned()),
            ("demo:1.4.2".to_owned(), "sha256:2".to_owned()),
        ]);
        chapter.add_digests(&mut values, &recorded);
        assert_eq!(values["promoted_digest"], DIGEST);
        // `--set` wins over the record.
        let mut set = chapter
            .values(false, &[("promoted_digest".into(), "sha256:given".into())])
            .unwrap();
        chapter.add_digests(&mut set, &recorded);
        assert_eq!(set["promoted_digest"], "sha256:given");
    }

    #[test]
    fn a_recorded_value_that_is_not_a_digest_is_never_shown() {
        let chapter = ch14();
        let mut values = chapter.values(false, &[]).unwrap();
        let hostile = BTreeMap::from([("demo:1.4.2-ci".to_owned(), "$(rm -rf ~)".to_owned())]);
        chapter.add_digests(&mut values, &hostile);
        assert!(!values.contains_key("promoted_digest"));
    }

    #[test]
    fn text_is_filled_with_the_values_that_exist_and_keeps_the_others() {
        let chapter = ch14();
        let values = chapter.values(false, &[]).unwrap();
        let text = "${push_registry}/demo@${promoted_digest} ${DIGEST}";
        assert_eq!(
            chapter.fill_known(text, &values),
            "localhost:5001/courselab/demo@${promoted_digest} ${DIGEST}"
        );
        let mut all = values.clone();
        all.insert("promoted_digest".into(), DIGEST.into());
        assert_eq!(
            chapter.fill_known(text, &all),
            format!("localhost:5001/courselab/demo@{DIGEST} ${{DIGEST}}")
        );
    }
}
