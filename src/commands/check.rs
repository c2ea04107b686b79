//! `lab check [CHAPTER] [--step ID]`: runs the lab's checks against the live cluster, the lab
//! registry and the evidence files, and reports each with what it saw and what to try.

use std::io::Write;
use std::time::Duration;

use super::emit;
use super::session::Session;
use crate::backend::FileWorkdir;
use crate::content::diagnostic::did_you_mean;
use crate::engine::{Engine, Observe, Status, prepare};
use crate::{Config, LabError, exit_code};

/// A validated `lab check`.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// Chapter id or alias; the one started here when `None`.
    pub chapter: Option<String>,
    /// Only this step's checks.
    pub step: Option<String>,
    /// A kubeconfig context instead of the lab's.
    pub context: Option<String>,
    /// How long a failing check that settles by itself is tried again.
    pub wait: Duration,
    /// JSON output.
    pub json: bool,
}

/// Runs `lab check`.
pub fn run(config: &Config, request: &CheckRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let session = Session::open(config, request.chapter.as_deref(), &[])?;
    if request.context.is_none() {
        session.started()?;
    }
    let mut checks = prepare(&session.chapter, &session.values)?;
    if let Some(step) = &request.step {
        let steps = session.chapter.lab.step_ids();
        if !steps.contains(&step.as_str()) {
            let hint = did_you_mean(step, steps.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err(LabError::Usage(format!(
                "lab {} has no step `{step}`; {hint}the steps are: {}",
                session.id(),
                steps.join(", ")
            )));
        }
        checks.retain(|c| c.step == *step);
    }
    let registry = session.registry()?;
    let workdir = FileWorkdir {
        root: session.workdir.clone(),
        chapter: session.id(),
    };
    let results = crate::runtime::block_on(async {
        let cluster = session.cluster(request.context.as_deref()).await?;
        // One question first: an unreachable cluster is one error, not one per check.
        cluster.ping().await?;
        let engine = Engine {
            world: Observe {
                cluster: &cluster,
                registry: &registry,
                workdir: &workdir,
            },
            settle: request.wait,
        };
        let spinner = crate::terminal::Spinner::start(format!(
            "checking {} check(s) against the cluster and the registry",
            checks.len()
        ));
        let results = crate::runtime::until_interrupted(engine.run_all(&checks))
            .await
            .map_err(|_| LabError::Interrupted);
        drop(spinner);
        results
    })??;
    let text = if request.json {
        crate::grade::checks::json(&session.id(), &results)
    } else {
        crate::grade::checks::human(&results)
    };
    emit(out, &text)?;
    Ok(if results.iter().any(|r| r.status == Status::Error) {
        exit_code::UNREACHABLE
    } else if results.iter().any(|r| r.status == Status::Fail) {
        exit_code::WORK_FELL_SHORT
    } else {
        exit_code::SUCCESS
    })
}
