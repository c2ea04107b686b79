//! `lab grade PATH... [--answer-key FILE] [--due DATE] [--json] [-o OUT] [--fail-under PERCENT]`:
//! grades a class's submission files offline, each on its own. A file's seal is verified with
//! the public key it carries, every file against the statement, the progress record's chain,
//! and the course it was made against; then the chapter's checks run again against the file
//! alone (evidence, the image's signature and SBOM attestation from its layout, the quiz with
//! the answer key: re-verified; the cluster's checks: judged from what the cluster showed, as
//! recorded), and the done-when criteria are scored. Copies across the class are flagged. A file
//! that cannot be read is rejected with its reason, and the rest are graded all the same.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::emit;
use super::{ChapterCourse, Config, lab_registry};
use crate::backend::runner::CheckRunner;
use crate::backend::submission::{Basis as RunBasis, SubmissionBackends};
use crate::content::chapter::Chapter;
use crate::content::model::{AnswerKey, EvidenceFormat};
use crate::engine::kinds::Kind;
use crate::engine::{Status, prepare};
use crate::error::LabError;
use crate::grade::class::{
    Basis, Criterion, Fingerprints, GradedCheck, Outcome, Submission, flag_copies,
};
use crate::record::{CourseStamp, Progress};
use crate::submission::archive::Limits;
use crate::submission::names::{LAYOUT_PREFIX, PROGRESS_FILE, TOKEN_FILE, WORK_PREFIX};
use crate::submission::open::{Opened, open_submission};
use crate::submission::sealed::TrustedKey;
use crate::submission::statement::sha256_hex;
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
    /// JSON instead of a table.
    pub json: bool,
    /// Where to write the report instead of stdout.
    pub output: Option<PathBuf>,
    /// Exit 1 when a graded submission scores under this percentage.
    pub fail_under: Option<u32>,
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
    // A bad answer key stops the grading before any file is read: it is the instructor's.
    if let Some(path) = &request.answer_key {
        read_answer_key(path)?;
    }
    let key_override = request.answer_key.as_deref();
    let course = ChapterCourse::open(config.course.as_deref(), false)?;
    let mut chapters: BTreeMap<String, Option<Chapter>> = BTreeMap::new();
    let mut class = Vec::new();
    for file in &files {
        let shown = file.display().to_string();
        let graded = match crate::input::read_bytes(file, FILE_LIMIT, "a submission") {
            Err(e) => Submission::rejected(&shown, e.to_string()),
            Ok(bytes) => match open_submission(&bytes, Limits::default(), None) {
                Err(e) => Submission::rejected(&shown, e.to_string()),
                Ok(opened) => {
                    let id = opened.statement.predicate.chapter.clone();
                    let chapter = chapters
                        .entry(id.clone())
                        .or_insert_with(|| Chapter::find(course.files.clone(), &id).ok());
                    match chapter {
                        None => Submission::rejected(
                            &shown,
                            format!(
                                "its chapter `{}` is not in the course being graded; grade it with --course set to that course",
                                crate::text::printable(&id)
                            ),
                        ),
                        Some(chapter) => grade_one(
                            &shown,
                            &opened,
                            chapter,
                            key_override,
                            due,
                            instructor.as_ref(),
                        )?,
                    }
                }
            },
        };
        class.push(graded);
    }
    flag_copies(&mut class);
    let text = if request.json {
        crate::report::grade::json(&class)
    } else {
        crate::report::grade::human(&class)
    };
    match &request.output {
        Some(path) => {
            crate::atomic::write(path, text.as_bytes()).map_err(|source| LabError::Output {
                what: path.display().to_string(),
                source,
            })?;
            emit(
                out,
                &format!("Wrote {} ({} submissions).\n", path.display(), class.len()),
            )?;
        }
        None => emit(out, &text)?,
    }
    let under = request.fail_under.is_some_and(|percent| {
        class.iter().any(|s| {
            s.outcome != Outcome::Rejected && s.points > 0 && s.earned * 100 < percent * s.points
        })
    });
    Ok(if under {
        crate::exit_code::WORK_FELL_SHORT
    } else {
        crate::exit_code::SUCCESS
    })
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
                .filter(|p| p.is_file() && p.to_string_lossy().ends_with(".tar.gz"))
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
    crate::content::yaml::from_str(&text).map_err(|e| {
        LabError::Usage(format!(
            "{}: not an answer key: {}",
            path.display(),
            crate::content::yaml::to_diagnostic(
                &path.display().to_string(),
                &text,
                &e,
                crate::content::load::FileKind::AnswerKey
            )
            .message
        ))
    })
}

/// The course's answer key for `chapter`'s quiz, if the course holds one.
fn course_answer_key(chapter: &Chapter) -> Option<AnswerKey> {
    let (rel, _) = crate::grade::quiz::find(chapter).ok()?;
    crate::grade::quiz::answer_key(chapter, &rel)
        .ok()
        .flatten()
        .map(|(_, key)| key)
}

fn grade_one(
    shown: &str,
    opened: &Opened,
    chapter: &Chapter,
    key_override: Option<&Path>,
    due: Option<time::OffsetDateTime>,
    instructor: Option<&TrustedKey>,
) -> Result<Submission, LabError> {
    let predicate = &opened.statement.predicate;
    let id = chapter.lab.id.value.0.clone();
    // The learner id names rows and files of reports: one that cannot be an id is hostile.
    if let Err(e) = crate::submission::token::check_learner_id(&predicate.learner) {
        return Ok(Submission::rejected(shown, e.to_string()));
    }
    let mut graded = Submission::rejected(shown, String::new());
    graded.outcome = Outcome::Graded;
    graded.rejected = None;
    graded.learner = Some(predicate.learner.clone());
    graded.chapter = Some(id.clone());
    graded.claimed_time = Some(predicate.claimed_time.clone());
    for problem in &opened.tampering {
        graded.flag(format!("tampered: {problem}"));
    }
    let stamp = CourseStamp::of(chapter);
    if predicate.course.digest != stamp.digest {
        graded.flag(format!(
            "made against another version of {id} ({}), graded against {}",
            predicate.course.version.as_deref().unwrap_or("no version"),
            stamp.version.as_deref().unwrap_or("no version")
        ));
    }
    let steps = chapter.lab.step_ids();
    match opened
        .files
        .get(PROGRESS_FILE)
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
    {
        None => graded.flag("no progress record".to_owned()),
        Some(text) => match Progress::parse(&text, Path::new(PROGRESS_FILE), &id) {
            Err(e) => graded.flag(format!("the progress record cannot be read: {e}")),
            Ok(progress) => {
                for broken in progress.verify(&steps) {
                    graded.flag(format!("the progress record was tampered with: {broken}"));
                }
            }
        },
    }
    let mut due = due;
    let mut nonce = None;
    if let Some(instructor) = instructor {
        match check_token(opened, &id, instructor) {
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
    let prepared = prepare(chapter, &values)?;
    graded.fingerprints = fingerprints(opened, &prepared);
    if let Some(nonce) = &nonce {
        match image_nonce(opened) {
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
    let registry = lab_registry(chapter, &values)?;
    let key = match key_override {
        Some(path) => Some(read_answer_key(path)?),
        None => course_answer_key(chapter),
    };
    if key.is_none() {
        graded.flag("the quiz was not judged: no answer key (give --answer-key)".to_owned());
    }
    let backends = match SubmissionBackends::open(opened, chapter, &prepared, registry, key) {
        Ok(backends) => backends,
        Err(e) => {
            let mut rejected = Submission::rejected(shown, e.to_string());
            rejected.learner = graded.learner;
            rejected.chapter = graded.chapter;
            return Ok(rejected);
        }
    };
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
            r.result.status = match submitted.status {
                crate::submission::statement::OutcomeStatus::Pass => Status::Pass,
                crate::submission::statement::OutcomeStatus::Fail => Status::Fail,
                crate::submission::statement::OutcomeStatus::Error => Status::Error,
            };
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
            earned: c.earned,
            points: c.points,
        })
        .collect();
    for r in &regraded {
        let status = status_word(r.result.status);
        let submitted = r.submitted.as_ref().map(|s| {
            serde_json::to_value(s.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        });
        let basis = match r.basis {
            RunBasis::Reverified => Basis::Reverified,
            RunBasis::Recorded => Basis::Recorded,
        };
        if basis == Basis::Reverified
            && submitted.as_deref() == Some("pass")
            && r.result.status != Status::Pass
        {
            graded.flag(format!(
                "{} passed when submitted but does not verify from the file: {}",
                r.result.check, r.result.message
            ));
        }
        graded.checks.push(GradedCheck {
            step: r.result.step.clone(),
            check: r.result.check.clone(),
            status: status.to_owned(),
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
            crate::text::printable(&token.learner),
            crate::text::printable(learner)
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

/// The token nonce in the config of the promoted image, as the file's layout holds it.
fn image_nonce(opened: &Opened) -> Option<String> {
    let image = opened.statement.predicate.image.as_ref()?;
    let blob = |hex: &str| {
        opened
            .files
            .get(&format!("{}/blobs/sha256/{hex}", image.layout))
    };
    // Every blob is checked against its digest here: the statement's subjects say the file is
    // as packed, not that the layout's names are honest.
    let verified = |hex: &str| blob(hex).filter(|bytes| sha256_hex(bytes) == hex);
    let manifest: serde_json::Value =
        serde_json::from_slice(verified(image.digest.strip_prefix("sha256:")?)?).ok()?;
    let config_hex = manifest
        .pointer("/config/digest")?
        .as_str()?
        .strip_prefix("sha256:")?;
    let config: serde_json::Value = serde_json::from_slice(verified(config_hex)?).ok()?;
    config
        .pointer("/config/Labels")?
        .get(crate::backend::NONCE_LABEL)?
        .as_str()
        .map(str::to_owned)
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Error => "error",
    }
}

/// What must be a learner's own: the key, the signature manifests of the image, and the
/// evidence the learner wrote in their own words.
fn fingerprints(opened: &Opened, prepared: &[crate::engine::PreparedCheck]) -> Fingerprints {
    let public_key = TrustedKey::from_pem(opened.public_key.as_bytes())
        .ok()
        .map(|k| k.hint().to_owned());
    let mut signatures = Vec::new();
    let index = format!("{LAYOUT_PREFIX}/index.json");
    if let Some(index) = opened
        .files
        .get(&index)
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
    {
        for entry in index["manifests"].as_array().into_iter().flatten() {
            if entry.pointer("/annotations/kind").and_then(|k| k.as_str())
                == Some(crate::supply::layout::KIND_SIGS)
                && let Some(digest) = entry["digest"].as_str()
            {
                signatures.push(digest.to_owned());
            }
        }
    }
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
                written.insert(name, sha256_hex(data));
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
