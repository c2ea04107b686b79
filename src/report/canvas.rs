//! `lab grade --format canvas`: the class's marks as Canvas's gradebook import reads them
//! (Grades > Import), so that an instructor uploads the file and Canvas fills one assignment's
//! column. Canvas's importer is strict about the student columns and matches learners by the
//! ids in them, so the layout here is the one it parses: `Student, ID, SIS User ID, SIS Login
//! ID, Section`, the assignment's column, a `Points Possible` row, then one row per learner.

use super::class_report::ClassReport;
use super::gradebook::{finish, line_cell, writer};
use crate::grade::class::Submission;

/// The student columns, as Canvas's export writes them and its import expects them (the last
/// one must be `Section`; `SIS User ID` only counts when `SIS Login ID` follows it).
pub const STUDENT_COLUMNS: [&str; 5] = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"];

/// The first cell of the row that gives each assignment's points possible (Canvas's export
/// indents it; its import looks for the words).
pub const POINTS_POSSIBLE: &str = "    Points Possible";

/// The Canvas gradebook: the header, the `Points Possible` row, then a row per learner in the
/// table's order. Student is the roster's name (else the learner id), ID the roster's
/// `canvas_id`, SIS User ID its `sis_user_id`, SIS Login ID the learner id, Section the
/// roster's section. The score is the points earned by the learner's graded file; it is blank,
/// which Canvas reads as no score, when they have none (rejected or missing) or more than one
/// (choose one and grade it again). A file no learner could be read from has no row: Canvas
/// could not match it to a student.
pub fn csv(report: &ClassReport<'_>) -> String {
    let assignment = report.assignment;
    let title = match assignment.canvas_id {
        Some(id) => format!("{} ({id})", line_cell(assignment.name)),
        None => line_cell(assignment.name),
    };
    let mut header: Vec<String> = STUDENT_COLUMNS.map(String::from).to_vec();
    header.push(title);
    let rows = report.sorted();
    let points = rows
        .iter()
        .find(|s| s.is_graded())
        .map_or_else(String::new, |s| s.points.to_string());
    let mut points_row = vec![String::new(); STUDENT_COLUMNS.len()];
    points_row[0] = POINTS_POSSIBLE.to_owned();
    points_row.push(points);
    let mut out = writer();
    for record in [header, points_row] {
        out.write_record(&record)
            .expect("writing CSV into memory does not fail");
    }
    let mut learners: Vec<(&str, Vec<&Submission>)> = Vec::new();
    for s in rows {
        let Some(learner) = s.learner.as_deref() else {
            continue;
        };
        match learners.last_mut() {
            Some((last, files)) if *last == learner => files.push(s),
            _ => learners.push((learner, vec![s])),
        }
    }
    for (learner, files) in learners {
        out.write_record(row(learner, &files))
            .expect("writing CSV into memory does not fail");
    }
    finish(out)
}

fn row(learner: &str, files: &[&Submission]) -> Vec<String> {
    // Who they are is the roster's, the same on each of their files.
    let who = &files[0].who;
    let text = |value: Option<&String>| value.map_or_else(String::new, |v| line_cell(v));
    let graded: Vec<&&Submission> = files.iter().filter(|s| s.is_graded()).collect();
    let score = match graded.as_slice() {
        [one] => one.earned.to_string(),
        _ => String::new(),
    };
    vec![
        line_cell(who.name.as_deref().unwrap_or(learner)),
        text(who.canvas_id.as_ref()),
        text(who.sis_user_id.as_ref()),
        line_cell(learner),
        text(who.section.as_ref()),
        score,
    ]
}

#[cfg(test)]
#[path = "canvas_tests.rs"]
mod tests;
