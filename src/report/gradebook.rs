//! `lab grade --format csv`: the class as a long gradebook a spreadsheet opens, one row per
//! learner with a column per done-when criterion and per quiz question, so that an instructor
//! can sort, filter and paste it into any LMS. Every cell came from the graded class; the
//! learner-written ones (names, ids, flags, reasons) are quoted as RFC 4180 says and guarded
//! so that a spreadsheet shows them instead of running them as formulas.

use super::class_report::ClassReport;
use crate::grade::class::{Outcome, Submission};

/// What a cell that a spreadsheet would read as a formula is prefixed with.
const FORMULA_GUARD: char = '\'';

/// Joins a submission's flags in one cell.
const FLAG_SEPARATOR: &str = "; ";

/// `text` as a spreadsheet cell: control characters made visible (as the table shows them;
/// newlines and tabs are kept, in quotes), and a leading `=`, `+`, `-` or `@` (after any
/// spaces), tab or carriage return prefixed with `'`, as OWASP's CSV-injection advice says, so
/// that the cell is shown as text and never evaluated.
pub(super) fn cell(text: &str) -> String {
    guard(crate::text::printable_block(text))
}

/// `text` as a cell on one line: as [`cell`], but a line break is made visible too.
pub(super) fn line_cell(text: &str) -> String {
    guard(crate::text::printable(text))
}

fn guard(text: std::borrow::Cow<'_, str>) -> String {
    let trimmed = text.trim_start_matches(' ');
    let runs = text.starts_with(['\t', '\r']) || trimmed.starts_with(['=', '+', '-', '@']);
    if runs {
        format!("{FORMULA_GUARD}{text}")
    } else {
        text.into_owned()
    }
}

/// A CSV writer as RFC 4180 asks: CRLF after each record, a cell quoted when it holds a comma,
/// a quote or a line break, a quote doubled.
pub(super) fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new())
}

/// The written CSV as text.
pub(super) fn finish(writer: csv::Writer<Vec<u8>>) -> String {
    let bytes = writer
        .into_inner()
        .expect("writing CSV into memory does not fail");
    String::from_utf8(bytes).expect("every cell written was a str")
}

/// Each id in first-seen order, once.
fn union<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for id in ids {
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    seen
}

fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Graded => "graded",
        Outcome::Flagged => "flagged",
        Outcome::Rejected => "rejected",
        Outcome::Missing => "missing",
    }
}

/// The gradebook: a header row, then a row per submission (graded, flagged, rejected and
/// missing) in the table's order. Columns: learner, name, email, section, outcome, earned,
/// points, percent, late; one `criterion:ID` column per done-when criterion (points earned)
/// and one `question:ID` per quiz question (1 right, 0 wrong), each the union over the class in
/// first-seen order; then flags, the rejection reason and the file. A cell a submission has no
/// value for is empty (a rejected or missing learner has no score).
pub fn csv(report: &ClassReport<'_>) -> String {
    let rows = report.sorted();
    let criteria = union(
        rows.iter()
            .flat_map(|s| s.criteria.iter().map(|c| c.id.as_str())),
    );
    let questions = union(
        rows.iter()
            .flat_map(|s| s.answers.iter().map(|a| a.question.as_str())),
    );
    let mut header: Vec<String> = [
        "learner", "name", "email", "section", "outcome", "earned", "points", "percent", "late",
    ]
    .map(String::from)
    .to_vec();
    header.extend(criteria.iter().map(|id| cell(&format!("criterion:{id}"))));
    header.extend(questions.iter().map(|id| cell(&format!("question:{id}"))));
    header.extend(["flags", "rejected", "file"].map(String::from));
    let mut out = writer();
    out.write_record(&header)
        .expect("writing CSV into memory does not fail");
    for s in rows {
        out.write_record(row(s, &criteria, &questions))
            .expect("writing CSV into memory does not fail");
    }
    finish(out)
}

fn row(s: &Submission, criteria: &[&str], questions: &[&str]) -> Vec<String> {
    let text = |value: Option<&String>| value.map_or_else(String::new, |v| cell(v));
    let scored = s.is_graded();
    let number = |n: u32| if scored { n.to_string() } else { String::new() };
    let mut row = vec![
        text(s.learner.as_ref()),
        text(s.who.name.as_ref()),
        text(s.who.email.as_ref()),
        text(s.who.section.as_ref()),
        outcome(s.outcome).to_owned(),
        number(s.earned),
        number(s.points),
        if scored {
            format!("{:.2}", s.percent())
        } else {
            String::new()
        },
        if scored {
            s.late.to_string()
        } else {
            String::new()
        },
    ];
    row.extend(criteria.iter().map(|id| {
        s.criteria
            .iter()
            .find(|c| c.id == *id)
            .map_or_else(String::new, |c| c.earned.to_string())
    }));
    row.extend(questions.iter().map(|id| {
        s.answers
            .iter()
            .find(|a| a.question == *id)
            .map_or_else(String::new, |a| u8::from(a.correct).to_string())
    }));
    row.push(cell(&s.flags.join(FLAG_SEPARATOR)));
    row.push(text(s.rejected.as_ref()));
    row.push(cell(&s.file));
    row
}

#[cfg(test)]
#[path = "gradebook_tests.rs"]
mod tests;
