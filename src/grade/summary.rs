//! The class at a glance, computed once from the graded submissions for every report to show:
//! the mean and median score, the pass rate at the pass mark, a histogram of scores, and how
//! often each criterion, check and quiz question was met. Only graded (and flagged) submissions
//! count: a rejected file has no score, and a learner who handed nothing in is counted apart.

use schemars::JsonSchema;
use serde::Serialize;

use super::class::{Outcome, Submission};
use crate::engine::Status;

/// How often one thing (a criterion met in full, a check passed, a question answered right)
/// held across the graded submissions that had it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Rate {
    /// Its id.
    pub id: String,
    /// Submissions where it held.
    pub held: usize,
    /// Submissions that had it.
    pub of: usize,
}

impl Rate {
    /// `held / of` in percent (0 when none had it).
    pub fn percent(&self) -> f64 {
        if self.of == 0 {
            0.0
        } else {
            self.held as f64 * 100.0 / self.of as f64
        }
    }
}

/// The whole class in numbers.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ClassSummary {
    /// Submissions graded (flagged ones included).
    pub graded: usize,
    /// Of those, flagged.
    pub flagged: usize,
    /// Files rejected.
    pub rejected: usize,
    /// Roster learners who handed nothing in.
    pub missing: usize,
    /// The mean score of the graded, in percent (two decimals).
    pub mean_percent: f64,
    /// The median score of the graded, in percent (two decimals).
    pub median_percent: f64,
    /// The pass mark, in percent.
    pub pass_mark: u32,
    /// Graded submissions at or above the pass mark.
    pub passed: usize,
    /// Graded submissions by score: ten bins of ten percent, the last one 90–100 inclusive.
    pub histogram: [usize; 10],
    /// Each done-when criterion, met in full.
    pub criteria: Vec<Rate>,
    /// Each check, passed.
    pub checks: Vec<Rate>,
    /// Each quiz question, answered right.
    pub questions: Vec<Rate>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Adds one observation of `id` to `rates`, keeping first-seen order.
fn count(rates: &mut Vec<Rate>, id: &str, held: bool) {
    let at = match rates.iter().position(|r| r.id == id) {
        Some(at) => at,
        None => {
            rates.push(Rate {
                id: id.to_owned(),
                held: 0,
                of: 0,
            });
            rates.len() - 1
        }
    };
    rates[at].of += 1;
    rates[at].held += usize::from(held);
}

impl ClassSummary {
    /// The summary of `class`, passing at `pass_mark` percent.
    pub fn of(class: &[Submission], pass_mark: u32) -> Self {
        let graded: Vec<&Submission> = class.iter().filter(|s| s.is_graded()).collect();
        let mut percents: Vec<f64> = graded.iter().map(|s| s.percent()).collect();
        percents.sort_by(f64::total_cmp);
        let mean = if percents.is_empty() {
            0.0
        } else {
            percents.iter().sum::<f64>() / percents.len() as f64
        };
        let median = match percents.len() {
            0 => 0.0,
            n if n % 2 == 1 => percents[n / 2],
            n => (percents[n / 2 - 1] + percents[n / 2]) / 2.0,
        };
        let mut histogram = [0usize; 10];
        for p in &percents {
            histogram[((*p / 10.0).floor() as usize).min(9)] += 1;
        }
        let mut criteria = Vec::new();
        let mut checks = Vec::new();
        let mut questions = Vec::new();
        for s in &graded {
            for c in &s.criteria {
                count(&mut criteria, &c.id, c.earned == c.points);
            }
            for c in &s.checks {
                count(&mut checks, &c.check, c.status == Status::Pass);
            }
            for a in &s.answers {
                count(&mut questions, &a.question, a.correct);
            }
        }
        let outcome = |o: Outcome| class.iter().filter(|s| s.outcome == o).count();
        ClassSummary {
            graded: graded.len(),
            flagged: outcome(Outcome::Flagged),
            rejected: outcome(Outcome::Rejected),
            missing: outcome(Outcome::Missing),
            mean_percent: round2(mean),
            median_percent: round2(median),
            pass_mark,
            passed: percents
                .iter()
                .filter(|p| **p + 1e-9 >= f64::from(pass_mark))
                .count(),
            histogram,
            criteria,
            checks,
            questions,
        }
    }

    /// The share of the graded that passed, in percent (two decimals).
    pub fn pass_rate(&self) -> f64 {
        if self.graded == 0 {
            0.0
        } else {
            round2(self.passed as f64 * 100.0 / self.graded as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::class::{Answer, Criterion};

    fn graded(learner: &str, earned: u32, right: bool) -> Submission {
        let mut s = Submission::rejected(&format!("{learner}.tar.gz"), String::new());
        s.outcome = Outcome::Graded;
        s.rejected = None;
        s.learner = Some(learner.into());
        s.earned = earned;
        s.points = 120;
        s.criteria = vec![Criterion {
            id: "all".into(),
            text: "Everything.".into(),
            earned,
            points: 120,
            checks: Vec::new(),
        }];
        s.answers = vec![Answer {
            question: "q1".into(),
            picked: vec!["a".into()],
            correct: right,
        }];
        s
    }

    #[test]
    fn the_summary_counts_only_the_graded_and_bins_full_marks_in_the_top_bin() {
        let mut flagged = graded("cy", 60, false);
        flagged.flag("late".into());
        let class = vec![
            graded("ada", 120, true),
            graded("bob", 30, true),
            flagged,
            Submission::rejected("x.tar.gz", "not gzip".into()),
            Submission::missing("dee", Default::default()),
        ];
        let summary = ClassSummary::of(&class, 50);
        assert_eq!(
            (
                summary.graded,
                summary.flagged,
                summary.rejected,
                summary.missing
            ),
            (3, 1, 1, 1)
        );
        // 100, 25 and 50 percent.
        assert_eq!(summary.mean_percent, 58.33);
        assert_eq!(summary.median_percent, 50.0);
        assert_eq!(summary.passed, 2, "50 percent is at the mark");
        assert_eq!(summary.pass_rate(), 66.67);
        assert_eq!(summary.histogram, [0, 0, 1, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(
            summary.criteria,
            [Rate {
                id: "all".into(),
                held: 1,
                of: 3
            }]
        );
        assert_eq!(summary.questions[0].held, 2);
        assert_eq!(summary.questions[0].percent(), 200.0 / 3.0);
    }

    #[test]
    fn an_even_class_takes_the_middle_two_and_an_empty_one_is_all_zero() {
        let class = vec![graded("a", 0, false), graded("b", 60, false)];
        assert_eq!(ClassSummary::of(&class, 60).median_percent, 25.0);
        let empty = ClassSummary::of(&[], 60);
        assert_eq!((empty.mean_percent, empty.pass_rate()), (0.0, 0.0));
    }
}
