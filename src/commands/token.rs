//! `lab token issue --key INSTRUCTOR.key --learner ID [--chapter CH] [--due DATE] [-o FILE]`: an
//! instructor's signed learner token (see [`crate::submission::token`]), which the learner gives
//! to `lab start --token` and `lab grade --instructor-key` verifies.

use std::io::Write;
use std::path::PathBuf;

use super::emit;
use crate::error::LabError;
use crate::submission::token::issue;

/// A validated `lab token issue`.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// The instructor's cosign private key.
    pub key: PathBuf,
    /// The learner's id.
    pub learner: String,
    /// The chapter the token is for, or any.
    pub chapter: Option<String>,
    /// When the work is due.
    pub due: Option<String>,
    /// Where to write it; `<learner>.token.json` here when `None`.
    pub output: Option<PathBuf>,
    /// Replace an existing file.
    pub force: bool,
}

/// Runs `lab token issue`.
pub fn issue_token(request: &IssueRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let output = request
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.token.json", request.learner)));
    // The learner id names the default file: it is checked before the path is used.
    crate::submission::token::check_learner_id(&request.learner)
        .map_err(|e| LabError::Usage(e.to_string()))?;
    if output.exists() && !request.force {
        return Err(LabError::Usage(format!(
            "{} exists already; pass --force to replace it, or -o to write elsewhere",
            output.display()
        )));
    }
    let key = super::read_signing_key(&request.key)?;
    let now = time::OffsetDateTime::now_utc();
    let token = issue(
        &request.learner,
        request.chapter.as_deref(),
        request.due.as_deref(),
        now,
        &key,
    )
    .map_err(|e| LabError::Usage(e.to_string()))?;
    crate::atomic::write(&output, &token).map_err(|source| LabError::Output {
        what: output.display().to_string(),
        source,
    })?;
    emit(
        out,
        &format!(
            "Wrote {}: give it to {} for `lab start{} --token {}`.\n",
            output.display(),
            request.learner,
            request
                .chapter
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default(),
            output.file_name().map_or_else(
                || output.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            )
        ),
    )?;
    Ok(crate::exit_code::SUCCESS)
}
