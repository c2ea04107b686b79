//! `lab stop CHAPTER [--delete]`: removes what the lab created, newest first, and only that: an
//! object the state lists but that no longer carries the lab's label is left alone and named.
//! `--delete` also forgets the lab's state. The learner's files are never touched.

use std::io::Write;
use std::time::Duration;

use super::emit;
use super::session::Session;
use crate::backend::state::LabState;
use crate::{Config, LabError, exit_code};

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

/// Stops the lab of `session`.
pub(crate) fn stop(session: &Session, delete: bool, out: &mut impl Write) -> Result<u8, LabError> {
    let state = session.started()?.clone();
    let id = state.chapter.clone();
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
    let path = LabState::path(&session.workdir, &id);
    if delete {
        std::fs::remove_file(&path).map_err(|source| LabError::Output {
            what: format!("removing {}", path.display()),
            source,
        })?;
        emit(
            out,
            &format!("lab {id} stopped and forgotten; `lab start {id}` begins afresh\n"),
        )?;
    } else {
        let mut state = state;
        state.done.clear();
        state.mode = "Audit".into();
        state.objects.clear();
        state.save(&session.workdir)?;
        emit(
            out,
            &format!("lab {id} stopped; `lab start {id}` brings it back\n"),
        )?;
    }
    Ok(exit_code::SUCCESS)
}
