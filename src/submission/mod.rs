//! Submissions: what `lab submit` packs and `lab grade` reads. Below `grade/`, above the record:
//! the archive format with its hostile reader and deterministic writer, the sealed in-toto
//! statement, the secret scan, learner tokens, packing and opening.

pub mod archive;
pub mod error;
mod json;
pub mod names;
pub mod open;
pub mod pack;
pub mod sealed;
pub mod secrets;
pub mod statement;
pub mod token;

pub use error::SubmissionError;
