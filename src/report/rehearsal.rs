//! The `lab rehearse` report: per step, whether its checks failed before the solution, the
//! solution ran and the checks passed after; for people, as JSON and as JUnit for CI.

use std::fmt::Write as _;

use serde::Serialize;

use super::junit::{Outcome, TestCase, TestSuite, TestSuites};
use super::{Format, Unsupported};
use crate::engine::{CheckResult, ReportsWait, Status};
use crate::grade::rehearsal::{Rehearsal, StepRehearsal};

/// The version of the `lab rehearse --format json` document.
pub const REHEARSAL_VERSION: u32 = 1;

/// The report in `format`: human, JSON or JUnit.
pub fn render(rehearsal: &Rehearsal, format: Format) -> Result<String, Unsupported> {
    match format {
        Format::Human => Ok(human(rehearsal)),
        Format::Json => Ok(json(rehearsal)),
        Format::Junit => Ok(junit(rehearsal).render()),
        Format::Github | Format::Html => Err(Unsupported {
            report: "lab rehearse",
            format,
            writes: &[Format::Human, Format::Json, Format::Junit],
        }),
    }
}

/// The JSON document: the version, then the rehearsal's own fields.
#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    #[serde(flatten)]
    rehearsal: &'a Rehearsal,
}

/// The JSON report.
pub fn json(rehearsal: &Rehearsal) -> String {
    super::json::document(&Document {
        schema_version: REHEARSAL_VERSION,
        rehearsal,
    })
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
        if let Some(wait) = &step.reports_wait {
            let _ = writeln!(out, "      {}", reports_waited(wait));
        }
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

/// One line on the wait for Kyverno's reports before a step's checks.
fn reports_waited(wait: &ReportsWait) -> String {
    if let Some(problem) = &wait.problem {
        return format!("the PolicyReports could not be read before the checks: {problem}");
    }
    if wait.unreported.is_empty() {
        return format!(
            "waited {:.1} s for Kyverno's reports of the Pods admitted so far",
            wait.seconds
        );
    }
    format!(
        "after {:.0} s Kyverno had still not reported {}; the checks were judged without",
        wait.seconds,
        wait.unreported.join(", ")
    )
}

/// JUnit: one suite per step, named `<chapter>.<step>`; a case per check before the solution
/// (one that could not run fails, an invariant is skipped, a broken check fails), one for the
/// solution (skipped when the step has none), and one per check after it.
pub fn junit(rehearsal: &Rehearsal) -> TestSuites {
    TestSuites {
        name: format!("lab rehearse {}", rehearsal.chapter),
        time: Some(rehearsal.seconds),
        suites: rehearsal
            .steps
            .iter()
            .map(|step| step_suite(&rehearsal.chapter, step))
            .collect(),
    }
}

fn step_suite(chapter: &str, step: &StepRehearsal) -> TestSuite {
    let class = format!("{chapter}.{}", step.step);
    let case = |name: String, time: Option<f64>, outcome| TestCase {
        classname: class.clone(),
        name,
        time,
        outcome,
    };
    let seconds = |r: &CheckResult| Some(r.elapsed_ms as f64 / 1000.0);
    let failed = |message: &str, text: &str| Outcome::Failed {
        message: message.to_owned(),
        text: text.to_owned(),
    };
    let broken = step.broken();
    let mut cases = Vec::new();
    for r in &step.before {
        // The outcomes follow `StepRehearsal::problems`, one failure per problem.
        let outcome = if r.status == Status::Error {
            failed("it could not run before the solution", &r.message)
        } else if step.invariant.contains(&r.check) {
            Outcome::Skipped {
                message: "an invariant: it may pass before".into(),
            }
        } else if broken.iter().any(|b| b.check == r.check) {
            failed("a broken check: it passes before the solution", &r.message)
        } else {
            Outcome::Passed
        };
        let name = format!("{} fails before the solution", r.check);
        cases.push(case(name, seconds(r), outcome));
    }
    let solution = "the solution runs".to_owned();
    cases.push(match &step.solution {
        None => case(
            solution,
            None,
            Outcome::Skipped {
                message: "the step has no solution".into(),
            },
        ),
        Some(run) => {
            let outcome = if run.exit_code == Some(0) {
                Outcome::Passed
            } else if run.timed_out {
                failed("timed out", &run.output_tail)
            } else {
                failed("failed", &run.output_tail)
            };
            case(solution, Some(run.seconds), outcome)
        }
    });
    for r in &step.after {
        let outcome = if r.status == Status::Pass {
            Outcome::Passed
        } else {
            failed(&r.message, r.hint.as_deref().unwrap_or(""))
        };
        let name = format!("{} passes after the solution", r.check);
        cases.push(case(name, seconds(r), outcome));
    }
    TestSuite { name: class, cases }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::rehearsal::SolutionRun;

    fn check(id: &str, status: Status) -> CheckResult {
        CheckResult {
            step: "s".into(),
            check: id.into(),
            title: String::new(),
            kind: "file-exists",
            status,
            message: format!("{id} <saw>"),
            hint: None,
            evidence: Vec::new(),
            cause: None,
            elapsed_ms: 250,
        }
    }

    // The JUnit `failures` once counted a step's problems while a check that could not run
    // before its solution was written as a passing case; now every problem is one failed case.
    #[test]
    fn every_problem_is_one_failed_case_and_the_xml_parses() {
        let run = |code| SolutionRun {
            exit_code: Some(code),
            timed_out: false,
            seconds: 1.0,
            output_tail: "out & about".into(),
        };
        let step = |id: &str, before, invariant: &[&str], solution, after| StepRehearsal {
            step: id.into(),
            reports_wait: None,
            before,
            invariant: invariant.iter().map(|s| (*s).to_owned()).collect(),
            solution,
            after,
        };
        let rehearsal = Rehearsal {
            chapter: "ch99".into(),
            context: "kind-lab".into(),
            start_seconds: 2.0,
            steps: vec![
                step(
                    "clean",
                    vec![check("a", Status::Fail), check("held", Status::Pass)],
                    &["held"],
                    Some(run(0)),
                    vec![check("a", Status::Pass)],
                ),
                step(
                    "broken",
                    vec![check("b", Status::Pass), check("c", Status::Error)],
                    &[],
                    Some(run(1)),
                    vec![check("b", Status::Fail), check("c", Status::Pass)],
                ),
                step("no-solution", vec![], &[], None, vec![]),
            ],
            seconds: 9.5,
        };
        let problems: usize = rehearsal.steps.iter().map(|s| s.problems().len()).sum();
        assert_eq!(problems, 4);
        let xml = junit(&rehearsal).render();
        let doc = roxmltree::Document::parse(&xml).expect("the JUnit parses");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(root.attribute("name"), Some("lab rehearse ch99"));
        assert_eq!(root.attribute("tests"), Some("10"));
        assert_eq!(root.attribute("failures"), Some("4"));
        assert_eq!(root.attribute("time"), Some("9.500"));
        let suites: Vec<(&str, &str)> = root
            .children()
            .filter(|n| n.is_element())
            .map(|n| {
                (
                    n.attribute("name").unwrap(),
                    n.attribute("skipped").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            suites,
            [
                ("ch99.clean", "1"),
                ("ch99.broken", "0"),
                ("ch99.no-solution", "1")
            ]
        );
        let failed = doc.descendants().filter(|n| n.has_tag_name("failure"));
        assert_eq!(failed.count(), problems);
    }

    #[test]
    fn the_wait_for_kyvernos_reports_is_said_under_its_step() {
        let waited = |unreported: &[&str]| StepRehearsal {
            step: "audit".into(),
            reports_wait: Some(ReportsWait {
                seconds: 12.34,
                unreported: unreported.iter().map(|s| (*s).to_owned()).collect(),
                problem: None,
            }),
            before: vec![check("report", Status::Fail)],
            invariant: Vec::new(),
            solution: Some(SolutionRun {
                exit_code: Some(0),
                timed_out: false,
                seconds: 1.0,
                output_tail: String::new(),
            }),
            after: vec![check("report", Status::Pass)],
        };
        let rehearsal = |step| Rehearsal {
            chapter: "ch99".into(),
            context: "kind-lab".into(),
            start_seconds: 2.0,
            steps: vec![step],
            seconds: 20.0,
        };
        let text = human(&rehearsal(waited(&[])));
        assert!(
            text.contains(
                "\n      waited 12.3 s for Kyverno's reports of the Pods admitted so far\n"
            ),
            "{text}"
        );
        let text = human(&rehearsal(waited(&["develop/demo-1"])));
        assert!(
            text.contains("after 12 s Kyverno had still not reported develop/demo-1; the checks were judged without"),
            "{text}"
        );
    }
}
