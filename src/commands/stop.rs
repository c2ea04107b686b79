//! `lab stop CHAPTER [--delete]`: removes what the lab created, newest first, and only that: an
//! object the state lists but that no longer carries the lab's label is left alone and named.
//! `--delete` also forgets the lab's state. The learner's files are never touched.

use std::io::Write;
use std::time::Duration;

use super::Config;
use super::emit;
use super::session::Session;
use crate::backend::host::SystemHost;
use crate::backend::kind;
use crate::backend::state::LabState;
use crate::error::LabError;
use crate::exit_code;

/// A validated `lab stop`.
#[derive(Debug, Clone)]
pub struct StopRequest {
    /// Chapter id or alias; the one started here when `None`.
    pub chapter: Option<String>,
    /// Also forget the state.
    pub delete: bool,
}

/// Runs `lab stop`.
pub fn run(config: &Config, request: &StopRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let session = Session::open(config, request.chapter.as_deref(), &[])?;
    stop(&session, request.delete, out)
}

/// A lab on a kind cluster it created: the containers are stopped (and `lab start` starts
/// them again), or with `delete` the cluster and the lab's registry are deleted.
fn stop_kind(
    session: &Session,
    mut state: LabState,
    delete: bool,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let plan = session.kind_plan()?;
    let id = session.id();
    let created = state.kind_cluster.clone().unwrap_or_default();
    if delete {
        for line in kind::delete(&SystemHost, &plan, &created)? {
            emit(out, &format!("  {line}\n"))?;
        }
        for line in kind::remove_images(&SystemHost, &state.loaded_images)? {
            emit(out, &format!("  {line}\n"))?;
        }
        LabState::forget(&session.workdir, &id)?;
        emit(
            out,
            &format!("lab {id} deleted; `lab start {id}` begins afresh\n"),
        )?;
        return Ok(exit_code::SUCCESS);
    }
    for line in kind::stop(&SystemHost, &plan, &created)? {
        emit(out, &format!("  {line}\n"))?;
    }
    state.done.retain(|p| p != "kind");
    state.save(&session.workdir)?;
    emit(
        out,
        &format!("lab {id} stopped; `lab start {id}` starts it again where you left it\n"),
    )?;
    Ok(exit_code::SUCCESS)
}

/// Stops the lab of `session`.
pub(crate) fn stop(session: &Session, delete: bool, out: &mut impl Write) -> Result<u8, LabError> {
    let state = session.started()?.clone();
    // The chapter resolved from the command line, whose folder the state was read from; the
    // state's own `chapter` field is never trusted to name what to remove or label.
    let id = session.id();
    if state.kind_cluster.is_some() {
        return stop_kind(session, state, delete, out);
    }
    crate::runtime::block_on(async {
        let cluster = session.cluster(None).await?;
        for object in state.objects.iter().rev() {
            let what = match &object.namespace {
                Some(ns) => format!("{} {ns}/{}", object.kind, object.name),
                None => format!("{} {}", object.kind, object.name),
            };
            let text = match cluster.owned_by_lab(object, &id).await? {
                None => format!("{what}: already gone"),
                Some(false) => format!(
                    "{what}: left alone (it no longer carries the label courselab.dev/chapter={id})"
                ),
                Some(true) => {
                    cluster.delete(object).await?;
                    if object.kind == "Namespace" {
                        cluster.wait_gone(object, Duration::from_secs(180)).await?;
                    }
                    format!("{what}: deleted")
                }
            };
            emit(out, &format!("  {text}\n"))?;
        }
        Ok::<(), LabError>(())
    })??;
    if !state.seeded.is_empty() {
        emit(
            out,
            &format!(
                "  the images lab pushed stay in the registry ({})\n",
                state.seeded.join(", ")
            ),
        )?;
    }
    if delete {
        LabState::forget(&session.workdir, &id)?;
        emit(
            out,
            &format!("lab {id} stopped and forgotten; `lab start {id}` begins afresh\n"),
        )?;
    } else {
        let mut state = state;
        state.done.clear();
        state.mode = crate::content::model::FailureMode::Audit;
        state.objects.clear();
        state.save(&session.workdir)?;
        emit(
            out,
            &format!("lab {id} stopped; `lab start {id}` brings it back\n"),
        )?;
    }
    Ok(exit_code::SUCCESS)
}
