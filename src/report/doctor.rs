//! The `lab doctor` report: what the lab needs of this machine, a line per finding with the
//! fix under each problem, or one JSON document. `lab start` shows the blocking findings the
//! same way.

use std::fmt::Write as _;

use serde::Serialize;

use crate::backend::doctor::{Finding, Level};

/// The version of the `lab doctor --json` document.
pub const DOCTOR_VERSION: u32 = 1;

/// The JSON document.
#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    chapter: &'a str,
    problems: usize,
    /// Problems that stop `lab start` (the others only matter to the step that uses the tool).
    blocking: usize,
    findings: &'a [Finding],
}

fn problems(findings: &[Finding]) -> usize {
    findings
        .iter()
        .filter(|f| f.level == Level::Problem)
        .count()
}

/// The findings as one JSON document (keys sorted, as `lab doctor` has always written them).
pub fn json(chapter: &str, findings: &[Finding]) -> String {
    super::json::sorted_document(&Document {
        schema_version: DOCTOR_VERSION,
        chapter,
        problems: problems(findings),
        blocking: findings.iter().filter(|f| f.blocks_start()).count(),
        findings,
    })
}

/// The report for people: the findings, then whether `lab start` may go ahead. `again` is the
/// `lab doctor` command line to run after a fix, with the flags the learner gave.
pub fn human(chapter: &str, findings: &[Finding], again: &str) -> String {
    let mut out = format!("lab doctor {chapter}\n{}", findings_text(findings));
    let blocking = findings.iter().filter(|f| f.blocks_start()).count();
    let later = problems(findings) - blocking;
    let _ = match blocking {
        0 => writeln!(out, "ready for `lab start {chapter}`"),
        n => writeln!(
            out,
            "{n} problem(s) stop `lab start`: fix them, then run `{again}` again"
        ),
    };
    if later > 0 {
        let _ = writeln!(
            out,
            "{later} tool(s) missing or too old do not stop `lab start`, but the steps that use them need them"
        );
    }
    out
}

/// The findings, a line each, the fix under each problem.
pub fn findings_text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let mark = match f.level {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Problem => "PROBLEM",
        };
        let _ = writeln!(out, "  {mark:<8} {}: {}", f.check, f.found);
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "           fix: {fix}");
        }
    }
    out
}
