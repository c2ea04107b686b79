//! `lab validate [PATH...]`: validates course content and reports every problem.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::emit;
use crate::content::files::{self, CourseFiles, Selection};
use crate::content::validate::validate;
use crate::content::{ContentError, Diagnostic, ValidationReport};
use crate::error::LabError;
use crate::exit_code;
use crate::report::{self, Format};

/// Validates each path and prints one combined report.
pub fn run(
    paths: &[PathBuf],
    format: Format,
    color: bool,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let mut courses = Vec::new();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let mut files_checked = 0;
    for path in paths {
        let (files, selection) = open(path)?;
        if let Selection::File(rel) = &selection
            && files.text(rel).is_none()
            && files.problem(rel).is_none()
        {
            return Err(LabError::Usage(format!(
                "{} is not a course file `lab validate` reads (YAML or Markdown under labs/, quizzes/, runbooks/ or kind-config/)",
                path.display()
            )));
        }
        let found = validate(&files, &selection);
        files_checked += found.files_checked;
        diagnostics.extend(found.diagnostics.into_iter().map(|mut d| {
            d.file = format!("{}{}", files.display_root, d.file);
            d
        }));
        courses.push(files);
    }
    let validation = ValidationReport::new(diagnostics, files_checked, String::new());
    let source_of = |shown: &str| {
        courses.iter().find_map(|c| {
            shown
                .strip_prefix(c.display_root.as_str())
                .and_then(|rel| c.text(rel))
        })
    };
    let text = report::validation::render(&validation, format, source_of, color)
        .map_err(|e| LabError::Usage(e.to_string()))?;
    emit(out, &text)?;
    Ok(if validation.errors > 0 {
        exit_code::BAD_CONTENT_OR_USAGE
    } else {
        exit_code::SUCCESS
    })
}

/// Reads the course around `path`; a lone file outside any course is validated on its own.
fn open(path: &Path) -> Result<(CourseFiles, Selection), ContentError> {
    match files::locate(path) {
        Ok((root, selection)) => Ok((CourseFiles::from_disk(&root)?, selection)),
        Err(ContentError::NotACourse { .. }) if path.is_file() => {
            let (files, name) = CourseFiles::single_file(path)?;
            Ok((files, Selection::File(name)))
        }
        Err(e) => Err(e),
    }
}
