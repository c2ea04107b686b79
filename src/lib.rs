//! courselab: the `lab` command that runs and grades the labs of a Kubernetes
//! supply-chain-security course. `main.rs` only calls [`run`].

pub mod atomic;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod content;
pub mod engine;
pub mod error;
pub mod exit_code;
pub mod grade;
pub mod input;
pub mod policy;
pub mod record;
pub mod report;
pub mod runtime;
pub mod spanned;
pub mod suite;
pub mod supply;
pub mod terminal;
pub mod text;
pub mod walkthrough;
pub mod wildcard;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use cli::{Cli, CliCommand, ColorChoice};
pub use error::LabError;

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
        format: report::Format,
    },
    /// `lab verify`.
    Verify(Box<commands::verify::VerifyRequest>),
    /// `lab test`.
    Test(Box<commands::test::TestRequest>),
    /// `lab admit`.
    Admit(Box<commands::admit::AdmitRequest>),
    /// `lab start`.
    #[cfg(feature = "live")]
    Start(Box<commands::start::StartRequest>),
    /// `lab check`.
    #[cfg(feature = "live")]
    Check(Box<commands::check::CheckRequest>),
    /// `lab enforce` and `lab audit`.
    #[cfg(feature = "live")]
    Mode(Box<commands::mode::ModeRequest>),
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
    Walk(Box<commands::walk::WalkCommand>),
    /// `lab stop`.
    #[cfg(feature = "live")]
    Stop(Box<commands::stop::StopRequest>),
    /// `lab doctor`.
    #[cfg(feature = "live")]
    Doctor {
        /// The chapter.
        chapter: Option<String>,
        /// An existing cluster's context.
        context: Option<String>,
        /// Kyverno is there already.
        kyverno_existing: bool,
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
    Solve(Box<commands::solve::SolveRequest>),
    /// `lab rehearse`.
    #[cfg(feature = "live")]
    Rehearse(Box<commands::rehearse::RehearseRequest>),
    /// `lab list`.
    List {
        /// JSON output.
        json: bool,
    },
}

impl cli::VerifyArgs {
    fn into_request(self) -> commands::verify::VerifyRequest {
        let signer = match self.key {
            Some(key) => commands::verify::SignerArgs::Key(key),
            None => commands::verify::SignerArgs::Keyless {
                identity: self.certificate_identity,
                identity_regexp: self.certificate_identity_regexp,
                issuer: self.certificate_oidc_issuer,
                issuer_regexp: self.certificate_oidc_issuer_regexp,
                ca_roots: self.ca_roots,
                rekor_public_key: self.rekor_public_key,
                insecure_ignore_tlog: self.insecure_ignore_tlog,
            },
        };
        commands::verify::VerifyRequest {
            image: self.image,
            signer,
            attestation_type: self.attestation_type,
            insecure: self.insecure,
            layout: self.layout,
            json: self.json,
        }
    }
}

impl cli::TestArgs {
    fn into_request(self, course: Option<PathBuf>) -> commands::test::TestRequest {
        use commands::test::{RunOptions, TestAction};
        let action = if self.write_fixtures {
            TestAction::WriteFixtures
        } else if let Some(dir) = self.export {
            TestAction::Export(dir)
        } else {
            TestAction::Run(RunOptions {
                registry: self.registry,
                insecure: self.insecure,
                push: self.push,
                no_mutations: self.no_mutations,
                format: self.format.into(),
            })
        };
        commands::test::TestRequest {
            chapters: self.chapters,
            course,
            set: self.set,
            action,
        }
    }
}

#[cfg(feature = "live")]
impl cli::StartArgs {
    fn into_request(self) -> commands::start::StartRequest {
        commands::start::StartRequest {
            chapter: self.chapter,
            context: self.context,
            kyverno: match self.kyverno {
                cli::KyvernoArg::Install => commands::start::KyvernoSource::Install,
                cli::KyvernoArg::Existing => commands::start::KyvernoSource::Existing,
            },
            set: self.set,
            base_image_layout: self.base_image_layout,
            timeout: std::time::Duration::from_secs(self.timeout),
            yes: self.yes,
            manual_run: self.manual_run,
        }
    }
}

#[cfg(feature = "live")]
impl cli::ModeArgs {
    fn into_request(self, mode: content::model::FailureMode) -> commands::mode::ModeRequest {
        commands::mode::ModeRequest {
            chapter: self.chapter,
            mode,
            timeout: std::time::Duration::from_secs(self.timeout),
        }
    }
}

impl Cli {
    /// Turns parsed arguments into the config and command the rest of `lab` uses.
    pub fn into_command(self) -> (Config, Command) {
        let color = match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        let command = match self.command {
            CliCommand::Validate { mut paths, format } => {
                if paths.is_empty() {
                    paths.push(self.course.clone().unwrap_or_else(|| PathBuf::from(".")));
                }
                Command::Validate {
                    paths,
                    format: format.into(),
                }
            }
            CliCommand::List { json } => Command::List { json },
            #[cfg(feature = "live")]
            CliCommand::Start(args) => Command::Start(Box::new(args.into_request())),
            #[cfg(feature = "live")]
            CliCommand::Render { chapter, file, set } => Command::Render { chapter, file, set },
            #[cfg(feature = "live")]
            CliCommand::Doctor {
                chapter,
                context,
                kyverno,
                json,
            } => Command::Doctor {
                chapter,
                context,
                kyverno_existing: kyverno == cli::KyvernoArg::Existing,
                json,
            },
            #[cfg(feature = "live")]
            CliCommand::Solve {
                chapter,
                step,
                run,
                set,
                timeout,
            } => Command::Solve(Box::new(commands::solve::SolveRequest {
                chapter,
                step,
                run,
                set,
                timeout: std::time::Duration::from_secs(timeout),
            })),
            #[cfg(feature = "live")]
            CliCommand::Rehearse(args) => {
                let args = *args;
                Command::Rehearse(Box::new(commands::rehearse::RehearseRequest {
                    start: args.start.into_request(),
                    step_timeout: std::time::Duration::from_secs(args.step_timeout),
                    settle: std::time::Duration::from_secs(args.settle),
                    keep: args.keep,
                    format: args.format.into(),
                }))
            }
            #[cfg(feature = "live")]
            CliCommand::Check(args) => Command::Check(Box::new(commands::check::CheckRequest {
                chapter: args.chapter,
                step: args.step,
                context: args.context,
                wait: std::time::Duration::from_secs(args.wait),
                json: args.json,
            })),
            #[cfg(feature = "live")]
            CliCommand::Enforce(args) => Command::Mode(Box::new(
                args.into_request(content::model::FailureMode::Enforce),
            )),
            #[cfg(feature = "live")]
            CliCommand::Audit(args) => Command::Mode(Box::new(
                args.into_request(content::model::FailureMode::Audit),
            )),
            #[cfg(feature = "live")]
            CliCommand::Status { chapter, done_when } => Command::Status { chapter, done_when },
            #[cfg(feature = "live")]
            CliCommand::Walkthrough(args) => Command::Walk(Box::new(
                commands::walk::WalkCommand::Walkthrough(commands::walk::WalkRequest {
                    chapter: args.chapter,
                    manual_run: args.manual_run,
                    yes: args.yes,
                    answers: args.answers,
                    world: args.world,
                    wait: std::time::Duration::from_secs(args.wait),
                    context: None,
                }),
            )),
            #[cfg(feature = "live")]
            CliCommand::Next(args) => Command::Walk(Box::new(commands::walk::WalkCommand::Next(
                commands::walk::WalkRequest {
                    chapter: args.chapter,
                    world: args.world,
                    wait: std::time::Duration::from_secs(args.wait),
                    yes: true,
                    ..Default::default()
                },
            ))),
            #[cfg(feature = "live")]
            CliCommand::Quiz {
                chapter,
                answers,
                json,
                practice,
            } => Command::Walk(Box::new(commands::walk::WalkCommand::Quiz {
                chapter,
                answers,
                json,
                practice,
            })),
            #[cfg(feature = "live")]
            CliCommand::Hint { chapter, step } => {
                Command::Walk(Box::new(commands::walk::WalkCommand::Hint {
                    chapter,
                    step,
                }))
            }
            #[cfg(feature = "live")]
            CliCommand::Reset { chapter, step, yes } => {
                Command::Walk(Box::new(commands::walk::WalkCommand::Reset {
                    chapter,
                    step,
                    yes,
                }))
            }
            #[cfg(feature = "live")]
            CliCommand::Runbook { chapter, section } => {
                Command::Walk(Box::new(commands::walk::WalkCommand::Runbook {
                    chapter,
                    section,
                }))
            }
            #[cfg(feature = "live")]
            CliCommand::Steps { chapter } => {
                Command::Walk(Box::new(commands::walk::WalkCommand::Steps { chapter }))
            }
            #[cfg(feature = "live")]
            CliCommand::Stop { chapter, delete } => {
                Command::Stop(Box::new(commands::stop::StopRequest { chapter, delete }))
            }
            CliCommand::Verify(args) => Command::Verify(Box::new(args.into_request())),
            CliCommand::Test(args) => {
                Command::Test(Box::new(args.into_request(self.course.clone())))
            }
            CliCommand::Admit(args) => Command::Admit(Box::new(commands::admit::AdmitRequest {
                file: args.file,
                policies: match args.chapter {
                    Some(id) => commands::admit::PolicySource::Chapter {
                        id,
                        mode: match args.mode {
                            cli::ModeArg::Audit => content::model::FailureMode::Audit,
                            cli::ModeArg::Enforce => content::model::FailureMode::Enforce,
                        },
                    },
                    None => commands::admit::PolicySource::Files(args.policy),
                },
                set: args.set,
                layouts: args.layouts,
                insecure: args.insecure,
                json: args.json,
            })),
        };
        (
            Config {
                course: self.course,
                color,
            },
            command,
        )
    }
}

/// Runs one command and returns the process exit code; errors are printed to stderr.
pub fn run(cli: Cli) -> u8 {
    let (config, command) = cli.into_command();
    let mut stdout = std::io::stdout().lock();
    let result = match command {
        Command::Validate { paths, format } => {
            commands::validate::run(&paths, format, config.color, &mut stdout)
        }
        Command::List { json } => commands::list::run(&config, json, &mut stdout),
        #[cfg(feature = "live")]
        Command::Start(request) => commands::start::run(&config, &request, &mut stdout),
        #[cfg(feature = "live")]
        Command::Check(request) => commands::check::run(&config, &request, &mut stdout),
        #[cfg(feature = "live")]
        Command::Mode(request) => commands::mode::run(&config, &request, &mut stdout),
        #[cfg(feature = "live")]
        Command::Status { chapter, done_when } => {
            commands::status::run(&config, chapter.as_deref(), done_when, &mut stdout)
        }
        #[cfg(feature = "live")]
        Command::Walk(command) => commands::walk::run(&config, &command, &mut stdout),
        #[cfg(feature = "live")]
        Command::Stop(request) => commands::stop::run(&config, &request, &mut stdout),
        #[cfg(feature = "live")]
        Command::Doctor {
            chapter,
            context,
            kyverno_existing,
            json,
        } => commands::doctor::run(
            &config,
            chapter.as_deref(),
            context.as_deref(),
            kyverno_existing,
            json,
            &mut stdout,
        ),
        #[cfg(feature = "live")]
        Command::Render { chapter, file, set } => {
            commands::render::run(&config, &chapter, &file, &set, &mut stdout)
        }
        #[cfg(feature = "live")]
        Command::Solve(request) => commands::solve::run(&config, &request, &mut stdout),
        #[cfg(feature = "live")]
        Command::Rehearse(request) => commands::rehearse::run(&config, &request, &mut stdout),
        Command::Verify(request) => commands::verify::run(&request, &mut stdout),
        Command::Test(request) => commands::test::run(&request, config.color, &mut stdout),
        Command::Admit(request) => commands::admit::run(&config, &request, &mut stdout),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            let code = error.exit_code();
            if code != exit_code::SUCCESS {
                let _ = writeln!(std::io::stderr(), "error: {error}");
            }
            code
        }
    }
}
