//! `lab solve CHAPTER --step ID [--run]`: shows a step's solution with the lab's values filled
//! in, for a learner who is stuck, and runs it with `--run`. The rehearsal runs the same.

use std::io::Write;
use std::time::Duration;

use super::emit;
use super::session::Session;
use crate::backend::kubeconfig;
use crate::backend::shell::{Ran, run_script};
use crate::{Config, LabError, exit_code};

/// A validated `lab solve`.
#[derive(Debug, Clone)]
pub struct SolveRequest {
    /// Chapter id or alias; the one started here when `None`.
    pub chapter: Option<String>,
    /// The step.
    pub step: String,
    /// Run it, not only show it.
    pub run: bool,
    /// `--set` values.
    pub set: Vec<(String, String)>,
    /// How long it may run.
    pub timeout: Duration,
}

/// The step's solution with the values filled in; `None` when the step has none.
pub(crate) fn script(session: &Session, step: &str) -> Result<Option<String>, LabError> {
    session.solution(session.step(step)?)
}

/// Runs a solution in the session's working folder, with `kubectl` pinned to the lab's
/// context, `lab` itself on the PATH and the same course.
pub(crate) fn execute(
    config: &Config,
    session: &Session,
    script: &str,
    extra_env: &[(String, String)],
    timeout: Duration,
    capture: bool,
) -> Result<Ran, LabError> {
    let state = session.started()?;
    let pinned = kubeconfig::pinned(&state.context)?;
    let mut env: Vec<(String, String)> = extra_env.to_vec();
    if let Some(file) = &pinned {
        env.push(("KUBECONFIG".into(), file.path().display().to_string()));
    }
    if let Some(course) = &config.course {
        let course = std::fs::canonicalize(course).unwrap_or_else(|_| course.clone());
        env.push(("LAB_COURSE".into(), course.display().to_string()));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_owned()))
    {
        let path = std::env::var("PATH").unwrap_or_default();
        env.push(("PATH".into(), format!("{}:{path}", dir.display())));
    }
    run_script(script, &session.workdir, &env, timeout, capture).map_err(|e| {
        LabError::Usage(format!(
            "cannot run bash for the solution: {e}; install bash"
        ))
    })
}

/// Runs `lab solve`.
pub fn run(config: &Config, request: &SolveRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let session = Session::open(config, request.chapter.as_deref(), &request.set)?;
    let Some(script) = script(&session, &request.step)? else {
        emit(
            out,
            &format!("step {} has no solution to show\n", request.step),
        )?;
        return Ok(exit_code::WORK_FELL_SHORT);
    };
    // Shown here as `s` shows it in the walkthrough, so it is recorded the same way.
    crate::record::Progress::note_solution_shown(
        &session.workdir,
        &session.course(),
        &request.step,
    )
    .map_err(crate::walkthrough::WalkError::from)?;
    emit(
        out,
        &format!(
            "# lab {}, step {}: a solution\n{script}",
            session.id(),
            request.step
        ),
    )?;
    if !request.run {
        return Ok(exit_code::SUCCESS);
    }
    emit(out, "# running it\n")?;
    let ran = execute(config, &session, &script, &[], request.timeout, false)?;
    if ran.ok() {
        emit(
            out,
            &format!("# done; `lab check --step {}` checks it\n", request.step),
        )?;
        return Ok(exit_code::SUCCESS);
    }
    emit(
        out,
        &format!(
            "# the solution {} after {:.0} s\n",
            if ran.timed_out {
                "timed out".to_owned()
            } else {
                format!("failed (exit {:?})", ran.code)
            },
            ran.elapsed.as_secs_f64()
        ),
    )?;
    Ok(exit_code::WORK_FELL_SHORT)
}
