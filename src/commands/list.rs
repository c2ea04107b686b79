//! `lab list`: the chapters of the course, with titles and aliases.

use std::fmt::Write as _;
use std::io::Write;

use serde::Serialize;

use super::Config;
use super::emit;
use crate::content::CourseFiles;
use crate::content::load::{FileKind, parse_one};
use crate::content::model::Lab;
use crate::error::LabError;
use crate::exit_code;

/// One chapter in the listing.
#[derive(Debug, Serialize)]
struct Chapter {
    id: String,
    title: String,
    aliases: Vec<String>,
    steps: usize,
}

/// The JSON form of the listing.
#[derive(Debug, Serialize)]
struct Listing {
    schema_version: u32,
    chapters: Vec<Chapter>,
}

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
        serde_json::to_string_pretty(&Listing {
            schema_version: 1,
            chapters,
        })
        .expect("listing serializes")
            + "\n"
    } else {
        table(&chapters)
    };
    emit(out, &text)?;
    Ok(exit_code::SUCCESS)
}

fn table(chapters: &[Chapter]) -> String {
    if chapters.is_empty() {
        return "no chapters found; a chapter is a labs/<id>/lab.yaml file\n".to_owned();
    }
    let id_width = chapters
        .iter()
        .map(|c| c.id.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let title_width = chapters
        .iter()
        .map(|c| c.title.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut out = format!("{:id_width$}  {:title_width$}  ALIASES\n", "ID", "TITLE");
    for c in chapters {
        let _ = writeln!(
            out,
            "{:id_width$}  {:title_width$}  {}",
            c.id,
            c.title,
            c.aliases.join(", ")
        );
    }
    out
}
