//! `lab doctor [CHAPTER]`: what the lab needs of this machine, each problem with its fix.
//! The same checks open `lab start`, which creates nothing when one fails.

use std::io::Write;

use super::Config;
use super::emit;
use super::session::Session;
use crate::backend::doctor::doctor;
use crate::backend::host::SystemHost;
use crate::error::LabError;
use crate::exit_code;
use crate::report;

/// Runs `lab doctor`.
pub fn run(
    config: &Config,
    chapter: Option<&str>,
    context: Option<&str>,
    kyverno_existing: bool,
    json: bool,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let session = Session::open(config, chapter, &[])?;
    let kind = context.is_none()
        && session
            .state
            .as_ref()
            .is_none_or(|s| s.kind_cluster.is_some() || s.context.is_empty());
    let findings = doctor(&SystemHost, &session.chapter.lab, kind, !kyverno_existing);
    // Only what stops `lab start` fails the doctor: a learner's tool matters to its step.
    let blocking = findings.iter().filter(|f| f.blocks_start()).count();
    let mut again = format!("lab doctor {}", session.id());
    if let Some(context) = context {
        again.push_str(&format!(" --context {context}"));
    }
    if kyverno_existing {
        again.push_str(" --kyverno existing");
    }
    let text = if json {
        report::doctor::json(&session.id(), &findings)
    } else {
        report::doctor::human(&session.id(), &findings, &again)
    };
    emit(out, &text)?;
    Ok(if blocking == 0 {
        exit_code::SUCCESS
    } else {
        exit_code::UNREACHABLE
    })
}
