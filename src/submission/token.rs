//! The learner token: what an instructor issues (`lab token issue --key INSTRUCTOR.key --learner
//! ID`) and a learner starts with (`lab start ch14 --token FILE`). It binds a learner id, maybe
//! a chapter and a due date, to a random nonce that `lab start` bakes into the seeded CI build, so
//! that every learner's promoted digest is their own. It is sealed like a statement (a DSSE
//! envelope in a Sigstore bundle) with its own payload type; `lab start` reads it without the
//! instructor's key, `lab grade` verifies it with that key.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, Time, UtcOffset};

use super::sealed::{SealError, SigningKey, TrustedKey, open_as, peek_as, seal_as};
use crate::text::printable;

/// The DSSE payload type of a token.
pub const TOKEN_PAYLOAD_TYPE: &str = "application/vnd.courselab.token+json";
/// The token's format version.
pub const TOKEN_FORMAT: u32 = 1;
/// Bytes of randomness in a nonce (written as twice as many hex digits).
const NONCE_BYTES: usize = 16;

/// A learner's token, as issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// Always [`TOKEN_FORMAT`].
    pub format: u32,
    /// The learner's id.
    pub learner: String,
    /// The chapter it is for, or any chapter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chapter: Option<String>,
    /// When the work is due, RFC 3339 in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// Lowercase hex, unique to this token.
    pub nonce: String,
    /// When it was issued, RFC 3339 in UTC.
    pub issued: String,
}

/// Why a token could not be issued or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// A learner id that cannot be one (empty, too long, odd characters).
    LearnerId(String),
    /// A due date that is not `YYYY-MM-DD` or RFC 3339.
    Due(String),
    /// The seal (not a token bundle, or not signed by the key given).
    Seal(SealError),
    /// The payload is not a token of a format this lab reads.
    Malformed(String),
    /// The system's randomness failed.
    Random,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::LearnerId(id) => write!(
                f,
                "`{}` cannot be a learner id: use 1 to 64 letters, digits, `.`, `_`, `-`, `+` or `@`",
                printable(id)
            ),
            TokenError::Due(due) => write!(
                f,
                "`{}` is not a due date: write YYYY-MM-DD (the end of that day, UTC) or an RFC 3339 time",
                printable(due)
            ),
            TokenError::Seal(e) => write!(f, "not a learner token: {e}"),
            TokenError::Malformed(why) => write!(f, "not a learner token: {why}"),
            TokenError::Random => write!(f, "the system's random number source failed"),
        }
    }
}

impl std::error::Error for TokenError {}

/// Checks a learner id: 1 to 64 ASCII letters, digits, `.`, `_`, `-`, `+` or `@`, not starting
/// with a dot or a dash (it names files and rows of reports).
pub fn check_learner_id(id: &str) -> Result<(), TokenError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with(['.', '-'])
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(TokenError::LearnerId(id.to_owned()))
    }
}

/// Reads a due date: `YYYY-MM-DD` is the last second of that day in UTC; an RFC 3339 time is
/// taken as written. Returns it in UTC.
pub fn parse_due(text: &str) -> Result<OffsetDateTime, TokenError> {
    let bad = || TokenError::Due(text.to_owned());
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at.to_offset(UtcOffset::UTC));
    }
    let day = Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| bad())?;
    Ok(day
        .with_time(Time::from_hms(23, 59, 59).expect("a valid time"))
        .assume_utc())
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("a UTC time formats as RFC 3339")
}

/// Issues a token for `learner`, sealed with the instructor's `key`.
pub fn issue(
    learner: &str,
    chapter: Option<&str>,
    due: Option<&str>,
    now: OffsetDateTime,
    key: &SigningKey,
) -> Result<Vec<u8>, TokenError> {
    check_learner_id(learner)?;
    let due = due.map(parse_due).transpose()?.map(rfc3339);
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|_| TokenError::Random)?;
    let token = Token {
        format: TOKEN_FORMAT,
        learner: learner.to_owned(),
        chapter: chapter.map(str::to_owned),
        due,
        nonce: hex::encode(nonce),
        issued: rfc3339(now.to_offset(UtcOffset::UTC)),
    };
    let payload = serde_json::to_vec(&token).expect("a token serializes");
    seal_as(&payload, TOKEN_PAYLOAD_TYPE, key).map_err(TokenError::Seal)
}

/// Reads a token without verifying who issued it (what `lab start --token` can do).
pub fn read_unverified(bundle: &[u8]) -> Result<Token, TokenError> {
    let payload = peek_as(bundle, TOKEN_PAYLOAD_TYPE).map_err(TokenError::Seal)?;
    parse(&payload)
}

/// Reads a token and verifies that the instructor's key issued it (what `lab grade` does).
pub fn verify(bundle: &[u8], instructor: &TrustedKey) -> Result<Token, TokenError> {
    let payload = open_as(bundle, TOKEN_PAYLOAD_TYPE, instructor).map_err(TokenError::Seal)?;
    parse(&payload)
}

fn parse(payload: &[u8]) -> Result<Token, TokenError> {
    let token: Token = serde_json::from_slice(payload)
        .map_err(|e| TokenError::Malformed(format!("line {}, column {}", e.line(), e.column())))?;
    if token.format != TOKEN_FORMAT {
        return Err(TokenError::Malformed(format!(
            "format {} (this lab reads {TOKEN_FORMAT})",
            token.format
        )));
    }
    check_learner_id(&token.learner)?;
    let hex = token.nonce.len() == 2 * NONCE_BYTES
        && token
            .nonce
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex {
        return Err(TokenError::Malformed(
            "its nonce is not 32 lowercase hex digits".to_owned(),
        ));
    }
    if let Some(due) = &token.due {
        parse_due(due)?;
    }
    Ok(token)
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
