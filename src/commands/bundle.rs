//! `lab bundle verify`: a venue bundle checked file by file against its manifest.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use crate::bundle::{self, MANIFEST_FILE};
use crate::error::LabError;
use crate::exit_code;
use crate::text::printable;

/// What `lab bundle verify` was asked.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// The bundle.
    pub file: PathBuf,
    /// JSON output.
    pub json: bool,
}

/// The `lab bundle verify --json` document.
#[derive(Serialize)]
struct Report<'a> {
    schema_version: u32,
    bundle: String,
    lab: &'a str,
    files: usize,
    bytes: u64,
    verified: bool,
    problems: Vec<String>,
}

/// Verifies the bundle and says so: exit 0 when every file is as listed, 4 when one is not.
pub fn verify(request: &VerifyRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let verified = bundle::verify(&request.file)?;
    let shown = printable(&request.file.display().to_string()).into_owned();
    let lab = printable(&verified.manifest.lab);
    let ok = verified.problems.is_empty();
    let text = if request.json {
        let report = Report {
            schema_version: 1,
            bundle: shown,
            lab: &lab,
            files: verified.files,
            bytes: verified.bytes,
            verified: ok,
            problems: verified.problems.iter().map(ToString::to_string).collect(),
        };
        serde_json::to_string_pretty(&report).expect("a report serializes") + "\n"
    } else if ok {
        format!(
            "{shown}: a bundle for {lab}, {} files ({}): every file is as {MANIFEST_FILE} lists it\n",
            verified.files,
            crate::supply::store::human_size(verified.bytes)
        )
    } else {
        let mut text = format!(
            "{shown}: a bundle for {lab}, {} files ({}), and {} problem(s): it is not what its {MANIFEST_FILE} says\n",
            verified.files,
            crate::supply::store::human_size(verified.bytes),
            verified.problems.len()
        );
        for problem in &verified.problems {
            text.push_str(&format!("  {problem}\n"));
        }
        text.push_str("do not use it: copy the bundle again from where it was made\n");
        text
    };
    out.write_all(text.as_bytes())
        .map_err(|source| LabError::Output {
            what: "the report".into(),
            source,
        })?;
    Ok(if ok {
        exit_code::SUCCESS
    } else {
        exit_code::VERIFICATION_FAILED
    })
}
