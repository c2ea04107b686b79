//! A submission as the checks' backends, for the grader: the chapter's checks run once more,
//! offline, against an opened archive, never unpacked. The cluster is what the learner's
//! cluster showed `lab submit` (`cluster/world.json`, a recorded world); the registry is the
//! promoted image's OCI layout (`layout/`), its signatures and attestations verified again with
//! the lab's own attestors; the working folder is the archive's `work/` files and its progress
//! record. Each result says which of the two it rests on ([`Basis`]): a grade can then tell
//! what was proved again here from what it takes on the learner's lab's word.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::error::BackendError;
use super::registry::LabRegistry;
use super::runner::{Backends, CheckRunner, StepsWorkdir};
use super::workdir::{EVIDENCE_LIMIT, evidence_path, first_attempt, quiz_seen};
use crate::content::chapter::Chapter;
use crate::content::model::{AnswerKey, Quiz};
use crate::engine::kinds::Kind;
use crate::engine::world::World;
use crate::engine::{
    CheckResult, ObserveError, PreparedCheck, QuizSeen, Registry, Verification, Workdir,
};
use crate::record::{Break, PROGRESS_LIMIT, Progress};
use crate::runtime::{Interrupted, RuntimeUnavailable};
use crate::submission::archive::Files;
use crate::submission::names::{PROGRESS_FILE, WORK_PREFIX, WORLD_FILE};
use crate::submission::open::Opened;
use crate::submission::statement::Outcome;
use crate::supply::ImageRef;
use crate::supply::cosign::CosignArtifacts;
use crate::supply::layout_source::LayoutSource;

/// What a re-run check's verdict rests on, decided by its kind ([`basis`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Decided again here from what the archive carries: the evidence files of `work/` (and
    /// the promoted image they name), the quiz answers of the progress record (judged with the
    /// instructor's key), the promoted image's signatures and attestations in `layout/`,
    /// verified with the lab's attestors. A learner can write any file, but cannot forge a
    /// signature of a key they do not hold.
    Reverified,
    /// Judged from what the learner's cluster showed when `lab submit` ran: Pods, policies,
    /// reports, a denial (`cluster/world.json`); or, for a check that holds only during its
    /// step, its result as the progress record kept it. Nothing offline can check these again;
    /// they are the learner's lab's word.
    Recorded,
}

/// What the verdict of a check of `kind` rests on. Every kind is named, so that a new one
/// must be placed.
pub fn basis(kind: &Kind) -> Basis {
    match kind {
        Kind::EvidenceFile { .. }
        | Kind::Signature { .. }
        | Kind::SbomAttestation { .. }
        | Kind::QuizPassed { .. } => Basis::Reverified,
        Kind::DigestPinned { .. }
        | Kind::RunningDigest { .. }
        | Kind::PolicyMode { .. }
        | Kind::PolicyReport { .. }
        | Kind::AdmissionDenied { .. }
        | Kind::GuardrailIntact { .. } => Basis::Recorded,
    }
}

/// One check run again against a submission.
#[derive(Debug, Clone, Serialize)]
pub struct Regraded {
    /// The result now.
    pub result: CheckResult,
    /// What it rests on.
    pub basis: Basis,
    /// The check's outcome as `lab submit` recorded it in the statement, if it did.
    pub submitted: Option<Outcome>,
}

/// A quiz attempt's answers: each question's picked options.
type Answers = BTreeMap<String, Vec<String>>;

/// A progress record read, and its chain verified.
struct Checked {
    progress: Progress,
    breaks: Vec<Break>,
}

/// A submission's evidence files and progress record, as the checks read a working folder.
/// Reads are held to the limits of [`super::FileWorkdir`]'s.
pub struct SubmissionWorkdir {
    /// The archive's `work/` files, by the path the checks name (`evidence/x.txt`).
    files: BTreeMap<String, Vec<u8>>,
    /// The progress record, if the archive holds one.
    progress: Option<Vec<u8>>,
    /// The chapter whose progress record it is.
    pub chapter: String,
    /// The chapter's step ids, in order, to verify the record's chain.
    pub steps: Vec<String>,
    /// The chapter's quiz (shared: read once for a class).
    pub quiz: Option<Arc<Quiz>>,
    /// The instructor's answer key, which judges a graded quiz.
    pub answer_key: Option<AnswerKey>,
    /// The progress record and the breaks of its chain, once read (every check asks for it;
    /// it cannot change).
    parsed: std::sync::OnceLock<Result<Checked, ObserveError>>,
    /// The record's first quiz attempt, once its chain up to it was verified.
    first: std::sync::OnceLock<Result<Option<Answers>, ObserveError>>,
}

impl SubmissionWorkdir {
    /// The `work/` files and progress record of `files`, for `chapter`'s checks, with the
    /// instructor's `answer_key` (see `grade::quiz::answer_key`).
    pub fn of(files: &Files, chapter: &Chapter, answer_key: Option<AnswerKey>) -> Self {
        let quiz = crate::grade::quiz::find(chapter)
            .ok()
            .map(|(_, q)| Arc::new(q));
        Self::with_quiz(files, chapter, quiz, answer_key)
    }

    /// [`Self::of`] with the chapter's `quiz` read once by the caller (a grader reads it once
    /// for the class, not once a file).
    pub fn with_quiz(
        files: &Files,
        chapter: &Chapter,
        quiz: Option<Arc<Quiz>>,
        answer_key: Option<AnswerKey>,
    ) -> Self {
        SubmissionWorkdir {
            files: files
                .iter()
                .filter_map(|(name, data)| {
                    let path = name.strip_prefix(WORK_PREFIX)?;
                    Some((path.to_owned(), data.clone()))
                })
                .collect(),
            progress: files.get(PROGRESS_FILE).cloned(),
            chapter: chapter.lab.id.value.0.clone(),
            steps: chapter
                .lab
                .step_ids()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            quiz,
            answer_key,
            parsed: std::sync::OnceLock::new(),
            first: std::sync::OnceLock::new(),
        }
    }

    /// The answers of the record's first quiz attempt (its chain verified up to it), read once.
    fn first_answers(&self) -> Result<Option<&Answers>, ObserveError> {
        self.first
            .get_or_init(|| {
                let checked = self.checked()?;
                let record = format!("{PROGRESS_FILE} of the submission");
                Ok(first_attempt(&checked.progress, &checked.breaks, &record)?.cloned())
            })
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }

    /// The record's first quiz attempt, each question judged with the instructor's key; `None`
    /// without a quiz, a key, a readable record or an attempt.
    pub fn quiz_attempt(&self) -> Option<crate::grade::quiz::Attempt> {
        let answers = self.first_answers().ok()??;
        Some(crate::grade::quiz::judge_with_key(
            self.quiz.as_deref()?,
            self.answer_key.as_ref()?,
            answers,
        ))
    }

    /// The progress record (empty when the archive holds none); one `lab` cannot read is not
    /// as `lab` wrote it.
    pub fn progress(&self) -> Result<&Progress, ObserveError> {
        self.checked().map(|c| &c.progress)
    }

    /// Every break of the progress record's chain (see [`Progress::verify`]).
    pub fn breaks(&self) -> Result<&[Break], ObserveError> {
        self.checked().map(|c| c.breaks.as_slice())
    }

    /// Whether the archive holds a progress record at all.
    pub fn has_progress(&self) -> bool {
        self.progress.is_some()
    }

    fn checked(&self) -> Result<&Checked, ObserveError> {
        self.parsed
            .get_or_init(|| {
                let progress = self.read_progress()?;
                let steps: Vec<&str> = self.steps.iter().map(String::as_str).collect();
                let breaks = progress.verify(&steps);
                Ok(Checked { progress, breaks })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn read_progress(&self) -> Result<Progress, ObserveError> {
        let Some(bytes) = &self.progress else {
            return Ok(Progress::new(&self.chapter));
        };
        let tampered = |reason: String| {
            ObserveError::Tampered(format!(
                "{PROGRESS_FILE} of the submission is not a progress record `lab` wrote: {reason}"
            ))
        };
        if bytes.len() as u64 > PROGRESS_LIMIT {
            return Err(tampered(format!(
                "it is {} bytes, more than the {PROGRESS_LIMIT} a record may hold",
                bytes.len()
            )));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| tampered("not UTF-8 text".into()))?;
        Progress::parse(text, Path::new(PROGRESS_FILE), &self.chapter)
            .map_err(|e| ObserveError::Tampered(e.to_string()))
    }
}

impl Workdir for SubmissionWorkdir {
    fn read(&self, path: &str) -> Result<Option<String>, ObserveError> {
        evidence_path(path)?;
        let Some(bytes) = self.files.get(path) else {
            return Ok(None);
        };
        let unusable = |reason: String| ObserveError::Unusable {
            what: path.to_owned(),
            reason,
        };
        if bytes.len() as u64 > EVIDENCE_LIMIT {
            return Err(unusable(format!(
                "it is {} bytes, more than the {EVIDENCE_LIMIT} an evidence file may hold",
                bytes.len()
            )));
        }
        String::from_utf8(bytes.clone())
            .map(Some)
            .map_err(|_| unusable("it is not UTF-8 text".into()))
    }

    /// The first quiz attempt of the archive's record, judged with the instructor's key.
    fn quiz(&self) -> Result<Option<QuizSeen>, ObserveError> {
        let Some(answers) = self.first_answers()? else {
            return Ok(None);
        };
        quiz_seen(
            &self.chapter,
            self.quiz.as_deref(),
            self.answer_key.as_ref(),
            answers,
        )
        .map(Some)
    }
}

impl StepsWorkdir for SubmissionWorkdir {
    fn steps(&self) -> &[String] {
        &self.steps
    }
}

/// The promoted image a submission carries.
#[derive(Debug, Clone)]
struct Promoted {
    /// Its repository as the statement names it (as the cluster names it).
    repository: String,
    /// Its digest, as the statement names it.
    digest: String,
    /// The tag the chapter's signature check names it by (`1.4.2-ci`; `latest` when it
    /// writes none), unless it names a digest.
    tag: Option<String>,
}

/// The registry as a submission carries it: the promoted image alone, read from the archive's
/// layout by its digest. A reference is routed to it when it names the promoted image's
/// repository (under the cluster's name or this machine's, as [`LabRegistry::route`] maps them)
/// and either its digest or the tag the chapter's signature check names; the statement says
/// which digest that tag named when `lab submit` ran. Any other image cannot be looked up
/// offline, and a question about it is an error that says so, never a "not in the registry".
pub struct SubmissionRegistry {
    /// The lab registry, its layout the archive's, verifying with the lab's attestors.
    lab: LabRegistry,
    /// The image the layout holds; `None` when the submission carries none.
    promoted: Option<Promoted>,
    /// Each verification made, by image and attestation type: the archive cannot change, and
    /// several checks ask for the same one (a signature check, and the evidence of `cosign
    /// verify`).
    verified: std::sync::Mutex<BTreeMap<(String, Option<String>), Verification>>,
    /// The promoted image's signatures and attestations, read from the layout once (the
    /// only image a submission carries: every verification reads them).
    artifacts: tokio::sync::OnceCell<Option<CosignArtifacts>>,
}

impl SubmissionRegistry {
    /// The promoted image's signatures and attestations, read from the same archive by the
    /// caller (`lab grade` reads them first, for its roster and copy checks): the
    /// verifications use them instead of reading them again. They are the layout's whatever
    /// name the image is read by (a layout is looked up by digest and tag alone), and are
    /// kept under the name the lab routes the image to, as a read here would name them.
    pub fn read_already(&self, mut artifacts: CosignArtifacts) {
        let Some(promoted) = &self.promoted else {
            return;
        };
        let carried = format!("{}@{}", promoted.repository, promoted.digest);
        let Ok(reference) = self.lab.route(&carried) else {
            return;
        };
        if artifacts.digest.to_string() != promoted.digest {
            return;
        }
        artifacts.image = reference;
        let _ = self.artifacts.set(Some(artifacts));
    }

    /// The promoted image by digest, under the name the cluster uses (the one the policies'
    /// `imageReferences` match: `cosign verify` output names it as pushed, `localhost:5001/...`),
    /// when `image` is it; else why the submission cannot answer for `image`.
    fn carried(&self, image: &str) -> Result<String, ObserveError> {
        let asked = self.lab.route(image)?;
        let not_carried = |what: String| ObserveError::Failed {
            what: image.to_owned(),
            reason: format!(
                "{what}, so this image cannot be looked up offline; the statement holds the check's result as `lab submit` recorded it"
            ),
        };
        let Some(promoted) = &self.promoted else {
            return Err(not_carried("the submission carries no image".into()));
        };
        let ours = self.lab.route(&promoted.repository)?;
        let same_repository = asked.repository() == ours.repository();
        let by_digest = asked.digest.as_deref() == Some(promoted.digest.as_str());
        let by_tag = asked.digest.is_none()
            && promoted.tag.as_deref() == Some(asked.tag.as_deref().unwrap_or("latest"));
        if !(same_repository && (by_digest || by_tag)) {
            return Err(not_carried(format!(
                "the submission carries only {}@{}",
                promoted.repository, promoted.digest
            )));
        }
        Ok(format!("{}@{}", promoted.repository, promoted.digest))
    }
}

impl Registry for SubmissionRegistry {
    async fn resolve(&self, image: &str) -> Result<Option<crate::supply::Digest>, ObserveError> {
        self.lab.resolve(&self.carried(image)?).await
    }

    async fn verify(
        &self,
        image: &str,
        attestation: Option<&str>,
    ) -> Result<Verification, ObserveError> {
        let carried = self.carried(image)?;
        let key = (carried, attestation.map(str::to_owned));
        let known = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(known) = known {
            return Ok(known);
        }
        let artifacts = self
            .artifacts
            .get_or_try_init(|| self.lab.artifacts(&key.0))
            .await?;
        let verification = match artifacts {
            None => Verification::NotFound,
            Some(artifacts) => self.lab.verify_artifacts(&key.0, artifacts, attestation)?,
        };
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, verification.clone());
        Ok(verification)
    }
}

/// The backends of an opened submission, ready for [`CheckRunner::for_submission`].
pub struct SubmissionBackends {
    /// What the learner's cluster showed.
    pub cluster: World,
    /// The promoted image's layout.
    pub registry: SubmissionRegistry,
    /// The evidence files and the progress record.
    pub workdir: SubmissionWorkdir,
}

impl SubmissionBackends {
    /// The backends of `opened` for `chapter`'s `prepared` checks. `registry` is the lab
    /// registry as the grader renders it (its aliases, and the pack's attestors with the
    /// learner's public key: the roster's, else the one the submission carries); its layout
    /// is set here to the archive's. `answer_key` judges a graded quiz.
    pub fn open(
        opened: &Opened,
        chapter: &Chapter,
        prepared: &[PreparedCheck],
        registry: LabRegistry,
        answer_key: Option<AnswerKey>,
    ) -> Result<Self, BackendError> {
        let workdir = SubmissionWorkdir::of(&opened.files, chapter, answer_key);
        Self::open_with_workdir(opened, prepared, registry, workdir)
    }

    /// [`Self::open`] with the working folder made by the caller (a grader reads its progress
    /// record first, to flag it).
    pub fn open_with_workdir(
        opened: &Opened,
        prepared: &[PreparedCheck],
        mut registry: LabRegistry,
        workdir: SubmissionWorkdir,
    ) -> Result<Self, BackendError> {
        let predicate = &opened.statement.predicate;
        let world = opened.files.get(WORLD_FILE).ok_or_else(|| {
            BackendError::Submission(format!(
                "the submission of {} holds no {WORLD_FILE} (what the cluster showed the checks); it is incomplete: ask for it again, packed with `lab submit`",
                predicate.learner
            ))
        })?;
        let promoted = predicate.image.as_ref().map(|image| {
            let signed = prepared.iter().find_map(|c| match &c.kind {
                Kind::Signature { image } => ImageRef::parse(image).ok(),
                _ => None,
            });
            // The whole archive, shared: the layout reads only the files under its prefix.
            registry.layout = Some(LayoutSource::Files {
                files: Arc::clone(&opened.files),
                prefix: image.layout.clone(),
            });
            Promoted {
                repository: image.repository.clone(),
                digest: image.digest.clone(),
                tag: signed
                    .filter(|s| s.digest.is_none())
                    .map(|s| s.tag.unwrap_or_else(|| "latest".to_owned())),
            }
        });
        Ok(SubmissionBackends {
            cluster: World::memory(
                format!("{WORLD_FILE} of {}'s submission", predicate.learner),
                world.clone(),
            ),
            registry: SubmissionRegistry {
                lab: registry,
                promoted,
                verified: std::sync::Mutex::default(),
                artifacts: tokio::sync::OnceCell::new(),
            },
            workdir,
        })
    }
}

impl CheckRunner<SubmissionWorkdir> {
    /// A runner of `prepared` over a submission's backends: nothing waits (a recorded
    /// cluster does not settle) and no spinner is drawn.
    pub fn for_submission(
        prepared: Vec<PreparedCheck>,
        backends: SubmissionBackends,
    ) -> Result<Self, RuntimeUnavailable> {
        // The grading thread's runtime: a runner over a submission leaves nothing on it.
        let runtime = crate::runtime::this_thread()?;
        let mut runner = CheckRunner::on(
            runtime,
            prepared,
            backends.workdir,
            std::time::Duration::ZERO,
        );
        runner.spinner = false;
        runner.backends = Backends::Submission {
            cluster: backends.cluster,
            registry: Box::new(backends.registry),
        };
        Ok(runner)
    }

    /// Every check run again, in the chapter's order, each with what it rests on and its
    /// outcome in `submitted` (the statement's `checks`). A check that holds only during its
    /// step, whose step the progress record says was passed, keeps its recorded result (as
    /// `lab check` does); a record `lab` cannot read credits no step.
    pub fn regrade(&self, submitted: &[Outcome]) -> Result<Vec<Regraded>, Interrupted> {
        let empty;
        let progress = match self.workdir.progress() {
            Ok(progress) => progress,
            Err(_) => {
                empty = Progress::new(&self.workdir.chapter);
                &empty
            }
        };
        let results = self.run_after(|_| true, "of the submission", progress)?;
        let steps: Vec<&str> = self.workdir.steps.iter().map(String::as_str).collect();
        let passed = progress.passed_here(&steps);
        let kept = |check: &PreparedCheck| {
            check.during_step_only
                && passed
                    .get(check.step.as_str())
                    .is_some_and(|results| results.iter().any(|r| r.check == check.id))
        };
        Ok(self
            .prepared
            .iter()
            .zip(results)
            .map(|(check, result)| Regraded {
                basis: if kept(check) {
                    Basis::Recorded
                } else {
                    basis(&check.kind)
                },
                submitted: submitted.iter().find(|o| o.check == check.id).cloned(),
                result,
            })
            .collect())
    }
}

#[cfg(test)]
#[path = "submission_tests.rs"]
mod tests;
