//! The rehearsal's report: per step, the checks before the solution (they must fail), the
//! solution's run, and the checks after (they must pass). Human, JSON and JUnit.

use std::fmt::Write as _;

use serde::Serialize;

use crate::engine::{CheckResult, Status};
use crate::suite::report::xml;

/// The version of the JSON format.
pub const SCHEMA_VERSION: u32 = 1;

/// How one step's solution ran.
#[derive(Debug, Clone, Serialize)]
pub struct SolutionRun {
    /// Exit code; `None` when killed.
    pub exit_code: Option<i32>,
    /// Whether the deadline killed it.
    pub timed_out: bool,
    /// Seconds it ran.
    pub seconds: f64,
    /// The end of its output.
    pub output_tail: String,
}

/// One step of the rehearsal.
#[derive(Debug, Clone, Serialize)]
pub struct StepRehearsal {
    /// The step id.
    pub step: String,
    /// The checks before the solution.
    pub before: Vec<CheckResult>,
    /// Checks marked `invariant` (allowed to pass before).
    pub invariant: Vec<String>,
    /// The solution's run; `None` when the step has no solution.
    pub solution: Option<SolutionRun>,
    /// The checks after the solution.
    pub after: Vec<CheckResult>,
}

impl StepRehearsal {
    /// Checks that passed before the solution although they are not invariants: broken checks.
    pub fn broken(&self) -> Vec<&CheckResult> {
        self.before
            .iter()
            .filter(|r| r.status == Status::Pass && !self.invariant.contains(&r.check))
            .collect()
    }

    /// Whether the step was skipped (no solution).
    pub fn skipped(&self) -> bool {
        self.solution.is_none()
    }

    /// What is wrong with the step, one line each; empty when it rehearsed cleanly.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for r in self.broken() {
            problems.push(format!(
                "{} passes before the solution: a broken check ({})",
                r.check, r.message
            ));
        }
        for r in self.before.iter().filter(|r| r.status == Status::Error) {
            problems.push(format!(
                "{} could not run before the solution: {}",
                r.check, r.message
            ));
        }
        if let Some(run) = &self.solution {
            if run.timed_out {
                problems.push(format!("the solution timed out after {:.0} s", run.seconds));
            } else if run.exit_code != Some(0) {
                problems.push(format!("the solution failed (exit {:?})", run.exit_code));
            }
        }
        for r in self.after.iter().filter(|r| r.status != Status::Pass) {
            problems.push(format!(
                "{} does not pass after the solution: {}",
                r.check, r.message
            ));
        }
        problems
    }
}

/// The whole rehearsal.
#[derive(Debug, Clone, Serialize)]
pub struct Rehearsal {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The chapter.
    pub chapter: String,
    /// The kubeconfig context it ran on.
    pub context: String,
    /// Seconds `lab start` took.
    pub start_seconds: f64,
    /// The steps, in order.
    pub steps: Vec<StepRehearsal>,
    /// Seconds in all.
    pub seconds: f64,
}

impl Rehearsal {
    /// Whether every step rehearsed cleanly (skipped steps aside).
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.problems().is_empty())
    }
}

/// The JSON report.
pub fn json(rehearsal: &Rehearsal) -> String {
    serde_json::to_string_pretty(rehearsal).expect("the rehearsal serializes") + "\n"
}

/// The human report.
pub fn human(rehearsal: &Rehearsal) -> String {
    let mut out = format!(
        "rehearsal of {} on context {} (lab start {:.1} s)\n",
        rehearsal.chapter, rehearsal.context, rehearsal.start_seconds
    );
    let (mut ok, mut failed, mut skipped) = (0, 0, 0);
    for step in &rehearsal.steps {
        let problems = step.problems();
        let verdict = if step.skipped() {
            skipped += 1;
            "skipped: the step has no solution".to_owned()
        } else if problems.is_empty() {
            ok += 1;
            let run = step.solution.as_ref().map_or(0.0, |r| r.seconds);
            let invariants = step.invariant.len();
            let held = if invariants == 0 {
                String::new()
            } else {
                format!(" ({invariants} invariant held)")
            };
            format!(
                "ok: {} check(s) fail before{held}, the solution runs ({run:.1} s), all pass after",
                step.before.len() - invariants
            )
        } else {
            failed += 1;
            "FAILED".to_owned()
        };
        let _ = writeln!(out, "  {:<18} {verdict}", step.step);
        for p in problems {
            let _ = writeln!(out, "      {p}");
        }
        if let Some(run) = step.solution.as_ref().filter(|r| r.exit_code != Some(0)) {
            for line in run.output_tail.lines() {
                let _ = writeln!(out, "      | {line}");
            }
        }
    }
    let _ = writeln!(
        out,
        "{ok} step(s) rehearsed, {failed} failed, {skipped} skipped ({:.0} s)",
        rehearsal.seconds
    );
    out
}

/// JUnit XML: one testsuite per step; a testcase per check and phase, and one for the solution.
pub fn junit(rehearsal: &Rehearsal) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let cases: usize = rehearsal
        .steps
        .iter()
        .map(|s| s.before.len() + s.after.len() + 1)
        .sum();
    let failures: usize = rehearsal.steps.iter().map(|s| s.problems().len()).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"lab rehearse {}\" tests=\"{cases}\" failures=\"{failures}\" time=\"{:.3}\">",
        xml(&rehearsal.chapter),
        rehearsal.seconds
    );
    for step in &rehearsal.steps {
        let class = xml(&format!("{}.{}", rehearsal.chapter, step.step));
        let _ = writeln!(
            out,
            "  <testsuite name=\"{class}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            step.before.len() + step.after.len() + 1,
            step.problems().len(),
            usize::from(step.skipped())
        );
        let broken = step.broken();
        for r in &step.before {
            let name = xml(&format!("{} fails before the solution", r.check));
            let _ = write!(
                out,
                "    <testcase classname=\"{class}\" name=\"{name}\" time=\"{:.3}\"",
                r.elapsed_ms as f64 / 1000.0
            );
            if step.invariant.contains(&r.check) {
                let _ = writeln!(
                    out,
                    "><skipped message=\"an invariant: it may pass before\"/></testcase>"
                );
            } else if broken.iter().any(|b| b.check == r.check) {
                let _ = writeln!(
                    out,
                    "><failure message=\"a broken check: it passes before the solution\">{}</failure></testcase>",
                    xml(&r.message)
                );
            } else {
                let _ = writeln!(out, "/>");
            }
        }
        let _ = write!(
            out,
            "    <testcase classname=\"{class}\" name=\"the solution runs\""
        );
        match &step.solution {
            None => {
                let _ = writeln!(
                    out,
                    "><skipped message=\"the step has no solution\"/></testcase>"
                );
            }
            Some(run) if run.exit_code == Some(0) => {
                let _ = writeln!(out, " time=\"{:.3}\"/>", run.seconds);
            }
            Some(run) => {
                let _ = writeln!(
                    out,
                    " time=\"{:.3}\"><failure message=\"{}\">{}</failure></testcase>",
                    run.seconds,
                    if run.timed_out { "timed out" } else { "failed" },
                    xml(&run.output_tail)
                );
            }
        }
        for r in &step.after {
            let name = xml(&format!("{} passes after the solution", r.check));
            let _ = write!(
                out,
                "    <testcase classname=\"{class}\" name=\"{name}\" time=\"{:.3}\"",
                r.elapsed_ms as f64 / 1000.0
            );
            if r.status == Status::Pass {
                let _ = writeln!(out, "/>");
            } else {
                let hint = r.hint.as_deref().unwrap_or("");
                let _ = writeln!(
                    out,
                    "><failure message=\"{}\">{}</failure></testcase>",
                    xml(&r.message),
                    xml(hint)
                );
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
