//! The validated command and the settings every command shares, as the command line decided
//! them once (`crate::cli` builds them), and the dispatch to each command's module.

use std::io::Write;
use std::path::PathBuf;

use super::*;
use crate::error::LabError;

/// Settings shared by every command, decided once from the command line and environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// A course working copy given by `--course` or `LAB_COURSE`; the built-in course otherwise.
    pub course: Option<PathBuf>,
    /// Whether to color human output.
    pub color: bool,
}

/// A validated command.
#[derive(Debug, Clone)]
pub enum Command {
    /// `lab validate`.
    Validate {
        /// What to validate; never empty.
        paths: Vec<PathBuf>,
        /// Output format.
        format: crate::report::Format,
    },
    /// `lab verify`.
    Verify(Box<verify::VerifyRequest>),
    /// `lab test`.
    Test(Box<test::TestRequest>),
    /// `lab admit`.
    Admit(Box<admit::AdmitRequest>),
    /// `lab start`.
    #[cfg(feature = "live")]
    Start(Box<start::StartRequest>),
    /// `lab check`.
    #[cfg(feature = "live")]
    Check(Box<check::CheckRequest>),
    /// `lab enforce` and `lab audit`.
    #[cfg(feature = "live")]
    Mode(Box<mode::ModeRequest>),
    /// `lab status`.
    #[cfg(feature = "live")]
    Status {
        /// The chapter.
        chapter: Option<String>,
        /// With the done-when summary.
        done_when: bool,
    },
    /// The walkthrough's commands.
    #[cfg(feature = "live")]
    Walk(Box<walk::WalkCommand>),
    /// `lab stop`.
    #[cfg(feature = "live")]
    Stop(Box<stop::StopRequest>),
    /// `lab doctor`.
    #[cfg(feature = "live")]
    Doctor {
        /// The chapter.
        chapter: Option<String>,
        /// An existing cluster's context.
        context: Option<String>,
        /// Kyverno is there already.
        kyverno_existing: bool,
        /// A venue bundle to check.
        bundle: Option<std::path::PathBuf>,
        /// JSON output.
        json: bool,
    },
    /// `lab render`.
    #[cfg(feature = "live")]
    Render {
        /// The chapter.
        chapter: String,
        /// The file.
        file: String,
        /// `--set` values.
        set: Vec<(String, String)>,
    },
    /// `lab solve`.
    #[cfg(feature = "live")]
    Solve(Box<solve::SolveRequest>),
    /// `lab rehearse`.
    #[cfg(feature = "live")]
    Rehearse(Box<rehearse::RehearseRequest>),
    /// `lab submit`.
    #[cfg(feature = "live")]
    Submit(Box<submit::SubmitRequest>),
    /// `lab grade`.
    Grade(Box<grade::GradeRequest>),
    /// `lab token issue`.
    TokenIssue(Box<token::IssueRequest>),
    /// `lab bundle verify`.
    BundleVerify(bundle::VerifyRequest),
    /// `lab bundle create`.
    BundleCreate(Box<bundle::CreateRequest>),
    /// `lab bundle serve`.
    BundleServe(bundle::ServeRequest),
    /// `lab list`.
    List {
        /// JSON output.
        json: bool,
    },
}

/// Runs `command`, writing its report to `out`; the exit code, or the error that stopped it.
pub fn run(config: &Config, command: Command, out: &mut impl Write) -> Result<u8, LabError> {
    let config = config.clone();
    match command {
        Command::Validate { paths, format } => validate::run(&paths, format, config.color, out),
        Command::List { json } => list::run(&config, json, out),
        #[cfg(feature = "live")]
        Command::Start(request) => start::run(&config, &request, out),
        #[cfg(feature = "live")]
        Command::Check(request) => check::run(&config, &request, out),
        #[cfg(feature = "live")]
        Command::Mode(request) => mode::run(&config, &request, out),
        #[cfg(feature = "live")]
        Command::Status { chapter, done_when } => {
            status::run(&config, chapter.as_deref(), done_when, out)
        }
        #[cfg(feature = "live")]
        Command::Walk(command) => walk::run(&config, &command, out),
        #[cfg(feature = "live")]
        Command::Stop(request) => stop::run(&config, &request, out),
        #[cfg(feature = "live")]
        Command::Doctor {
            chapter,
            context,
            kyverno_existing,
            bundle,
            json,
        } => doctor::run(
            &config,
            chapter.as_deref(),
            context.as_deref(),
            kyverno_existing,
            bundle.as_deref(),
            json,
            out,
        ),
        #[cfg(feature = "live")]
        Command::Render { chapter, file, set } => render::run(&config, &chapter, &file, &set, out),
        #[cfg(feature = "live")]
        Command::Solve(request) => solve::run(&config, &request, out),
        #[cfg(feature = "live")]
        Command::Rehearse(request) => rehearse::run(&config, &request, out),
        #[cfg(feature = "live")]
        Command::Submit(request) => submit::run(&config, &request, out),
        Command::Verify(request) => verify::run(&request, out),
        Command::Test(request) => test::run(&request, config.color, out),
        Command::Admit(request) => admit::run(&config, &request, out),
        Command::TokenIssue(request) => token::issue_token(&request, out),
        Command::BundleVerify(request) => bundle::verify(&request, out),
        Command::BundleCreate(request) => bundle::create(&config, &request, out),
        Command::BundleServe(request) => bundle::serve(&request, out),
        Command::Grade(request) => grade::run(&config, &request, out),
    }
}
