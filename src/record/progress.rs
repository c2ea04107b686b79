//! The records of a learner's progress and the chain that ties them: a versioned list that only
//! grows, each record carrying the hash of the one before it, so a record edited by hand,
//! deleted or moved shows as a break in the chain, and a step recorded as passed before the
//! steps it follows shows as skipped. Each record also names the course it was made against.
//!
//! What the chain proves, and what it does not: it shows edits, insertions, deletions and
//! reorderings *inside* the list. It cannot show its own tail cut off (the last records, or the
//! whole file, deleted), and it is no proof against someone who recomputes every hash: there is
//! no secret to sign with on the learner's machine. Grading therefore re-checks what the
//! records claim; the chain tells it where to look.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::content::chapter::Chapter;
use crate::engine::{CheckResult, Evidence, Status};

/// The version of the progress file format (2: each record names its course).
pub const PROGRESS_VERSION: u32 = 2;

/// The `prev` of the first record.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The course a record was made against, so that a grader can tell a record made against
/// another version of the chapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseStamp {
    /// The lab's id.
    pub lab: String,
    /// The lab's version, as its `version:` says, if it says one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `sha256:` of the lab's files (see [`Chapter::fingerprint`]).
    pub digest: String,
}

impl CourseStamp {
    /// The stamp of `chapter` as this `lab` has it.
    pub fn of(chapter: &Chapter) -> Self {
        CourseStamp {
            lab: chapter.lab.id.value.0.clone(),
            version: chapter.lab.version.clone(),
            digest: chapter.fingerprint(),
        }
    }
}

/// One check's result as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedCheck {
    /// The check id.
    pub check: String,
    /// Pass, fail or error.
    pub status: Status,
    /// What it saw.
    pub message: String,
    /// The facts behind it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

impl From<&CheckResult> for RecordedCheck {
    fn from(r: &CheckResult) -> Self {
        RecordedCheck {
            check: r.check.clone(),
            status: r.status,
            message: r.message.clone(),
            evidence: r.evidence.clone(),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// Every check of a step passed, and the learner moved on (`n`, `lab next`).
    StepPassed {
        /// The step.
        step: String,
        /// Its checks' results at that moment.
        results: Vec<RecordedCheck>,
    },
    /// A hint was shown (`h`, `lab hint`); `hint` counts from 1.
    HintShown {
        /// The step.
        step: String,
        /// Which hint.
        hint: usize,
    },
    /// The step's solution was shown (`s`, `lab solve`).
    SolutionShown {
        /// The step.
        step: String,
    },
    /// A quiz attempt; only the first counts (`first`), later ones are practice. The answers
    /// as given and never a score: every reader judges them again.
    QuizAttempt {
        /// Whether it is the first attempt.
        first: bool,
        /// The options picked, by question.
        answers: BTreeMap<String, Vec<String>>,
    },
    /// The learner submitted (`lab submit`): every check's result at that moment.
    Submitted {
        /// The results.
        results: Vec<RecordedCheck>,
    },
    /// The learner reset their progress from a step on (`lab reset`); earlier records stay.
    Reset {
        /// The first step that is no longer passed.
        from_step: String,
    },
}

impl Event {
    /// The step it is about, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Event::StepPassed { step, .. }
            | Event::HintShown { step, .. }
            | Event::SolutionShown { step } => Some(step),
            Event::Reset { from_step } => Some(from_step),
            Event::QuizAttempt { .. } | Event::Submitted { .. } => None,
        }
    }
}

/// One record of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RecordFields")]
pub struct Record {
    /// Its position, from 1.
    pub seq: u64,
    /// When, as RFC 3339 UTC.
    pub at: String,
    /// The course it was made against.
    pub course: CourseStamp,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
    /// The hash of the record before it ([`GENESIS`] for the first).
    pub prev: String,
    /// The hash of this record: SHA-256 of its canonical JSON without `hash`.
    pub hash: String,
}

impl Record {
    /// The hash this record should carry.
    pub fn computed_hash(&self) -> String {
        let hashed = self.hashed();
        let canonical = super::canonical::to_vec(&hashed).unwrap_or_else(|| {
            serde_json_canonicalizer::to_vec(&hashed).expect("a record canonicalizes")
        });
        format!("sha256:{}", hex::encode(Sha256::digest(&canonical)))
    }

    /// What the hash is taken of: the record without its hash.
    fn hashed(&self) -> Hashed<'_> {
        Hashed {
            seq: self.seq,
            at: &self.at,
            course: &self.course,
            event: &self.event,
            prev: &self.prev,
        }
    }
}

/// A record as read: every event's fields side by side, put together by the event's name.
/// Serde's flattened tagged enum would buffer each record twice to read it; a grader reads
/// every record of every file of a class. Fields that belong to another event are ignored,
/// as the flattened enum ignores them.
#[derive(Deserialize)]
struct RecordFields {
    seq: u64,
    at: String,
    course: CourseStamp,
    event: EventName,
    prev: String,
    hash: String,
    step: Option<String>,
    results: Option<Vec<RecordedCheck>>,
    hint: Option<usize>,
    first: Option<bool>,
    answers: Option<BTreeMap<String, Vec<String>>>,
    from_step: Option<String>,
}

/// The names of [`Event`]'s variants, as written.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum EventName {
    StepPassed,
    HintShown,
    SolutionShown,
    QuizAttempt,
    Submitted,
    Reset,
}

impl TryFrom<RecordFields> for Record {
    type Error = String;

    fn try_from(r: RecordFields) -> Result<Self, String> {
        fn needed<T>(field: Option<T>, name: &str) -> Result<T, String> {
            field.ok_or_else(|| format!("missing field `{name}`"))
        }
        let event = match r.event {
            EventName::StepPassed => Event::StepPassed {
                step: needed(r.step, "step")?,
                results: needed(r.results, "results")?,
            },
            EventName::HintShown => Event::HintShown {
                step: needed(r.step, "step")?,
                hint: needed(r.hint, "hint")?,
            },
            EventName::SolutionShown => Event::SolutionShown {
                step: needed(r.step, "step")?,
            },
            EventName::QuizAttempt => Event::QuizAttempt {
                first: needed(r.first, "first")?,
                answers: needed(r.answers, "answers")?,
            },
            EventName::Submitted => Event::Submitted {
                results: needed(r.results, "results")?,
            },
            EventName::Reset => Event::Reset {
                from_step: needed(r.from_step, "from_step")?,
            },
        };
        Ok(Record {
            seq: r.seq,
            at: r.at,
            course: r.course,
            event,
            prev: r.prev,
            hash: r.hash,
        })
    }
}

/// A record without its hash, serialized straight into canonical JSON (a grader hashes every
/// record of every file: no JSON value is built on the way).
#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    at: &'a str,
    course: &'a CourseStamp,
    #[serde(flatten)]
    event: &'a Event,
    prev: &'a str,
}

/// The progress file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// [`PROGRESS_VERSION`].
    pub schema_version: u32,
    /// The chapter.
    pub chapter: String,
    /// The records, oldest first.
    pub records: Vec<Record>,
}

/// Where the chain breaks, or a step was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The record's content does not match its hash: edited by hand.
    Edited {
        /// Its `seq` as written.
        seq: u64,
        /// Its position in the file, from 1.
        position: usize,
    },
    /// The record does not follow the one before it: one was deleted, or they were reordered.
    Unlinked {
        /// Its `seq` as written.
        seq: u64,
        /// Its position in the file, from 1.
        position: usize,
    },
    /// A step is recorded as passed while a step before it was not.
    Skipped {
        /// The step recorded as passed.
        step: String,
        /// The earlier step that was not.
        missing: String,
        /// The record's position.
        position: usize,
    },
}

impl Break {
    /// The position, from 1, of the record it is found at. A break is found from its record
    /// and the records before it alone, never from a later one, so the breaks of a file's
    /// first `n` records are the whole file's breaks at positions up to `n`.
    pub fn position(&self) -> usize {
        match self {
            Break::Edited { position, .. }
            | Break::Unlinked { position, .. }
            | Break::Skipped { position, .. } => *position,
        }
    }
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Edited { seq, position } => write!(
                f,
                "record {position} (seq {seq}) does not match its hash: it was edited after it was written"
            ),
            Break::Unlinked { seq, position } => write!(
                f,
                "record {position} (seq {seq}) does not follow the record before it: a record was deleted, inserted or moved"
            ),
            Break::Skipped {
                step,
                missing,
                position,
            } => write!(
                f,
                "record {position} says step `{step}` passed, but step `{missing}` before it never did"
            ),
        }
    }
}

impl Progress {
    /// An empty progress.
    pub fn new(chapter: &str) -> Self {
        Progress {
            schema_version: PROGRESS_VERSION,
            chapter: chapter.to_owned(),
            records: Vec::new(),
        }
    }

    /// Appends a record in memory, chained to the last one, stamped `at` and `course`. Only
    /// [`Progress::update`] writes records to the file, under its lock.
    pub fn append_at(&mut self, event: Event, at: String, course: &CourseStamp) -> &Record {
        let prev = self
            .records
            .last()
            .map_or_else(|| GENESIS.to_owned(), |r| r.hash.clone());
        let mut record = Record {
            seq: self.records.last().map_or(1, |r| r.seq + 1),
            at,
            course: course.clone(),
            event,
            prev,
            hash: String::new(),
        };
        record.hash = record.computed_hash();
        self.records.push(record);
        self.records.last().expect("just pushed")
    }

    /// Every break of the chain, in file order; `steps` is the chapter's step order.
    pub fn verify(&self, steps: &[&str]) -> Vec<Break> {
        let mut breaks = Vec::new();
        let mut prev = GENESIS.to_owned();
        let mut passed: Vec<&str> = Vec::new();
        for (i, record) in self.records.iter().enumerate() {
            let position = i + 1;
            if record.hash != record.computed_hash() {
                breaks.push(Break::Edited {
                    seq: record.seq,
                    position,
                });
            } else if record.prev != prev || record.seq != position as u64 {
                breaks.push(Break::Unlinked {
                    seq: record.seq,
                    position,
                });
            }
            prev = record.hash.clone();
            match &record.event {
                Event::StepPassed { step, .. } => {
                    let index = steps.iter().position(|s| s == step);
                    if let Some(missing) =
                        index.and_then(|k| steps[..k].iter().find(|s| !passed.contains(s)))
                    {
                        breaks.push(Break::Skipped {
                            step: step.clone(),
                            missing: (*missing).to_owned(),
                            position,
                        });
                    }
                    if let Some(k) = index {
                        passed.push(steps[k]);
                    }
                }
                Event::Reset { from_step } => {
                    passed.retain(|s| survives_reset(steps, from_step, s));
                }
                _ => {}
            }
        }
        breaks
    }

    /// The steps of the lab passed (after the last reset that undid them), and the results
    /// each recorded. Records of steps the lab does not have are left out (see
    /// [`Progress::unknown_steps`]).
    pub fn passed(&self, steps: &[&str]) -> BTreeMap<String, Vec<RecordedCheck>> {
        self.passed_here(steps)
            .into_iter()
            .map(|(step, results)| (step.to_owned(), results.to_vec()))
            .collect()
    }

    /// As [`Progress::passed`], borrowed from the record.
    pub fn passed_here(&self, steps: &[&str]) -> BTreeMap<&str, &[RecordedCheck]> {
        let mut passed: BTreeMap<&str, &[RecordedCheck]> = BTreeMap::new();
        for record in &self.records {
            match &record.event {
                Event::StepPassed { step, results } if steps.contains(&step.as_str()) => {
                    passed.insert(step, results);
                }
                Event::Reset { from_step } => {
                    passed.retain(|s, _| survives_reset(steps, from_step, s));
                }
                _ => {}
            }
        }
        passed
    }

    /// The step ids recorded that the lab does not have (a record made against another
    /// version of the chapter, or forged), in the order first seen.
    pub fn unknown_steps(&self, steps: &[&str]) -> Vec<String> {
        let mut unknown: Vec<String> = Vec::new();
        for step in self.records.iter().filter_map(|r| r.event.step()) {
            if !steps.contains(&step) && !unknown.iter().any(|u| u == step) {
                unknown.push(step.to_owned());
            }
        }
        unknown
    }

    /// The first step not passed, or `None` when every step is.
    pub fn current<'a>(&self, steps: &[&'a str]) -> Option<&'a str> {
        let passed = self.passed(steps);
        steps.iter().copied().find(|s| !passed.contains_key(*s))
    }

    /// How many hints of `step` were shown (resets do not take them back).
    pub fn hints_shown(&self, step: &str) -> usize {
        let mut shown = 0;
        for record in &self.records {
            match &record.event {
                Event::HintShown { step: s, hint } if s == step => shown = shown.max(*hint),
                Event::Reset { .. } => {}
                _ => {}
            }
        }
        shown
    }

    /// Whether the solution of `step` was shown.
    pub fn solution_shown(&self, step: &str) -> bool {
        self.records
            .iter()
            .any(|r| matches!(&r.event, Event::SolutionShown { step: s } if s == step))
    }

    /// The first quiz attempt, if any.
    pub fn first_quiz(&self) -> Option<&Event> {
        self.records
            .iter()
            .map(|r| &r.event)
            .find(|e| matches!(e, Event::QuizAttempt { first: true, .. }))
    }
}

/// The one reset rule: after a reset from `from_step`, a passed `step` stays passed only if it
/// comes before `from_step` in the lab. A reset from a step the lab does not have resets every
/// step; a step the lab does not have never stays.
fn survives_reset(steps: &[&str], from_step: &str, step: &str) -> bool {
    let position = |id: &str| steps.iter().position(|s| *s == id);
    match (position(step), position(from_step)) {
        (Some(step), Some(from)) => step < from,
        _ => false,
    }
}

/// Now, as RFC 3339 UTC to the second.
pub fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const STEPS: [&str; 3] = ["one", "two", "three"];

    pub(crate) fn stamp() -> CourseStamp {
        CourseStamp {
            lab: "ch14".into(),
            version: None,
            digest: "sha256:00".into(),
        }
    }

    fn passed(step: &str) -> Event {
        Event::StepPassed {
            step: step.into(),
            results: vec![RecordedCheck {
                check: format!("{step}-check"),
                status: Status::Pass,
                message: "ok".into(),
                evidence: Vec::new(),
            }],
        }
    }

    fn chain() -> Progress {
        let mut p = Progress::new("ch14");
        p.append_at(passed("one"), "2026-12-03T10:00:00Z".into(), &stamp());
        p.append_at(
            Event::HintShown {
                step: "two".into(),
                hint: 1,
            },
            "2026-12-03T10:01:00Z".into(),
            &stamp(),
        );
        p.append_at(passed("two"), "2026-12-03T10:02:00Z".into(), &stamp());
        p
    }

    /// The hash as first defined: the record as a JSON value, `hash` removed, canonicalized.
    fn hash_through_a_value(record: &Record) -> String {
        let mut value = serde_json::to_value(record).unwrap();
        value.as_object_mut().unwrap().remove("hash");
        let canonical = serde_json_canonicalizer::to_vec(&value).unwrap();
        format!("sha256:{}", hex::encode(Sha256::digest(&canonical)))
    }

    #[test]
    fn a_record_hashes_as_its_json_value_without_its_hash_does() {
        // Every kind of event, a version, and text that JSON escapes: the records written
        // before the hash was computed without a JSON value must still verify.
        let mut p = chain();
        let versioned = CourseStamp {
            version: Some("2.0 \u{e9}\"\n".into()),
            ..stamp()
        };
        let events = [
            Event::SolutionShown {
                step: "thr\u{e9}e".into(),
            },
            Event::QuizAttempt {
                first: true,
                answers: BTreeMap::from([
                    ("q2".into(), vec!["b".into(), "a".into()]),
                    ("q1".into(), vec![]),
                ]),
            },
            Event::Submitted {
                results: vec![RecordedCheck {
                    check: "c".into(),
                    status: Status::Fail,
                    message: "<\u{1f}>".into(),
                    evidence: Vec::new(),
                }],
            },
            Event::Reset {
                from_step: "two".into(),
            },
        ];
        for event in events {
            p.append_at(event, "2026-12-03T10:03:00Z".into(), &versioned);
        }
        assert_eq!(p.records.len(), 7);
        for record in &p.records {
            assert_eq!(record.hash, hash_through_a_value(record), "{record:?}");
            // And by the record's own canonical writer, not its fallback.
            assert!(
                super::super::canonical::to_vec(&record.hashed()).is_some(),
                "{record:?}"
            );
        }
        // Every kind of event reads back as it was written.
        let text = serde_json::to_string_pretty(&p).unwrap();
        let read: Progress = serde_json::from_str(&text).unwrap();
        assert_eq!(read, p);
    }

    #[test]
    fn a_record_missing_its_events_field_or_naming_no_event_is_refused_by_name() {
        let mut p = chain();
        p.append_at(
            Event::Reset {
                from_step: "two".into(),
            },
            "2026-12-03T10:03:00Z".into(),
            &stamp(),
        );
        let mut value = serde_json::to_value(&p).unwrap();
        let records = value["records"].as_array_mut().unwrap();
        // A field of another event is ignored, as before.
        records[0]["hint"] = 3.into();
        let read: Progress = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(read, p);
        let mut missing = value.clone();
        missing["records"][3]
            .as_object_mut()
            .unwrap()
            .remove("from_step");
        let e = serde_json::from_value::<Progress>(missing).unwrap_err();
        assert_eq!(e.to_string(), "missing field `from_step`");
        let mut unknown = value;
        unknown["records"][1]["event"] = "hint-hidden".into();
        let e = serde_json::from_value::<Progress>(unknown).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("unknown variant `hint-hidden`, expected one of `step-passed`"),
            "{e}"
        );
    }

    #[test]
    fn a_break_of_the_first_records_is_a_break_of_the_whole_file_there() {
        // `Break::position`'s promise, which lets a grader verify a chain once: the breaks of
        // any prefix are the whole file's up to the prefix's end.
        let mut p = chain();
        p.append_at(passed("three"), "2026-12-03T10:04:00Z".into(), &stamp());
        p.append_at(
            Event::Reset {
                from_step: "one".into(),
            },
            "2026-12-03T10:05:00Z".into(),
            &stamp(),
        );
        p.append_at(passed("three"), "2026-12-03T10:06:00Z".into(), &stamp());
        p.records[1].at = "edited".into();
        p.records.swap(3, 4);
        let whole = p.verify(&STEPS);
        assert!(whole.len() >= 3, "{whole:?}");
        for n in 0..=p.records.len() {
            let prefix = Progress {
                records: p.records[..n].to_vec(),
                ..p.clone()
            };
            let expected: Vec<Break> = whole
                .iter()
                .filter(|b| b.position() <= n)
                .cloned()
                .collect();
            assert_eq!(prefix.verify(&STEPS), expected, "the first {n} records");
        }
    }

    #[test]
    fn an_untouched_chain_verifies_and_knows_the_current_step() {
        let p = chain();
        assert!(p.verify(&STEPS).is_empty());
        assert_eq!(p.current(&STEPS), Some("three"));
        assert_eq!(p.hints_shown("two"), 1);
        assert_eq!(p.records[1].prev, p.records[0].hash);
        assert_eq!(p.records[0].prev, GENESIS);
    }

    #[test]
    fn an_edited_record_is_named() {
        let mut p = chain();
        if let Event::StepPassed { results, .. } = &mut p.records[0].event {
            results[0].message = "I promise it passed".into();
        }
        assert_eq!(
            p.verify(&STEPS),
            vec![Break::Edited {
                seq: 1,
                position: 1
            }]
        );
    }

    #[test]
    fn a_deleted_record_breaks_the_link_of_the_next() {
        let mut p = chain();
        p.records.remove(1);
        assert_eq!(
            p.verify(&STEPS),
            vec![Break::Unlinked {
                seq: 3,
                position: 2
            }]
        );
    }

    #[test]
    fn reordered_records_break_the_chain_and_show_a_skipped_step() {
        let mut p = chain();
        p.records.swap(0, 2);
        let breaks = p.verify(&STEPS);
        assert!(breaks.contains(&Break::Unlinked {
            seq: 3,
            position: 1
        }));
        assert!(breaks.contains(&Break::Skipped {
            step: "two".into(),
            missing: "one".into(),
            position: 1
        }));
    }

    #[test]
    fn a_step_passed_out_of_order_is_skipped_even_in_an_intact_chain() {
        let mut p = Progress::new("ch14");
        p.append_at(passed("two"), now(), &stamp());
        assert_eq!(
            p.verify(&STEPS),
            vec![Break::Skipped {
                step: "two".into(),
                missing: "one".into(),
                position: 1
            }]
        );
    }

    #[test]
    fn a_reset_undoes_the_steps_from_there_and_keeps_the_records() {
        let mut p = chain();
        p.append_at(
            Event::Reset {
                from_step: "two".into(),
            },
            now(),
            &stamp(),
        );
        assert_eq!(p.current(&STEPS), Some("two"));
        assert_eq!(p.records.len(), 4);
        assert!(p.verify(&STEPS).is_empty());
        p.append_at(passed("two"), now(), &stamp());
        assert!(p.verify(&STEPS).is_empty());
        assert_eq!(p.current(&STEPS), Some("three"));
    }

    #[test]
    fn a_reset_from_an_unknown_step_resets_all_and_unknown_steps_never_count() {
        let mut p = chain();
        p.append_at(passed("forged"), now(), &stamp());
        assert_eq!(p.unknown_steps(&STEPS), vec!["forged".to_owned()]);
        assert!(!p.passed(&STEPS).contains_key("forged"));
        p.append_at(
            Event::Reset {
                from_step: "gone".into(),
            },
            now(),
            &stamp(),
        );
        assert!(p.passed(&STEPS).is_empty());
        assert_eq!(p.current(&STEPS), Some("one"));
        assert!(p.verify(&STEPS).is_empty());
    }
}
