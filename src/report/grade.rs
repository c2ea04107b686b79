//! The `lab grade` report: a table of the class for people (each submission's score, outcome
//! and every flag), one versioned JSON document for machines (every check with what it rests
//! on). Everything in it came from learners' files, so it is shown, never obeyed.

use std::io::Write as _;

use serde::Serialize;

use super::class_report::ClassReport;
use super::{Format, Unsupported};
use crate::grade::class::{Outcome, Submission};
use crate::grade::summary::ClassSummary;
use crate::text::printable;

/// The version of the `lab grade --json` document.
pub const GRADE_REPORT_VERSION: u32 = 1;

/// The formats `lab grade` writes.
pub const WRITES: &[Format] = &[
    Format::Human,
    Format::Json,
    Format::Csv,
    Format::Canvas,
    Format::Junit,
    Format::Gradescope,
    Format::Html,
];

/// The report in `format`.
pub fn render(format: Format, report: &ClassReport<'_>) -> Result<String, Unsupported> {
    let mut bytes = Vec::new();
    render_to(format, report, &mut bytes)?.expect("writing to memory does not fail");
    Ok(String::from_utf8(bytes).expect("reports are UTF-8"))
}

/// Writes the report in `format` to `out`: `Err` when `lab grade` does not write that format,
/// else the outcome of the writes. The JSON document is written as it is serialized, never
/// held whole in memory (a class of ten thousand is a hundred megabytes of it).
pub fn render_to(
    format: Format,
    report: &ClassReport<'_>,
    out: &mut dyn std::io::Write,
) -> Result<std::io::Result<()>, Unsupported> {
    let text = match format {
        Format::Json => return Ok(json_to(report, out)),
        Format::Human => human(report),
        Format::Gradescope => super::gradescope::results(report),
        Format::Csv => super::gradebook::csv(report),
        Format::Canvas => super::canvas::csv(report),
        Format::Junit => super::grade_junit::junit(report).render(),
        Format::Html => super::html::html(report),
        _ => return Err(unsupported(format)),
    };
    Ok(out.write_all(text.as_bytes()))
}

/// Whether `lab grade` writes `format`.
pub fn check_format(format: Format) -> Result<(), Unsupported> {
    if WRITES.contains(&format) {
        Ok(())
    } else {
        Err(unsupported(format))
    }
}

fn unsupported(format: Format) -> Unsupported {
    Unsupported {
        report: "grade",
        format,
        writes: WRITES,
    }
}

/// The file a report in `format` is written to inside `-o DIR`.
pub fn file_name(format: Format) -> &'static str {
    match format {
        Format::Human => "grades.txt",
        Format::Json => "grades.json",
        Format::Junit => "junit.xml",
        Format::Github => "grades.github.txt",
        Format::Gradescope => "results.json",
        Format::Csv => "grades.csv",
        Format::Canvas => "canvas.csv",
        Format::Html => "report.html",
    }
}

/// The `lab grade --format json` document.
#[derive(Serialize, schemars::JsonSchema)]
struct Document<'a> {
    /// The version of this document's shape.
    schema_version: u32,
    /// Submissions graded with no flag.
    graded: usize,
    /// Submissions graded, with flags.
    flagged: usize,
    /// Files that could not be graded.
    rejected: usize,
    /// Roster learners who handed nothing in.
    missing: usize,
    /// The class at a glance.
    summary: &'a ClassSummary,
    /// Every submission, in the order the files were given, then the missing learners.
    submissions: &'a [Submission],
}

/// The JSON Schema of the `lab grade --format json` document, as committed in `schemas/`.
pub fn schema() -> (&'static str, String) {
    // The schema of what `lab` writes (fields left out when empty are not required).
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<Document<'static>>();
    schema.insert("title".into(), "courselab lab grade report".into());
    (
        "grade-report.schema.json",
        serde_json::to_string_pretty(&schema).expect("schemas serialize") + "\n",
    )
}

/// The JSON report.
pub fn json(report: &ClassReport<'_>) -> String {
    let mut bytes = Vec::new();
    json_to(report, &mut bytes).expect("writing to memory does not fail");
    String::from_utf8(bytes).expect("JSON is UTF-8")
}

/// The JSON report, written to `out` as it is serialized: pretty down to the summary's members
/// and the list of submissions, then one line per submission (a class of ten thousand is read
/// a learner at a time, and fully pretty it is nearly twice the size), with a trailing newline.
fn json_to(report: &ClassReport<'_>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let summary = report.summary;
    let document = Document {
        schema_version: GRADE_REPORT_VERSION,
        graded: summary.graded - summary.flagged,
        flagged: summary.flagged,
        rejected: summary.rejected,
        missing: summary.missing,
        summary,
        submissions: report.class,
    };
    let mut out = std::io::BufWriter::new(out);
    super::json::write_outline(&mut out, &document, 2)?;
    out.flush()
}

/// The table for people: a row per learner, sorted, with the score, whether it was late, the
/// outcome and every flag; the class summary below.
pub fn human(report: &ClassReport<'_>) -> String {
    let summary = report.summary;
    let class = report.class;
    let paint = |code: &str, text: String| {
        if report.color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text
        }
    };
    let mut out = format!(
        "lab grade: {} submission(s): {} graded, {} flagged, {} rejected{}\n\n",
        class.len() - summary.missing,
        summary.graded - summary.flagged,
        summary.flagged,
        summary.rejected,
        if summary.missing > 0 {
            format!(
                "; {} learner(s) of the roster handed nothing in",
                summary.missing
            )
        } else {
            String::new()
        }
    );
    let name = |s: &Submission| printable(s.learner.as_deref().unwrap_or(&s.file)).into_owned();
    let rows = report.sorted();
    let width = rows
        .iter()
        .map(|s| name(s).chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    out.push_str(&format!(
        "  {:<width$}  {:>9}  {:<4}  outcome\n",
        "learner", "score", "late"
    ));
    for s in rows {
        let score = match s.outcome {
            Outcome::Rejected | Outcome::Missing => "-".to_owned(),
            _ => format!("{}/{}", s.earned, s.points),
        };
        let outcome = match s.outcome {
            Outcome::Graded => paint("32", "graded".into()),
            Outcome::Flagged => paint("33", "flagged".into()),
            Outcome::Rejected => paint("31", "rejected".into()),
            Outcome::Missing => paint("2", "missing".into()),
        };
        let late = if s.late { "late" } else { "" };
        out.push_str(&format!(
            "  {:<width$}  {score:>9}  {late:<4}  {outcome}\n",
            name(s)
        ));
        if let Some(why) = &s.rejected {
            out.push_str(&format!(
                "      {}: {}\n",
                printable(&s.file),
                printable(why)
            ));
        }
        for flag in &s.flags {
            out.push_str(&format!("      - {}\n", printable(flag)));
        }
    }
    out.push_str(&format!(
        "\nClass: of the {} scored, mean {:.1}%, median {:.1}%; {} at or above the pass mark of {}% ({:.1}%).\n",
        summary.graded,
        summary.mean_percent,
        summary.median_percent,
        summary.passed,
        summary.pass_mark,
        summary.pass_rate()
    ));
    out.push_str(
        "\nScores are the done-when points. Evidence, the image's signature and attestation and the quiz are re-verified from each file; the cluster's checks are judged from what the learner's cluster showed when they submitted (lab grade --format json says which is which). Times are the learner machine's claim.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_each_outcome_and_every_flag_and_obeys_no_control_character() {
        let mut ada = Submission::rejected("ada.tar.gz", String::new());
        ada.outcome = Outcome::Graded;
        ada.rejected = None;
        ada.learner = Some("ada".into());
        ada.earned = 120;
        ada.points = 120;
        let mut bob = ada.clone();
        bob.learner = Some("bob\u{1b}[2J".into());
        bob.earned = 95;
        bob.flag("copy: the same public key as ada (ada.tar.gz)".into());
        let broken = Submission::rejected(
            "broken.tar.gz",
            "not a submission lab can read: it is not a gzip file".into(),
        );
        let carol = Submission::missing("carol", Default::default());
        let class = [bob, ada, broken, carol];
        let summary = ClassSummary::of(&class, 60);
        let text = human(&ClassReport {
            class: &class,
            summary: &summary,
            color: false,
            assignment: Default::default(),
        });
        insta::assert_snapshot!(text);
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}
