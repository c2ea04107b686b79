//! `lab doctor [CHAPTER]`: what the lab needs of this machine, each problem with its fix.
//! The same checks open `lab start`, which creates nothing when one fails.

use std::io::Write;
use std::path::Path;

use super::Config;
use super::emit;
use super::session::Session;
use crate::backend::doctor::{Finding, Level, doctor};
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
    bundle: Option<&Path>,
    json: bool,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let session = Session::open(config, chapter, &[])?;
    let kind = context.is_none()
        && session
            .state
            .as_ref()
            .is_none_or(|s| s.kind_cluster.is_some() || s.context.is_empty());
    let mut findings = doctor(&SystemHost, &session.chapter.lab, kind, !kyverno_existing);
    if let Some(file) = bundle {
        findings.extend(bundle_findings(&session, file)?);
    }
    // Only what stops `lab start` fails the doctor: a learner's tool matters to its step.
    let blocking = findings.iter().filter(|f| f.blocks_start()).count();
    let mut again = format!("lab doctor {}", session.id());
    if let Some(context) = context {
        again.push_str(&format!(" --context {context}"));
    }
    if kyverno_existing {
        again.push_str(" --kyverno existing");
    }
    if let Some(file) = bundle {
        again.push_str(&format!(" --bundle {}", file.display()));
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

/// Whether the bundle at `file` is whole and holds everything the lab needs: one finding for
/// the bundle itself, then one for each thing the lab downloads when it starts.
fn bundle_findings(session: &Session, file: &Path) -> Result<Vec<Finding>, LabError> {
    let shown = crate::text::printable(&file.display().to_string()).into_owned();
    let verified = crate::bundle::verify(file)?;
    let mut findings = Vec::new();
    let again = format!(
        "make it again with `lab bundle create {}`, or copy it again from where it was made",
        session.id()
    );
    findings.push(match verified.problems.first() {
        None => Finding {
            check: "bundle".into(),
            level: Level::Ok,
            found: format!(
                "{shown}: {} files ({}), every one as its manifest lists it",
                verified.files,
                crate::supply::store::human_size(verified.bytes)
            ),
            fix: None,
        },
        Some(problem) => Finding {
            check: "bundle".into(),
            level: Level::Problem,
            found: format!(
                "{shown} is not what its manifest says: {problem} ({} problem(s) in all; `lab bundle verify {shown}` lists them)",
                verified.problems.len()
            ),
            fix: Some(again.clone()),
        },
    });
    let needs = super::bundle::lab_needs(&session.chapter)?;
    for holding in crate::bundle::holds::holds(&verified.manifest, &needs, &session.id()) {
        findings.push(match holding.found {
            Ok(digest) => Finding {
                check: format!("bundle: {}", holding.what),
                level: Level::Ok,
                found: digest,
                fix: None,
            },
            Err(why) => Finding {
                check: format!("bundle: {}", holding.what),
                level: Level::Problem,
                found: why,
                fix: Some(again.clone()),
            },
        });
    }
    Ok(findings)
}
