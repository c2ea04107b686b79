//! The submission layer's one error: what stops `lab submit` from packing, `lab token` from
//! issuing, or a submission from being read at all.

use super::archive::ArchiveError;
use super::sealed::SealError;
use super::secrets::Finding;
use super::statement::{SEAL_FILE, StatementError};
use super::token::TokenError;
use crate::exit_code;

/// Why a submission could not be packed or read.
#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    /// The archive is not one `lab grade` reads.
    #[error("not a submission lab can read: {0}")]
    Archive(#[from] ArchiveError),
    /// A key could not be used, or a seal did not open.
    #[error("{0}")]
    Seal(#[from] SealError),
    /// The statement could not be read.
    #[error("{0}")]
    Statement(#[from] StatementError),
    /// A token could not be issued or read.
    #[error("{0}")]
    Token(#[from] TokenError),
    /// Files that would be packed hold secrets.
    #[error("{}", secrets(.0))]
    Secrets(Vec<Finding>),
    /// The archive is not a submission.
    #[error("not a submission lab can read: {0}")]
    Unopened(#[from] Unopened),
    /// A file whose name an archive cannot hold.
    #[error("a submission cannot hold `{name}`: it {reason}")]
    Name {
        /// The name.
        name: String,
        /// Why not.
        reason: &'static str,
    },
}

fn secrets(findings: &[Finding]) -> String {
    let mut text = String::from(
        "nothing was packed: these files hold what looks like a secret, which must never leave your machine:\n",
    );
    for finding in findings {
        text.push_str(&format!("  {finding}\n"));
    }
    text.push_str(
        "remove the secret from each file (or the file from the folder the lab reads), then run lab submit again",
    );
    text
}

impl SubmissionError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            SubmissionError::Seal(SealError::BadSignature { .. }) => exit_code::VERIFICATION_FAILED,
            _ => exit_code::BAD_CONTENT_OR_USAGE,
        }
    }
}

/// Why a submission could not be opened, beyond the archive itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unopened {
    /// No sealed statement.
    #[error("it holds no {SEAL_FILE} (lab submit writes one into every file)")]
    NoStatement,
    /// The public key the statement names is missing.
    #[error("the public key `{0}` the statement names is not in it")]
    NoPublicKey(String),
}
