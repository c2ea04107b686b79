//! `lab doctor [CHAPTER]`: what the lab needs of this machine, each problem with its fix.
//! The same checks open `lab start`, which creates nothing when one fails.

use std::io::Write;

use super::Config;
use super::emit;
use super::session::Session;
use crate::backend::doctor::{Finding, Level, doctor};
use crate::backend::host::SystemHost;
use crate::error::LabError;
use crate::exit_code;

/// Renders findings, a line each, the fix under each problem.
pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let mark = match f.level {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Problem => "PROBLEM",
        };
        out.push_str(&format!("  {mark:<8} {}: {}\n", f.check, f.found));
        if let Some(fix) = &f.fix {
            out.push_str(&format!("           fix: {fix}\n"));
        }
    }
    out
}

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
    let problems = findings
        .iter()
        .filter(|f| f.level == Level::Problem)
        .count();
    if json {
        let doc = serde_json::json!({"schema_version": 1, "chapter": session.id(), "problems": problems, "findings": findings});
        emit(
            out,
            &(serde_json::to_string_pretty(&doc).expect("findings serialize") + "\n"),
        )?;
    } else {
        emit(
            out,
            &format!("lab doctor {}\n{}", session.id(), render(&findings)),
        )?;
        emit(
            out,
            &if problems == 0 {
                format!("ready for `lab start {}`\n", session.id())
            } else {
                format!(
                    "{problems} problem(s): fix them, then run `lab doctor {}` again\n",
                    session.id()
                )
            },
        )?;
    }
    Ok(if problems == 0 {
        exit_code::SUCCESS
    } else {
        exit_code::UNREACHABLE
    })
}
