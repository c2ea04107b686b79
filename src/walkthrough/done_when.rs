//! The chapter's done-when criteria against the learner's record: each scored check earns its
//! points when its step was recorded as passed with that check passing (the result of the
//! moment the learner moved on, so `policies-in-audit` keeps its points after Enforce), or,
//! for a step not yet passed, when a check run now passes. Partial credit is per criterion.

use std::collections::BTreeMap;

use serde::Serialize;

use super::progress::{Progress, RecordedCheck};
use crate::content::model::Lab;
use crate::engine::{CheckResult, Evidence, Status};

/// One scored check.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    /// The check id.
    pub check: String,
    /// Its title.
    pub title: String,
    /// The step it belongs to.
    pub step: String,
    /// Pass, fail, or not run (`None`).
    pub status: Option<Status>,
    /// Whether the status comes from the progress record (else from a check run now).
    pub recorded: bool,
    /// Points earned.
    pub earned: u32,
    /// Points possible.
    pub points: u32,
    /// The evidence behind it.
    pub evidence: Vec<Evidence>,
    /// For a check that did not earn its points: the command that would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// One criterion.
#[derive(Debug, Clone, Serialize)]
pub struct Criterion {
    /// Its id.
    pub id: String,
    /// What it asks.
    pub text: String,
    /// Its checks.
    pub checks: Vec<Scored>,
    /// Points earned.
    pub earned: u32,
    /// Points possible.
    pub points: u32,
}

/// The whole summary.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The criteria.
    pub criteria: Vec<Criterion>,
    /// Points earned.
    pub earned: u32,
    /// Points possible.
    pub points: u32,
}

impl Summary {
    /// Whether every criterion is met in full.
    pub fn complete(&self) -> bool {
        self.earned == self.points
    }
}

/// Scores `lab`'s done-when criteria from `progress`, and from `live` results for steps not
/// yet recorded as passed.
pub fn summarize(lab: &Lab, progress: &Progress, live: &[CheckResult]) -> Summary {
    let steps = lab.step_ids();
    let passed = progress.passed(&steps);
    let id = &lab.id.value.0;
    let recorded: BTreeMap<&str, &RecordedCheck> = passed
        .values()
        .flatten()
        .map(|r| (r.check.as_str(), r))
        .collect();
    let mut criteria = Vec::new();
    for criterion in &lab.done_when {
        let mut checks = Vec::new();
        for scored in &criterion.checks {
            let check_id = scored.check.value.0.as_str();
            let (step, title) = lab
                .steps
                .iter()
                .find_map(|s| {
                    s.checks
                        .iter()
                        .find(|c| c.id.value.0 == check_id)
                        .map(|c| (s.id.value.0.clone(), c.title.clone()))
                })
                .unwrap_or_default();
            let points = scored.points.value;
            let (status, from_record, evidence) = match recorded.get(check_id) {
                Some(r) => (Some(r.status), true, r.evidence.clone()),
                None => match live.iter().find(|r| r.check == check_id) {
                    Some(r) => (Some(r.status), false, r.evidence.clone()),
                    None => (None, false, Vec::new()),
                },
            };
            let earned = if status == Some(Status::Pass) {
                points
            } else {
                0
            };
            let fix = (earned < points).then(|| {
                if check_id_is_quiz(lab, check_id) {
                    format!("`lab quiz {id}`")
                } else if passed.contains_key(&step) {
                    format!("`lab reset {id} --step {step}`, then do it again")
                } else {
                    format!("`lab hint {id} --step {step}`, then `lab next {id}`")
                }
            });
            checks.push(Scored {
                check: check_id.to_owned(),
                title,
                step,
                status,
                recorded: from_record,
                earned,
                points,
                evidence,
                fix,
            });
        }
        let earned = checks.iter().map(|c| c.earned).sum();
        let points = checks.iter().map(|c| c.points).sum();
        criteria.push(Criterion {
            id: criterion.id.value.0.clone(),
            text: criterion.text.clone(),
            checks,
            earned,
            points,
        });
    }
    let earned = criteria.iter().map(|c| c.earned).sum();
    let points = criteria.iter().map(|c| c.points).sum();
    Summary {
        criteria,
        earned,
        points,
    }
}

fn check_id_is_quiz(lab: &Lab, check: &str) -> bool {
    lab.steps.iter().flat_map(|s| &s.checks).any(|c| {
        c.id.value.0 == check
            && matches!(
                c.check.value,
                crate::content::model::CheckKind::QuizPassed(_)
            )
    })
}
