//! The `lab list` report: the course's chapters as a table for people, or one JSON document.

use std::fmt::Write as _;

use serde::Serialize;

/// The version of the `lab list --json` document.
pub const LIST_VERSION: u32 = 1;

/// One chapter in the listing.
#[derive(Debug, Serialize)]
pub struct Chapter {
    /// The chapter id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its aliases.
    pub aliases: Vec<String>,
    /// How many steps it has.
    pub steps: usize,
}

/// The JSON document.
#[derive(Serialize)]
struct Listing<'a> {
    schema_version: u32,
    chapters: &'a [Chapter],
}

/// The listing as one JSON document.
pub fn json(chapters: &[Chapter]) -> String {
    super::json::document(&Listing {
        schema_version: LIST_VERSION,
        chapters,
    })
}

/// The listing as a table: id, title and aliases.
pub fn human(chapters: &[Chapter]) -> String {
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
