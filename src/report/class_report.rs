//! The graded class as every report of `lab grade` reads it: the submissions, the summary
//! computed from them once, and the assignment the marks are for. The reporters (table, JSON,
//! CSV, Canvas, Gradescope, JUnit, HTML) are projections of it and never score again.

use crate::grade::class::Submission;
use crate::grade::summary::ClassSummary;

/// What every report of a graded class is written from: the submissions (graded, flagged,
/// rejected or missing) and the summary computed from them, once.
#[derive(Debug, Clone, Copy)]
pub struct ClassReport<'a> {
    /// The submissions, in the order the files were given.
    pub class: &'a [Submission],
    /// The class at a glance.
    pub summary: &'a ClassSummary,
    /// Colour the table (at a terminal only).
    pub color: bool,
    /// The assignment the marks are for, as gradebooks name it.
    pub assignment: Assignment<'a>,
}

/// The assignment a class's marks are for, as a gradebook names its column.
#[derive(Debug, Clone, Copy, Default)]
pub struct Assignment<'a> {
    /// Its title (`--assignment-name`; by default the chapter's title).
    pub name: &'a str,
    /// Its Canvas id (`--canvas-assignment-id`): the Canvas column is then `name (id)`.
    pub canvas_id: Option<u64>,
}

impl ClassReport<'_> {
    /// The submissions sorted by learner (then file; files with no learner last), as every
    /// table lists them.
    pub fn sorted(&self) -> Vec<&Submission> {
        let mut rows: Vec<&Submission> = self.class.iter().collect();
        rows.sort_by(|a, b| {
            // Files no learner could be read from go last.
            let key = |s: &Submission| (s.learner.is_none(), s.learner.clone(), s.file.clone());
            key(a).cmp(&key(b))
        });
        rows
    }
}
