//! `lab grade PATH... [--answer-key FILE] [--due DATE] [--json] [-o OUT] [--fail-under PERCENT]`:
//! grades a class's submission files offline, each on its own. A file's seal is verified with
//! the public key it carries, every file against the statement, the progress record's chain,
//! and the course it was made against; then the chapter's checks run again against the file
//! alone (evidence, the image's signature and SBOM attestation from its layout, the quiz with
//! the answer key: re-verified; the cluster's checks: judged from what the cluster showed, as
//! recorded), and the done-when criteria are scored. Copies across the class are flagged. A file
//! that cannot be read is rejected with its reason, and the rest are graded all the same.
//! With `--anonymize`, learners are named by pseudonym from there on (see
//! `crate::grade::anonymize`), before any report is rendered.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::emit;
use super::{ChapterCourse, Config};
use crate::backend::runner::CheckRunner;
use crate::backend::submission::{Basis as RunBasis, SubmissionBackends, SubmissionWorkdir};
use crate::content::chapter::Chapter;
use crate::content::model::{AnswerKey, EvidenceFormat, Quiz};
use crate::engine::Status;
use crate::engine::kinds::Kind;
use crate::error::LabError;
use crate::grade::anonymize::{Naming, Pseudonyms, RevealMap};
use crate::grade::class::{
    Answer, Basis, Criterion, Fingerprints, GradedCheck, Outcome, ScoredCheck, Submission,
    flag_copies,
};
use crate::grade::roster::Roster;
use crate::grade::summary::ClassSummary;
use crate::record::{CourseStamp, Progress};
use crate::report::Format;
use crate::report::class_report::{Assignment, ClassReport};
use crate::submission::SubmissionError;
use crate::submission::archive::Limits;
use crate::submission::names::{TOKEN_FILE, WORK_PREFIX};
use crate::submission::open::{Opened, open_submission};
use crate::submission::sealed::TrustedKey;
use crate::submission::statement::SEAL_FILE;
use crate::submission::statement::SigningMode;
use crate::submission::token::parse_due;

/// The largest submission file read.
const FILE_LIMIT: u64 = 64 << 20;

/// A validated `lab grade`.
#[derive(Debug, Clone)]
pub struct GradeRequest {
    /// Submission files, and folders of them.
    pub paths: Vec<PathBuf>,
    /// The quiz's answer key, instead of the course's.
    pub answer_key: Option<PathBuf>,
    /// When the work was due.
    pub due: Option<String>,
    /// The instructor's public key, to check learner tokens with.
    pub instructor_key: Option<PathBuf>,
    /// The reports to write (none: the table).
    pub formats: Vec<Format>,
    /// The score, in percent, at which a learner passes.
    pub pass_mark: u32,
    /// Where to write the report instead of stdout.
    pub output: Option<PathBuf>,
    /// Exit 1 when a graded submission scores under this percentage.
    pub fail_under: Option<u32>,
    /// The class roster.
    pub roster: Option<PathBuf>,
    /// How many files are graded at once [default: the machine's cores].
    pub jobs: Option<usize>,
    /// The assignment's title in gradebooks (none: the chapter's title).
    pub assignment_name: Option<String>,
    /// The Canvas assignment's id.
    pub canvas_assignment_id: Option<u64>,
    /// Replace every learner's id, name, email and file name with a pseudonym, and write who
    /// each is to this file (the reveal map; its key is reused when it exists).
    pub reveal_map: Option<PathBuf>,
}

/// Runs `lab grade`.
pub fn run(config: &Config, request: &GradeRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let due = request
        .due
        .as_deref()
        .map(parse_due)
        .transpose()
        .map_err(|e| LabError::Usage(e.to_string()))?;
    let files = collect(&request.paths)?;
    if request.formats.contains(&Format::Gradescope) && files.len() != 1 {
        return Err(LabError::Usage(format!(
            "--format gradescope grades exactly one submission (Gradescope runs the autograder once per submission), and {} files were given; grade each file on its own, or choose another --format for the class",
            files.len()
        )));
    }
    let instructor = match &request.instructor_key {
        Some(path) => {
            let pem = crate::input::read_bytes(path, 64 * 1024, "a public key")
                .map_err(|e| LabError::Usage(e.to_string()))?;
            Some(
                TrustedKey::from_pem(&pem)
                    .map_err(|e| LabError::Usage(format!("{}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    // A bad answer key or roster stops the grading before any file is read: they are the
    // instructor's.
    let key_override = match &request.answer_key {
        Some(path) => Some(read_answer_key(path)?),
        None => None,
    };
    let roster = match &request.roster {
        Some(path) => Some(Roster::read(path).map_err(|e| LabError::Usage(e.to_string()))?),
        None => None,
    };
    let mut reveal = match &request.reveal_map {
        Some(path) => Some(read_reveal_map(path, request)?),
        None => None,
    };
    let pseudonyms = reveal.as_ref().map(Pseudonyms::new);
    let course = ChapterCourse::open(config.course.as_deref(), false)?;
    let class = Class {
        naming: Naming::new(pseudonyms.as_ref()),
        course: &course,
        key_override: key_override.as_ref(),
        instructor: instructor.as_ref(),
        roster: roster.as_ref(),
        due,
        chapters: Mutex::new(BTreeMap::new()),
    };
    let jobs = request
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let mut graded = in_parallel(&files, jobs, |file| class.grade_file(file))?;
    if let Some(roster) = &roster {
        // A roster learner with no readable file is missing (an unreadable one is listed by
        // its file name: who sent it cannot be read from it).
        let handed_in: std::collections::HashSet<String> =
            graded.iter().filter_map(|s| s.learner.clone()).collect();
        for (id, learner) in &roster.learners {
            if !handed_in.contains(id) {
                graded.push(Submission::missing(id, learner.who()));
            }
        }
    }
    if let Some(pseudonyms) = &pseudonyms {
        // Before the copy checks, so that their flags name the other learner by pseudonym.
        pseudonyms.anonymize(&mut graded);
    }
    flag_copies(&mut graded);
    if let (Some(map), Some(pseudonyms), Some(path)) =
        (&mut reveal, &pseudonyms, &request.reveal_map)
    {
        map.merge(pseudonyms)
            .map_err(|e| LabError::Usage(format!("{}: {e}", path.display())))?;
        // Written before the reports: a report whose pseudonyms nobody can reveal is no use.
        crate::atomic::write(path, map.to_json().as_bytes()).map_err(|source| {
            LabError::Output {
                what: path.display().to_string(),
                source,
            }
        })?;
    }
    let summary = ClassSummary::of(&graded, request.pass_mark);
    let title = match &request.assignment_name {
        Some(name) => name.clone(),
        None => class.title(),
    };
    let report = ClassReport {
        class: &graded,
        summary: &summary,
        color: config.color && request.output.is_none(),
        assignment: Assignment {
            name: &title,
            canvas_id: request.canvas_assignment_id,
        },
    };
    write_reports(&report, &request.formats, request.output.as_deref(), out)?;
    let under = request.fail_under.is_some_and(|percent| {
        graded
            .iter()
            .any(|s| s.is_graded() && s.points > 0 && s.earned * 100 < percent * s.points)
    });
    // `lab` exits once this returns: the results are left for the process's end to free, not
    // freed one string at a time (for a class of ten thousand that is a tenth of a second).
    std::mem::forget(graded);
    Ok(if under {
        crate::exit_code::WORK_FELL_SHORT
    } else {
        crate::exit_code::SUCCESS
    })
}

/// Writes the class's reports: one to stdout or to `-o FILE`, several into the folder `-o DIR`
/// (made if missing; only the reports' own files are written in it).
fn write_reports(
    report: &ClassReport<'_>,
    formats: &[Format],
    output: Option<&Path>,
    out: &mut impl Write,
) -> Result<(), LabError> {
    let mut formats: Vec<Format> = formats.to_vec();
    if formats.is_empty() {
        formats.push(Format::Human);
    }
    let mut seen = Vec::new();
    formats.retain(|f| {
        let new = !seen.contains(f);
        seen.push(*f);
        new
    });
    // Every format is known to be written before anything is: one that is not leaves the
    // folder as it was.
    for format in &formats {
        crate::report::grade::check_format(*format).map_err(|e| LabError::Usage(e.to_string()))?;
    }
    let written = |format: Format, to: &mut dyn Write| {
        crate::report::grade::render_to(format, report, to)
            .unwrap_or_else(|refused| Err(std::io::Error::other(refused.to_string())))
    };
    let counted = report
        .class
        .iter()
        .filter(|s| s.outcome != Outcome::Missing)
        .count();
    // Each report is written as it is made, to a temporary file renamed over the target.
    let write = |path: &Path, format: Format| {
        crate::atomic::write_with(path, |file| written(format, file)).map_err(|source| {
            LabError::Output {
                what: path.display().to_string(),
                source,
            }
        })
    };
    match (output, formats.as_slice()) {
        (None, [format]) => {
            let mut text = Vec::new();
            written(*format, &mut text).map_err(|source| LabError::Output {
                what: "the report".into(),
                source,
            })?;
            emit(out, &String::from_utf8_lossy(&text))?;
        }
        (None, _) => {
            return Err(LabError::Usage(
                "several --format reports are written into a folder: give -o DIR".into(),
            ));
        }
        (Some(path), [format]) => {
            write(path, *format)?;
            emit(
                out,
                &format!("Wrote {} ({counted} submissions).\n", path.display()),
            )?;
        }
        (Some(dir), _) => {
            std::fs::create_dir_all(dir).map_err(|source| LabError::Output {
                what: dir.display().to_string(),
                source,
            })?;
            let mut names = Vec::new();
            for format in &formats {
                let name = crate::report::grade::file_name(*format);
                write(&dir.join(name), *format)?;
                names.push(name);
            }
            emit(
                out,
                &format!(
                    "Wrote {} in {} ({counted} submissions).\n",
                    names.join(", "),
                    dir.display()
                ),
            )?;
        }
    }
    Ok(())
}

/// `f` of each item on `jobs` threads, in the items' order. Each item is independent of the
/// others; the first error is returned once every thread has stopped.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> Result<R, LabError> + Sync,
) -> Result<Vec<R>, LabError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<(usize, Result<R, LabError>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = f(item);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((i, result));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// The reveal map at `path` when it exists (its key keeps the pseudonyms of earlier runs), else
/// a new one. It is refused inside the reports' folder or as the report's file: that folder
/// is what gets handed to others, and the map (its key above all) says who everyone is.
fn read_reveal_map(path: &Path, request: &GradeRequest) -> Result<RevealMap, LabError> {
    if let Some(output) = &request.output {
        let into_folder = request.formats.len() > 1 || output.is_dir();
        let (map, out) = (resolved(path), resolved(output));
        if map == out || (into_folder && map.starts_with(&out)) {
            return Err(LabError::Usage(format!(
                "--reveal-map {} is inside the reports' output {}: the map says who every pseudonym is, so keep it apart from what you share; give a path outside it",
                path.display(),
                output.display()
            )));
        }
    }
    if !path.exists() {
        return RevealMap::fresh().map_err(|e| LabError::Usage(e.to_string()));
    }
    let text = crate::input::read_text(path, 16 << 20, "a reveal map")
        .map_err(|e| LabError::Usage(e.to_string()))?;
    RevealMap::parse(&text).map_err(|e| LabError::Usage(format!("{}: {e}", path.display())))
}

/// `path` made absolute, with its longest existing ancestor's links resolved (the rest may
/// not exist yet).
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, name| p.join(name));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// What every file of the class is graded against, shared by the grading threads.
struct Class<'a> {
    /// How messages name learners (by pseudonym with --anonymize).
    naming: Naming<'a>,
    course: &'a ChapterCourse,
    key_override: Option<&'a AnswerKey>,
    instructor: Option<&'a TrustedKey>,
    roster: Option<&'a Roster>,
    due: Option<time::OffsetDateTime>,
    /// Each chapter the class's files name, made once (`None`: not in the course).
    chapters: Mutex<BTreeMap<String, Option<Arc<GradedChapter>>>>,
}

impl Class<'_> {
    fn chapter(&self, id: &str) -> Option<Arc<GradedChapter>> {
        let mut chapters = self
            .chapters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        chapters
            .entry(id.to_owned())
            .or_insert_with(|| {
                Chapter::find(self.course.files.clone(), id)
                    .ok()
                    .map(|chapter| Arc::new(GradedChapter::of(chapter, self.key_override)))
            })
            .clone()
    }

    /// The title of the chapter the class was graded against (its id when it has none; the
    /// chapters' ids when the files named several; `lab` when no file named one).
    fn title(&self) -> String {
        let chapters = self
            .chapters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let graded: Vec<&GradedChapter> = chapters.values().flatten().map(|c| &**c).collect();
        match graded.as_slice() {
            [] => "lab".to_owned(),
            [one] => {
                let title = one.chapter.lab.title.trim();
                if title.is_empty() {
                    one.chapter.lab.id.value.0.clone()
                } else {
                    title.to_owned()
                }
            }
            several => several
                .iter()
                .map(|c| c.chapter.lab.id.value.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// One file, read, opened and graded on its own.
    fn grade_file(&self, file: &Path) -> Result<Submission, LabError> {
        let shown = file.display().to_string();
        let bytes = match crate::input::read_bytes(file, FILE_LIMIT, "a submission") {
            Ok(bytes) => bytes,
            Err(e) => return Ok(Submission::rejected(&shown, e.to_string())),
        };
        let opened = match open_submission(&bytes, Limits::default(), None) {
            Ok(opened) => opened,
            Err(e @ (SubmissionError::Seal(_) | SubmissionError::Statement(_))) => {
                return Ok(Submission::rejected(
                    &shown,
                    format!("not a submission lab can read: its {SEAL_FILE}: {e}"),
                ));
            }
            Err(e) => return Ok(Submission::rejected(&shown, e.to_string())),
        };
        drop(bytes);
        let id = &opened.statement.predicate.chapter;
        match self.chapter(id) {
            None => Ok(Submission::rejected(
                &shown,
                format!(
                    "its chapter `{}` is not in the course being graded; grade it with --course set to that course",
                    crate::text::printable(id)
                ),
            )),
            Some(chapter) => grade_one(&shown, &opened, &chapter, self),
        }
    }
}

/// The files named, and the `*.tar.gz` files of the folders named, each once, in order.
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LabError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| LabError::Usage(format!("cannot read {}: {e}", path.display())))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                // Not only regular files: a FIFO or a device named like a submission is
                // rejected with what it is, not skipped without a word.
                .filter(|p| !p.is_dir() && p.to_string_lossy().ends_with(".tar.gz"))
                .collect();
            found.sort();
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(LabError::Usage(format!(
                "{} does not exist; name submission files (.tar.gz from lab submit) or folders of them",
                path.display()
            )));
        }
    }
    // A file named twice (itself and through its folder) is graded once.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.canonicalize().unwrap_or_else(|_| f.clone())));
    if files.is_empty() {
        return Err(LabError::Usage(
            "no submission file found (lab grade reads the .tar.gz files lab submit writes)".into(),
        ));
    }
    Ok(files)
}

fn read_answer_key(path: &Path) -> Result<AnswerKey, LabError> {
    let text = crate::input::read_text(path, 1 << 20, "an answer key")
        .map_err(|e| LabError::Usage(e.to_string()))?;
    crate::grade::quiz::parse_answer_key(&path.display().to_string(), &text)
        .map_err(|e| LabError::Usage(e.to_string()))
}

/// What grading needs of a chapter, made once for the class: the chapter, the stamp its
/// files give (what each file's course is compared with), its quiz and the quiz's answer key.
struct GradedChapter {
    chapter: Chapter,
    stamp: CourseStamp,
    quiz: Option<Arc<Quiz>>,
    key: Option<AnswerKey>,
    /// The policy pack, rendered once for the class and given each learner's key.
    packs: super::grade_pack::Packs,
}

impl GradedChapter {
    /// `chapter` with `key_override` (`--answer-key`), else the course's answer key.
    fn of(chapter: Chapter, key_override: Option<&AnswerKey>) -> Self {
        let key = key_override.cloned().or_else(|| {
            let (rel, _) = crate::grade::quiz::find(&chapter).ok()?;
            crate::grade::quiz::answer_key(&chapter, &rel)
                .ok()
                .flatten()
                .map(|(_, key)| key)
        });
        GradedChapter {
            packs: super::grade_pack::Packs::of(&chapter),
            stamp: CourseStamp::of(&chapter),
            quiz: crate::grade::quiz::find(&chapter)
                .ok()
                .map(|(_, q)| Arc::new(q)),
            chapter,
            key,
        }
    }
}

fn grade_one(
    shown: &str,
    opened: &Opened,
    graded_chapter: &GradedChapter,
    class: &Class<'_>,
) -> Result<Submission, LabError> {
    let chapter = &graded_chapter.chapter;
    let predicate = &opened.statement.predicate;
    let id = chapter.lab.id.value.0.clone();
    // The learner id names rows and files of reports: one that cannot be an id is hostile.
    if crate::submission::token::check_learner_id(&predicate.learner).is_err() {
        let named = class.naming.learner(&predicate.learner);
        let e = crate::submission::token::TokenError::LearnerId(named);
        return Ok(Submission::rejected(shown, e.to_string()));
    }
    let mut graded = Submission::rejected(shown, String::new());
    graded.outcome = Outcome::Graded;
    graded.rejected = None;
    graded.learner = Some(predicate.learner.clone());
    graded.chapter = Some(id.clone());
    graded.claimed_time = Some(predicate.claimed_time.clone());
    let promoted = promoted(opened);
    if let Some(roster) = class.roster {
        let keyless = predicate.signing.mode == SigningMode::Keyless;
        let verdict = roster.judge_as(
            &predicate.learner,
            &opened.key_hint,
            keyless,
            &promoted.signers,
            class.naming,
        );
        graded.who = verdict.who;
        if let Some(why) = verdict.rejected {
            graded.outcome = Outcome::Rejected;
            graded.rejected = Some(why);
            return Ok(graded);
        }
        for flag in verdict.flags {
            graded.flag(flag);
        }
    }
    for problem in &opened.tampering {
        graded.flag(format!("tampered: {problem}"));
    }
    let stamp = &graded_chapter.stamp;
    if predicate.course.digest != stamp.digest {
        graded.flag(format!(
            "made against another version of {id} ({}), graded against {}",
            predicate.course.version.as_deref().unwrap_or("no version"),
            stamp.version.as_deref().unwrap_or("no version")
        ));
    }
    // The working folder the checks will read: its progress record is read and its chain
    // verified once, here and for them.
    let workdir = SubmissionWorkdir::with_quiz(
        &opened.files,
        chapter,
        graded_chapter.quiz.clone(),
        graded_chapter.key.clone(),
    );
    if !workdir.has_progress() {
        graded.flag("no progress record".to_owned());
    } else {
        match workdir.breaks() {
            Err(e) => graded.flag(format!("the progress record cannot be read: {e}")),
            Ok(breaks) => {
                for broken in breaks {
                    graded.flag(format!("the progress record was tampered with: {broken}"));
                }
            }
        }
    }
    let mut due = class.due;
    let mut nonce = None;
    if let Some(instructor) = class.instructor {
        match check_token(opened, &id, instructor, class.naming) {
            Ok(token) => {
                // The token's due date wins over the command line's.
                if let Some(token_due) = token.due.as_deref().and_then(|d| parse_due(d).ok()) {
                    due = Some(token_due);
                }
                nonce = Some(token.nonce);
            }
            Err(flag) => graded.flag(flag),
        }
    }
    if let (Some(due), Ok(claimed)) = (
        due,
        time::OffsetDateTime::parse(
            &predicate.claimed_time,
            &time::format_description::well_known::Rfc3339,
        ),
    ) && claimed > due
    {
        graded.late = true;
        graded.flag(format!(
            "late: packed at {} by the learner machine's clock, after the due time",
            predicate.claimed_time
        ));
    }

    // The chapter's values as this learner had them: their public key, the digest they promoted.
    let set: Vec<(String, String)> = predicate
        .values
        .iter()
        .filter(|(name, _)| {
            chapter
                .lab
                .variables
                .iter()
                .any(|v| v.name.value == **name && !v.from_file)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut values = match chapter.values(false, &set) {
        Ok(values) => values,
        Err(e) => {
            let mut rejected = Submission::rejected(shown, format!("its lab values: {e}"));
            rejected.learner = graded.learner;
            rejected.chapter = graded.chapter;
            return Ok(rejected);
        }
    };
    values.insert("cosign_public_key".to_owned(), opened.public_key.clone());
    if let Some(image) = &predicate.image {
        let digests: BTreeMap<String, String> = chapter
            .lab
            .variables
            .iter()
            .filter_map(|v| v.digest_of.as_ref())
            .map(|image_name| (image_name.value.clone(), image.digest.clone()))
            .collect();
        chapter.add_digests(&mut values, &digests);
    }
    let pack = graded_chapter.packs.pack(chapter, &values)?;
    let prepared = crate::engine::prepare_with_pack(chapter, &values, &pack.objects)?;
    let image_nonce = promoted.nonce;
    let promoted_artifacts = promoted.artifacts;
    graded.fingerprints = fingerprints(opened, &prepared, promoted.signatures);
    if let Some(nonce) = &nonce {
        match image_nonce {
            Some(found) if found == *nonce => {
                // The nonce makes the digest this learner's own: another file promoting the
                // same digest is a copy.
                graded.fingerprints.image_digest =
                    predicate.image.as_ref().map(|i| i.digest.clone());
            }
            Some(_) => graded.flag(
                "the promoted image carries another learner token's nonce: it was built for someone else".to_owned(),
            ),
            None => graded.flag(
                "the promoted image carries no token nonce: it was not seeded by `lab start --token`".to_owned(),
            ),
        }
    }
    let registry = super::lab_registry_with(chapter, pack.policies);
    if graded_chapter.key.is_none() {
        graded.flag("the quiz was not judged: no answer key (give --answer-key)".to_owned());
    }
    let backends = match SubmissionBackends::open_with_workdir(opened, &prepared, registry, workdir)
    {
        Ok(backends) => backends,
        Err(e) => {
            let mut rejected = Submission::rejected(shown, e.to_string());
            rejected.learner = graded.learner;
            rejected.chapter = graded.chapter;
            return Ok(rejected);
        }
    };
    if let Some(artifacts) = promoted_artifacts {
        backends.registry.read_already(artifacts);
    }
    if let Some(attempt) = backends.workdir.quiz_attempt() {
        graded.answers = attempt
            .answers
            .into_iter()
            .map(|judged| Answer {
                question: judged.question,
                picked: judged.picked,
                correct: judged.correct,
            })
            .collect();
    }
    let runner = CheckRunner::for_submission(prepared, backends)?;
    let mut regraded = runner
        .regrade(&predicate.checks)
        .map_err(|_| LabError::Interrupted)?;
    // A check that cannot be judged from the file alone (it reads an image the file does not
    // carry, such as the workstation build the triage step recorded) keeps the result `lab
    // submit` recorded, under the learner's seal, and says so.
    for r in &mut regraded {
        if r.result.status == Status::Error
            && let Some(submitted) = &r.submitted
        {
            r.result.status = submitted.status;
            r.result.message = format!(
                "as recorded at submission (it cannot be judged from the file alone: {}): {}",
                r.result.message, submitted.message
            );
            r.basis = RunBasis::Recorded;
        }
    }
    let results: Vec<_> = regraded.iter().map(|r| r.result.clone()).collect();
    let summary =
        crate::grade::done_when::summarize(&chapter.lab, &Progress::new(&id), &results, false);
    graded.earned = summary.earned;
    graded.points = summary.points;
    graded.criteria = summary
        .criteria
        .iter()
        .map(|c| Criterion {
            id: c.id.clone(),
            text: c.text.clone(),
            earned: c.earned,
            points: c.points,
            checks: c
                .checks
                .iter()
                .map(|s| ScoredCheck {
                    check: s.check.clone(),
                    earned: s.earned,
                    points: s.points,
                })
                .collect(),
        })
        .collect();
    for r in &regraded {
        let submitted = r.submitted.as_ref().map(|s| s.status);
        let basis = match r.basis {
            RunBasis::Reverified => Basis::Reverified,
            RunBasis::Recorded => Basis::Recorded,
        };
        // The statement's result is the learner's word; the file's own evidence and record of
        // the cluster are what it rests on. A pass they do not bear out was edited or forged.
        if submitted == Some(Status::Pass) && r.result.status != Status::Pass {
            graded.flag(match basis {
                Basis::Reverified => format!(
                    "{} passed when submitted but does not verify from the file: {}",
                    r.result.check, r.result.message
                ),
                Basis::Recorded => format!(
                    "{} is stated as passed, but the file's record of the cluster shows otherwise: {}",
                    r.result.check, r.result.message
                ),
            });
        }
        graded.checks.push(GradedCheck {
            step: r.result.step.clone(),
            check: r.result.check.clone(),
            status: r.result.status,
            message: r.result.message.clone(),
            basis,
            submitted,
        });
    }
    Ok(graded)
}

/// The learner token the file carries, verified with the instructor's key and held to the
/// statement: its learner and chapter. `Err` is the flag to raise.
fn check_token(
    opened: &Opened,
    chapter: &str,
    instructor: &TrustedKey,
    naming: Naming<'_>,
) -> Result<crate::submission::token::Token, String> {
    let learner = &opened.statement.predicate.learner;
    let bytes = opened.files.get(TOKEN_FILE).ok_or_else(|| {
        "no learner token: the lab was not started with `lab start --token`".to_owned()
    })?;
    let token = crate::submission::token::verify(bytes, instructor)
        .map_err(|e| format!("its learner token does not hold: {e}"))?;
    if token.learner != *learner {
        return Err(format!(
            "a token issued to {} submitted as {}",
            naming.learner(&token.learner),
            naming.learner(learner)
        ));
    }
    if let Some(for_chapter) = &token.chapter
        && for_chapter != chapter
    {
        return Err(format!(
            "its token is for chapter {}, not {chapter}",
            crate::text::printable(for_chapter)
        ));
    }
    Ok(token)
}

/// The promoted image as the file's layout holds it, read through the layout store (every
/// blob checked against its digest). Empty when the file carries no image or a layout that
/// does not read.
#[derive(Default)]
struct Promoted {
    /// Its config's token nonce.
    nonce: Option<String>,
    /// The base64 signature of each `.sig` layer (ECDSA signatures are randomized, so no two
    /// learners make the same one).
    signatures: Vec<String>,
    /// The identities the keyless signatures' certificates name (not verified).
    signers: Vec<String>,
    /// Its signatures and attestations as read (handed on to the registry the checks read,
    /// so that they are read once).
    artifacts: Option<crate::supply::cosign::CosignArtifacts>,
}

fn promoted(opened: &Opened) -> Promoted {
    use crate::supply::store::Store as _;
    let Some(image) = &opened.statement.predicate.image else {
        return Promoted::default();
    };
    let read = async {
        let store =
            crate::supply::layout::LayoutStore::in_memory(Arc::clone(&opened.files), &image.layout)
                .ok()?;
        let reference =
            crate::supply::ImageRef::parse(&format!("{}@{}", image.repository, image.digest))
                .ok()?;
        let mut promoted = Promoted::default();
        if let Ok(artifacts) = crate::supply::cosign::fetch_artifacts(&store, &reference).await {
            promoted.signers = artifacts.signer_identities();
            promoted.signatures = artifacts
                .signatures
                .iter()
                .map(|s| s.signature.clone())
                .collect();
            promoted.artifacts = Some(artifacts);
        }
        let manifest = store.manifest(&reference, &image.digest).await.ok()??;
        let manifest: serde_json::Value = serde_json::from_slice(&manifest.bytes).ok()?;
        let config =
            crate::supply::Digest::parse(manifest.pointer("/config/digest")?.as_str()?).ok()?;
        let size = manifest.pointer("/config/size")?.as_u64()?;
        promoted.nonce = store
            .blob(&reference, &config, size)
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|c| {
                c.pointer("/config/Labels")?
                    .get(crate::backend::NONCE_LABEL)?
                    .as_str()
                    .map(str::to_owned)
            });
        Some(promoted)
    };
    crate::runtime::block_on_this_thread(read)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// What must be a learner's own: the key, the signature manifests of the image, and the
/// evidence the learner wrote in their own words.
fn fingerprints(
    opened: &Opened,
    prepared: &[crate::engine::PreparedCheck],
    signatures: Vec<String>,
) -> Fingerprints {
    let public_key = Some(opened.key_hint.clone());
    let mut written = BTreeMap::new();
    for check in prepared {
        if let Kind::EvidenceFile {
            path,
            format: EvidenceFormat::Markdown,
            ..
        } = &check.kind
        {
            let name = format!("{WORK_PREFIX}{path}");
            if let Some(data) = opened.files.get(&name) {
                written.insert(name, crate::supply::Digest::sha256_of(data).to_string());
            }
        }
    }
    Fingerprints {
        public_key,
        signatures,
        written,
        image_digest: None,
    }
}
