//! `lab test [CHAPTER]`: runs a chapter's policy cases and mutations; also writes the fixture
//! images (`--write-fixtures`) and pushes them to a registry (`--push --registry HOST`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{ChapterCourse, emit, require_valid};
use crate::content::chapter::Chapter;
use crate::content::{ContentError, CourseFiles, ValidationReport};
use crate::error::LabError;
use crate::exit_code;
use crate::report::{self, Format};
use crate::suite::run::{ImageSource, SuiteReport, run_suite};
use crate::suite::{SuiteError, fixtures};

/// What `lab test` was asked to do.
#[derive(Debug, Clone)]
pub struct TestRequest {
    /// The chapters (ids or aliases); empty: every chapter with tests.
    pub chapters: Vec<String>,
    /// The course root given with `--course`; otherwise the course around the working
    /// directory, or the built-in course.
    pub course: Option<PathBuf>,
    /// Variable overrides.
    pub set: Vec<(String, String)>,
    /// Which of the three things `lab test` does.
    pub action: TestAction,
}

/// How `lab test` runs the cases.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Read images from this registry instead of the fixture layouts.
    pub registry: Option<String>,
    /// Allow plain HTTP to the registry.
    pub insecure: bool,
    /// Push the fixture images to `registry` first.
    pub push: bool,
    /// Skip the mutation run.
    pub no_mutations: bool,
    /// Output format: human, JSON or JUnit.
    pub format: Format,
}

/// The three exclusive things `lab test` does.
#[derive(Debug, Clone)]
pub enum TestAction {
    /// Run the cases (and the mutations), and report.
    Run(RunOptions),
    /// Build the fixture images (and missing test keys), then stop.
    WriteFixtures,
    /// Write the rendered tests into this folder for `kyverno test`, then stop.
    Export(PathBuf),
}

fn chapter_ids(files: &CourseFiles) -> Vec<String> {
    files
        .texts()
        .filter(|(p, _)| {
            p.starts_with("labs/") && p.contains("/tests/") && p.ends_with("/kyverno-test.yaml")
        })
        .filter_map(|(p, _)| p.split('/').nth(1).map(str::to_owned))
        .fold(Vec::new(), |mut ids, id| {
            if !ids.contains(&id) {
                ids.push(id);
            }
            ids
        })
}

/// Runs the request; exit 0 when every case passed and no mutation survived, 1 otherwise.
/// Problems in the test files are shown with their source lines, as `lab validate` shows them.
pub fn run(request: &TestRequest, color: bool, out: &mut impl Write) -> Result<u8, LabError> {
    let course = ChapterCourse::open(request.course.as_deref(), true)?;
    if course.built_in && matches!(request.action, TestAction::WriteFixtures) {
        return Err(LabError::Usage(
            "--write-fixtures changes the course, and this is the built-in course; run it in a course checkout, or pass --course DIR".into(),
        ));
    }
    let files = &course.files;
    match run_chapters(request, files, color, out) {
        Err(
            LabError::Suite(
                SuiteError::Invalid(diagnostics)
                | SuiteError::Content(ContentError::Invalid(diagnostics)),
            )
            | LabError::Content(ContentError::Invalid(diagnostics)),
        ) => {
            let report = ValidationReport::new(diagnostics, 0, files.display_root.clone());
            let text = report::validation::snippets(&report, |rel| files.text(rel), color);
            let _ = std::io::stderr().write_all(text.as_bytes());
            Ok(exit_code::BAD_CONTENT_OR_USAGE)
        }
        other => other,
    }
}

/// Finds each chapter asked for, refuses one that does not validate, and does the action.
fn run_chapters(
    request: &TestRequest,
    files: &CourseFiles,
    color: bool,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let ids = if request.chapters.is_empty() {
        chapter_ids(files)
    } else {
        request.chapters.clone()
    };
    if ids.is_empty() {
        return Err(LabError::Usage(format!(
            "no chapter of the course {}has tests (labs/<chapter>/tests/**/kyverno-test.yaml)",
            if files.display_root.is_empty() {
                String::new()
            } else {
                format!("in {}", files.display_root)
            }
        )));
    }
    if let TestAction::Export(dir) = &request.action {
        crate::suite::export::require_new_or_empty(dir)?;
    }
    let mut reports: Vec<SuiteReport> = Vec::new();
    for id in &ids {
        let chapter = Chapter::find(files.clone(), id)?;
        let created = match request.action {
            TestAction::WriteFixtures => fixtures::keys_it_creates(&chapter),
            _ => Vec::new(),
        };
        // --write-fixtures creates missing TEST keys, which the lab's test variables may name.
        require_valid(files, &chapter.lab_file, color, |d| {
            d.code == "ref/missing-file" && d.file == chapter.lab_file && created.contains(&d.line)
        })?;
        let values = chapter.values(true, &request.set)?;
        match &request.action {
            TestAction::WriteFixtures => write_fixtures(&chapter, &values, out)?,
            TestAction::Export(dir) => {
                let target = if ids.len() > 1 {
                    dir.join(id)
                } else {
                    dir.clone()
                };
                export(&chapter, &values, &target, out)?;
            }
            TestAction::Run(options) => reports.push(run_cases(options, &chapter, &values, out)?),
        }
    }
    let TestAction::Run(options) = &request.action else {
        return Ok(exit_code::SUCCESS);
    };
    let text = report::suite::render(&reports, options.format)
        .map_err(|e| LabError::Usage(e.to_string()))?;
    emit(out, &text)?;
    Ok(if reports.iter().all(SuiteReport::passed) {
        exit_code::SUCCESS
    } else {
        exit_code::WORK_FELL_SHORT
    })
}

fn write_fixtures(
    chapter: &Chapter,
    values: &BTreeMap<String, String>,
    out: &mut impl Write,
) -> Result<(), LabError> {
    let written = fixtures::write(chapter, values)?;
    let mut text = String::new();
    for path in &written.keys_created {
        text.push_str(&format!(
            "created TEST key {} (and its .pub): never use it outside tests\n",
            path.display()
        ));
    }
    for (image, digest) in &written.images {
        text.push_str(&format!("wrote {image} = {digest}\n"));
    }
    emit(out, &text)
}

fn export(
    chapter: &Chapter,
    values: &BTreeMap<String, String>,
    target: &Path,
    out: &mut impl Write,
) -> Result<(), LabError> {
    let written = crate::suite::export::export(chapter, values, target)?;
    let text: String = written
        .iter()
        .map(|p| format!("wrote {}\n", p.display()))
        .collect();
    emit(out, &text)
}

/// Runs one chapter's cases (after pushing its fixtures, if asked).
fn run_cases(
    options: &RunOptions,
    chapter: &Chapter,
    values: &BTreeMap<String, String>,
    out: &mut impl Write,
) -> Result<SuiteReport, LabError> {
    let RunOptions {
        registry,
        insecure,
        push,
        no_mutations,
        format,
    } = options;
    let source = match registry {
        Some(host) => ImageSource::Registry {
            mirror: Some(host.clone()),
            insecure: *insecure,
        },
        None => ImageSource::Layouts(fixtures::layouts_dir(chapter)?),
    };
    if *push {
        let Some(host) = registry else {
            return Err(LabError::Usage("--push needs --registry HOST".into()));
        };
        let pushed = crate::runtime::block_on(fixtures::push(chapter, values, host, *insecure))??;
        let text: String = pushed.iter().map(|r| format!("pushed {r}\n")).collect();
        if *format == Format::Human {
            emit(out, &text)?;
        } else {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }
    Ok(run_suite(chapter, values, &source, !no_mutations)?)
}
