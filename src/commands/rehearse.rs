//! `lab rehearse CHAPTER`: content CI on a real cluster, as Instruqt's `track test`. In a
//! scratch working folder (with a fresh cosign key pair) it starts the lab, then for every
//! step in order: its checks must fail, its solution runs, its checks must pass. Before a step
//! with a `policy-report` check, it first waits (at most `--settle`) until Kyverno has
//! reported the Pods admitted so far, as they would be for a learner who took their time. A check that
//! passes before its solution is a broken check (unless the lab marks it `invariant`). The
//! lab is stopped and its objects removed at the end, unless `--keep`.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::Config;
use super::emit;
use super::session::{Looking, Session};
use super::start::StartRequest;
use crate::backend::shell::run_script;
use crate::engine::kinds::Kind;
use crate::error::LabError;
use crate::exit_code;
use crate::grade::rehearsal::{Rehearsal, SolutionRun, StepRehearsal};
use crate::report::{self, Format};

/// A validated `lab rehearse`.
#[derive(Debug, Clone)]
pub struct RehearseRequest {
    /// How to start the lab.
    pub start: StartRequest,
    /// How long a step's solution may run.
    pub step_timeout: Duration,
    /// How long checks after a solution may take to settle.
    pub settle: Duration,
    /// Keep the scratch folder and the lab's objects.
    pub keep: bool,
    /// Output format: human, JSON or JUnit.
    pub format: Format,
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs `lab rehearse`.
pub fn run(
    config: &Config,
    request: &RehearseRequest,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let started = Instant::now();
    let scratch = tempfile::Builder::new()
        .prefix("lab-rehearse-")
        .tempdir()
        .map_err(|source| LabError::Output {
            what: "a scratch folder".into(),
            source,
        })?;
    let workdir = scratch.path().to_owned();
    let keygen = run_script(
        "cosign generate-key-pair >/dev/null",
        &workdir,
        &[("COSIGN_PASSWORD".into(), String::new())],
        Duration::from_secs(60),
        true,
    )
    .map_err(|e| {
        LabError::Environment(format!(
            "cannot run bash: {e}; the rehearsal runs the solutions with bash, install it"
        ))
    })?;
    if keygen.interrupted {
        return Err(LabError::Interrupted);
    }
    if !keygen.ok() {
        return Err(LabError::Environment(format!(
            "`cosign generate-key-pair` failed; the rehearsal signs with cosign, install it (https://docs.sigstore.dev/cosign/system_config/installation/): {}",
            keygen.output.trim()
        )));
    }
    let mut log = Vec::new();
    let start_began = Instant::now();
    let mut start = request.start.clone();
    if !start.set.iter().any(|(n, _)| n == "cosign_public_key") {
        let key = workdir.join("cosign.pub").display().to_string();
        start.set.push(("cosign_public_key".into(), key));
    }
    let started_lab = super::start::run_in(config, workdir.clone(), &start, &mut log);
    let start_seconds = start_began.elapsed().as_secs_f64();
    if let Err(e) = started_lab {
        let _ = std::io::stderr().write_all(&log);
        return Err(e);
    }
    let result = steps(config, &workdir, request);
    let session = Session::open_in(config, workdir.clone(), Some(&request.start.chapter), &[]);
    if !request.keep
        && let Ok(session) = &session
    {
        let mut sink = Vec::new();
        if let Err(e) = super::stop::stop(session, true, &mut sink) {
            let _ = writeln!(
                std::io::stderr(),
                "warning: cleaning up after the rehearsal: {e}"
            );
        }
    }
    let (context, steps) = result?;
    let rehearsal = Rehearsal {
        chapter: request.start.chapter.clone(),
        context,
        start_seconds,
        steps,
        seconds: started.elapsed().as_secs_f64(),
    };
    let text = report::rehearsal::render(&rehearsal, request.format)
        .map_err(|e| LabError::Usage(e.to_string()))?;
    emit(out, &text)?;
    if request.keep {
        let kept: PathBuf = scratch.keep();
        let _ = writeln!(
            std::io::stderr(),
            "the rehearsal's folder is kept: {}",
            kept.display()
        );
    }
    Ok(if rehearsal.passed() {
        exit_code::SUCCESS
    } else {
        exit_code::WORK_FELL_SHORT
    })
}

fn steps(
    config: &Config,
    workdir: &std::path::Path,
    request: &RehearseRequest,
) -> Result<(String, Vec<StepRehearsal>), LabError> {
    let session = Session::open_in(
        config,
        workdir.to_owned(),
        Some(&request.start.chapter),
        &[],
    )?;
    let context = session.started()?.context.clone();
    let mut runner = session.runner(Looking::Live { context: None }, Duration::ZERO)?;
    runner.spinner = false;
    let mut results = Vec::new();
    for step in &session.chapter.lab.steps {
        let id = step.id.value.0.clone();
        let invariant: Vec<String> = runner
            .prepared
            .iter()
            .filter(|c| c.step == id && c.invariant)
            .map(|c| c.id.clone())
            .collect();
        // The steps follow each other within seconds here, faster than Kyverno reports; a
        // learner opens a step after the reports of the Pods admitted so far are written, and a
        // report check must not pass on one of those.
        let report_namespaces: Vec<String> = runner
            .prepared
            .iter()
            .filter(|c| c.step == id && !c.invariant)
            .filter(|c| matches!(c.kind, Kind::PolicyReport { .. }))
            .filter_map(|c| c.kind.namespace().map(str::to_owned))
            .fold(Vec::new(), |mut all, ns| {
                if !all.contains(&ns) {
                    all.push(ns);
                }
                all
            });
        let reports_wait = if report_namespaces.is_empty() {
            None
        } else {
            Some(
                runner
                    .await_reports(&report_namespaces, request.settle)
                    .map_err(|_| LabError::Interrupted)?,
            )
        };
        let mut run_checks = |settle: Duration| {
            runner.settle = settle;
            runner.run_step(&id).map_err(|_| LabError::Interrupted)
        };
        let before = run_checks(Duration::ZERO)?;
        let solution = match super::solve::script(&session, &id)? {
            None => solve_quiz(&session, step, workdir)?,
            Some(script) => {
                let env = [("COSIGN_PASSWORD".to_owned(), String::new())];
                let ran = super::solve::execute(
                    config,
                    &session,
                    &script.run?,
                    &env,
                    request.step_timeout,
                    true,
                )?;
                let leftovers = super::solve::leftovers(&ran);
                if ran.interrupted {
                    let _ = std::io::stderr().write_all(leftovers.as_bytes());
                    return Err(LabError::Interrupted);
                }
                Some(SolutionRun {
                    exit_code: ran.code,
                    timed_out: ran.timed_out,
                    seconds: ran.elapsed.as_secs_f64(),
                    output_tail: tail(&format!("{}{leftovers}", ran.output), 15),
                })
            }
        };
        let after = if solution.is_some() {
            run_checks(request.settle)?
        } else {
            Vec::new()
        };
        results.push(StepRehearsal {
            step: id,
            reports_wait,
            before,
            invariant,
            solution,
            after,
        });
    }
    Ok((context, results))
}

/// The quiz step's solution, for content CI: the course's answer key (`<quiz>.key.yaml`, which
/// only an author's or instructor's checkout holds, never the built-in course) answered as a
/// learner's first attempt. `None` when the step asks no quiz, or there is no key.
fn solve_quiz(
    session: &Session,
    step: &crate::content::model::Step,
    workdir: &std::path::Path,
) -> Result<Option<SolutionRun>, LabError> {
    use crate::grade::quiz;
    use crate::record::Progress;
    use crate::walkthrough::WalkError;
    if !step.has_quiz() {
        return Ok(None);
    }
    let started = Instant::now();
    let (rel, quiz) = quiz::find(&session.chapter).map_err(WalkError::from)?;
    let Some((key_rel, key)) = quiz::answer_key(&session.chapter, &rel).map_err(WalkError::from)?
    else {
        return Ok(None);
    };
    let answers = quiz::key_answers(&key);
    let attempt = quiz::judge_with_key(&quiz, &key, &answers);
    Progress::update(workdir, &session.course(), |p| {
        (
            vec![quiz::attempt_event(&answers, p.first_quiz().is_none())],
            (),
        )
    })
    .map_err(WalkError::from)?;
    Ok(Some(SolutionRun {
        exit_code: Some(if attempt.passed { 0 } else { 1 }),
        timed_out: false,
        seconds: started.elapsed().as_secs_f64(),
        output_tail: format!(
            "answered from {}: {} of {} right, {}%\n",
            session.chapter.shown(&key_rel),
            attempt.correct,
            attempt.questions,
            attempt.score_percent
        ),
    }))
}
