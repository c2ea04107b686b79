//! The `lab grade` report: a table of the class for people (each submission's score, outcome
//! and every flag), one versioned JSON document for machines (every check with what it rests
//! on). Everything in it came from learners' files, so it is shown, never obeyed.

use serde::Serialize;

use crate::grade::class::{Outcome, Submission};
use crate::text::printable;

/// The version of the `lab grade --json` document.
pub const GRADE_REPORT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    graded: usize,
    flagged: usize,
    rejected: usize,
    missing: usize,
    submissions: &'a [Submission],
}

fn count(class: &[Submission], outcome: Outcome) -> usize {
    class.iter().filter(|s| s.outcome == outcome).count()
}

/// The JSON report.
pub fn json(class: &[Submission]) -> String {
    super::json::document(&Document {
        schema_version: GRADE_REPORT_VERSION,
        graded: count(class, Outcome::Graded),
        flagged: count(class, Outcome::Flagged),
        rejected: count(class, Outcome::Rejected),
        missing: count(class, Outcome::Missing),
        submissions: class,
    })
}

/// The human report.
pub fn human(class: &[Submission]) -> String {
    let missing = count(class, Outcome::Missing);
    let mut out = format!(
        "lab grade: {} submission(s): {} graded, {} flagged, {} rejected{}\n\n",
        class.len() - missing,
        count(class, Outcome::Graded),
        count(class, Outcome::Flagged),
        count(class, Outcome::Rejected),
        if missing > 0 {
            format!("; {missing} learner(s) of the roster handed nothing in")
        } else {
            String::new()
        }
    );
    let name = |s: &Submission| printable(s.learner.as_deref().unwrap_or(&s.file)).into_owned();
    let width = class
        .iter()
        .map(|s| name(s).chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    out.push_str(&format!(
        "  {:<width$}  {:>9}  outcome\n",
        "learner", "score"
    ));
    for s in class {
        let score = match s.outcome {
            Outcome::Rejected | Outcome::Missing => "-".to_owned(),
            _ => format!("{}/{}", s.earned, s.points),
        };
        let outcome = match s.outcome {
            Outcome::Graded => "graded",
            Outcome::Flagged => "flagged",
            Outcome::Rejected => "rejected",
            Outcome::Missing => "missing",
        };
        out.push_str(&format!("  {:<width$}  {score:>9}  {outcome}\n", name(s)));
        if let Some(why) = &s.rejected {
            out.push_str(&format!(
                "      {}: {}\n",
                printable(&s.file),
                printable(why)
            ));
        }
        for flag in &s.flags {
            out.push_str(&format!("      - {}\n", printable(flag)));
        }
    }
    out.push_str(
        "\nScores are the done-when points. Evidence, the image's signature and attestation and the quiz are re-verified from each file; the cluster's checks are judged from what the learner's cluster showed when they submitted (lab grade --json says which is which). Times are the learner machine's claim.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_each_outcome_and_every_flag_and_obeys_no_control_character() {
        let mut ada = Submission::rejected("ada.tar.gz", String::new());
        ada.outcome = Outcome::Graded;
        ada.rejected = None;
        ada.learner = Some("ada".into());
        ada.earned = 120;
        ada.points = 120;
        let mut bob = ada.clone();
        bob.learner = Some("bob\u{1b}[2J".into());
        bob.earned = 95;
        bob.flag("copy: the same public key as ada (ada.tar.gz)".into());
        let broken = Submission::rejected(
            "broken.tar.gz",
            "not a submission lab can read: it is not a gzip file".into(),
        );
        let carol = Submission::missing("carol", Default::default());
        let text = human(&[ada, bob, broken, carol]);
        insta::assert_snapshot!(text);
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}
