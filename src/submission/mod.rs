//! Submissions: what `lab submit` packs and `lab grade` reads. Below `grade/`, above the record:
//! the archive format, its hostile reader and its deterministic writer.

pub mod archive;
pub mod sealed;
pub mod secrets;
pub mod statement;
pub mod token;
