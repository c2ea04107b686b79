//! The course: its typed model, how it is read (from disk or the binary), and how it is
//! validated. Everything here is synchronous and pure over a [`CourseFiles`] snapshot.

pub mod chapter;
pub mod diagnostic;
pub mod files;
pub mod load;
pub mod model;
pub mod paths;
pub mod schema;
pub mod script;
pub mod validate;
pub mod yaml;

use std::path::PathBuf;

pub use diagnostic::{Diagnostic, Severity, ValidationReport};
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
    /// Problems in the content, each at its place (a chapter command shows them as `lab
    /// validate` does).
    #[error("{}", diagnostic::one_line_each(.0))]
    Invalid(Vec<Diagnostic>),
    /// A policy or manifest of a chapter could not be rendered.
    #[error(transparent)]
    Render(#[from] crate::policy::render::RenderError),
    /// `--set` names a variable the lab does not have.
    #[error("--set {name}=...: the lab {lab} has no variable `{name}`{}; the lab file lists its variables under `variables:`", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownVariable {
        /// The name given.
        name: String,
        /// The lab's id.
        lab: String,
        /// The closest variable name.
        suggestion: Option<String>,
    },
    /// The file of a `from_file` variable is there but cannot be used.
    #[error("the value of `{name}` is read from a file: {source}")]
    VariableFile {
        /// The variable.
        name: String,
        /// Why the file cannot be used.
        source: crate::input::InputError,
    },
    /// The file of a `from_file` variable is not a PEM public key; its content is never shown.
    #[error("{}: cannot be the value of `{name}`: {problem}; give a public key: run `cosign generate-key-pair` and pass the .pub file it writes, e.g. --set {name}=cosign.pub", path.display())]
    NotAPublicKey {
        /// The variable.
        name: String,
        /// The file.
        path: std::path::PathBuf,
        /// What the file holds instead.
        problem: crate::supply::public_key::NotAPublicKey,
    },
    /// A `from_file` variable has no value because its file does not exist.
    #[error("{error}\n  note: `{name}` is read from a file{}; pass --set {name}=PATH to a readable file", default.as_ref().map(|d| format!(" (by default `{d}`, relative to the current directory), which does not exist")).unwrap_or_default())]
    MissingVariableFile {
        /// The variable.
        name: String,
        /// Its default path, if any.
        default: Option<String>,
        /// The placeholder that needed it.
        error: crate::policy::render::RenderError,
    },
    /// A file a chapter names is not a YAML file of the course.
    #[error("{file} does not exist or is not a YAML file")]
    NotYaml {
        /// The file, as shown.
        file: String,
    },
    /// A test variable's file is in the built-in course, which has no files on disk.
    #[error(
        "the test variable `{name}` is read from {key}, which the built-in course does not carry on disk; run in a course checkout or pass --course DIR"
    )]
    NotOnDisk {
        /// The variable.
        name: String,
        /// The course key of its file.
        key: String,
    },
    /// A lab id or alias names no lab.
    #[error("no chapter is called `{id}`{}; run `lab list` to see the chapters", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownLab {
        /// What the user typed.
        id: String,
        /// The closest id or alias.
        suggestion: Option<String>,
    },
}
