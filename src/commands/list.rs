//! `lab list`: the chapters of the course, with titles and aliases.

use std::io::Write;

use super::Config;
use super::emit;
use crate::content::CourseFiles;
use crate::content::load::{FileKind, parse_one};
use crate::content::model::Lab;
use crate::error::LabError;
use crate::exit_code;
use crate::report;
use crate::report::list::Chapter;

/// Lists the chapters of the configured course.
pub fn run(config: &Config, json: bool, out: &mut impl Write) -> Result<u8, LabError> {
    let files = match &config.course {
        Some(dir) => CourseFiles::from_disk(dir)?,
        None => CourseFiles::embedded(),
    };
    let mut chapters = Vec::new();
    for (rel, text) in files
        .texts()
        .filter(|(p, _)| p.starts_with("labs/") && p.ends_with("/lab.yaml"))
    {
        let lab: Lab = parse_one(rel, text, FileKind::Lab).map_err(|d| {
            LabError::Usage(format!(
                "{}{rel}:{}:{}: {}; run `lab validate` for details",
                files.display_root, d.line, d.column, d.message
            ))
        })?;
        chapters.push(Chapter {
            id: lab.id.value.0,
            title: lab.title,
            aliases: lab.aliases.into_iter().map(|a| a.value.0).collect(),
            steps: lab.steps.len(),
        });
    }
    chapters.sort_by(|a, b| a.id.cmp(&b.id));
    let text = if json {
        report::list::json(&chapters)
    } else {
        report::list::human(&chapters)
    };
    emit(out, &text)?;
    Ok(exit_code::SUCCESS)
}
