//! `lab test`: a chapter's policy cases, in the `kyverno test` file format, run offline with
//! the admission evaluator over fixture images (OCI layouts) or a live registry, and mutations
//! of the chapter that the cases must notice. The engine here returns a [`run::SuiteReport`];
//! rendering it is [`crate::report::suite`]'s business.

pub mod export;
pub mod fixtures;
pub mod model;
pub mod prepare;
pub mod run;

use crate::content::Diagnostic;
use crate::exit_code;
use crate::policy::render::RenderError;
use crate::supply::SupplyError;

/// Why a suite could not run (failing cases are results, not errors).
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// A test, resource or lab file is wrong; the diagnostics say where.
    #[error("{}", crate::content::diagnostic::one_line_each(.0))]
    Invalid(Vec<Diagnostic>),
    /// The chapter could not be read or rendered.
    #[error(transparent)]
    Content(#[from] crate::content::ContentError),
    /// A policy or resource could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Images could not be read or written.
    #[error(transparent)]
    Supply(#[from] SupplyError),
    /// The async runtime could not start.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeUnavailable),
    /// A file or folder is in the way of one `lab` would write, and `lab` did not create it
    /// (it has no fixture marker), so it is left alone.
    #[error("{} exists, but lab did not write it (it has no {} file), so it will not {role} it; move it away, or point `tests.images` in the lab file at a folder of fixture layouts", path.display(), fixtures::MARKER)]
    NotOurs {
        /// What is in the way.
        path: std::path::PathBuf,
        /// What `lab` would have done to it (`replace`, `remove`).
        role: String,
    },
    /// A fixture image has no layout to push from.
    #[error("no fixture layout {} for {image}; run `lab test --write-fixtures` first", path.display())]
    NoFixtureLayout {
        /// The image.
        image: String,
        /// Where its layout should be.
        path: std::path::PathBuf,
    },
    /// The `--export` folder already holds something.
    #[error("{} exists and is not an empty folder; export into a new folder", dir.display())]
    ExportNotEmpty {
        /// The folder.
        dir: std::path::PathBuf,
    },
    /// The registry refused a push.
    #[error("the registry refused {image}; is it a registry you may push to?")]
    PushRefused {
        /// What was pushed.
        image: String,
    },
    /// The command asked for something the chapter cannot give.
    #[error("{0}")]
    Usage(String),
    /// A file could not be written (fixture layouts, keys, exported tests).
    #[error("could not write {}: {source}; check the free space and that you may write there", path.display())]
    Write {
        /// The file or folder.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl SuiteError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            SuiteError::Supply(e) => e.exit_code(),
            SuiteError::Write { .. } => exit_code::WRITE_FAILED,
            SuiteError::Runtime(e) => e.exit_code(),
            _ => exit_code::BAD_CONTENT_OR_USAGE,
        }
    }
}
