//! The one output-format choice of the commands that take `--format`: the command line maps
//! its spelling onto [`Format`], and each reporter says which formats it writes.

use std::fmt;

/// What a report is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text for people.
    Human,
    /// One JSON document, versioned by its `schema_version`.
    Json,
    /// JUnit XML, for CI systems that show test results.
    Junit,
    /// GitHub Actions workflow commands (annotations on a pull request).
    Github,
    /// Gradescope's autograder `results.json`, for one submission.
    Gradescope,
    /// A long CSV gradebook: a row per learner, a column per criterion and quiz question.
    Csv,
    /// Canvas's gradebook import CSV.
    Canvas,
    /// One self-contained HTML page.
    Html,
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Github => "github",
            Format::Gradescope => "gradescope",
            Format::Csv => "csv",
            Format::Canvas => "canvas",
            Format::Html => "html",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A report asked for in a format its reporter does not write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {report} report is not written as {format}; choose one of {}", names(.writes))]
pub struct Unsupported {
    /// What was being reported.
    pub report: &'static str,
    /// The format asked for.
    pub format: Format,
    /// The formats this report is written in.
    pub writes: &'static [Format],
}

fn names(formats: &[Format]) -> String {
    formats
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}
