//! What `lab rehearse` found, judged: per step, the checks before the solution (they must
//! fail), the solution's run, and the checks after (they must pass). A step's problems are
//! decided here; `report::rehearsal` only writes them down.

use serde::Serialize;

use crate::engine::{CheckResult, ReportsWait, Status};

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
    /// Before a step that reads PolicyReports: the wait until Kyverno had reported the Pods
    /// the earlier steps admitted, as a learner who takes their time would find them.
    pub reports_wait: Option<ReportsWait>,
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
