//! Rules for a lab file and everything it names: ids, references, variables, scoring, and
//! (through the other rule families) its quiz, policies and kind config in the lab's context.

use std::collections::{BTreeMap, BTreeSet};

use super::kyverno::LabContext;
use super::{Sink, check_ids, commands, kind, kyverno, lab_variables, placeholders, quiz};
use crate::content::diagnostic::{Diagnostic, did_you_mean};
use crate::content::files::CourseFiles;
use crate::content::load::{FileKind, LoadedCourse, at, markdown_anchors};
use crate::content::model::{CheckKind, Lab, RelPath, Spanned};
use crate::content::paths::{PathProblem, resolve};
use crate::supply::ImageRef;

pub(super) fn check(
    files: &CourseFiles,
    course: &LoadedCourse,
    rel: &str,
    lab: &Lab,
    out: &mut Sink,
) {
    out.files.insert(rel.to_owned());
    if lab.schema_version.value != 1 {
        out.push(
            Diagnostic::error(
                "schema/version",
                rel,
                at(&lab.schema_version),
                "unsupported schema_version",
            )
            .help("set `schema_version: 1`; it is the only version this `lab` understands"),
        );
    }
    check_folder(rel, lab, out);
    check_all_ids(rel, lab, out);
    let refs = check_references(files, course, rel, lab, out);
    check_scoring(rel, lab, out);
    check_evidence_paths(rel, lab, out);
    check_report_filters(rel, lab, out);
    check_variables(rel, lab, out);
    check_tools(rel, lab, out);
    check_policy_names(course, rel, lab, &refs, out);
    check_placeholders(files, rel, lab, &refs, out);
    commands::check(files, rel, lab, out);
    let context = lab_context(course, lab, &refs);
    let mut policy_diagnostics = Vec::new();
    for file in &refs.policies {
        if let Some(docs) = course.policies.get(file) {
            kyverno::check(file, docs, Some(&context), &mut policy_diagnostics);
        }
    }
    out.diagnostics
        .extend(once_per_lab(policy_diagnostics, "kyverno/deprecated-kind"));
    if let Some(quiz_file) = &refs.quiz {
        // The key belongs to the chapter even while its quiz does not parse.
        out.files.insert(quiz::key_path(quiz_file));
        if let Some(q) = course.quizzes.get(quiz_file) {
            quiz::check(course, quiz_file, q, Some(lab), &mut out.diagnostics);
        }
    }
    if let (Some(file), Some(link)) = (&refs.practice_quiz, &lab.practice_quiz) {
        out.files.insert(quiz::key_path(file));
        if let Some(q) = course.quizzes.get(file) {
            quiz::check(course, file, q, Some(lab), &mut out.diagnostics);
            if q.mode != crate::content::model::QuizMode::Practice {
                out.diagnostics.push(
                    Diagnostic::error(
                        "quiz/practice-mode",
                        rel,
                        at(link),
                        format!("`practice_quiz` names {file}, which is not `mode: practice`"),
                    )
                    .help("a practice quiz gives feedback at once and is never graded: set `mode: practice` in it, or name it as the lab's `quiz:`"),
                );
            }
        }
    }
    if let Some(kind_file) = &refs.kind_config
        && let Some(config) = course.kind_configs.get(kind_file)
    {
        kind::check_config(kind_file, config, &mut out.diagnostics);
        kind::check_registry(rel, lab, kind_file, config, &mut out.diagnostics);
    }
}

/// Keeps the first diagnostic with `code` and says how many policies it stands for: a fact
/// about the lab's pinned Kyverno is worth one message, not one per policy.
fn once_per_lab(diagnostics: Vec<Diagnostic>, code: &str) -> Vec<Diagnostic> {
    let repeats = diagnostics.iter().filter(|d| d.code == code).count();
    let mut seen = false;
    diagnostics
        .into_iter()
        .filter_map(|mut d| {
            if d.code != code {
                return Some(d);
            }
            if std::mem::replace(&mut seen, true) {
                return None;
            }
            if repeats > 1 {
                d.message.push_str(&format!(
                    " (this applies to all {repeats} policies of the lab)"
                ));
            }
            Some(d)
        })
        .collect()
}

/// Resolved paths of the files a lab names.
#[derive(Default)]
pub(super) struct LabRefs {
    pub policies: Vec<String>,
    pub manifests: Vec<String>,
    pub quiz: Option<String>,
    pub practice_quiz: Option<String>,
    pub kind_config: Option<String>,
    pub runbook: Option<String>,
    /// Files named by steps and checks (read for placeholders and images).
    pub step_files: Vec<String>,
}

fn check_folder(rel: &str, lab: &Lab, out: &mut Sink) {
    let folder = rel
        .strip_suffix("/lab.yaml")
        .and_then(|p| p.rsplit('/').next());
    if let Some(folder) = folder
        && folder != lab.id.0.as_str()
    {
        out.push(
            Diagnostic::warning("id/folder-mismatch", rel, at(&lab.id), format!("lab id `{}` differs from its folder `{folder}`", lab.id.0))
                .help(format!("rename the folder to `labs/{}` or the id to `{folder}`, so authors find the lab by its id", lab.id.0)),
        );
    }
}

fn check_all_ids(rel: &str, lab: &Lab, out: &mut Sink) {
    check_ids(
        rel,
        "lab",
        std::iter::once(&lab.id).chain(&lab.aliases),
        out,
    );
    check_ids(rel, "objective", lab.objectives.iter().map(|o| &o.id), out);
    check_ids(rel, "step", lab.steps.iter().map(|s| &s.id), out);
    check_ids(
        rel,
        "check",
        lab.steps.iter().flat_map(|s| &s.checks).map(|c| &c.id),
        out,
    );
    check_ids(rel, "criterion", lab.done_when.iter().map(|d| &d.id), out);
}

fn check_references(
    files: &CourseFiles,
    course: &LoadedCourse,
    rel: &str,
    lab: &Lab,
    out: &mut Sink,
) -> LabRefs {
    let mut refs = LabRefs::default();
    let expect =
        |path: &Spanned<RelPath>, kind: Option<FileKind>, out: &mut Sink| -> Option<String> {
            let resolved = reference(files, rel, path, out)?;
            out.files.insert(resolved.clone());
            // A file that did not parse has its own error, and its kind is only a guess.
            let actual = course
                .kinds
                .get(&resolved)
                .copied()
                .filter(|_| !course.unparsed.contains(&resolved));
            if let (Some(want), Some(got)) = (kind, actual)
                && want != got
                && !(want == FileKind::Manifests && got == FileKind::Policies)
            {
                out.push(
                    Diagnostic::error(
                        "ref/wrong-kind",
                        rel,
                        at(path),
                        format!(
                            "`{}` is a {}, not a {}",
                            path.value,
                            got.noun(),
                            want.noun()
                        ),
                    )
                    .help("point this field at a file of the right kind"),
                );
            }
            Some(resolved)
        };
    refs.quiz = expect(&lab.quiz, Some(FileKind::Quiz), out);
    refs.practice_quiz = lab
        .practice_quiz
        .as_ref()
        .and_then(|p| expect(p, Some(FileKind::Quiz), out));
    refs.runbook = expect(&lab.runbook, Some(FileKind::Markdown), out);
    refs.kind_config = expect(&lab.cluster.kind_config, Some(FileKind::KindConfig), out);
    for policy in &lab.policies {
        refs.policies
            .extend(expect(&policy.file, Some(FileKind::Policies), out));
    }
    for manifest in &lab.manifests {
        refs.manifests
            .extend(expect(manifest, Some(FileKind::Manifests), out));
    }
    for step in &lab.steps {
        for file in &step.files {
            refs.step_files.extend(expect(file, None, out));
        }
        if let Some(link) = &step.runbook {
            expect(link, Some(FileKind::Markdown), out);
        }
        for check in &step.checks {
            if let CheckKind::AdmissionDenied(denied) = &check.check.value {
                refs.step_files
                    .extend(expect(&denied.manifest, Some(FileKind::Manifests), out));
            }
        }
    }
    check_test_paths(files, rel, lab, out);
    refs
}

/// The paths `lab test` reads and writes: the fixture folder and TEST keys (created when
/// missing, so only their place is checked), `from_file` defaults in the working directory,
/// and `from_file` test variables, which must exist.
fn check_test_paths(files: &CourseFiles, rel: &str, lab: &Lab, out: &mut Sink) {
    // `lab test --write-fixtures` writes the layouts and creates missing TEST keys at these
    // paths, so they need not exist yet, but they must be inside the course.
    if let Some(tests) = &lab.tests {
        located(files, rel, &tests.images, out);
        for fixture in &tests.fixtures {
            for key in fixture.signed_by.iter().chain(&fixture.sbom_signed_by) {
                located(files, rel, key, out);
            }
        }
    }
    // A from_file default is read from the learner's working directory, by the same rule.
    for variable in lab.variables.iter().filter(|v| v.from_file) {
        if let Some(default) = &variable.default
            && let Err(problem) = crate::content::paths::resolve_in_workdir(default)
        {
            out.push(
                Diagnostic::error(
                    "ref/outside-course",
                    rel,
                    at(&variable.name),
                    format!("the default of `{}`: {problem}", variable.name.value),
                )
                .help("a from_file default names a file in the learner's working directory, relative to it, e.g. `cosign.pub`"),
            );
        }
    }
    // `lab test` reads a from_file test variable (e.g. the test public key) from this path.
    if let Some(tests) = &lab.tests {
        for (name, value) in &tests.variables {
            if lab
                .variables
                .iter()
                .any(|v| v.name.value == *name && v.from_file)
            {
                let path = Spanned {
                    value: RelPath(value.value.clone()),
                    line: value.line,
                    column: value.column,
                };
                reference(files, rel, &path, out);
            }
        }
    }
}

/// Resolves one reference with the course's one path rule, reporting an absolute path, a
/// path outside the course, a link out of it, a missing or unreadable file, or a missing anchor.
fn reference(
    files: &CourseFiles,
    rel: &str,
    path: &Spanned<RelPath>,
    out: &mut Sink,
) -> Option<String> {
    let resolved = located(files, rel, path, out)?;
    if let Some(problem) = files.problem(&resolved) {
        // The file itself is reported where it is; here, say why the reference cannot be used.
        let d = problem.diagnostic(&resolved);
        out.push(
            Diagnostic::error(
                "ref/unreadable-file",
                rel,
                at(path),
                format!("`{}` cannot be used: {}", path.value, d.message),
            )
            .help(d.help.unwrap_or_default()),
        );
        return None;
    }
    if !files.exists(&resolved) {
        out.push(
            Diagnostic::error(
                "ref/missing-file",
                rel,
                at(path),
                format!("`{}` does not exist (looked for {resolved})", path.value),
            )
            .help(
                "create the file or fix the path; paths are relative to the file that names them",
            ),
        );
        return None;
    }
    if let (Some(anchor), Some(text)) = (path.anchor(), files.text(&resolved)) {
        let anchors = markdown_anchors(text);
        if !anchors.iter().any(|a| a == anchor) {
            let help = did_you_mean(anchor, anchors.iter().map(String::as_str)).map_or_else(
                || {
                    format!(
                        "the headings of {resolved} give these anchors: {}",
                        anchors.join(", ")
                    )
                },
                |best| format!("did you mean `#{best}`?"),
            );
            out.push(
                Diagnostic::error(
                    "ref/missing-anchor",
                    rel,
                    at(path),
                    format!("{resolved} has no heading for `#{anchor}`"),
                )
                .help(help),
            );
        }
    }
    Some(resolved)
}

/// Resolves `path`, named in `rel`, to a course key under the one path rule, also on disk;
/// reports the refusal as `ref/outside-course`.
pub(super) fn located(
    files: &CourseFiles,
    rel: &str,
    path: &Spanned<RelPath>,
    out: &mut Sink,
) -> Option<String> {
    let outside = |problem: PathProblem, out: &mut Sink| {
        out.push(
            Diagnostic::error("ref/outside-course", rel, at(path), problem.to_string())
                .help(problem.help()),
        );
    };
    let resolved = match resolve(rel, path.path()) {
        Ok(resolved) => resolved,
        Err(problem) => {
            outside(problem, out);
            return None;
        }
    };
    if let Err(problem @ PathProblem::SymlinkLeaves { .. }) = files.disk_path(&resolved) {
        outside(problem, out);
        return None;
    }
    Some(resolved)
}

/// An evidence file is read in the learner's working folder and never outside it, so its path
/// must be relative and must not climb out (the same rule the reader applies).
fn check_evidence_paths(rel: &str, lab: &Lab, out: &mut Sink) {
    use std::path::{Component, Path};
    for check in lab.steps.iter().flat_map(|s| &s.checks) {
        let CheckKind::EvidenceFile(evidence) = &check.check.value else {
            continue;
        };
        let path = Path::new(&evidence.path);
        let inside = !evidence.path.is_empty()
            && path.components().all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            out.push(
                Diagnostic::error(
                    "ref/evidence-path",
                    rel,
                    at(&check.check),
                    format!(
                        "evidence path `{}` of check `{}` is not inside the working folder",
                        evidence.path, check.id.0
                    ),
                )
                .help("give a relative path without `..` or `.`, e.g. `evidence/notes.md`; `lab` reads evidence only inside the learner's working folder"),
            );
        }
    }
}

/// A `policy-report` check that names no resource judges the reports about every resource of
/// the namespace, those an earlier step created included: it can pass before the learner acts.
fn check_report_filters(rel: &str, lab: &Lab, out: &mut Sink) {
    for check in lab.steps.iter().flat_map(|s| &s.checks) {
        let CheckKind::PolicyReport(report) = &check.check.value else {
            continue;
        };
        if report.resource.is_none() && report.image.is_none() {
            out.push(
                Diagnostic::warning(
                    "check/report-without-resource",
                    rel,
                    at(&check.check),
                    format!(
                        "policy-report check `{}` names no resource: it judges the results about every resource in `{}`, those an earlier step created too",
                        check.id.0, report.namespace
                    ),
                )
                .help("say what the result must be about: `resource: {kind: Pod, name: NAME}`, or `image: IMAGE` for the resources that run it"),
            );
        }
    }
}

fn check_scoring(rel: &str, lab: &Lab, out: &mut Sink) {
    let checks: Vec<&str> = lab
        .steps
        .iter()
        .flat_map(|s| &s.checks)
        .map(|c| c.id.0.as_str())
        .collect();
    let mut scored = BTreeSet::new();
    for criterion in &lab.done_when {
        if criterion.checks.is_empty() {
            out.push(
                Diagnostic::error(
                    "done/no-checks",
                    rel,
                    at(&criterion.id),
                    format!("criterion `{}` is earned by no check", criterion.id.0),
                )
                .help("list the checks that prove it under `checks:`, each with its points"),
            );
        }
        for scored_check in &criterion.checks {
            let name = scored_check.check.0.as_str();
            scored.insert(name);
            if !checks.contains(&name) {
                let help = did_you_mean(name, checks.iter().copied()).map_or_else(
                    || {
                        format!(
                            "declare a check `{name}` in a step, or use one of: {}",
                            checks.join(", ")
                        )
                    },
                    |b| format!("did you mean `{b}`?"),
                );
                out.push(
                    Diagnostic::error(
                        "ref/unknown-check",
                        rel,
                        at(&scored_check.check),
                        format!("no step declares a check `{name}`"),
                    )
                    .help(help),
                );
            }
            if scored_check.points.value == 0 {
                out.push(
                    Diagnostic::error(
                        "done/zero-points",
                        rel,
                        at(&scored_check.points),
                        format!("check `{name}` is worth 0 points"),
                    )
                    .help("give it at least 1 point, or remove it from the criterion"),
                );
            }
        }
    }
    for check in lab.steps.iter().flat_map(|s| &s.checks) {
        if !scored.contains(check.id.0.as_str()) {
            out.push(
                Diagnostic::warning(
                    "done/unscored-check",
                    rel,
                    at(&check.id),
                    format!(
                        "check `{}` counts towards no \"Done When\" criterion",
                        check.id.0
                    ),
                )
                .help("add it to a criterion under `done_when:` so that it earns points"),
            );
        }
    }
}

fn check_variables(rel: &str, lab: &Lab, out: &mut Sink) {
    let mut seen = BTreeMap::new();
    for var in &lab.variables {
        let name = var.name.as_str();
        let well_formed = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !well_formed {
            out.push(
                Diagnostic::error("var/malformed", rel, at(&var.name), format!("variable name `{name}` is not valid"))
                    .help("use lowercase letters, digits and `_`, starting with a letter, e.g. `image_registry`"),
            );
        }
        if let Some(first) = seen.insert(name, var.name.line) {
            out.push(
                Diagnostic::error(
                    "id/duplicate",
                    rel,
                    at(&var.name),
                    format!("variable `{name}` is already defined on line {first}"),
                )
                .help("define each variable once"),
            );
        }
        if let Some(default) = &var.default
            && !var.choices.is_empty()
            && !var.choices.contains(default)
        {
            out.push(
                Diagnostic::error(
                    "var/default-not-a-choice",
                    rel,
                    at(&var.name),
                    format!("the default `{default}` of `{name}` is not one of its choices"),
                )
                .help(format!("use one of: {}", var.choices.join(", "))),
            );
        }
    }
    let modes = lab
        .variables
        .iter()
        .find(|v| v.name.as_str() == "signing_mode");
    for policy in &lab.policies {
        let Some(mode) = &policy.signing_mode else {
            continue;
        };
        let known = modes.is_some_and(|v| v.choices.iter().any(|c| c == mode.as_str()));
        if !known {
            out.push(
                Diagnostic::error(
                    "var/unknown-choice",
                    rel,
                    at(mode),
                    format!(
                        "`signing_mode: {}` is not a choice of the `signing_mode` variable",
                        mode.value
                    ),
                )
                .help("define a `signing_mode` variable whose `choices` include this value"),
            );
        }
    }
}

fn check_tools(rel: &str, lab: &Lab, out: &mut Sink) {
    for tool in &lab.tools {
        if semver::Version::parse(&tool.min_version).is_err() {
            out.push(
                Diagnostic::error(
                    "tool/bad-version",
                    rel,
                    at(&tool.min_version),
                    format!(
                        "`{}` is not a version lab can compare",
                        tool.min_version.value
                    ),
                )
                .help("write it as MAJOR.MINOR.PATCH without a leading `v`, e.g. `2.4.0`"),
            );
        }
    }
    let pin = lab.kyverno.version.trim_start_matches('v');
    if semver::Version::parse(pin).is_err() {
        out.push(
            Diagnostic::error(
                "tool/bad-version",
                rel,
                at(&lab.kyverno.version),
                format!("`{}` is not a Kyverno release", lab.kyverno.version.value),
            )
            .help("write the release tag, e.g. `v1.19.0`"),
        );
    }
}

/// Policy names that checks refer to must be policies the lab applies.
fn check_policy_names(course: &LoadedCourse, rel: &str, lab: &Lab, refs: &LabRefs, out: &mut Sink) {
    // The names in a policy file that did not parse are unknown, so no name can be judged.
    if refs.policies.iter().any(|f| course.unparsed.contains(f)) {
        return;
    }
    let names: Vec<String> = refs
        .policies
        .iter()
        .filter_map(|f| course.policies.get(f))
        .flatten()
        .map(|p| p.metadata.name.value.clone())
        .collect();
    if names.is_empty() {
        return;
    }
    for check in lab.steps.iter().flat_map(|s| &s.checks) {
        let named: Vec<&Spanned<String>> = match &check.check.value {
            CheckKind::PolicyMode(c) => c.policies.iter().collect(),
            CheckKind::PolicyReport(c) => vec![&c.policy],
            CheckKind::AdmissionDenied(c) => vec![&c.policy],
            CheckKind::GuardrailIntact(c) => c.policies.iter().collect(),
            _ => vec![],
        };
        for policy in named {
            if !names.contains(&policy.value) {
                let help = did_you_mean(policy, names.iter().map(String::as_str)).map_or_else(
                    || format!("the lab's policies are: {}", names.join(", ")),
                    |b| format!("did you mean `{b}`?"),
                );
                out.push(
                    Diagnostic::error(
                        "ref/unknown-policy",
                        rel,
                        at(policy),
                        format!("no policy of this lab is named `{}`", policy.value),
                    )
                    .help(help),
                );
            }
        }
    }
}

/// Placeholders in the lab file and in the policies and manifests it applies must be defined.
fn check_placeholders(files: &CourseFiles, rel: &str, lab: &Lab, refs: &LabRefs, out: &mut Sink) {
    let variables = lab_variables(lab);
    let mut used = BTreeSet::new();
    let texts = std::iter::once(rel.to_owned())
        .chain(refs.policies.iter().cloned())
        .chain(refs.manifests.iter().cloned())
        .chain(refs.step_files.iter().cloned())
        .chain(refs.runbook.iter().cloned())
        .collect::<BTreeSet<String>>();
    for file in texts {
        let Some(text) = files.text(&file) else {
            continue;
        };
        for found in placeholders::find(text) {
            if variables.contains_key(found.name.as_str()) {
                used.insert(found.name);
                continue;
            }
            let help = did_you_mean(&found.name, variables.keys().copied()).map_or_else(
                || format!("define `{}` under `variables:` in {rel}", found.name),
                |b| format!("did you mean `${{{b}}}`? otherwise define `{}` under `variables:` in {rel}", found.name),
            );
            out.push(
                Diagnostic::error(
                    "var/undefined-placeholder",
                    &file,
                    (found.line, found.column),
                    format!(
                        "`${{{}}}` is not a variable of lab `{}`",
                        found.name, lab.id.0
                    ),
                )
                .help(help),
            );
        }
    }
    for var in &lab.variables {
        if !used.contains(var.name.as_str()) && var.name.as_str() != "signing_mode" {
            out.push(
                Diagnostic::warning(
                    "var/unused",
                    rel,
                    at(&var.name),
                    format!("variable `{}` is used by no placeholder", var.name.value),
                )
                .help("remove it, or use it as `${name}` in a policy, manifest or instruction"),
            );
        }
    }
}

/// What the Kyverno rules need to know about the lab.
fn lab_context(course: &LoadedCourse, lab: &Lab, refs: &LabRefs) -> LabContext {
    let variables = lab_variables(lab);
    let manifests: Vec<&String> = refs.manifests.iter().chain(&refs.step_files).collect();
    // Without the images of a manifest that did not parse, "matches none of the lab's
    // images" could be wrong; no images means the image rules are not judged.
    let images = if manifests.iter().any(|f| course.unparsed.contains(*f)) {
        Vec::new()
    } else {
        manifests
            .iter()
            .filter_map(|f| course.manifests.get(*f))
            .flatten()
            .flat_map(|m| m.images())
            .filter_map(|image| ImageRef::parse(&placeholders::substitute(image, &variables)).ok())
            .collect()
    };
    LabContext {
        kyverno_version: semver::Version::parse(lab.kyverno.version.trim_start_matches('v')).ok(),
        images,
        local_registry: true,
        variables: variables
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
            .collect(),
    }
}
