//! The `lab check` report: a line per check with its message and hint for people, one
//! versioned JSON document for machines.

use serde::Serialize;

use crate::engine::{CheckResult, Status};

/// The version of the `lab check --json` document.
pub const CHECK_RESULTS_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    chapter: &'a str,
    passed: usize,
    failed: usize,
    errors: usize,
    results: &'a [CheckResult],
}

fn counts(results: &[CheckResult]) -> (usize, usize, usize) {
    let n = |s: Status| results.iter().filter(|r| r.status == s).count();
    (n(Status::Pass), n(Status::Fail), n(Status::Error))
}

/// The JSON report.
pub fn json(chapter: &str, results: &[CheckResult]) -> String {
    let (passed, failed, errors) = counts(results);
    let doc = Document {
        schema_version: CHECK_RESULTS_VERSION,
        chapter,
        passed,
        failed,
        errors,
        results,
    };
    super::json::document(&doc)
}

/// The human report: results grouped by step. What a check saw (its message, and the hint
/// that may quote it) came from the cluster, the registry or the learner's files, so its
/// control characters are shown, not obeyed.
pub fn human(results: &[CheckResult]) -> String {
    use crate::text::{printable, printable_block};
    let mut out = String::new();
    let mut step = "";
    for r in results {
        if r.step != step {
            step = &r.step;
            out.push_str(&format!("{step}\n"));
        }
        let mark = match r.status {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
        };
        out.push_str(&format!(
            "  {mark:<5} {}: {}\n",
            printable(&r.check),
            printable(&r.title)
        ));
        if r.status != Status::Pass {
            out.push_str(&format!("        {}\n", printable_block(&r.message)));
            if let Some(hint) = &r.hint {
                out.push_str(&format!("        try: {}\n", printable_block(hint)));
            }
        }
    }
    let (passed, failed, errors) = counts(results);
    out.push_str(&format!(
        "{passed} passed, {failed} failed, {errors} could not run\n"
    ));
    out
}
