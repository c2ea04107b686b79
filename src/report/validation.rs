//! The `lab validate` report: each diagnostic with its source lines for people (also what
//! other commands show for content they refuse), one versioned JSON document, and GitHub
//! workflow annotations. They only format; the validator decides what is wrong.

use std::fmt::Write as _;

use annotate_snippets::renderer::DecorStyle;
use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};
use serde::Serialize;

use super::{Format, Unsupported};
use crate::content::{Diagnostic, Severity, ValidationReport};

/// The version of the `lab validate --format json` document; bumped on any incompatible change.
pub const VALIDATION_VERSION: u32 = 1;

/// The report in `format`: human (`source_of` gives a file's text by its course-relative path,
/// for the snippets), JSON or GitHub annotations.
pub fn render<'s>(
    report: &ValidationReport,
    format: Format,
    source_of: impl Fn(&str) -> Option<&'s str>,
    color: bool,
) -> Result<String, Unsupported> {
    match format {
        Format::Human => Ok(human(report, source_of, color)),
        Format::Json => Ok(json(report)),
        Format::Github => Ok(github(report)),
        Format::Junit | Format::Html => Err(Unsupported {
            report: "lab validate",
            format,
            writes: &[Format::Human, Format::Json, Format::Github],
        }),
    }
}

/// Renders diagnostics with the offending source lines, as rustc does, then a summary.
/// `source_of` returns a file's text by its course-relative path.
pub fn human<'s>(
    report: &ValidationReport,
    source_of: impl Fn(&str) -> Option<&'s str>,
    color: bool,
) -> String {
    let mut out = snippets(report, source_of, color);
    out.push_str(&summary(report));
    out
}

/// The diagnostics with their source lines, without the summary (for commands other than
/// `lab validate` that report content problems).
pub fn snippets<'s>(
    report: &ValidationReport,
    source_of: impl Fn(&str) -> Option<&'s str>,
    color: bool,
) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    }
    .decor_style(DecorStyle::Unicode);
    let mut out = String::new();
    for d in &report.diagnostics {
        let path = report.display_path(&d.file);
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let mut group = level
            .primary_title(d.message.as_str())
            .id(d.code)
            .element(location(d, &path, source_of(&d.file)));
        if let Some(help) = &d.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        if let Some(reference) = d.reference {
            group = group.element(Level::NOTE.message(format!("mirrors {reference}")));
        }
        let groups: [Group<'_>; 1] = [group];
        writeln!(out, "{}\n", renderer.render(&groups)).expect("writing to a String cannot fail");
    }
    out
}

fn location<'a>(
    d: &'a Diagnostic,
    path: &'a str,
    source: Option<&'a str>,
) -> annotate_snippets::Element<'a> {
    match (source, d.line) {
        (Some(text), line) if line > 0 => {
            let span = token_span(text, d.line, d.column);
            Snippet::source(text)
                .path(path)
                .annotation(AnnotationKind::Primary.span(span))
                .into()
        }
        _ => Origin::path(path).into(),
    }
}

/// Byte range of the token that starts at (line, column), both 1-based, column in characters.
fn token_span(text: &str, line: u64, column: u64) -> std::ops::Range<usize> {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(
            usize::try_from(line)
                .unwrap_or(usize::MAX)
                .saturating_sub(1),
        )
        .map(str::len)
        .sum();
    let line_text = text[line_start.min(text.len())..]
        .split('\n')
        .next()
        .unwrap_or("");
    let col = usize::try_from(column.max(1) - 1).unwrap_or(0);
    let start_in_line = line_text
        .char_indices()
        .nth(col)
        .map_or(line_text.len(), |(i, _)| i);
    let rest = &line_text[start_in_line..];
    let len = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => rest[1..].find(q).map_or(rest.len(), |end| end + 2),
        _ => rest.find([',', '}', ']', '#']).unwrap_or(rest.len()),
    };
    let len = rest[..len].trim_end().len().max(1).min(rest.len().max(1));
    let start = line_start + start_in_line;
    start..(start + len).min(text.len()).max(start)
}

fn summary(report: &ValidationReport) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let files = plural(report.files_checked, "file");
    match (report.errors, report.warnings) {
        (0, 0) => format!("ok: {files} checked, no problems\n"),
        (0, w) => format!("ok: {files} checked, {}\n", plural(w, "warning")),
        (e, w) => format!(
            "failed: {files} checked, {} and {}; fix the errors above, then run `lab validate` again\n",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

/// The JSON document.
#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    files_checked: usize,
    errors: usize,
    warnings: usize,
    diagnostics: &'a [Diagnostic],
}

/// Renders the report as pretty JSON.
pub fn json(report: &ValidationReport) -> String {
    super::json::document(&Document {
        schema_version: VALIDATION_VERSION,
        files_checked: report.files_checked,
        errors: report.errors,
        warnings: report.warnings,
        diagnostics: &report.diagnostics,
    })
}

/// Renders GitHub Actions workflow commands (`::error file=..,line=..::message`).
pub fn github(report: &ValidationReport) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            let _ = write!(message, "\nhelp: {help}");
        }
        let _ = writeln!(
            out,
            "::{command} file={},line={},col={},title={}::{}",
            escape_property(&report.display_path(&d.file)),
            d.line.max(1),
            d.column.max(1),
            escape_property(d.code),
            escape_data(&message)
        );
    }
    out.push_str(&summary(report));
    out
}

// Escaping as GitHub's toolkit does (actions/toolkit packages/core/src/command.ts).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_span_covers_a_plain_scalar_and_a_quoted_one() {
        let text = "a: 1\nmutateDigest: true  # why\nref: \"x/y:*\", z\n";
        assert_eq!(&text[token_span(text, 2, 1)], "mutateDigest: true");
        assert_eq!(&text[token_span(text, 3, 6)], "\"x/y:*\"");
        assert_eq!(
            &text[token_span(text, 9, 1)],
            "",
            "a line past the end is an empty span at the end"
        );
    }

    #[test]
    fn github_annotations_escape_newlines_and_separators() {
        let d = Diagnostic::error("x/y", "a,b:c.yaml", (3, 4), "bad\nthing 100%").help("do it");
        let report = ValidationReport::new(vec![d], 1, String::new());
        let out = github(&report);
        assert!(
            out.starts_with("::error file=a%2Cb%3Ac.yaml,line=3,col=4,title=x/y::bad%0Athing 100%25%0Ahelp: do it\n"),
            "{out}"
        );
    }
}
