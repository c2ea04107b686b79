//! Opening a submission as `lab grade` does: the archive read within limits, the sealed
//! statement opened with the key the grader trusts (the roster's, else the public key the
//! submission carries, which proves only that its author holds that key), the statement read,
//! and every file checked against its subject. What disagrees is returned as data, each a sign
//! of tampering, so that a class report can say it; only what makes the submission unreadable
//! is an error.

use std::sync::Arc;

use super::archive::{Files, Limits, read};
use super::error::{SubmissionError, Unopened};
use super::sealed::{TrustedKey, Unsealed};
use super::statement::{FileProblem, SEAL_FILE, Statement};
use crate::supply::attestation::IN_TOTO_PAYLOAD_TYPE;

/// Whose key the statement was verified with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFrom {
    /// The key the roster names for this learner.
    Roster,
    /// The public key the submission carries.
    Submission,
}

/// A submission whose seal verified.
#[derive(Debug)]
pub struct Opened {
    /// Every file of the archive, the sealed statement included (shared: the grader's layout
    /// store and working folder read the same map).
    pub files: Arc<Files>,
    /// The statement, verified.
    pub statement: Statement,
    /// The public key the submission carries, as PEM text.
    pub public_key: String,
    /// That key's hint (see `sealed::key_hint`): it names the key in a roster and a copy check.
    pub key_hint: String,
    /// Whose key verified the seal.
    pub key_from: KeyFrom,
    /// Files that disagree with the statement's subjects.
    pub tampering: Vec<FileProblem>,
}

/// Opens the archive `bytes`; `roster` is the learner's key as the instructor knows it.
pub fn open_submission(
    bytes: &[u8],
    limits: Limits,
    roster: Option<&TrustedKey>,
) -> Result<Opened, SubmissionError> {
    let files = read(bytes, limits)?;
    let seal = files
        .get(SEAL_FILE)
        .ok_or(SubmissionError::Unopened(Unopened::NoStatement))?;
    // Which file holds the public key is read before the seal is checked, and trusted only
    // once the seal verifies with that key (or the roster's).
    let unsealed = Unsealed::read(seal, IN_TOTO_PAYLOAD_TYPE)?;
    let statement = Statement::parse(unsealed.payload())?;
    let key_file = &statement.predicate.signing.public_key;
    let public_key = files
        .get(key_file)
        .ok_or_else(|| SubmissionError::Unopened(Unopened::NoPublicKey(key_file.clone())))?;
    let carried = TrustedKey::from_pem(public_key)?;
    let (key, key_from) = match roster {
        Some(key) => (key, KeyFrom::Roster),
        None => (&carried, KeyFrom::Submission),
    };
    // The statement read above is trusted from here on: it is the payload that verified.
    unsealed.verify(key)?;
    let tampering = statement.check_files(&files);
    Ok(Opened {
        public_key: String::from_utf8_lossy(public_key).into_owned(),
        key_hint: carried.hint().to_owned(),
        files: Arc::new(files),
        statement,
        key_from,
        tampering,
    })
}
