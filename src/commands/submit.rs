//! `lab submit [CHAPTER] --learner ID [--key cosign.key] [-o FILE] [--dry-run]`: runs every check
//! once more against the learner's cluster (which they still have), records a `submitted` event,
//! and packs one signed archive: the progress record, the evidence files the checks name, the
//! learner's public key, and what the cluster showed the checks (a recorded world), under an
//! in-toto statement sealed with the learner's cosign key, the key that signed the image. Every
//! file is scanned for secrets first; one found stops the command and names file and line.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::Config;
use super::emit;
use super::session::{Looking, Session};
use crate::engine::{CheckResult, Status};
use crate::error::LabError;
use crate::record::{Event, Progress, RecordedCheck};
use crate::submission::names::{
    LAYOUT_PREFIX, PROGRESS_FILE, PUBLIC_KEY_FILE, TOKEN_FILE, WORK_PREFIX, WORLD_FILE,
};
use crate::submission::pack::{Contents, pack};
use crate::submission::sealed::SigningKey;
use crate::submission::statement::{
    Course, Image, Observed, Outcome, Role, SUBMISSION_FORMAT, Signing, SigningMode, Submission,
    Tool,
};
use crate::submission::token::check_learner_id;

/// A validated `lab submit`.
#[derive(Debug, Clone)]
pub struct SubmitRequest {
    /// Chapter id or alias; the one started here when `None`.
    pub chapter: Option<String>,
    /// The learner's id; the token's when `None`.
    pub learner: Option<String>,
    /// The learner's cosign private key.
    pub key: PathBuf,
    /// Where to write the archive; `<chapter>-<learner>.submission.tar.gz` here when `None`.
    pub output: Option<PathBuf>,
    /// Replace an existing archive.
    pub force: bool,
    /// List what would be packed; write nothing.
    pub dry_run: bool,
    /// A kubeconfig context instead of the lab's.
    pub context: Option<String>,
    /// How long a failing check that settles by itself is tried again.
    pub wait: Duration,
}

/// Runs `lab submit`.
pub fn run(config: &Config, request: &SubmitRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let session = Session::open(config, request.chapter.as_deref(), &[])?;
    let state = session.started()?;
    let chapter = session.id();
    let token = state.token.clone();
    let learner = match (&request.learner, &token) {
        (Some(given), Some(token)) if *given != token.learner => {
            return Err(LabError::Usage(format!(
                "this lab was started with the token of {}; submit as them (leave out --learner), or start again without their token",
                crate::text::printable(&token.learner)
            )));
        }
        (Some(given), _) => given.clone(),
        (None, Some(token)) => token.learner.clone(),
        (None, None) => {
            return Err(LabError::Usage(
                "name yourself with --learner ID (the id your instructor knows you by)".into(),
            ));
        }
    };
    check_learner_id(&learner).map_err(|e| LabError::Usage(e.to_string()))?;
    let output = request.output.clone().unwrap_or_else(|| {
        session
            .workdir
            .join(format!("{chapter}-{}.submission.tar.gz", learner))
    });
    if !request.dry_run && output.exists() && !request.force {
        return Err(LabError::Usage(format!(
            "{} exists already; pass --force to replace it, or -o to write elsewhere",
            output.display()
        )));
    }
    // The key first: a wrong password is found before the checks run for a minute.
    let key = if request.dry_run {
        None
    } else {
        Some(super::read_signing_key(&request.key)?)
    };
    let keyless = session.values.get("signing_mode").map(String::as_str) == Some("keyless");
    if let Some(key) = &key
        && !keyless
    {
        same_key(key, &session)?;
    }

    let mut runner = session.runner(
        Looking::Live {
            context: request.context.clone(),
        },
        request.wait,
    )?;
    runner.record_cluster = true;
    let progress =
        Progress::load(&session.workdir, &chapter).map_err(crate::walkthrough::WalkError::from)?;
    let results = runner
        .run_after(|_| true, "for the submission", &progress)
        .map_err(|_| LabError::Interrupted)?;
    let world = runner.take_recorded();

    let mut contents = Contents::default();
    for path in runner.evidence_files() {
        use crate::engine::Workdir as _;
        let text = runner
            .workdir
            .read(&path)
            .map_err(|e| LabError::Usage(format!("cannot pack the evidence file {path}: {e}")))?;
        if let Some(text) = text {
            contents.add(
                &format!("{WORK_PREFIX}{path}"),
                Role::Evidence,
                text.into_bytes(),
            )?;
        }
    }
    if let Some(world) = world {
        contents.add(WORLD_FILE, Role::Cluster, world)?;
    }
    // The promoted image's manifest and config with its signature and attestations, so that
    // the grader verifies them offline with the lab's own attestors; its layers stay out.
    let mut image = None;
    let mut identity = None;
    if let Some(name) = runner.signed_image() {
        let exported = runner.export_image(&name, LAYOUT_PREFIX).map_err(|e| {
            LabError::Environment(format!(
                "cannot copy {name} and its signatures from the lab registry: {e}"
            ))
        })?;
        if let Some((digest, layout)) = exported {
            for (file, data) in layout.files.iter() {
                contents.add(file, Role::Layout, data.clone())?;
            }
            let repository = crate::supply::ImageRef::parse(&name)
                .map(|r| r.repository())
                .map_err(|e| LabError::Usage(format!("the lab's signed image `{name}`: {e}")))?;
            if keyless {
                identity = signer_of(layout.files, &format!("{repository}@{digest}"));
            }
            image = Some(Image {
                repository,
                digest: digest.as_str().to_owned(),
                layout: LAYOUT_PREFIX.to_owned(),
                layers_included: false,
            });
        }
    }
    let public_pem = match &key {
        Some(key) => key.public_pem().to_owned(),
        None => session
            .values
            .get("cosign_public_key")
            .cloned()
            .unwrap_or_default(),
    };
    contents.add(PUBLIC_KEY_FILE, Role::PublicKey, public_pem.into_bytes())?;
    if token.is_some() {
        let path = super::start::token_path(&session.workdir, &chapter);
        let bytes = crate::input::read_bytes(&path, 64 * 1024, "a learner token").map_err(|e| {
            LabError::Usage(format!(
                "{e}; the lab was started with a token, which lab keeps there: start it again with --token"
            ))
        })?;
        contents.add(TOKEN_FILE, Role::Token, bytes)?;
    }

    if request.dry_run {
        // The record is packed as it would be after the submitted event.
        let progress_bytes =
            std::fs::read(Progress::path(&session.workdir, &chapter)).unwrap_or_default();
        contents.add(PROGRESS_FILE, Role::Progress, progress_bytes)?;
        return dry_run(&contents, &results, &output, out);
    }

    // A secret stops everything before anything is recorded or written.
    let findings = contents.secrets();
    if !findings.is_empty() {
        return Err(crate::submission::SubmissionError::Secrets(findings).into());
    }
    let (_, ()) = Progress::update(&session.workdir, &session.course(), |_| {
        (
            vec![Event::Submitted {
                results: results.iter().map(RecordedCheck::from).collect(),
            }],
            (),
        )
    })
    .map_err(crate::walkthrough::WalkError::from)?;
    let record = std::fs::read(Progress::path(&session.workdir, &chapter))
        .map_err(|e| LabError::Environment(format!("cannot read back the progress record: {e}")))?;
    contents.add(PROGRESS_FILE, Role::Progress, record)?;

    let stamp = session.course();
    let predicate = Submission {
        format: SUBMISSION_FORMAT,
        learner: learner.clone(),
        chapter: chapter.clone(),
        course: Course {
            lab: stamp.lab,
            version: stamp.version,
            digest: stamp.digest,
        },
        tool: Tool {
            name: "lab".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        claimed_time: crate::record::now(),
        signing: Signing {
            mode: if keyless {
                SigningMode::Keyless
            } else {
                SigningMode::Key
            },
            public_key: PUBLIC_KEY_FILE.to_owned(),
            identity,
        },
        values: session
            .set
            .iter()
            .filter(|(name, _)| {
                !session
                    .chapter
                    .lab
                    .variables
                    .iter()
                    .any(|v| v.name.value == *name && v.from_file)
            })
            .cloned()
            .collect(),
        image,
        checks: results.iter().map(outcome).collect(),
        files: Vec::new(),
    };
    let files = contents.list().len();
    let key = key.expect("a key is read unless this is a dry run");
    let archive = pack(contents, predicate, &key)?;
    crate::atomic::write(&output, &archive).map_err(|source| LabError::Output {
        what: output.display().to_string(),
        source,
    })?;
    let passed = results.iter().filter(|r| r.status == Status::Pass).count();
    emit(
        out,
        &format!(
            "Wrote {} ({} files and the signed statement, {} KiB): {passed} of {} checks pass.\nHand this file in; keep cosign.key to yourself.\n",
            output.display(),
            files,
            archive.len().div_ceil(1024),
            results.len()
        ),
    )?;
    Ok(crate::exit_code::SUCCESS)
}

/// The identity the certificate of the exported image's first keyless signature names, as
/// the learner's machine read it (the grader reads it again from the layout).
fn signer_of(files: crate::supply::layout_source::LayoutFiles, image: &str) -> Option<String> {
    let read = async {
        let store = crate::supply::layout::LayoutStore::in_memory(
            std::sync::Arc::new(files),
            LAYOUT_PREFIX,
        )
        .ok()?;
        let reference = crate::supply::ImageRef::parse(image).ok()?;
        crate::supply::cosign::fetch_artifacts(&store, &reference)
            .await
            .ok()?
            .signer_identities()
            .into_iter()
            .next()
    };
    crate::runtime::block_on(read).ok().flatten()
}

/// In key mode the statement is signed with the key that signed the image: the one whose public
/// half the lab's policies trust.
fn same_key(key: &SigningKey, session: &Session) -> Result<(), LabError> {
    let Some(trusted) = session.values.get("cosign_public_key") else {
        return Ok(());
    };
    let der = |pem: &str| crate::supply::keyless::pem_block(pem.as_bytes()).ok();
    if der(trusted) != der(key.public_pem()) {
        return Err(LabError::Usage(
            "this private key is not the one whose public key the lab's policies trust (cosign_public_key); sign the submission with the key that signed the image".to_owned(),
        ));
    }
    Ok(())
}

fn outcome(result: &CheckResult) -> Outcome {
    Outcome {
        step: result.step.clone(),
        check: result.check.clone(),
        kind: result.kind.to_owned(),
        status: result.status,
        message: result.message.clone(),
        observed: result
            .evidence
            .iter()
            .map(|e| Observed {
                what: e.what.clone(),
                value: e.value.clone(),
            })
            .collect(),
    }
}

fn dry_run(
    contents: &Contents,
    results: &[CheckResult],
    output: &std::path::Path,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let mut text = format!("lab submit would write {} holding:\n", output.display());
    for (name, role, size) in contents.list() {
        let role = serde_json::to_value(role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        text.push_str(&format!("  {name:<48} {role:<11} {size:>8} bytes\n"));
    }
    text.push_str(&format!(
        "  {:<48} {:<11} (the signed statement over the files above and {} check results)\n",
        crate::submission::statement::SEAL_FILE,
        "statement",
        results.len()
    ));
    let findings = contents.secrets();
    if findings.is_empty() {
        text.push_str("No file holds a secret. Nothing was written.\n");
    } else {
        text.push_str("These would stop lab submit (secrets are never packed):\n");
        for finding in &findings {
            text.push_str(&format!("  {finding}\n"));
        }
    }
    emit(out, &crate::text::printable_block(&text))?;
    Ok(if findings.is_empty() {
        crate::exit_code::SUCCESS
    } else {
        crate::exit_code::BAD_CONTENT_OR_USAGE
    })
}
