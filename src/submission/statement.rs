//! The evidence statement: an in-toto Statement (v1) whose subjects are every other file of the
//! submission with its sha256, and whose predicate says who submitted what, against which course,
//! with which `lab`, when (as the learner's machine claims), and what every check found. The
//! predicate's JSON Schema is generated from these types (`schemas/submission.schema.json`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::archive::Files;
use crate::engine::Status;
use crate::supply::Digest;
use crate::supply::digest::sha256_hex;

/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of a courselab submission.
pub const PREDICATE_TYPE: &str = "https://courselab.dev/submission/v1";
/// The predicate's format version; a grader refuses a later one it cannot read.
pub const SUBMISSION_FORMAT: u32 = 1;
/// The file of the archive holding the sealed statement; every other file is a subject.
pub const SEAL_FILE: &str = "statement.sigstore.json";

/// An in-toto Statement v1 with a submission predicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Always `https://in-toto.io/Statement/v1`.
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// Every file of the submission but the sealed statement, with its sha256.
    pub subject: Vec<Subject>,
    /// Always `https://courselab.dev/submission/v1`.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The submission.
    pub predicate: Submission,
}

/// One file of the submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Its path inside the archive.
    pub name: String,
    /// Its digests by algorithm; `sha256` (lowercase hex) is the one checked.
    pub digest: BTreeMap<String, String>,
}

/// What was submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Submission {
    /// The predicate's format version (1).
    pub format: u32,
    /// The learner's id, as they gave it to `lab submit`.
    pub learner: String,
    /// The chapter submitted.
    pub chapter: String,
    /// The course the work was done against.
    pub course: Course,
    /// The `lab` that packed the submission.
    pub tool: Tool,
    /// When the submission was packed, RFC 3339, as the learner's machine claims it (nothing
    /// here proves a time).
    pub claimed_time: String,
    /// How the statement and the image were signed.
    pub signing: Signing,
    /// The lab variables the learner set (`lab start --set`), other than files (a key's path
    /// says nothing a grader needs), so that the grader renders the checks as the learner's
    /// lab did.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// The promoted image, if the chapter has one: its cosign artifacts are in the archive's
    /// OCI layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// Every check of the chapter as `lab submit` ran it, in the chapter's order.
    pub checks: Vec<Outcome>,
    /// What each file of the archive is.
    pub files: Vec<Part>,
}

/// The course a submission was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Course {
    /// The lab's id.
    pub lab: String,
    /// The lab's `version:`, if it says one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `sha256:` of the lab's files, as the progress record stamps it.
    pub digest: String,
}

/// The tool that packed a submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// `lab`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// How a submission is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Signing {
    /// `key`: the statement is signed with the key that signed the image; `keyless`: the image
    /// is signed by an identity and the statement with a submission key the learner names.
    pub mode: SigningMode,
    /// The archive file holding the public key the statement verifies with.
    pub public_key: String,
    /// In keyless mode, the identity (certificate subject) that signed the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// The two signing modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SigningMode {
    /// Key-based.
    Key,
    /// Keyless (an OIDC identity signed the image).
    Keyless,
}

/// The promoted image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Image {
    /// The repository the cluster pulls it from.
    pub repository: String,
    /// Its manifest digest, `sha256:<hex>`.
    pub digest: String,
    /// The archive folder holding the OCI layout of its manifest, config, signature and
    /// attestations.
    pub layout: String,
    /// Always false: the image's own layers are left out of the layout (only its manifest and
    /// config are there, which is all a signature covers).
    pub layers_included: bool,
}

/// One check's result as `lab submit` ran it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// The step the check belongs to.
    pub step: String,
    /// The check's id.
    pub check: String,
    /// Its kind (`evidence-file`, `signature`, ...).
    pub kind: String,
    /// `pass`, `fail` or `error`.
    pub status: Status,
    /// What the check said.
    pub message: String,
    /// What it observed, as (what, value) pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<Observed>,
}

/// One thing a check observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observed {
    /// What it is (`running digest`, `signer`, ...).
    pub what: String,
    /// Its value.
    pub value: String,
}

/// One file of the archive and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// Its path inside the archive.
    pub name: String,
    /// What it is.
    pub role: Role,
}

/// What a file of a submission is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The learner's progress record.
    Progress,
    /// An evidence file one of the chapter's checks names.
    Evidence,
    /// The public key the statement verifies with.
    PublicKey,
    /// A file of the promoted image's OCI layout.
    Layout,
    /// What the cluster showed (Pods' image IDs, the policies as applied, reports, a denial).
    Cluster,
    /// The learner token the lab was started with.
    Token,
}

/// Why a statement could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementError {
    /// Not JSON of the statement's shape: what is wrong and where, never the text.
    Malformed {
        line: usize,
        column: usize,
        why: &'static str,
    },
    /// Another statement type.
    StatementType,
    /// Another predicate type.
    PredicateType,
    /// A later format than this `lab` reads.
    Format(u32),
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatementError::Malformed { line, column, why } => write!(
                f,
                "the statement is not a submission statement: {why} (line {line}, column {column})"
            ),
            StatementError::StatementType => {
                write!(f, "the statement's _type is not {STATEMENT_TYPE}")
            }
            StatementError::PredicateType => {
                write!(f, "the statement's predicateType is not {PREDICATE_TYPE}")
            }
            StatementError::Format(n) => write!(
                f,
                "the submission is in format {n}, which this lab does not read (it reads {SUBMISSION_FORMAT}): grade it with a newer lab"
            ),
        }
    }
}

impl std::error::Error for StatementError {}

impl Statement {
    /// A statement of `predicate` whose subjects are `files` (the sealed statement left out).
    pub fn new(files: &Files, predicate: Submission) -> Self {
        Statement {
            statement_type: STATEMENT_TYPE.to_owned(),
            subject: files
                .iter()
                .filter(|(name, _)| name.as_str() != SEAL_FILE)
                .map(|(name, data)| Subject {
                    name: name.clone(),
                    digest: BTreeMap::from([(
                        "sha256".to_owned(),
                        Digest::sha256_of(data).hex().to_owned(),
                    )]),
                })
                .collect(),
            predicate_type: PREDICATE_TYPE.to_owned(),
            predicate,
        }
    }

    /// The statement as signed: compact JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a statement serializes")
    }

    /// Reads a statement from the payload of its seal.
    pub fn parse(payload: &[u8]) -> Result<Self, StatementError> {
        let statement: Statement =
            super::json::parse(payload, "a field is missing, unknown or of the wrong type")
                .map_err(|p| StatementError::Malformed {
                    line: p.line,
                    column: p.column,
                    why: p.why,
                })?;
        if statement.statement_type != STATEMENT_TYPE {
            return Err(StatementError::StatementType);
        }
        if statement.predicate_type != PREDICATE_TYPE {
            return Err(StatementError::PredicateType);
        }
        if statement.predicate.format > SUBMISSION_FORMAT {
            return Err(StatementError::Format(statement.predicate.format));
        }
        Ok(statement)
    }

    /// Everything about `files` that disagrees with the subjects: a file the statement does not
    /// name, a subject with no file, a file whose sha256 differs, a subject named twice or
    /// without a sha256. Empty when the archive is exactly what was signed.
    pub fn check_files(&self, files: &Files) -> Vec<FileProblem> {
        let mut problems = Vec::new();
        let mut named = BTreeSet::new();
        for subject in &self.subject {
            if !named.insert(subject.name.as_str()) {
                problems.push(FileProblem::NamedTwice(subject.name.clone()));
                continue;
            }
            let Some(want) = subject.digest.get("sha256") else {
                problems.push(FileProblem::NoDigest(subject.name.clone()));
                continue;
            };
            match files.get(&subject.name) {
                None => problems.push(FileProblem::Missing(subject.name.clone())),
                Some(data) if !want.as_bytes().eq_ignore_ascii_case(&sha256_hex(data)) => {
                    problems.push(FileProblem::Changed(subject.name.clone()));
                }
                Some(_) => {}
            }
        }
        for name in files.keys() {
            if name != SEAL_FILE && !named.contains(name.as_str()) {
                problems.push(FileProblem::Extra(name.clone()));
            }
        }
        problems
    }
}

/// A disagreement between the archive and the statement's subjects: each is tampering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// A subject with no file.
    Missing(String),
    /// A file no subject names.
    Extra(String),
    /// A file whose sha256 is not the subject's.
    Changed(String),
    /// A subject named twice.
    NamedTwice(String),
    /// A subject without a sha256.
    NoDigest(String),
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::text::printable;
        match self {
            FileProblem::Missing(n) => write!(f, "`{}` was signed but is missing", printable(n)),
            FileProblem::Extra(n) => write!(f, "`{}` was added after signing", printable(n)),
            FileProblem::Changed(n) => write!(f, "`{}` was changed after signing", printable(n)),
            FileProblem::NamedTwice(n) => {
                write!(f, "`{}` is named twice in the statement", printable(n))
            }
            FileProblem::NoDigest(n) => {
                write!(f, "`{}` has no sha256 in the statement", printable(n))
            }
        }
    }
}

/// The predicate's JSON Schema, for `schemas/submission.schema.json`.
pub fn schema() -> (&'static str, String) {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<Statement>();
    schema.insert(
        "title".into(),
        "courselab submission statement (an in-toto Statement v1 with the https://courselab.dev/submission/v1 predicate)".into(),
    );
    (
        "submission.schema.json",
        serde_json::to_string_pretty(&schema).expect("schemas serialize") + "\n",
    )
}

#[cfg(test)]
#[path = "statement_tests.rs"]
mod tests;
