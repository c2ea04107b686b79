//! A class's grading as data: each submission graded, flagged (with each flag's reason) or
//! rejected (with why it could not be read), and the flags that only the whole class shows:
//! the same public key, the same signature or the same learner-written evidence in two
//! learners' files. Pure: `lab grade` fills it, the reporters write it down.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::engine::Status;

/// How one submission came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Graded; its score stands.
    Graded,
    /// Graded, with flags an instructor must look at (tampering, copying, another course
    /// version, lateness).
    Flagged,
    /// Not gradable: unreadable, unsigned, or signed by the wrong key.
    Rejected,
    /// On the roster, with no submission.
    Missing,
}

/// What a regraded check's status rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Re-verified from the submission's files (evidence, the image's signatures, the quiz).
    Reverified,
    /// Judged from what the learner's cluster showed, as recorded at submission.
    Recorded,
}

/// One check of a graded submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct GradedCheck {
    /// The step.
    pub step: String,
    /// The check.
    pub check: String,
    /// `pass`, `fail` or `error`, as the grader found it.
    pub status: Status,
    /// What it said.
    pub message: String,
    /// What the status rests on.
    pub basis: Basis,
    /// The status `lab submit` recorded, if it recorded one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted: Option<Status>,
}

/// The criteria's points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Criterion {
    /// The criterion's id.
    pub id: String,
    /// What it asks, as the lab says it.
    pub text: String,
    /// Points earned.
    pub earned: u32,
    /// Points possible.
    pub points: u32,
    /// The checks it scores, each with its points.
    pub checks: Vec<ScoredCheck>,
}

/// One check as a criterion scores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ScoredCheck {
    /// The check's id.
    pub check: String,
    /// Points earned.
    pub earned: u32,
    /// Points possible.
    pub points: u32,
}

/// One quiz question of a graded submission, judged with the instructor's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Answer {
    /// The question's id.
    pub question: String,
    /// The options the learner picked on their first attempt.
    pub picked: Vec<String>,
    /// Whether they are exactly the keyed ones.
    pub correct: bool,
}

/// What must be unique to a learner, for the class-wide copy checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Fingerprints {
    /// The key hint of the public key the submission carries.
    pub public_key: Option<String>,
    /// sha256 of each signature layer of the promoted image (ECDSA signatures are randomized:
    /// two learners never make the same one).
    pub signatures: Vec<String>,
    /// sha256 of each learner-written evidence file (prose, not a tool's output), by name.
    pub written: BTreeMap<String, String>,
    /// The promoted image's digest, when a verified learner token's nonce makes it the
    /// learner's own (without one every learner promotes the same CI build).
    pub image_digest: Option<String>,
}

/// Who a learner is, as the roster says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Who {
    /// Their name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Their section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// Their email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Their Canvas user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canvas_id: Option<String>,
    /// Their SIS user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sis_user_id: Option<String>,
}

/// One submission, graded or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Submission {
    /// The file, as given (none for a learner who handed nothing in).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file: String,
    /// The learner, as the statement names them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learner: Option<String>,
    /// The learner's name, section and email, from the roster.
    #[serde(flatten)]
    pub who: Who,
    /// The chapter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chapter: Option<String>,
    /// How it came out.
    pub outcome: Outcome,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
    /// Each flag's reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// Points earned.
    pub earned: u32,
    /// Points possible.
    pub points: u32,
    /// The criteria.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<Criterion>,
    /// The checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<GradedCheck>,
    /// The quiz's questions, judged with the answer key (none without a key or an attempt).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Answer>,
    /// Packed after the due time, by the learner machine's claim.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub late: bool,
    /// When the learner's machine says it was packed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_time: Option<String>,
    /// What the class-wide checks compare.
    #[serde(skip)]
    pub fingerprints: Fingerprints,
}

impl Submission {
    /// A submission that could not be graded, and why.
    pub fn rejected(file: &str, why: String) -> Self {
        Submission {
            file: file.to_owned(),
            learner: None,
            who: Who::default(),
            chapter: None,
            outcome: Outcome::Rejected,
            rejected: Some(why),
            flags: Vec::new(),
            earned: 0,
            points: 0,
            criteria: Vec::new(),
            checks: Vec::new(),
            answers: Vec::new(),
            late: false,
            claimed_time: None,
            fingerprints: Fingerprints::default(),
        }
    }

    /// A learner of the roster who handed in nothing.
    pub fn missing(learner: &str, who: Who) -> Self {
        let mut missing = Submission::rejected("", String::new());
        missing.outcome = Outcome::Missing;
        missing.rejected = None;
        missing.learner = Some(learner.to_owned());
        missing.who = who;
        missing
    }

    /// The score in percent (0 with no points possible).
    pub fn percent(&self) -> f64 {
        if self.points == 0 {
            0.0
        } else {
            f64::from(self.earned) * 100.0 / f64::from(self.points)
        }
    }

    /// Whether it was read and graded (flagged or not).
    pub fn is_graded(&self) -> bool {
        matches!(self.outcome, Outcome::Graded | Outcome::Flagged)
    }

    /// Adds a flag; a graded submission becomes flagged.
    pub fn flag(&mut self, reason: String) {
        if self.outcome == Outcome::Graded {
            self.outcome = Outcome::Flagged;
        }
        if !self.flags.contains(&reason) {
            self.flags.push(reason);
        }
    }

    fn named(&self) -> String {
        match &self.learner {
            Some(learner) => format!("{learner} ({})", self.file),
            None => self.file.clone(),
        }
    }
}

/// Flags every pair of readable submissions that share what must be a learner's own: the same
/// public key, the same signature of the image, the same learner-written evidence file. Each
/// flag names the other submission. A learner's two files (the same learner id) are not a
/// copy of each other.
pub fn flag_copies(class: &mut [Submission]) {
    for (i, reason) in copies(class) {
        class[i].flag(reason);
    }
}

/// The copy flags of `class`: each submission's index and reason.
fn copies(class: &[Submission]) -> Vec<(usize, String)> {
    let mut flags: Vec<(usize, String)> = Vec::new();
    for ((a, b), reasons) in shared_fingerprints(class) {
        let what = reasons.join(", ");
        flags.push((a, format!("copy: {what} as {}", class[b].named())));
        flags.push((b, format!("copy: {what} as {}", class[a].named())));
    }
    flags
}

/// Every pair `(a, b)`, `a < b`, of graded submissions of different learners that share a
/// fingerprint, with what they share, in order.
fn shared_fingerprints<'a>(class: &'a [Submission]) -> BTreeMap<(usize, usize), Vec<String>> {
    // Each fingerprint, with the submissions that carry it: pairs are found through shared
    // values, not by comparing every pair (a class of thousands has millions of pairs).
    let mut carriers: BTreeMap<(u8, &'a str, &'a str), Vec<usize>> = BTreeMap::new();
    for (i, s) in class.iter().enumerate() {
        if !s.is_graded() {
            continue;
        }
        let f = &s.fingerprints;
        // The kind orders the reasons: key, digest, signature, then each written file by name.
        let mut add = |kind: u8, name: &'a str, value: &'a str| {
            carriers.entry((kind, name, value)).or_default().push(i);
        };
        if let Some(key) = &f.public_key {
            add(0, "", key);
        }
        if let Some(digest) = &f.image_digest {
            add(1, "", digest);
        }
        let mut signatures: Vec<&String> = f.signatures.iter().collect();
        signatures.sort();
        signatures.dedup();
        for signature in signatures {
            add(2, "", signature);
        }
        for (name, digest) in &f.written {
            add(3, name, digest);
        }
    }
    let mut shared: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for ((kind, name, _), holders) in &carriers {
        let reason = match kind {
            0 => "the same public key".to_owned(),
            1 => "the same promoted image digest".to_owned(),
            2 => "the same signature of the image".to_owned(),
            _ => format!("the same {name}"),
        };
        for (n, &a) in holders.iter().enumerate() {
            for &b in &holders[n + 1..] {
                if class[a].learner.is_some() && class[a].learner == class[b].learner {
                    continue;
                }
                let reasons = shared.entry((a, b)).or_default();
                if !reasons.contains(&reason) {
                    reasons.push(reason.clone());
                }
            }
        }
    }
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graded(learner: &str, key: &str, note: &str) -> Submission {
        let mut s = Submission::rejected(&format!("{learner}.tar.gz"), String::new());
        s.outcome = Outcome::Graded;
        s.rejected = None;
        s.learner = Some(learner.to_owned());
        s.fingerprints.public_key = Some(key.to_owned());
        s.fingerprints.signatures = vec![format!("sig-of-{learner}")];
        s.fingerprints
            .written
            .insert("work/evidence/remediation.md".into(), note.to_owned());
        s
    }

    #[test]
    fn a_shared_key_or_note_flags_both_submissions_naming_the_other() {
        let mut class = vec![
            graded("ada", "k1", "n1"),
            graded("bob", "k1", "n2"),
            graded("cy", "k3", "n1"),
            graded("dee", "k4", "n4"),
        ];
        flag_copies(&mut class);
        assert_eq!(
            class[0].flags,
            [
                "copy: the same public key as bob (bob.tar.gz)",
                "copy: the same work/evidence/remediation.md as cy (cy.tar.gz)"
            ]
        );
        assert_eq!(
            class[1].flags,
            ["copy: the same public key as ada (ada.tar.gz)"]
        );
        assert_eq!(class[1].outcome, Outcome::Flagged);
        assert_eq!(class[3].flags, Vec::<String>::new());
        assert_eq!(class[3].outcome, Outcome::Graded);
    }

    #[test]
    fn a_shared_signature_is_a_copy_and_a_learners_own_two_files_are_not() {
        let mut class = vec![
            graded("ada", "k1", "n1"),
            graded("bob", "k2", "n2"),
            graded("ada", "k1", "n1"),
        ];
        class[1].fingerprints.signatures = vec!["sig-of-ada".into()];
        flag_copies(&mut class);
        assert_eq!(
            class[1].flags,
            ["copy: the same signature of the image as ada (ada.tar.gz)"],
            "one flag for the same file name, however often it matched"
        );
        assert!(
            class[2].flags.iter().all(|f| !f.contains("as ada")),
            "{:?}",
            class[2].flags
        );
    }

    /// Every pair compared, as `flag_copies` once did: what the index must agree with.
    fn pair_by_pair(class: &[Submission]) -> Vec<(usize, usize)> {
        let mut pairs = Vec::new();
        for a in 0..class.len() {
            for b in a + 1..class.len() {
                let (x, y) = (&class[a].fingerprints, &class[b].fingerprints);
                let shares = (x.public_key.is_some() && x.public_key == y.public_key)
                    || (x.image_digest.is_some() && x.image_digest == y.image_digest)
                    || x.signatures.iter().any(|s| y.signatures.contains(s))
                    || x.written.iter().any(|(n, d)| y.written.get(n) == Some(d));
                if shares && class[a].is_graded() && class[b].is_graded() {
                    pairs.push((a, b));
                }
            }
        }
        pairs
    }

    #[test]
    fn the_index_finds_exactly_the_pairs_that_share_a_fingerprint() {
        // Keys, notes and signatures shared in overlapping groups of 3, 5 and 7; the same text
        // as a key in one file and a note in another is no match.
        let mut class: Vec<Submission> = (0..60)
            .map(|i| {
                graded(
                    &format!("l{i}"),
                    &format!("k{}", i / 3),
                    &format!("n{}", i / 5),
                )
            })
            .collect();
        for (i, s) in class.iter_mut().enumerate() {
            s.fingerprints.signatures = vec![format!("s{}", i / 7), format!("t{i}")];
            if i % 11 == 0 {
                s.fingerprints.image_digest = Some("sha256:same".into());
            }
        }
        class[59].fingerprints.public_key = Some("n0".into());
        class[30].outcome = Outcome::Rejected;
        let pairs: Vec<(usize, usize)> = shared_fingerprints(&class).into_keys().collect();
        assert_eq!(pairs, pair_by_pair(&class));
        assert!(pairs.len() > 100, "{}", pairs.len());
    }

    #[test]
    fn a_rejected_submission_is_compared_with_nothing() {
        let mut class = vec![graded("ada", "k1", "n1"), graded("bob", "k1", "n1")];
        class[1].outcome = Outcome::Rejected;
        flag_copies(&mut class);
        assert!(class[0].flags.is_empty());
    }
}
