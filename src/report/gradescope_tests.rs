use serde_json::Value;

use super::*;
use crate::grade::class::ScoredCheck;
use crate::grade::summary::ClassSummary;

fn check(step: &str, check: &str, status: Status, basis: Basis) -> GradedCheck {
    GradedCheck {
        step: step.into(),
        check: check.into(),
        status,
        message: format!("{check} said so"),
        basis,
        submitted: Some(Status::Pass),
    }
}

/// A flagged learner with a hostile id: one criterion met, one not, a check that no longer
/// holds, a quiz question right and one wrong, two flags.
fn flagged() -> Submission {
    let mut s = Submission::rejected("mallory.tar.gz", String::new());
    s.outcome = Outcome::Graded;
    s.rejected = None;
    s.learner = Some("<script>alert(1)</script>\u{1b}[2J".into());
    s.chapter = Some("ch14".into());
    s.earned = 25;
    s.points = 40;
    s.criteria = vec![
        Criterion {
            id: "identity-and-provenance".into(),
            text: "The learner proves artifact identity and provenance.".into(),
            earned: 15,
            points: 15,
            checks: vec![
                ScoredCheck {
                    check: "pod-image-ids-evidence".into(),
                    earned: 5,
                    points: 5,
                },
                ScoredCheck {
                    check: "image-signed".into(),
                    earned: 10,
                    points: 10,
                },
            ],
        },
        Criterion {
            id: "audit-and-enforce".into(),
            text: "The learner demonstrates policy behaviour in Audit and in Enforce.".into(),
            earned: 10,
            points: 25,
            checks: vec![
                ScoredCheck {
                    check: "unsigned-denied".into(),
                    earned: 0,
                    points: 15,
                },
                ScoredCheck {
                    check: "quiz-passed".into(),
                    earned: 10,
                    points: 10,
                },
            ],
        },
    ];
    let mut denied = check("enforce", "unsigned-denied", Status::Fail, Basis::Recorded);
    denied.message = "the unsigned Pod was admitted:\n\u{1b}]8;;http://x\u{7}Pod/develop/x".into();
    s.checks = vec![
        check(
            "collect-evidence",
            "pod-image-ids-evidence",
            Status::Pass,
            Basis::Reverified,
        ),
        check(
            "sbom-sign-attest",
            "image-signed",
            Status::Pass,
            Basis::Reverified,
        ),
        denied,
        check("quiz", "quiz-passed", Status::Pass, Basis::Reverified),
    ];
    s.answers = vec![
        Answer {
            question: "digest-vs-tag".into(),
            picked: vec!["b".into()],
            correct: true,
        },
        Answer {
            question: "audit-vs-enforce".into(),
            picked: vec!["a".into(), "<b>c</b>".into()],
            correct: false,
        },
    ];
    s.flag("unsigned-denied is stated as passed, but the file's record of the cluster shows otherwise: the unsigned Pod was admitted".into());
    s.late = true;
    s.flag(
        "late: packed at 2026-12-07T01:00:00Z by the learner machine's clock, after the due time"
            .into(),
    );
    s
}

fn results_of(class: &[Submission]) -> Value {
    let summary = ClassSummary::of(class, 60);
    let text = results(&ClassReport {
        class,
        summary: &summary,
        color: false,
        assignment: Default::default(),
    });
    serde_json::from_str(&text).unwrap()
}

fn tests_of(doc: &Value) -> &Vec<Value> {
    doc["tests"].as_array().unwrap()
}

#[test]
fn a_flagged_submission_is_one_results_json_of_scored_criteria_and_informational_checks() {
    let class = [flagged()];
    let summary = ClassSummary::of(&class, 60);
    let text = results(&ClassReport {
        class: &class,
        summary: &summary,
        color: false,
        assignment: Default::default(),
    });
    insta::assert_snapshot!(text);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["score"], 25);
    let tests = tests_of(&doc);
    // The scored tests are the criteria, and they add up to the top-level score.
    let scored: Vec<&Value> = tests.iter().filter(|t| t.get("score").is_some()).collect();
    assert_eq!(scored.len(), 2);
    let sum: u64 = scored.iter().map(|t| t["score"].as_u64().unwrap()).sum();
    let max: u64 = scored
        .iter()
        .map(|t| t["max_score"].as_u64().unwrap())
        .sum();
    assert_eq!((sum, max), (25, 40));
    // 2 criteria, 4 checks, 2 questions, 2 flags.
    assert_eq!(tests.len(), 10);
    let by_visibility = |v: &str| tests.iter().filter(|t| t["visibility"] == v).count();
    assert_eq!(by_visibility("visible"), 6);
    assert_eq!(by_visibility("after_due_date"), 2, "the quiz's questions");
    assert_eq!(by_visibility("after_published"), 2, "the flags");
    assert_eq!(tests[1]["status"], "failed", "10 of 25 is not met");
    assert_eq!(tests[4]["status"], "failed", "the check that does not hold");
    assert!(
        tests[4]["output"]
            .as_str()
            .unwrap()
            .contains("When you submitted, it was recorded as: pass."),
        "{doc:#}"
    );
}

#[test]
fn learner_strings_are_plain_text_with_no_control_character() {
    let doc = results_of(&[flagged()]);
    for field in ["output_format", "test_output_format", "test_name_format"] {
        assert_eq!(doc[field], "text", "Gradescope renders no markup in text");
    }
    let text = doc.to_string();
    // serde_json writes a raw control character as \u00XX: none may reach it.
    assert!(
        !text.contains("\\u001b") && !text.contains("\\u0007"),
        "{text}"
    );
    assert!(
        doc["output"]
            .as_str()
            .unwrap()
            .starts_with("<script>alert(1)</script>\\u{1b}[2J: 25 of 40")
    );
    assert_eq!(
        doc["extra_data"]["schema_version"],
        GRADESCOPE_EXTRA_VERSION
    );
    assert_eq!(doc["stdout_visibility"], "hidden");
}

#[test]
fn a_rejected_file_still_writes_a_results_json_that_scores_0_and_says_why() {
    let class = [Submission::rejected(
        "/autograder/submission/x.tar.gz",
        "not a submission lab can read: it is not a gzip file".into(),
    )];
    let doc = results_of(&class);
    assert_eq!(doc["score"], 0);
    let tests = tests_of(&doc);
    assert_eq!(tests.len(), 1, "{doc:#}");
    assert_eq!(tests[0]["status"], "failed");
    assert_eq!(tests[0]["visibility"], "visible");
    assert_eq!(
        tests[0]["output"],
        "not a submission lab can read: it is not a gzip file"
    );
    assert!(
        doc["output"]
            .as_str()
            .unwrap()
            .contains("it is not a gzip file")
    );
    assert_eq!(doc["extra_data"]["outcome"], "rejected");
}

#[test]
fn only_the_learner_who_handed_in_counts_and_two_files_are_not_one_submission() {
    let roster_gap = Submission::missing("bob", Default::default());
    let doc = results_of(&[roster_gap.clone(), flagged(), roster_gap]);
    assert_eq!(
        doc["score"], 25,
        "the roster's missing learners are not graded here"
    );
    let doc = results_of(&[flagged(), flagged()]);
    assert_eq!(doc["score"], 0);
    assert_eq!(tests_of(&doc)[0]["status"], "failed");
    assert!(
        tests_of(&doc)[0]["output"]
            .as_str()
            .unwrap()
            .contains("exactly one submission file, and it was given 2"),
        "{doc:#}"
    );
    let doc = results_of(&[]);
    assert!(doc["output"].as_str().unwrap().contains("it was given 0"));
}

#[test]
fn a_graded_submission_without_flags_or_quiz_shows_everything_at_once() {
    let mut s = flagged();
    s.flags.clear();
    s.answers.clear();
    s.outcome = Outcome::Graded;
    let doc = results_of(&[s]);
    assert!(
        tests_of(&doc).iter().all(|t| t["visibility"] == "visible"),
        "{doc:#}"
    );
    let output = doc["output"].as_str().unwrap();
    assert!(
        !output.contains("review") && !output.contains("questions are shown after"),
        "{output}"
    );
}
