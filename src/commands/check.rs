//! `lab check [CHAPTER] [--step ID]`: runs the lab's checks against the live cluster, the lab
//! registry and the evidence files, and reports each with what it saw and what to try.

use std::io::Write;
use std::time::Duration;

use super::Config;
use super::emit;
use super::session::{Looking, Session};
use crate::error::LabError;

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
    if let Some(step) = &request.step {
        session.step(step)?;
    }
    let runner = session.runner(
        Looking::Live {
            context: request.context.clone(),
        },
        request.wait,
    )?;
    let progress = crate::record::Progress::load(&session.workdir, &session.id())
        .map_err(crate::walkthrough::WalkError::from)?;
    let results = match &request.step {
        Some(step) => runner.run_after(|c| c.step == *step, &format!("of {step}"), &progress),
        None => runner.run_after(|_| true, "against the cluster and the registry", &progress),
    }
    .map_err(|_| LabError::Interrupted)?;
    let text = if request.json {
        crate::report::checks::json(&session.id(), &results)
    } else {
        crate::report::checks::human(&results)
    };
    emit(out, &text)?;
    Ok(crate::engine::exit_code(&results))
}
