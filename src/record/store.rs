//! The record on disk: `.lab/<chapter>/progress.json` in the working folder. Reads are bounded;
//! every write goes through [`Progress::update`], which takes a lock on the record
//! (`progress.lock` beside it), reads the file afresh under it, appends, and replaces the file
//! atomically. So two `lab` processes (a walkthrough and a `lab quiz` in a second terminal,
//! twenty `lab reset`s at once) never lose each other's records, and no process writes back a
//! copy it read before another wrote.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::RecordError;
use super::progress::{CourseStamp, Event, PROGRESS_VERSION, Progress, now};

/// The most a progress file may hold, read or written.
pub const PROGRESS_LIMIT: u64 = 16 * 1024 * 1024;

/// How long a writer waits for another to finish; a write takes milliseconds.
const LOCK_WAIT: Duration = Duration::from_secs(10);

impl Progress {
    /// The progress file of `chapter` under `workdir`.
    pub fn path(workdir: &Path, chapter: &str) -> PathBuf {
        workdir.join(".lab").join(chapter).join("progress.json")
    }

    /// Reads the progress of `chapter`, empty when there is none yet. A file that is not a
    /// progress file is an error that says what to do; it is never overwritten.
    pub fn load(workdir: &Path, chapter: &str) -> Result<Self, RecordError> {
        let path = Self::path(workdir, chapter);
        let text = match crate::input::read_text(&path, PROGRESS_LIMIT, "a progress file") {
            Ok(t) => t,
            Err(crate::input::InputError::Unreadable { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(Self::new(chapter));
            }
            Err(e) => return Err(RecordError::Unreadable(e.to_string())),
        };
        Self::parse(&text, &path, chapter)
    }

    /// Parses the text of a progress file read from `path`, which must be `chapter`'s.
    pub fn parse(text: &str, path: &Path, chapter: &str) -> Result<Self, RecordError> {
        let progress: Progress =
            serde_json::from_str(text).map_err(|e| RecordError::NotARecord {
                path: path.to_owned(),
                reason: format!("line {}, column {}: {}", e.line(), e.column(), kind(&e)),
            })?;
        if progress.schema_version != PROGRESS_VERSION {
            return Err(RecordError::Version {
                path: path.to_owned(),
                found: progress.schema_version,
            });
        }
        if progress.chapter != chapter {
            return Err(RecordError::OtherChapter {
                path: path.to_owned(),
                found: progress.chapter,
                expected: chapter.to_owned(),
            });
        }
        Ok(progress)
    }

    /// Appends to the record of `course.lab` under `workdir`, safely among several writers:
    /// under the record's lock, reads it afresh, asks `decide` what to append given the record
    /// as it is now (the next hint's number, whether a quiz attempt is the first), appends
    /// those events stamped with `course`, and replaces the file atomically. Returns the record
    /// as written and what `decide` returned. A record that would grow past
    /// [`PROGRESS_LIMIT`] is left as it was.
    pub fn update<T>(
        workdir: &Path,
        course: &CourseStamp,
        decide: impl FnOnce(&Progress) -> (Vec<Event>, T),
    ) -> Result<(Progress, T), RecordError> {
        let path = Self::path(workdir, &course.lab);
        let _lock = lock(&path)?;
        let mut progress = Self::load(workdir, &course.lab)?;
        let (events, answer) = decide(&progress);
        if events.is_empty() {
            return Ok((progress, answer));
        }
        for event in events {
            let at = now();
            progress.append_at(event, at, course);
        }
        let text = serde_json::to_string_pretty(&progress).expect("progress serializes") + "\n";
        if text.len() as u64 > PROGRESS_LIMIT {
            return Err(RecordError::Full {
                path,
                limit: PROGRESS_LIMIT,
            });
        }
        crate::atomic::write(&path, text.as_bytes())
            .map_err(|source| RecordError::Write { path, source })?;
        Ok((progress, answer))
    }

    /// Records that the solution of `step` was shown, once (`s` in the walkthrough and `lab
    /// solve` both come here); returns the record as it is now.
    pub fn note_solution_shown(
        workdir: &Path,
        course: &CourseStamp,
        step: &str,
    ) -> Result<Progress, RecordError> {
        let (progress, ()) = Self::update(workdir, course, |p| {
            let event = Event::SolutionShown {
                step: step.to_owned(),
            };
            let events = if p.solution_shown(step) {
                vec![]
            } else {
                vec![event]
            };
            (events, ())
        })?;
        Ok(progress)
    }
}

/// What kind of JSON problem, without the text around it.
fn kind(e: &serde_json::Error) -> String {
    // serde_json's messages name the expected shape or field, never the input's text, except
    // for `invalid type: string "..."` and unknown variants, which quote a value: keep only
    // the part before the quote.
    let message = e.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    match message.split_once('"') {
        Some((before, _)) => before.trim_end().to_owned(),
        None => message,
    }
}

/// The record's lock, held until dropped. The lock is a file of its own beside the record,
/// since the record itself is replaced by renaming on every write.
fn lock(record: &Path) -> Result<File, RecordError> {
    let path = record.with_file_name("progress.lock");
    let write_failed = |source| RecordError::Write {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_failed)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(write_failed)?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(RecordError::Locked {
                    path,
                    seconds: LOCK_WAIT.as_secs(),
                });
            }
            Err(TryLockError::Error(source)) => return Err(write_failed(source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::progress::tests::stamp;

    fn hint(step: &str, hint: usize) -> Event {
        Event::HintShown {
            step: step.into(),
            hint,
        }
    }

    #[test]
    fn update_and_load_round_trip_and_refuse_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let (written, ()) =
            Progress::update(dir.path(), &stamp(), |_| (vec![hint("one", 1)], ())).unwrap();
        assert_eq!(Progress::load(dir.path(), "ch14").unwrap(), written);
        assert_eq!(written.records[0].course, stamp());
        assert!(matches!(
            Progress::load(dir.path(), "ch15"),
            Ok(ref q) if q.records.is_empty()
        ));
        let path = Progress::path(dir.path(), "ch14");
        std::fs::write(&path, "{ not json").unwrap();
        let err = Progress::load(dir.path(), "ch14").unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_code::BAD_CONTENT_OR_USAGE);
        let err = err.to_string();
        assert!(err.contains("is not a progress file"), "{err}");
        assert!(err.contains("move it away"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
        // An update never overwrites a file it cannot read.
        assert!(Progress::update(dir.path(), &stamp(), |_| (vec![hint("one", 2)], ())).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
    }

    // The record lost writes: every writer loaded, appended in memory and renamed over the
    // file, so concurrent writers kept only the last one's copy.
    #[test]
    fn concurrent_writers_all_land_in_one_unbroken_chain() {
        let dir = tempfile::tempdir().unwrap();
        let writers: Vec<_> = (0..16)
            .map(|i| {
                let root = dir.path().to_owned();
                std::thread::spawn(move || {
                    for k in 0..5 {
                        Progress::update(&root, &stamp(), |p| {
                            // Decided from the record as it is under the lock.
                            (vec![hint(&format!("w{i}"), k + 1)], p.records.len())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let progress = Progress::load(dir.path(), "ch14").unwrap();
        assert_eq!(progress.records.len(), 80);
        assert!(progress.verify(&[]).is_empty());
    }

    // lab could write a record it then refused to read.
    #[test]
    fn a_record_that_would_pass_the_read_limit_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        Progress::update(dir.path(), &stamp(), |_| (vec![hint("one", 1)], ())).unwrap();
        let before = std::fs::read(Progress::path(dir.path(), "ch14")).unwrap();
        let huge = Event::StepPassed {
            step: "one".into(),
            results: vec![crate::record::RecordedCheck {
                check: "c".into(),
                status: crate::engine::Status::Pass,
                message: "x".repeat(PROGRESS_LIMIT as usize),
                evidence: Vec::new(),
            }],
        };
        let err = Progress::update(dir.path(), &stamp(), |_| (vec![huge], ())).unwrap_err();
        assert!(matches!(err, RecordError::Full { .. }), "{err}");
        assert_eq!(
            std::fs::read(Progress::path(dir.path(), "ch14")).unwrap(),
            before
        );
    }

    #[test]
    fn a_parse_error_names_the_line_and_never_quotes_the_file() {
        let err = Progress::parse(
            "{\"schema_version\": 2, \"chapter\": \"ch14\", \"records\": [{\"seq\": \"token-abc\"}]}",
            Path::new("p.json"),
            "ch14",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains("token-abc"), "{err}");
    }
}
