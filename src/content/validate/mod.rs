//! `lab validate`: every rule over a parsed course, collecting all problems before reporting.
//! Each submodule owns one family of rules; the codes are listed in the README.

mod commands;
mod kind;
mod kyverno;
mod lab;
mod placeholders;
mod quiz;

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostic::{Diagnostic, ValidationReport};
use super::files::{CourseFiles, Selection};
use super::load::{FileKind, LoadedCourse, load};
use super::model::{Lab, LabId, Spanned};

/// Validates the selected part of a course.
pub fn validate(files: &CourseFiles, selection: &Selection) -> ValidationReport {
    let mut course = load(files);
    let mut diagnostics: Vec<Diagnostic> = files
        .problems()
        .map(|(rel, problem)| problem.diagnostic(rel))
        .collect();
    diagnostics.append(&mut course.diagnostics);
    let mut owned: BTreeMap<String, String> = BTreeMap::new();
    for (rel, lab) in &course.labs {
        let mut sink = Sink::default();
        lab::check(files, &course, rel, lab, &mut sink);
        for file in &sink.files {
            owned.insert(file.clone(), rel.clone());
        }
        diagnostics.extend(sink.diagnostics);
    }
    check_unowned(&course, &owned, &mut diagnostics);
    check_lab_ids(&course, &mut diagnostics);
    for (rel, nodes) in &course.policy_nodes {
        kyverno::check_crd_schema(rel, nodes, &mut diagnostics);
    }

    let in_scope = |file: &str| match selection {
        Selection::All => true,
        Selection::Lab(lab) => file == lab || owned.get(file) == Some(lab),
        Selection::File(rel) => file == rel,
    };
    diagnostics.retain(|d| in_scope(&d.file));
    let files_checked = files.texts().filter(|(p, _)| in_scope(p)).count();
    ValidationReport::new(diagnostics, files_checked, files.display_root.clone())
}

/// Collects a lab's diagnostics and the files it claims.
#[derive(Default)]
struct Sink {
    diagnostics: Vec<Diagnostic>,
    files: BTreeSet<String>,
}

impl Sink {
    fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }
}

/// Files no lab names are still checked on their own, without a lab's context.
fn check_unowned(
    course: &LoadedCourse,
    owned: &BTreeMap<String, String>,
    out: &mut Vec<Diagnostic>,
) {
    let unowned = |rel: &String| !owned.contains_key(rel);
    // When a lab file does not parse, the files it names cannot be told from unused ones.
    let labs_parsed = course
        .kinds
        .values()
        .filter(|k| **k == FileKind::Lab)
        .count()
        == course.labs.len();
    for (rel, quiz) in course.quizzes.iter().filter(|(r, _)| unowned(r)) {
        quiz::check(course, rel, quiz, None, out);
    }
    for (rel, key) in course.keys.iter().filter(|(r, _)| unowned(r)) {
        quiz::check_orphan_key(course, rel, key, out);
    }
    for (rel, docs) in course.policies.iter().filter(|(r, _)| unowned(r)) {
        kyverno::check(rel, docs, None, out);
        if labs_parsed && rel.starts_with("labs/") {
            out.push(
                Diagnostic::warning(
                    "content/unused-file",
                    rel,
                    (0, 0),
                    "no lab applies this policy file",
                )
                .help("list it under `policies:` in the chapter's lab.yaml, or delete it"),
            );
        }
    }
    for (rel, config) in course.kind_configs.iter().filter(|(r, _)| unowned(r)) {
        kind::check_config(rel, config, out);
    }
}

/// Lab ids and aliases must be unique across the course, since `lab start <name>` picks one.
fn check_lab_ids(course: &LoadedCourse, out: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<&str, (&str, u64)> = BTreeMap::new();
    for (rel, lab) in &course.labs {
        for name in std::iter::once(&lab.id).chain(&lab.aliases) {
            if let Some((first_file, first_line)) = seen.insert(&name.0, (rel, name.line)) {
                out.push(
                    Diagnostic::error(
                        "id/duplicate",
                        rel,
                        (name.line, name.column),
                        format!("`{name}` already names a lab at {first_file}:{first_line}", name = name.value),
                    )
                    .help("give this lab a different id or alias; `lab start` must know which one is meant"),
                );
            }
        }
    }
}

/// Reports ids that break the pattern, and repeats (pointing at the first use).
fn check_ids<'a>(
    file: &str,
    what: &str,
    ids: impl IntoIterator<Item = &'a Spanned<LabId>>,
    out: &mut Sink,
) {
    let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
    for id in ids {
        if !id.is_well_formed() {
            out.push(
                Diagnostic::error("id/malformed", file, (id.line, id.column), format!("{what} id `{}` is not a valid id", id.0))
                    .help("use lowercase letters and digits, with words joined by single `-`, e.g. `pin-digest`"),
            );
        }
        if let Some(first) = seen.insert(&id.0, id.line) {
            out.push(
                Diagnostic::error(
                    "id/duplicate",
                    file,
                    (id.line, id.column),
                    format!("{what} id `{}` is already used on line {first}", id.0),
                )
                .help(format!("give each {what} its own id")),
            );
        }
    }
}

/// Every `${name}` value a lab defines, with defaults substituted where known.
fn lab_variables(lab: &Lab) -> BTreeMap<&str, Option<&str>> {
    lab.variables
        .iter()
        .map(|v| (v.name.as_str(), v.default.as_deref()))
        .collect()
}
