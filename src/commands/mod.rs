//! One module per subcommand: each gathers inputs, calls the engine, and hands the result to a
//! reporter. They return an exit code or a [`crate::error::LabError`].

pub mod admit;
pub mod bundle;
#[cfg(feature = "live")]
pub mod check;
mod command;
#[cfg(feature = "live")]
pub mod doctor;
pub mod grade;
mod grade_pack;
#[cfg(feature = "live")]
mod lesson;
pub mod list;
#[cfg(feature = "live")]
pub mod mode;
#[cfg(feature = "live")]
pub mod rehearse;
#[cfg(feature = "live")]
pub mod render;
#[cfg(feature = "live")]
pub mod session;
#[cfg(feature = "live")]
pub mod solve;
#[cfg(feature = "live")]
pub mod start;
#[cfg(feature = "live")]
pub mod status;
#[cfg(feature = "live")]
pub mod stop;
#[cfg(feature = "live")]
pub mod submit;
pub mod test;
pub mod token;
pub mod validate;
pub mod verify;
#[cfg(feature = "live")]
pub mod walk;

pub use command::{Command, Config, run};

use std::io::Write;
use std::path::Path;

use crate::content::Selection;
use crate::content::files::{self, CourseFiles};
use crate::content::validate::validate;
use crate::content::{ContentError, Diagnostic, Severity, ValidationReport};
use crate::error::LabError;

/// The course a chapter command works on: `--course DIR`, else the course checkout around the
/// working directory, else the built-in course. The built-in course is written out to a
/// private temporary folder (removed when the command ends) for commands that read files on
/// disk, such as fixture layouts.
pub(crate) struct ChapterCourse {
    /// The course's files.
    pub files: CourseFiles,
    /// Whether this is the built-in course.
    pub built_in: bool,
    /// Keeps the written-out built-in course alive.
    _checkout: Option<tempfile::TempDir>,
}

impl ChapterCourse {
    /// Opens the course as described; `on_disk` asks for the built-in course on disk.
    pub fn open(course: Option<&Path>, on_disk: bool) -> Result<Self, LabError> {
        if let Some(dir) = course {
            return Ok(ChapterCourse {
                files: CourseFiles::from_disk(dir)?,
                built_in: false,
                _checkout: None,
            });
        }
        match files::locate(Path::new(".")) {
            Ok((root, _)) => {
                return Ok(ChapterCourse {
                    files: CourseFiles::from_disk(&root)?,
                    built_in: false,
                    _checkout: None,
                });
            }
            Err(ContentError::NotACourse { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if !on_disk {
            return Ok(ChapterCourse {
                files: CourseFiles::embedded(),
                built_in: true,
                _checkout: None,
            });
        }
        let checkout = tempfile::Builder::new()
            .prefix("lab-built-in-course-")
            .tempdir()
            .map_err(|source| LabError::Output {
                what: "the built-in course to a temporary folder".into(),
                source,
            })?;
        for (rel, bytes) in CourseFiles::embedded_contents() {
            let path = checkout.path().join(rel);
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&path, bytes));
            written.map_err(|source| LabError::Output {
                what: format!("the built-in course to {}", path.display()),
                source,
            })?;
        }
        let mut files = CourseFiles::from_disk(checkout.path())?;
        files.set_display_root("<built-in course>/");
        Ok(ChapterCourse {
            files,
            built_in: true,
            _checkout: Some(checkout),
        })
    }
}

/// Validates the chapter whose lab file is `lab_file` as `lab validate` would, and refuses to
/// go on when that finds errors, so that no command acts on a lab the validator rejects. The
/// diagnostics are printed to stderr with their source lines.
/// `tolerated` lets through errors the command itself is about to remedy.
pub(crate) fn require_valid(
    files: &CourseFiles,
    lab_file: &str,
    color: bool,
    tolerated: impl Fn(&Diagnostic) -> bool,
) -> Result<(), LabError> {
    let report = validate(files, &Selection::Lab(lab_file.to_owned()));
    let errors: Vec<Diagnostic> = report
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error && !tolerated(d))
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    let count = errors.len();
    let report = ValidationReport::new(errors, 0, files.display_root.clone());
    let text = crate::report::validation::snippets(&report, |rel| files.text(rel), color);
    let _ = std::io::stderr().write_all(text.as_bytes());
    Err(LabError::Usage(format!(
        "{}{lab_file} does not pass `lab validate` ({count} error{}); fix it first",
        files.display_root,
        if count == 1 { "" } else { "s" }
    )))
}

/// Writes `text` to `out`, mapping failure to [`LabError::Output`].
/// Reads a cosign private key (a learner's for `lab submit`, an instructor's for `lab token
/// issue`), decrypting it with `COSIGN_PASSWORD` as cosign does; never prints it.
pub(crate) fn read_signing_key(
    path: &Path,
) -> Result<crate::submission::sealed::SigningKey, LabError> {
    const KEY_LIMIT: u64 = 64 * 1024;
    let pem = crate::input::read_text(path, KEY_LIMIT, "a cosign private key").map_err(|e| {
        LabError::Usage(format!(
            "{e}; name the cosign private key with --key (cosign generate-key-pair writes cosign.key)"
        ))
    })?;
    let password = std::env::var("COSIGN_PASSWORD").unwrap_or_default();
    crate::submission::sealed::SigningKey::read(pem.as_bytes(), password.as_bytes())
        .map_err(|e| LabError::Usage(format!("{}: {e}", path.display())))
}

pub(crate) fn emit(out: &mut impl Write, text: &str) -> Result<(), LabError> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| LabError::Output {
            what: "the report".into(),
            source,
        })
}

/// `chapter`'s lab registry with `values`: as this machine reaches it, verifying with the
/// pack's attestors in Enforce (what `lab check` verifies with; the grader renders the pack
/// once per class and uses [`lab_registry_with`]).
#[cfg(feature = "live")]
pub(crate) fn lab_registry(
    chapter: &crate::content::chapter::Chapter,
    values: &std::collections::BTreeMap<String, String>,
) -> Result<crate::backend::LabRegistry, LabError> {
    let mut policies = Vec::new();
    for rel in chapter.pack_files(values)? {
        policies.extend(chapter.render_policies(
            &rel,
            values,
            Some(crate::policy::model::FailureMode::Enforce),
        )?);
    }
    Ok(lab_registry_with(chapter, policies))
}

/// The lab registry of [`lab_registry`], with the pack's `policies` already rendered.
pub(crate) fn lab_registry_with(
    chapter: &crate::content::chapter::Chapter,
    policies: Vec<crate::policy::model::KyvernoPolicy>,
) -> crate::backend::LabRegistry {
    let spec = &chapter.lab.cluster.registry;
    crate::backend::LabRegistry {
        aliases: spec.mirrors.iter().map(|m| m.value.clone()).collect(),
        host: format!("localhost:{}", spec.host_port),
        policies,
        retry: crate::supply::registry::Retry::default(),
        layout: None,
    }
}
