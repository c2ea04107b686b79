//! `lab status [CHAPTER] [--done-when]`: where the learner and the lab stand: the steps and
//! whether the progress record is intact (with `--done-when`, the scored criteria), then the
//! lab's context and mode, whether the cluster answers, and each of the lab's objects and
//! policies as the cluster has them now.

use std::io::Write;

use super::Config;
use super::emit;
use std::time::Duration;

use super::lesson::{flow, integrity};
use super::session::{Looking, Session};
use crate::engine::Cluster;
use crate::engine::compare::is_ready;
use crate::error::LabError;
use crate::exit_code;
use crate::policy::model::{joined, live_entry_actions};
use crate::text::printable;

/// Runs `lab status`.
pub fn run(
    config: &Config,
    chapter: Option<&str>,
    done_when: bool,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let session = Session::open(config, chapter, &[])?;
    let progress = progress(config, &session, done_when, out)?;
    let Some(state) = session.state.clone() else {
        emit(
            out,
            &format!(
                "lab {0} is not started in this folder: `lab start {0}` brings it up\n",
                session.id()
            ),
        )?;
        return Ok(progress);
    };
    let id = session.id();
    // The state file is in the learner's folder and the objects' words come from the
    // cluster: each line is shown with its control characters escaped.
    let line = |text: String| format!("{}\n", printable(&text));
    emit(
        out,
        &line(format!(
            "lab {id} on context {} ({}); phases done: {}",
            state.context,
            state.mode,
            if state.done.is_empty() {
                "none".to_owned()
            } else {
                state.done.join(", ")
            }
        )),
    )?;
    let code = crate::runtime::block_on(async {
        let cluster = match session.cluster(None).await {
            Ok(c) => c,
            Err(e) => {
                emit(out, &line(format!("  cluster: {e}")))?;
                return Ok(exit_code::UNREACHABLE);
            }
        };
        let mut code = exit_code::SUCCESS;
        for object in &state.objects {
            let what = match &object.namespace {
                Some(ns) => format!("{} {ns}/{}", object.kind, object.name),
                None => format!("{} {}", object.kind, object.name),
            };
            let text = match cluster.owned_by_lab(object, &id).await {
                Err(e) => {
                    code = exit_code::UNREACHABLE;
                    format!("{e}")
                }
                Ok(None) => {
                    code = code.max(exit_code::WORK_FELL_SHORT);
                    "missing: `lab start` puts it back".into()
                }
                Ok(Some(_)) if object.kind == "ClusterPolicy" => {
                    match cluster.cluster_policy(&object.name).await {
                        Ok(Some(p)) => format!(
                            "{}{}",
                            joined(&live_entry_actions(&p)),
                            if is_ready(&p) {
                                ", Ready"
                            } else {
                                ", not Ready"
                            }
                        ),
                        Ok(None) => "missing".into(),
                        Err(e) => e.to_string(),
                    }
                }
                Ok(Some(_)) => "present".into(),
            };
            emit(out, &line(format!("  {what}: {text}")))?;
        }
        Ok::<u8, LabError>(code)
    })??;
    // A broken record matters more than a missing object: it is the learner's evidence.
    Ok(if progress == exit_code::SUCCESS {
        code
    } else {
        progress
    })
}

/// The progress part of `lab status`: the steps, and whether the record is intact; with
/// `done_when`, the summary too. Returns the exit code it implies.
fn progress(
    config: &Config,
    session: &Session,
    done_when: bool,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let flow = flow(config, session)?;
    emit(out, &flow.list_screen())?;
    let (intact, screen) = integrity(session, &flow);
    emit(out, &screen)?;
    if done_when {
        // Steps not passed yet are scored by their checks run now.
        let passed = flow.progress.passed(&session.chapter.lab.step_ids());
        let looking = if session.state.is_some() {
            Looking::Live { context: None }
        } else {
            Looking::Offline
        };
        let now = match session.runner(looking, Duration::ZERO) {
            Ok(runner) => runner
                .run(
                    |c| !passed.contains_key(&c.step),
                    "of the steps not passed yet",
                )
                .map_err(|_| LabError::Interrupted)?,
            Err(e) => {
                emit(out, &format!("The checks could not run now: {e}\n"))?;
                Vec::new()
            }
        };
        emit(out, &flow.done_when_screen(&now))?;
    }
    Ok(if intact {
        exit_code::SUCCESS
    } else {
        exit_code::PROGRESS_TAMPERED
    })
}
