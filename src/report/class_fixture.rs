//! A small graded class, built by hand, for the class reporters' tests: one learner of each
//! outcome (graded, flagged and late, rejected, missing) and one whose every learner-written
//! string is hostile (a spreadsheet formula, markup, commas, quotes, a newline, an escape).

use crate::engine::Status;
use crate::grade::class::{Answer, Basis, Criterion, GradedCheck, Outcome, Submission, Who};
use crate::grade::summary::ClassSummary;

/// The hostile learner id: what a spreadsheet would run as a command.
pub const FORMULA_ID: &str = "=cmd|' /C calc'!A0";

fn check(step: &str, check: &str, status: Status, message: &str) -> GradedCheck {
    GradedCheck {
        step: step.into(),
        check: check.into(),
        status,
        message: message.into(),
        basis: Basis::Reverified,
        submitted: Some(Status::Pass),
    }
}

fn graded(learner: &str, earned: [u32; 3]) -> Submission {
    let mut s = Submission::rejected(&format!("class/{learner}.tar.gz"), String::new());
    s.outcome = Outcome::Graded;
    s.rejected = None;
    s.learner = Some(learner.into());
    s.chapter = Some("ch14".into());
    s.criteria = ["pinned", "signed", "quiz"]
        .iter()
        .zip(earned)
        .zip([40, 50, 30])
        .map(|((id, earned), points)| Criterion {
            id: (*id).into(),
            text: format!("The learner's work is {id}."),
            earned,
            points,
            checks: Vec::new(),
        })
        .collect();
    s.earned = earned.iter().sum();
    s.points = 120;
    s
}

fn answer(question: &str, correct: bool) -> Answer {
    Answer {
        question: question.into(),
        picked: vec!["a".into()],
        correct,
    }
}

/// The class, in the order the files were given (not the table's).
pub fn class() -> Vec<Submission> {
    let mut bob = graded("bob", [40, 0, 30]);
    bob.who = Who {
        name: Some("Builder, \"Bob\"\nJr.".into()),
        section: Some("A1".into()),
        email: Some("bob@example.edu".into()),
        canvas_id: None,
        sis_user_id: Some("S-002".into()),
    };
    bob.checks = vec![
        check("pin", "running-digest", Status::Pass, "runs by digest"),
        check(
            "sign",
            "signature",
            Status::Fail,
            "no signature verifies with <the key>",
        ),
        check(
            "triage",
            "evidence",
            Status::Error,
            "cannot be judged from the file alone",
        ),
    ];
    bob.answers = vec![answer("q1", false), answer("q3", true)];
    bob.late = true;
    bob.flag("late: packed at 2026-05-02T10:00:00Z by the learner machine's clock".into());
    bob.flag("copy: the same public key as ada (class/ada.tar.gz)".into());

    let mut ada = graded("ada", [40, 50, 30]);
    ada.who = Who {
        name: Some("Ada Lovelace".into()),
        section: Some("A1".into()),
        email: Some("ada@example.edu".into()),
        canvas_id: Some("4021".into()),
        sis_user_id: Some("S-001".into()),
    };
    ada.checks = vec![
        check("pin", "running-digest", Status::Pass, "runs by digest"),
        check("sign", "signature", Status::Pass, "verified"),
    ];
    ada.answers = vec![answer("q1", true), answer("q2", true)];

    let mut hostile = graded(FORMULA_ID, [0, 50, 0]);
    hostile.who = Who {
        name: Some("<script>alert(1)</script>".into()),
        section: Some("+SUM(A1:A9)".into()),
        email: Some("@evil,\"x\"".into()),
        canvas_id: None,
        sis_user_id: Some("-2+3".into()),
    };
    hostile.checks = vec![check(
        "pin",
        "running-digest",
        Status::Fail,
        "\u{1b}[2Jruns <img src=x> by tag, \"latest\"",
    )];
    hostile.flag("tampered: work/evidence/triage.md\nchanged".into());

    let broken = Submission::rejected(
        "class/broken\u{1b}[2J.tar.gz",
        "not a submission lab can read: it is not a gzip file".into(),
    );
    let mut forged = Submission::rejected(
        "class/eve.tar.gz",
        "signed by a key that is not eve's: the roster names another public key (class.csv:5)"
            .into(),
    );
    forged.learner = Some("eve".into());
    forged.who.name = Some("Eve".into());
    let carol = Submission::missing(
        "carol",
        Who {
            name: Some("-Carol".into()),
            section: Some("B2".into()),
            email: None,
            canvas_id: Some("4023".into()),
            sis_user_id: None,
        },
    );
    vec![bob, broken, ada, hostile, forged, carol]
}

/// The class's summary at a pass mark of 60%.
pub fn summary(class: &[Submission]) -> ClassSummary {
    ClassSummary::of(class, 60)
}
