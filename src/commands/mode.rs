//! `lab enforce CHAPTER` and `lab audit CHAPTER`: switch the policy pack's mode, prove with the
//! dry-run probe that the webhook serves the new mode, and say what changed. The pack is put
//! back exactly as the lab renders it, so an exclusion someone added is gone too.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use super::Config;
use super::emit;
use super::session::Session;
use crate::backend::BackendError;
use crate::backend::apply::{label, object_ref};
use crate::content::model::FailureMode;
use crate::engine::Cluster;
use crate::engine::compare::drift;
use crate::error::LabError;
use crate::exit_code;
use crate::policy::model::{joined, live_entry_actions};

/// A validated `lab enforce` or `lab audit`.
#[derive(Debug, Clone)]
pub struct ModeRequest {
    /// Chapter id or alias; the one started here when `None`.
    pub chapter: Option<String>,
    /// The mode to switch to.
    pub mode: FailureMode,
    /// How long each wait may take.
    pub timeout: Duration,
}

/// Runs the switch.
pub fn run(config: &Config, request: &ModeRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let session = Session::open(config, request.chapter.as_deref(), &[])?;
    let mut state = session.started()?.clone();
    let want = request.mode;
    let pack = session
        .chapter
        .policy_objects(&session.values, request.mode)?;
    let names = session.pack_names(&pack);
    let probe = session.probe()?;
    crate::runtime::block_on(async {
        let cluster = session.cluster(None).await?;
        for mut policy in pack {
            let name = object_ref(&policy).name;
            let live = cluster.cluster_policy(&name).await.map_err(|e| {
                LabError::Backend(BackendError::Unreachable {
                    what: format!("ClusterPolicy {name}"),
                    reason: e.to_string(),
                })
            })?;
            label(&mut policy, &session.id());
            let text = match &live {
                None => format!("{name}: was missing, applied in {want}"),
                Some(live) => {
                    let before = live_entry_actions(live);
                    let changed = drift(
                        policy.get("spec").unwrap_or(&Value::Null),
                        live.get("spec").unwrap_or(&Value::Null),
                    );
                    let mut text = format!("{name}: {} -> {want}", joined(&before));
                    if before.iter().all(|m| *m == want) {
                        text = format!("{name}: already {want}");
                    }
                    if !changed.is_empty() {
                        text.push_str(&format!(" (and restored: {})", changed.join("; ")));
                    }
                    text
                }
            };
            let reference = cluster.replace_or_apply(&policy, request.timeout).await?;
            state.own(reference);
            emit(out, &format!("  {text}\n"))?;
        }
        let spinner = crate::terminal::Spinner::start(format!(
            "waiting until Kyverno serves the policies in {want}"
        ));
        cluster.wait_policies_ready(&names, request.timeout).await?;
        if let Some(probe) = &probe {
            cluster
                .probe_mode(
                    probe,
                    &names,
                    request.mode == FailureMode::Enforce,
                    request.timeout,
                )
                .await?;
            drop(spinner);
            let seen = if request.mode == FailureMode::Enforce {
                "denied"
            } else {
                "admitted"
            };
            emit(
                out,
                &format!(
                    "  the webhook serves {want}: a dry run of the unsigned probe Pod is {seen}\n"
                ),
            )?;
        }
        Ok::<(), LabError>(())
    })??;
    state.mode = want;
    state.save(&session.workdir)?;
    Ok(exit_code::SUCCESS)
}
