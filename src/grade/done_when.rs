//! The chapter's done-when criteria scored against the learner's record: a pure function of
//! the lab, the record and check results. A scored check earns its points from the record of
//! its own step only: the results recorded when that step was passed (so `policies-in-audit`
//! keeps its points after Enforce). For a step not passed yet, a check run now may stand in, and
//! says so. Records of steps the lab does not have are named and never scored, and a record whose
//! chain is not intact voids the score it would give.

use serde::Serialize;

use crate::content::model::Lab;
use crate::engine::{CheckResult, Evidence, Status};
use crate::record::Progress;

/// Where a scored check's status comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The record of its step, passed.
    Recorded,
    /// A check run now: its step is not passed yet.
    RunNow,
    /// Neither: its step is not passed and the check was not run.
    NotRun,
}

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
    /// Where the status comes from.
    pub source: Source,
    /// Whether its step is recorded as passed.
    pub step_passed: bool,
    /// Whether it is the quiz's check.
    pub quiz: bool,
    /// Whether its points are `lab grade`'s to award (the check of a graded quiz, which sees
    /// only that answers are recorded).
    pub awarded_by_grade: bool,
    /// Points earned.
    pub earned: u32,
    /// Points possible.
    pub points: u32,
    /// The evidence behind it.
    pub evidence: Vec<Evidence>,
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
    /// Points earned (0 when `void`).
    pub earned: u32,
    /// Points possible.
    pub points: u32,
    /// Points that only `lab grade` can award (a graded quiz's), not in `earned`.
    pub pending: u32,
    /// Why the record's score does not count, when its chain is not intact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub void: Option<String>,
    /// Step ids the record names that the lab does not have; never scored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_steps: Vec<String>,
}

impl Summary {
    /// Whether every criterion is met in full, on an intact record.
    pub fn complete(&self) -> bool {
        self.void.is_none() && self.earned == self.points
    }
}

/// Scores `lab`'s done-when criteria from `progress`, and from `now` (results of checks run
/// now) for steps not yet recorded as passed. With `graded_quiz`, the quiz's points are left
/// to `lab grade`, which judges the answers with the key.
pub fn summarize(
    lab: &Lab,
    progress: &Progress,
    now: &[CheckResult],
    graded_quiz: bool,
) -> Summary {
    let steps = lab.step_ids();
    let passed = progress.passed(&steps);
    let mut criteria = Vec::new();
    for criterion in &lab.done_when {
        let mut checks = Vec::new();
        for scored in &criterion.checks {
            let check_id = scored.check.value.0.as_str();
            let found = lab.steps.iter().find_map(|s| {
                s.checks
                    .iter()
                    .find(|c| c.id.value.0 == check_id)
                    .map(|c| (s, c))
            });
            let (step, title, quiz) = found.map_or_else(Default::default, |(s, c)| {
                (s.id.value.0.clone(), c.title.clone(), c.is_quiz())
            });
            let points = scored.points.value;
            let own_record = passed.get(&step);
            let (status, source, evidence) = match own_record {
                Some(results) => match results.iter().find(|r| r.check == check_id) {
                    Some(r) => (Some(r.status), Source::Recorded, r.evidence.clone()),
                    // The step passed without this check: a record made before the check
                    // existed. It earns nothing until the step is done again.
                    None => (None, Source::Recorded, Vec::new()),
                },
                None => match now.iter().find(|r| r.check == check_id && r.step == step) {
                    Some(r) => (Some(r.status), Source::RunNow, r.evidence.clone()),
                    None => (None, Source::NotRun, Vec::new()),
                },
            };
            let awarded_by_grade = quiz && graded_quiz;
            let earned = if status == Some(Status::Pass) && !awarded_by_grade {
                points
            } else {
                0
            };
            checks.push(Scored {
                check: check_id.to_owned(),
                title,
                step_passed: own_record.is_some(),
                step,
                status,
                source,
                quiz,
                awarded_by_grade,
                earned,
                points,
                evidence,
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
    let void = progress
        .verify(&steps)
        .first()
        .map(|first| format!("the progress record is not intact: {first}"));
    let earned = if void.is_some() {
        0
    } else {
        criteria.iter().map(|c| c.earned).sum()
    };
    let points = criteria.iter().map(|c| c.points).sum();
    let pending = criteria
        .iter()
        .flat_map(|c| &c.checks)
        .filter(|c| c.awarded_by_grade)
        .map(|c| c.points)
        .sum();
    Summary {
        criteria,
        earned,
        points,
        pending,
        void,
        unknown_steps: progress.unknown_steps(&steps),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Status;
    use crate::record::{CourseStamp, Event, RecordedCheck, now};

    const LAB: &str = r#"schema_version: 1
id: ch99
title: T
summary: S
objectives: [{id: o, text: O}]
kyverno: {version: v1.19.0, chart: 3.9.0}
cluster: {kind_config: k.yaml, registry: {name: r, port: 5000, host_port: 5001, mirrors: [r:5000]}}
tools: []
variables: []
policies: []
manifests: []
quiz: q.yaml
runbook: r.md
steps:
  - id: one
    title: One
    instructions: I
    checks:
      - {id: a, title: A, check: {evidence-file: {path: a.txt, format: pod-image-ids}}}
      - {id: b, title: B, check: {evidence-file: {path: b.txt, format: pod-image-ids}}}
  - id: two
    title: Two
    instructions: I
    checks:
      - {id: c, title: C, check: {evidence-file: {path: c.txt, format: pod-image-ids}}}
done_when:
  - id: first
    text: First
    checks: [{check: a, points: 5}, {check: b, points: 5}]
  - id: second
    text: Second
    checks: [{check: c, points: 10}]
"#;

    fn lab() -> Lab {
        match serde_saphyr::from_str(LAB) {
            Ok(lab) => lab,
            Err(e) => panic!("the test lab parses: {e}"),
        }
    }

    fn stamp() -> CourseStamp {
        CourseStamp {
            lab: "ch99".into(),
            version: None,
            digest: "sha256:00".into(),
        }
    }

    fn recorded(check: &str, status: Status) -> RecordedCheck {
        RecordedCheck {
            check: check.into(),
            status,
            message: String::new(),
            evidence: Vec::new(),
        }
    }

    fn passed(step: &str, results: Vec<RecordedCheck>) -> Event {
        Event::StepPassed {
            step: step.into(),
            results,
        }
    }

    fn run_now(step: &str, check: &str, status: Status) -> CheckResult {
        CheckResult {
            step: step.into(),
            check: check.into(),
            title: String::new(),
            kind: "evidence-file",
            status,
            message: String::new(),
            hint: None,
            evidence: Vec::new(),
            cause: None,
            elapsed_ms: 0,
        }
    }

    fn record(events: Vec<Event>) -> Progress {
        let mut p = Progress::new("ch99");
        for e in events {
            p.append_at(e, now(), &stamp());
        }
        p
    }

    #[test]
    fn partial_credit_is_per_check_and_per_criterion() {
        let p = record(vec![passed(
            "one",
            vec![recorded("a", Status::Pass), recorded("b", Status::Fail)],
        )]);
        let s = summarize(&lab(), &p, &[], false);
        assert_eq!((s.criteria[0].earned, s.criteria[1].earned), (5, 0));
        assert_eq!((s.earned, s.points), (5, 20));
        assert_eq!(s.criteria[1].checks[0].source, Source::NotRun);
        assert!(!s.complete());
    }

    #[test]
    fn a_reset_before_scoring_takes_the_points_back_until_the_step_is_passed_again() {
        let mut events = vec![
            passed(
                "one",
                vec![recorded("a", Status::Pass), recorded("b", Status::Pass)],
            ),
            Event::Reset {
                from_step: "one".into(),
            },
        ];
        assert_eq!(
            summarize(&lab(), &record(events.clone()), &[], false).earned,
            0
        );
        events.push(passed(
            "one",
            vec![recorded("a", Status::Pass), recorded("b", Status::Pass)],
        ));
        assert_eq!(summarize(&lab(), &record(events), &[], false).earned, 10);
    }

    #[test]
    fn a_recorded_pass_keeps_its_points_when_the_check_fails_now() {
        let p = record(vec![passed(
            "one",
            vec![recorded("a", Status::Pass), recorded("b", Status::Pass)],
        )]);
        let now = [run_now("one", "a", Status::Fail)];
        let s = summarize(&lab(), &p, &now, false);
        assert_eq!(s.criteria[0].earned, 10);
        assert_eq!(s.criteria[0].checks[0].source, Source::Recorded);
    }

    // Done-when scored a step that was never passed as "not yet" even when its checks pass.
    #[test]
    fn a_step_not_passed_falls_back_to_checks_run_now() {
        let p = record(Vec::new());
        let now = [
            run_now("one", "a", Status::Pass),
            run_now("one", "b", Status::Fail),
        ];
        let s = summarize(&lab(), &p, &now, false);
        assert_eq!(s.criteria[0].earned, 5);
        assert_eq!(s.criteria[0].checks[0].source, Source::RunNow);
        assert!(!s.criteria[0].checks[0].step_passed);
    }

    // A rechained "step one passed" record carrying every check's results scored 20/20.
    #[test]
    fn a_check_scores_only_from_the_record_of_its_own_step() {
        let all = vec![
            recorded("a", Status::Pass),
            recorded("b", Status::Pass),
            recorded("c", Status::Pass),
        ];
        let p = record(vec![passed("one", all.clone()), passed("forged", all)]);
        let s = summarize(&lab(), &p, &[], false);
        assert_eq!((s.earned, s.points), (10, 20));
        assert_eq!(s.unknown_steps, vec!["forged".to_owned()]);
        // A result for c run now under another step's name does not stand in either.
        let s = summarize(&lab(), &p, &[run_now("one", "c", Status::Pass)], false);
        assert_eq!(s.earned, 10);
    }

    #[test]
    fn a_record_that_is_not_intact_voids_its_score() {
        let mut p = record(vec![passed(
            "one",
            vec![recorded("a", Status::Pass), recorded("b", Status::Pass)],
        )]);
        if let Event::StepPassed { results, .. } = &mut p.records[0].event {
            results[1].message = "edited".into();
        }
        let s = summarize(&lab(), &p, &[], false);
        assert_eq!(s.earned, 0);
        assert!(
            s.void.as_deref().unwrap_or("").contains("not intact"),
            "{s:?}"
        );
        assert_eq!(
            s.criteria[0].earned, 10,
            "the criteria still say what it claims"
        );
        assert!(!s.complete());
    }
}
