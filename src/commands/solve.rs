//! `lab solve CHAPTER --step ID [--run]`: shows a step's solution with the lab's values filled
//! in, for a learner who is stuck, and runs it with `--run`. The rehearsal runs the same.

use std::io::Write;
use std::time::Duration;

use super::Config;
use super::emit;
use super::session::Session;
use crate::backend::kubeconfig;
use crate::backend::shell::{Interrupts, Ran, run_solution};
use crate::content::script::{BashScript, ScriptError, for_bash};
use crate::error::LabError;
use crate::exit_code;

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

/// A step's solution: as the screen shows it, and as bash runs it.
pub(crate) struct Solution {
    /// With the values filled in.
    pub shown: String,
    /// With the values read from the environment, so that none is ever run as code; the
    /// error when that cannot be done (only running it fails, showing it does not).
    pub run: Result<BashScript, LabError>,
}

/// The step's solution; `None` when the step has none.
pub(crate) fn script(session: &Session, step: &str) -> Result<Option<Solution>, LabError> {
    let found = session.step(step)?;
    let Some(shown) = session.solution(found) else {
        return Ok(None);
    };
    let text = found.solve.as_deref().unwrap_or_default();
    let run = for_bash(text, &session.values).map_err(|e| {
        let digest_of = |name: &str| {
            session
                .chapter
                .lab
                .variables
                .iter()
                .any(|v| v.name.value == name && v.digest_of.is_some())
        };
        match e {
            // A digest `lab start` records: there is nothing to pass by hand.
            ScriptError::Missing { name } if digest_of(&name) => LabError::Usage(format!(
                "`${{{name}}}` has no value yet: it is the digest `lab start {id}` finds in the lab registry; run `lab start {id}` here first",
                id = session.id()
            )),
            e => LabError::Usage(format!(
                "{}, step {step}: {e}",
                session.chapter.shown(&session.chapter.lab_file)
            )),
        }
    });
    Ok(Some(Solution { shown, run }))
}

/// Runs a solution in the session's working folder, with `kubectl` pinned to the lab's
/// context, `lab` itself on the PATH and the same course. The pinned kubeconfig (the user's
/// credentials) is removed before this returns, however the run ended: interrupts are caught
/// from before it is written, and it is dropped, not left to an exit that skips destructors.
pub(crate) fn execute(
    config: &Config,
    session: &Session,
    script: &BashScript,
    extra_env: &[(String, String)],
    timeout: Duration,
    capture: bool,
) -> Result<Ran, LabError> {
    let state = session.started()?;
    let mut interrupts = Interrupts::listen().map_err(|e| {
        LabError::Environment(format!(
            "cannot catch interrupts for the solution: {e}; the system is short of file descriptors, close some programs and run it again"
        ))
    })?;
    let pinned = kubeconfig::pinned(&state.context)?;
    let mut env: Vec<(String, String)> = script.env.clone();
    env.extend(extra_env.iter().cloned());
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
    let ran = run_solution(
        &script.text,
        &session.workdir,
        &env,
        timeout,
        capture,
        &mut interrupts,
    );
    drop(pinned);
    ran.map_err(|e| {
        LabError::Environment(format!(
            "cannot run bash for the solution: {e}; install bash"
        ))
    })
}

/// What the solution left behind, one line each: what `lab` ended, and what escaped it.
pub(crate) fn leftovers(ran: &Ran) -> String {
    let mut text = String::new();
    for p in &ran.ended {
        text.push_str(&format!(
            "# the solution left pid {} running ({}); ended with it\n",
            p.pid, p.command
        ));
    }
    for p in &ran.escaped {
        text.push_str(&format!(
            "# pid {} ({}) left the solution's process group and still runs; `kill {}` ends it\n",
            p.pid, p.command, p.pid
        ));
    }
    text
}

/// Runs `lab solve`.
pub fn run(config: &Config, request: &SolveRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let session = Session::open(config, request.chapter.as_deref(), &request.set)?;
    let Some(solution) = script(&session, &request.step)? else {
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
            "# lab {}, step {}: a solution\n{}",
            session.id(),
            request.step,
            solution.shown
        ),
    )?;
    if !request.run {
        return Ok(exit_code::SUCCESS);
    }
    emit(out, "# running it\n")?;
    let ran = execute(
        config,
        &session,
        &solution.run?,
        &[],
        request.timeout,
        false,
    )?;
    emit(out, &leftovers(&ran))?;
    if ran.interrupted {
        return Err(LabError::Interrupted);
    }
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
