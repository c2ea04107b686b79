//! A class's grading as data: each submission graded, flagged (with each flag's reason) or
//! rejected (with why it could not be read), and the flags that only the whole class shows:
//! the same public key, the same signature or the same learner-written evidence in two
//! learners' files. Pure: `lab grade` fills it, the reporters write it down.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::engine::Status;

/// How one submission came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Re-verified from the submission's files (evidence, the image's signatures, the quiz).
    Reverified,
    /// Judged from what the learner's cluster showed, as recorded at submission.
    Recorded,
}

/// One check of a graded submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Criterion {
    /// The criterion's id.
    pub id: String,
    /// Points earned.
    pub earned: u32,
    /// Points possible.
    pub points: u32,
}

/// One quiz question of a graded submission, judged with the instructor's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// The question's id.
    pub question: String,
    /// The options the learner picked on their first attempt.
    pub picked: Vec<String>,
    /// Whether they are exactly the keyed ones.
    pub correct: bool,
}

/// What must be unique to a learner, for the class-wide copy checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
}

/// One submission, graded or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    let mut flags: Vec<(usize, String)> = Vec::new();
    for (a, b) in sharing_pairs(class) {
        let (x, y) = (&class[a], &class[b]);
        if x.learner.is_some() && x.learner == y.learner {
            continue;
        }
        let mut shared = Vec::new();
        if x.fingerprints.public_key.is_some()
            && x.fingerprints.public_key == y.fingerprints.public_key
        {
            shared.push("the same public key".to_owned());
        }
        if x.fingerprints.image_digest.is_some()
            && x.fingerprints.image_digest == y.fingerprints.image_digest
        {
            shared.push("the same promoted image digest".to_owned());
        }
        if x.fingerprints
            .signatures
            .iter()
            .any(|s| y.fingerprints.signatures.contains(s))
        {
            shared.push("the same signature of the image".to_owned());
        }
        for (name, digest) in &x.fingerprints.written {
            if y.fingerprints.written.get(name) == Some(digest) {
                shared.push(format!("the same {name}"));
            }
        }
        let what = shared.join(", ");
        flags.push((a, format!("copy: {what} as {}", y.named())));
        flags.push((b, format!("copy: {what} as {}", x.named())));
    }
    for (i, reason) in flags {
        class[i].flag(reason);
    }
}

/// Every pair `(a, b)`, `a < b`, in order, of graded submissions that share at least one
/// fingerprint, found through an index of the fingerprints: a class of thousands is not
/// compared pair by pair (10,000 files are 50 million pairs).
fn sharing_pairs(class: &[Submission]) -> Vec<(usize, usize)> {
    /// What a fingerprint is, so that equal text of two kinds is no match.
    #[derive(PartialEq, Eq, Hash, PartialOrd, Ord)]
    enum Print<'a> {
        Key(&'a str),
        Image(&'a str),
        Signature(&'a str),
        Written(&'a str, &'a str),
    }
    let mut holders: HashMap<Print<'_>, Vec<usize>> = HashMap::new();
    for (i, s) in class.iter().enumerate().filter(|(_, s)| s.is_graded()) {
        let f = &s.fingerprints;
        let mut prints: Vec<Print<'_>> = f
            .signatures
            .iter()
            .map(|sig| Print::Signature(sig))
            .chain(f.public_key.as_deref().map(Print::Key))
            .chain(f.image_digest.as_deref().map(Print::Image))
            .chain(f.written.iter().map(|(n, d)| Print::Written(n, d)))
            .collect();
        prints.sort_unstable();
        prints.dedup();
        for print in prints {
            holders.entry(print).or_default().push(i);
        }
    }
    let mut pairs: Vec<(usize, usize)> = holders
        .values()
        .filter(|held| held.len() > 1)
        .flat_map(|held| {
            held.iter()
                .enumerate()
                .flat_map(|(n, &a)| held[n + 1..].iter().map(move |&b| (a, b)))
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
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
        let pairs = sharing_pairs(&class);
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
