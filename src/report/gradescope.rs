//! `lab grade --format gradescope`: Gradescope's autograder `results.json` for the one
//! submission Gradescope hands its autograder, so that a course on Gradescope shows the score
//! `lab grade` gave and what it rests on. A projection of the graded submission: nothing is
//! scored or judged again here.
//!
//! The shape follows Gradescope's autograder spec: a top-level `score` (the earned points,
//! which overrides the tests' sum), and `tests[]` of `name`, `number`, `score`, `max_score`,
//! `status` (`passed`|`failed`), `output` and `visibility`. Each done-when criterion is a scored
//! test; each check and quiz question is an informational test (a status and no score, as the
//! spec reads one), so the tests' points add up to the criteria's and nothing counts twice.
//! The quiz's questions show after the due date (before it, which options were right would
//! travel from learner to learner); the flags show once the instructor publishes the grades,
//! since a flag is for the instructor to look at first. Every string is written as plain
//! `text` (Gradescope renders no markup in it) with control characters escaped: all of it came
//! from a learner's file.

use serde::Serialize;

use super::class_report::ClassReport;
use crate::engine::Status;
use crate::grade::class::{Answer, Basis, Criterion, GradedCheck, Outcome, Submission};
use crate::text::{printable, printable_block};

/// The version of what `extra_data` holds (Gradescope's own format is theirs, unversioned).
pub const GRADESCOPE_EXTRA_VERSION: u32 = 1;

/// When Gradescope shows a test to the learner (instructors see every test at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Visibility {
    /// Always.
    Visible,
    /// Once the assignment's (late) due date has passed.
    AfterDueDate,
    /// Once the instructor publishes the grades.
    AfterPublished,
    /// Never.
    Hidden,
}

/// How Gradescope styles a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum TestStatus {
    Passed,
    Failed,
}

impl TestStatus {
    fn of(passed: bool) -> Self {
        if passed {
            TestStatus::Passed
        } else {
            TestStatus::Failed
        }
    }
}

/// One entry of `tests[]`.
#[derive(Debug, Serialize)]
struct Test {
    name: String,
    number: String,
    /// None for an informational test.
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_score: Option<u32>,
    status: TestStatus,
    output: String,
    visibility: Visibility,
}

/// What is stored with the result and shown to nobody: the graded submission in brief.
#[derive(Debug, Serialize)]
struct Extra {
    schema_version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    learner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chapter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<Outcome>,
    earned: u32,
    points: u32,
    late: bool,
    flags: usize,
}

/// The whole `results.json`.
#[derive(Debug, Serialize)]
struct Results {
    score: u32,
    output: String,
    output_format: &'static str,
    test_output_format: &'static str,
    test_name_format: &'static str,
    stdout_visibility: Visibility,
    extra_data: Extra,
    tests: Vec<Test>,
}

/// The `results.json` of the report's one submission (a learner of the roster who handed
/// nothing in is not one). Given none or several, which `lab grade` refuses before grading,
/// it is still a valid `results.json`: score 0 and a failed test that says why.
pub fn results(report: &ClassReport<'_>) -> String {
    let handed_in: Vec<&Submission> = report
        .class
        .iter()
        .filter(|s| s.outcome != Outcome::Missing)
        .collect();
    let results = match handed_in.as_slice() {
        [one] if one.is_graded() => graded(one),
        [one] => rejected(one),
        several => not_one(several.len()),
    };
    super::json::document(&results)
}

fn results_of(score: u32, output: String, extra: Extra, tests: Vec<Test>) -> Results {
    Results {
        score,
        output,
        output_format: "text",
        test_output_format: "text",
        test_name_format: "text",
        stdout_visibility: Visibility::Hidden,
        extra_data: extra,
        tests,
    }
}

fn extra(s: &Submission) -> Extra {
    Extra {
        schema_version: GRADESCOPE_EXTRA_VERSION,
        learner: s.learner.as_deref().map(|l| printable(l).into_owned()),
        chapter: s.chapter.as_deref().map(|c| printable(c).into_owned()),
        outcome: Some(s.outcome),
        earned: s.earned,
        points: s.points,
        late: s.late,
        flags: s.flags.len(),
    }
}

fn graded(s: &Submission) -> Results {
    let learner = printable(s.learner.as_deref().unwrap_or("this learner")).into_owned();
    let chapter = printable(s.chapter.as_deref().unwrap_or("the lab")).into_owned();
    let mut output = format!(
        "{learner}: {} of {} points on {chapter}.\n\nEach done-when criterion below is scored. The checks show what the score rests on: evidence files, the image's signature and SBOM attestation and the quiz are re-verified from your file; the cluster's checks are judged from what your cluster showed when you ran `lab submit`.",
        s.earned, s.points
    );
    if !s.answers.is_empty() {
        output.push_str(" The quiz's questions are shown after the due date.");
    }
    if !s.flags.is_empty() {
        output.push_str(
            "\n\nSome of this submission waits for your instructor's review; the score is final once they publish the grades.",
        );
    }
    let mut tests: Vec<Test> = s
        .criteria
        .iter()
        .enumerate()
        .map(|(i, c)| criterion_test(i + 1, c, &s.checks))
        .collect();
    tests.extend(
        s.checks
            .iter()
            .enumerate()
            .map(|(i, c)| check_test(i + 1, c)),
    );
    tests.extend(
        s.answers
            .iter()
            .enumerate()
            .map(|(i, a)| question_test(i + 1, a)),
    );
    tests.extend(s.flags.iter().enumerate().map(|(i, flag)| Test {
        name: "For your instructor's review".to_owned(),
        number: format!("4.{}", i + 1),
        score: None,
        max_score: None,
        status: TestStatus::Failed,
        output: printable_block(flag).into_owned(),
        visibility: Visibility::AfterPublished,
    }));
    results_of(s.earned, output, extra(s), tests)
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Error => "could not be judged",
    }
}

/// A criterion, scored: each of its checks with its points and status.
fn criterion_test(n: usize, c: &Criterion, checks: &[GradedCheck]) -> Test {
    let lines: Vec<String> = c
        .checks
        .iter()
        .map(|scored| {
            let status = checks
                .iter()
                .find(|g| g.check == scored.check)
                .map_or("not run", |g| status_word(g.status));
            format!(
                "{}: {} of {} points ({status})",
                printable(&scored.check),
                scored.earned,
                scored.points
            )
        })
        .collect();
    Test {
        name: format!("{}: {}", printable(&c.id), printable(&c.text)),
        number: format!("1.{n}"),
        score: Some(c.earned),
        max_score: Some(c.points),
        status: TestStatus::of(c.earned == c.points),
        output: lines.join("\n"),
        visibility: Visibility::Visible,
    }
}

/// A check, informational: what it said and what that rests on.
fn check_test(n: usize, c: &GradedCheck) -> Test {
    let basis = match c.basis {
        Basis::Reverified => "Re-verified from your submission file.",
        Basis::Recorded => {
            "Judged from what your cluster showed when you submitted, as lab submit recorded it."
        }
    };
    let mut output = format!("{}\n\n{basis}", printable_block(&c.message));
    if let Some(submitted) = c.submitted
        && submitted != c.status
    {
        output.push_str(&format!(
            "\nWhen you submitted, it was recorded as: {}.",
            status_word(submitted)
        ));
    }
    Test {
        name: format!("{} (step {})", printable(&c.check), printable(&c.step)),
        number: format!("2.{n}"),
        score: None,
        max_score: None,
        status: TestStatus::of(c.status == Status::Pass),
        output,
        visibility: Visibility::Visible,
    }
}

/// A quiz question, informational, shown after the due date.
fn question_test(n: usize, a: &Answer) -> Test {
    let picked: Vec<String> = a.picked.iter().map(|p| printable(p).into_owned()).collect();
    let picked = if picked.is_empty() {
        "nothing".to_owned()
    } else {
        picked.join(", ")
    };
    let verdict = if a.correct {
        "Right."
    } else {
        "Not the keyed answer."
    };
    Test {
        name: format!("quiz: {}", printable(&a.question)),
        number: format!("3.{n}"),
        score: None,
        max_score: None,
        status: TestStatus::of(a.correct),
        output: format!("You picked: {picked}.\n{verdict}"),
        visibility: Visibility::AfterDueDate,
    }
}

/// The one test of an upload that could not be graded: failed, and why.
fn ungradable(why: &str) -> Test {
    Test {
        name: "The submission can be graded".to_owned(),
        number: "1".to_owned(),
        score: Some(0),
        max_score: Some(0),
        status: TestStatus::Failed,
        output: why.to_owned(),
        visibility: Visibility::Visible,
    }
}

/// A file that could not be graded: score 0, and why, for the learner to see at once.
fn rejected(s: &Submission) -> Results {
    let why = printable_block(s.rejected.as_deref().unwrap_or("it could not be read")).into_owned();
    let test = ungradable(&why);
    let output = format!(
        "This upload could not be graded, so it scores 0: {why}\n\nUpload the .tar.gz file that `lab submit` wrote, as it is; your instructor sees the same reason."
    );
    results_of(0, output, extra(s), vec![test])
}

/// None or several submissions where Gradescope's autograder grades one.
fn not_one(count: usize) -> Results {
    let why = format!(
        "the autograder grades exactly one submission file, and it was given {count}; upload the one .tar.gz file that `lab submit` wrote"
    );
    let test = ungradable(&why);
    let extra = Extra {
        schema_version: GRADESCOPE_EXTRA_VERSION,
        learner: None,
        chapter: None,
        outcome: None,
        earned: 0,
        points: 0,
        late: false,
        flags: 0,
    };
    results_of(
        0,
        format!("This upload could not be graded, so it scores 0: {why}."),
        extra,
        vec![test],
    )
}

#[cfg(test)]
#[path = "gradescope_tests.rs"]
mod tests;
