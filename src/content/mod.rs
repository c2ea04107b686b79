//! The course: its typed model, how it is read (from disk or the binary), and how it is
//! validated. Everything here is synchronous and pure over a [`CourseFiles`] snapshot.

pub mod diagnostic;
pub mod files;
pub mod load;
pub mod model;
pub mod paths;
pub mod render;
pub mod schema;
pub mod validate;
pub mod yaml;

use std::path::PathBuf;

pub use diagnostic::{Diagnostic, Severity};
pub use files::{CourseFiles, Selection};

/// Why course content could not be read at all (problems *in* the content are diagnostics).
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// The path is not inside a course.
    #[error(
        "{} is not inside a course: no `labs/` folder there or above it; pass a course root, a chapter folder or a course file, or use --course DIR",
        path.display()
    )]
    NotACourse {
        /// The path given.
        path: PathBuf,
    },
    /// A file or folder could not be read.
    #[error("cannot read {}: {source}; check that it exists and that you may read it", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file named on the command line could not be read (missing, not a file, too large,
    /// not UTF-8).
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    /// A lab id or alias names no lab.
    #[error("no chapter is called `{id}`{}; run `lab list` to see the chapters", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownLab {
        /// What the user typed.
        id: String,
        /// The closest id or alias.
        suggestion: Option<String>,
    },
}
