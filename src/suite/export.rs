//! `lab test --export DIR`: the chapter's cases written for the real `kyverno test`, with the
//! policies rendered (placeholders filled, the Test's mode applied) and every file the Test
//! names copied beside it. Two things that `kyverno test` v1.19 cannot check are left out,
//! and each exported Test says so in its header:
//! - a Test with several policies is split into one Test per policy file. The CLI verifies
//!   images policy by policy and each policy's annotation patch replaces the previous one's
//!   `kyverno.io/verify-images-scoped` record, so every policy but the last then fails its own
//!   `required` check with `unverified image` (`cmd/cli/kubectl-kyverno/processor/
//!   policy_processor.go`; admission merges the records into one patch instead);
//! - `patchedResources`: for a verifyImages rule the CLI compares it with the response's
//!   resource, which is the request before the digest patch (mutating webhook) or after it with
//!   Kyverno's annotations added (validating webhook), so no expected file matches both
//!   (`cmd/cli/kubectl-kyverno/commands/test/output.go`: only `Mutation` rules use the patched
//!   resource). `lab test` checks them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::SuiteError;
use super::model::{KyvernoTest, TestResult};
use crate::content::chapter::Chapter;
use crate::content::load::{FileKind, parse_one};
use crate::content::model::{FailureMode, Spanned};
use crate::content::paths::resolve;
use crate::policy::model::KyvernoPolicy;
use crate::policy::render::{apply_mode, substitute};

fn io(path: &Path, source: std::io::Error) -> SuiteError {
    SuiteError::Write {
        path: path.to_owned(),
        source,
    }
}

/// A YAML scalar that is always read back as this string (a JSON string is YAML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A file the exported Test names: its course path and its rendered text.
struct Rendered {
    source: String,
    name: String,
    text: String,
}

fn render(
    chapter: &Chapter,
    test_file: &str,
    path: &Spanned<String>,
    values: &BTreeMap<String, String>,
    mode: Option<FailureMode>,
) -> Result<Rendered, SuiteError> {
    let source = resolve(test_file, path).map_err(|problem| {
        SuiteError::Usage(format!(
            "{test_file}:{}: {}",
            path.line,
            problem.explained()
        ))
    })?;
    let shown = chapter.shown(&source);
    let original = chapter
        .files
        .text(&source)
        .ok_or_else(|| SuiteError::Usage(format!("{shown} does not exist")))?;
    let mut text = substitute(&shown, original, values).map_err(SuiteError::Render)?;
    if let Some(mode) = mode {
        text = apply_mode(&shown, &text, mode)?;
    }
    Ok(Rendered {
        name: source.rsplit('/').next().unwrap_or(&source).to_owned(),
        source,
        text,
    })
}

/// One exported Test: the policy files it holds and the results that concern them.
struct Split<'a> {
    folder: PathBuf,
    policies: Vec<&'a Rendered>,
    names: Vec<String>,
}

/// The names of the policies in a rendered policy file.
fn policy_names(file: &Rendered, shown: &str) -> Result<Vec<String>, SuiteError> {
    let docs: Vec<KyvernoPolicy> =
        crate::content::yaml::from_multiple(&file.text).map_err(|e| {
            SuiteError::Invalid(vec![crate::content::yaml::to_diagnostic(
                shown,
                &file.text,
                &e,
                FileKind::Policies,
            )])
        })?;
    Ok(docs.into_iter().map(|p| p.metadata.name.value).collect())
}

fn result_yaml(result: &TestResult) -> String {
    let mut resources: Vec<String> = result.resources.iter().map(|r| r.value.clone()).collect();
    if let Some(one) = &result.resource {
        resources.push(match &result.namespace {
            Some(ns) => format!("{ns}/{}", one.value),
            None => one.value.clone(),
        });
    }
    let expected = result
        .result
        .as_ref()
        .or(result.status.as_ref())
        .map_or("pass", |r| r.value.as_str());
    let mut out = format!(
        "  - policy: {}\n    rule: {}\n    kind: {}\n    resources: [{}]\n    result: {expected}\n",
        quoted(&result.policy),
        quoted(&result.rule),
        quoted(&result.kind),
        resources
            .iter()
            .map(|r| quoted(r))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(patched) = &result.patched_resources {
        out.push_str(&format!(
            "    # patchedResources: {} (checked by `lab test` only; see the header)\n",
            patched.value
        ));
    }
    out
}

fn write(path: &Path, text: &str) -> Result<(), SuiteError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    }
    std::fs::write(path, text).map_err(|e| io(path, e))
}

/// Refuses an export folder that holds anything (or is not a folder): nothing in it is ever
/// overwritten. With several chapters, `lab test` checks the folder itself before it writes
/// each chapter into `DIR/<chapter>`.
pub fn require_new_or_empty(dir: &Path) -> Result<(), SuiteError> {
    if dir.symlink_metadata().is_err() {
        return Ok(());
    }
    let empty = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
    if empty {
        Ok(())
    } else {
        Err(SuiteError::ExportNotEmpty {
            dir: dir.to_owned(),
        })
    }
}

/// Writes every test of the chapter, rendered, into `dir` for the real `kyverno test` (see the
/// module documentation for what is split or left out, and why). `dir` must not exist or be
/// empty; nothing in it is overwritten. Returns the test files written.
pub fn export(
    chapter: &Chapter,
    values: &BTreeMap<String, String>,
    dir: &Path,
) -> Result<Vec<PathBuf>, SuiteError> {
    require_new_or_empty(dir)?;
    let tests_dir = format!("{}/tests/", chapter.dir());
    let mut written = Vec::new();
    for rel in chapter.test_files() {
        let text = chapter.files.text(&rel).unwrap_or_default();
        let test: KyvernoTest = parse_one(&rel, text, FileKind::KyvernoTest)
            .map_err(|d| SuiteError::Invalid(vec![*d]))?;
        let sub = rel
            .strip_prefix(&tests_dir)
            .and_then(|r| r.rsplit_once('/').map(|(d, _)| d))
            .unwrap_or("");
        let files = TestFiles::render(chapter, &rel, &test, values)?;
        let splits = files.splits(chapter, &dir.join(sub))?;
        let name = test
            .metadata
            .name
            .clone()
            .or(test.name.clone())
            .unwrap_or_else(|| sub.replace('/', "-"));
        for split in &splits {
            let header = Header {
                source: &rel,
                mode: files.mode,
                split: splits.len() > 1,
                name: &name,
            };
            written.push(write_split(&header, split, &files, &test, text)?);
        }
    }
    Ok(written)
}

/// Every file a Test names, rendered.
struct TestFiles {
    mode: Option<FailureMode>,
    policies: Vec<Rendered>,
    resources: Vec<Rendered>,
    values: Option<Rendered>,
}

impl TestFiles {
    fn render(
        chapter: &Chapter,
        rel: &str,
        test: &KyvernoTest,
        values: &BTreeMap<String, String>,
    ) -> Result<Self, SuiteError> {
        let mode = test.mode().map_err(|v| super::prepare::bad_mode(rel, v))?;
        let all = |paths: &[Spanned<String>], mode| {
            paths
                .iter()
                .map(|p| render(chapter, rel, p, values, mode))
                .collect::<Result<Vec<_>, _>>()
        };
        let files = TestFiles {
            mode,
            policies: all(&test.policies, mode)?,
            resources: all(&test.resources, None)?,
            values: match (&test.values, &test.variables) {
                (None, Some(path)) => Some(render(chapter, rel, path, values, None)?),
                _ => None,
            },
        };
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for file in files
            .policies
            .iter()
            .chain(&files.resources)
            .chain(&files.values)
        {
            if let Some(other) = seen.insert(&file.name, &file.source)
                && other != file.source
            {
                return Err(SuiteError::Usage(format!(
                    "{rel}: `{}` and `{}` would both be exported as {}; give one of them another name",
                    chapter.shown(other),
                    chapter.shown(&file.source),
                    file.name
                )));
            }
        }
        Ok(files)
    }

    /// One Test in `base` when it holds at most one policy, else one per policy file (a file
    /// with several policies cannot be split and is refused).
    fn splits(&self, chapter: &Chapter, base: &Path) -> Result<Vec<Split<'_>>, SuiteError> {
        let named = self
            .policies
            .iter()
            .map(|p| Ok((p, policy_names(p, &chapter.shown(&p.source))?)))
            .collect::<Result<Vec<_>, SuiteError>>()?;
        if named.iter().map(|(_, n)| n.len()).sum::<usize>() <= 1 {
            return Ok(vec![Split {
                folder: base.to_owned(),
                policies: self.policies.iter().collect(),
                names: named.into_iter().flat_map(|(_, n)| n).collect(),
            }]);
        }
        named
            .into_iter()
            .map(|(file, names)| {
                if names.len() > 1 {
                    return Err(SuiteError::Usage(format!(
                        "{}: holds {} policies; `kyverno test` can only check one policy per Test here (see `lab test --help`), so give each policy its own file",
                        chapter.shown(&file.source),
                        names.len()
                    )));
                }
                let stem = file.name.trim_end_matches(".yaml").trim_end_matches(".yml");
                Ok(Split {
                    folder: base.join(stem),
                    policies: vec![file],
                    names,
                })
            })
            .collect()
    }
}

/// What an exported Test's header says.
struct Header<'a> {
    source: &'a str,
    mode: Option<FailureMode>,
    split: bool,
    name: &'a str,
}

/// Writes one exported Test and its files; returns the Test's path.
fn write_split(
    header: &Header<'_>,
    split: &Split<'_>,
    files: &TestFiles,
    test: &KyvernoTest,
    test_text: &str,
) -> Result<PathBuf, SuiteError> {
    let results: Vec<&Spanned<TestResult>> = test
        .results
        .iter()
        .filter(|r| {
            let name = r.policy.rsplit('/').next().unwrap_or(&r.policy);
            split.names.iter().any(|n| n == name)
        })
        .collect();
    let mut yaml = format!(
        "# Exported by `lab test --export` from {}{}.\n",
        header.source,
        header
            .mode
            .map(|m| format!(", policies in {m:?}"))
            .unwrap_or_default()
    );
    let name = if header.split {
        yaml.push_str(&format!(
            "# One Test per policy: `kyverno test` overwrites one policy's verification record\n# with the next one's, so each would fail the others' `required` checks\n# (cmd/cli/kubectl-kyverno/processor/policy_processor.go). This one: {}.\n",
            split.names.join(", ")
        ));
        format!("{}-{}", header.name, split.names.join("-"))
    } else {
        header.name.to_owned()
    };
    if results.iter().any(|r| r.patched_resources.is_some()) {
        yaml.push_str("# `patchedResources` is commented out: for a verifyImages rule `kyverno test` compares\n# it with the request before the digest patch, or after it with Kyverno's annotations\n# added, so no file can match both (cmd/cli/kubectl-kyverno/commands/test/output.go).\n");
    }
    yaml.push_str(&format!(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: {}\n",
        quoted(&name)
    ));
    let mut list = |key: &str, folder: &str, items: &[&Rendered]| -> Result<(), SuiteError> {
        yaml.push_str(&format!("{key}:\n"));
        for item in items {
            yaml.push_str(&format!(
                "  - {}\n",
                quoted(&format!("{folder}/{}", item.name))
            ));
            write(&split.folder.join(folder).join(&item.name), &item.text)?;
        }
        Ok(())
    };
    list("policies", "policies", &split.policies)?;
    list(
        "resources",
        "resources",
        &files.resources.iter().collect::<Vec<_>>(),
    )?;
    if let Some(v) = &files.values {
        yaml.push_str(&format!(
            "variables: {}\n",
            quoted(&format!("values/{}", v.name))
        ));
        write(&split.folder.join("values").join(&v.name), &v.text)?;
    }
    if let Some(inline) = inline_values(test_text) {
        yaml.push_str(&format!("values: {inline}\n"));
    }
    yaml.push_str("results:\n");
    for r in &results {
        yaml.push_str(&result_yaml(r));
    }
    let target = split.folder.join("kyverno-test.yaml");
    write(&target, &yaml)?;
    Ok(target)
}

/// The Test's inline `values:`, as one JSON value (which YAML reads as it is).
fn inline_values(text: &str) -> Option<String> {
    let doc: Value = serde_saphyr::from_str(text).ok()?;
    doc.get("values").map(Value::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::model::Expected;

    fn sp<T>(value: T) -> Spanned<T> {
        Spanned {
            value,
            line: 1,
            column: 1,
        }
    }

    #[test]
    fn a_result_is_written_back_with_patched_resources_commented_out() {
        let result = TestResult {
            policy: sp("verify".into()),
            rule: sp("check: it".into()),
            kind: sp("Pod".into()),
            resources: vec![sp("a".into())],
            resource: Some(sp("b".into())),
            namespace: Some("develop".into()),
            result: None,
            status: Some(sp(Expected::Fail)),
            patched_resources: Some(sp("patched.yaml".into())),
        };
        let yaml = result_yaml(&result);
        assert_eq!(
            yaml,
            "  - policy: \"verify\"\n    rule: \"check: it\"\n    kind: \"Pod\"\n    resources: [\"a\", \"develop/b\"]\n    result: fail\n    # patchedResources: patched.yaml (checked by `lab test` only; see the header)\n"
        );
        let doc: Value = serde_saphyr::from_str(&format!("results:\n{yaml}")).unwrap();
        assert_eq!(
            doc["results"][0]["rule"], "check: it",
            "quoting keeps the text"
        );
        assert!(doc["results"][0].get("patchedResources").is_none());
    }

    #[test]
    fn inline_values_are_carried_as_json() {
        let text = "values:\n  namespaceSelector:\n    - name: develop\n      labels: {env: dev}\n";
        assert_eq!(
            inline_values(text).as_deref(),
            Some(r#"{"namespaceSelector":[{"labels":{"env":"dev"},"name":"develop"}]}"#)
        );
        assert_eq!(inline_values("policies: []\n"), None);
    }
}
