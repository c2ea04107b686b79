//! The learner's progress: `.lab/<chapter>/progress.json` in the working folder, a versioned
//! list of records that only grows. Each record carries the hash of the one before it, so a
//! record edited by hand, deleted or moved shows as a break in the chain, and a step recorded
//! as passed before the steps it follows shows as skipped. The file is written atomically.
//!
//! The chain proves order and integrity against casual edits, not against someone who
//! recomputes every hash: there is no secret to sign with on the learner's machine. Grading
//! therefore re-checks what the records claim; the chain tells it where to look.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::WalkError;
use crate::engine::{CheckResult, Evidence, Status};

/// The version of the progress file format.
pub const PROGRESS_VERSION: u32 = 1;

/// The `prev` of the first record.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The most a progress file may hold.
const PROGRESS_LIMIT: u64 = 16 * 1024 * 1024;

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
    /// A quiz attempt; only the first counts (`first`), later ones are practice.
    QuizAttempt {
        /// Whether it is the first attempt.
        first: bool,
        /// The options picked, by question.
        answers: BTreeMap<String, Vec<String>>,
        /// Questions answered right, by the quiz's feedback digests.
        correct: usize,
        /// Questions in the quiz.
        questions: usize,
        /// The score in percent, rounded down.
        score_percent: u8,
        /// The pass mark in percent.
        pass_percent: u8,
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
            Event::QuizAttempt { .. } => None,
        }
    }
}

/// One record of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Its position, from 1.
    pub seq: u64,
    /// When, as RFC 3339 UTC.
    pub at: String,
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
        let mut value = serde_json::to_value(self).expect("a record serializes");
        if let Some(map) = value.as_object_mut() {
            map.remove("hash");
        }
        let canonical =
            serde_json_canonicalizer::to_vec(&value).expect("a JSON value canonicalizes");
        let digest = Sha256::digest(&canonical);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
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
    /// The progress file of `chapter` under `workdir`.
    pub fn path(workdir: &Path, chapter: &str) -> PathBuf {
        workdir.join(".lab").join(chapter).join("progress.json")
    }

    /// An empty progress.
    pub fn new(chapter: &str) -> Self {
        Progress {
            schema_version: PROGRESS_VERSION,
            chapter: chapter.to_owned(),
            records: Vec::new(),
        }
    }

    /// Reads the progress of `chapter`, empty when there is none yet. A file that is not a
    /// progress file is an error that says what to do; it is never overwritten.
    pub fn load(workdir: &Path, chapter: &str) -> Result<Self, WalkError> {
        let path = Self::path(workdir, chapter);
        let text = match crate::input::read_text(&path, PROGRESS_LIMIT, "a progress file") {
            Ok(t) => t,
            Err(crate::input::InputError::Unreadable { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(Self::new(chapter));
            }
            Err(e) => return Err(WalkError::Progress(e.to_string())),
        };
        let progress: Progress = serde_json::from_str(&text).map_err(|e| {
            WalkError::Progress(format!(
                "{} is not a progress file ({e}); `lab` will not overwrite it: move it away to start the lab's progress again",
                path.display()
            ))
        })?;
        if progress.schema_version != PROGRESS_VERSION {
            return Err(WalkError::Progress(format!(
                "{} is progress format {}, and this `lab` reads format {PROGRESS_VERSION}; use the `lab` that wrote it",
                path.display(),
                progress.schema_version
            )));
        }
        if progress.chapter != chapter {
            return Err(WalkError::Progress(format!(
                "{} is the progress of chapter `{}`, not `{chapter}`; move it back where it belongs",
                path.display(),
                progress.chapter
            )));
        }
        Ok(progress)
    }

    /// Writes the file atomically.
    pub fn save(&self, workdir: &Path) -> Result<(), WalkError> {
        let path = Self::path(workdir, &self.chapter);
        let text = serde_json::to_string_pretty(self).expect("progress serializes");
        crate::atomic::write(&path, format!("{text}\n").as_bytes()).map_err(|e| {
            WalkError::ProgressWrite(format!(
                "cannot write {}: {e}; check that the folder is writable",
                path.display()
            ))
        })
    }

    /// Appends a record, chained to the last one, stamped `at`.
    pub fn append_at(&mut self, event: Event, at: String) -> &Record {
        let prev = self
            .records
            .last()
            .map_or_else(|| GENESIS.to_owned(), |r| r.hash.clone());
        let mut record = Record {
            seq: self.records.last().map_or(1, |r| r.seq + 1),
            at,
            event,
            prev,
            hash: String::new(),
        };
        record.hash = record.computed_hash();
        self.records.push(record);
        self.records.last().expect("just pushed")
    }

    /// Appends a record stamped now.
    pub fn append(&mut self, event: Event) -> &Record {
        self.append_at(event, now())
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
                    let from = steps.iter().position(|s| s == from_step).unwrap_or(0);
                    passed.retain(|s| steps.iter().position(|t| t == s).unwrap_or(0) < from);
                }
                _ => {}
            }
        }
        breaks
    }

    /// The steps passed (after the last reset that undid them), and the results each recorded.
    pub fn passed(&self, steps: &[&str]) -> BTreeMap<String, Vec<RecordedCheck>> {
        let mut passed: BTreeMap<String, Vec<RecordedCheck>> = BTreeMap::new();
        for record in &self.records {
            match &record.event {
                Event::StepPassed { step, results } => {
                    passed.insert(step.clone(), results.clone());
                }
                Event::Reset { from_step } => {
                    let from = steps.iter().position(|s| s == from_step).unwrap_or(0);
                    passed.retain(|s, _| steps.iter().position(|t| t == s).unwrap_or(0) < from);
                }
                _ => {}
            }
        }
        passed
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

/// Now, as RFC 3339 UTC to the second.
pub fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: [&str; 3] = ["one", "two", "three"];

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
        p.append_at(passed("one"), "2026-12-03T10:00:00Z".into());
        p.append_at(
            Event::HintShown {
                step: "two".into(),
                hint: 1,
            },
            "2026-12-03T10:01:00Z".into(),
        );
        p.append_at(passed("two"), "2026-12-03T10:02:00Z".into());
        p
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
        p.append(passed("two"));
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
        p.append(Event::Reset {
            from_step: "two".into(),
        });
        assert_eq!(p.current(&STEPS), Some("two"));
        assert_eq!(p.records.len(), 4);
        assert!(p.verify(&STEPS).is_empty());
        p.append(passed("two"));
        assert!(p.verify(&STEPS).is_empty());
        assert_eq!(p.current(&STEPS), Some("three"));
    }

    #[test]
    fn save_and_load_round_trip_and_refuse_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = chain();
        p.save(dir.path()).unwrap();
        assert_eq!(Progress::load(dir.path(), "ch14").unwrap(), p);
        assert!(matches!(
            Progress::load(dir.path(), "ch15"),
            Ok(ref q) if q.records.is_empty()
        ));
        let path = Progress::path(dir.path(), "ch14");
        std::fs::write(&path, "{ not json").unwrap();
        let err = Progress::load(dir.path(), "ch14").unwrap_err().to_string();
        assert!(err.contains("is not a progress file"), "{err}");
        assert!(err.contains("move it away"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
    }
}
