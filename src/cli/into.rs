//! The command line turned once into the validated [`Command`] and [`Config`] the rest of
//! `lab` uses; nothing below this module sees clap's types.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::args::*;
use crate::commands::{self, Command, Config};
use crate::content;
use crate::report::Format;

impl VerifyArgs {
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

impl TestArgs {
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
impl StartArgs {
    fn into_request(self) -> commands::start::StartRequest {
        commands::start::StartRequest {
            chapter: self.chapter,
            context: self.context,
            kyverno: match self.kyverno {
                KyvernoArg::Install => commands::start::KyvernoSource::Install,
                KyvernoArg::Existing => commands::start::KyvernoSource::Existing,
            },
            set: self.set,
            base_image_layout: self.base_image_layout,
            from: match (self.bundle, self.mirror) {
                (Some(file), _) => Some(commands::start::From::Bundle(file)),
                (None, Some(host)) => Some(commands::start::From::Mirror(host)),
                (None, None) => None,
            },
            timeout: std::time::Duration::from_secs(self.timeout),
            yes: self.yes,
            manual_run: self.manual_run,
            token: self.token,
        }
    }
}

#[cfg(feature = "live")]
impl ModeArgs {
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
            CliCommand::Grade(args) => {
                let args = *args;
                Command::Grade(Box::new(commands::grade::GradeRequest {
                    paths: args.paths,
                    answer_key: args.answer_key,
                    due: args.due,
                    instructor_key: args.instructor_key,
                    formats: if args.json {
                        vec![Format::Json]
                    } else {
                        args.format.iter().map(|f| Format::from(*f)).collect()
                    },
                    output: args.output,
                    pass_mark: args.pass_mark,
                    fail_under: args.fail_under,
                    roster: args.roster,
                    jobs: args.jobs.map(usize::from),
                    assignment_name: args.assignment_name,
                    canvas_assignment_id: args.canvas_assignment_id,
                    reveal_map: args.reveal_map.filter(|_| args.anonymize),
                }))
            }
            CliCommand::Bundle(BundleCommand::Verify { file, json }) => {
                Command::BundleVerify(commands::bundle::VerifyRequest { file, json })
            }
            CliCommand::Bundle(BundleCommand::Serve {
                file,
                listen,
                max_connections,
            }) => Command::BundleServe(commands::bundle::ServeRequest {
                file,
                listen,
                connections: usize::from(max_connections),
            }),
            CliCommand::Bundle(BundleCommand::Create(args)) => {
                let args = *args;
                Command::BundleCreate(Box::new(commands::bundle::CreateRequest {
                    chapter: args.chapter,
                    output: args.output,
                    force: args.force,
                    mirrors: args.registry_mirror.into_iter().collect(),
                    trust: crate::bundle::signed::Trust {
                        trusted_root: args.trusted_root,
                        ignore_tlog: args.insecure_ignore_tlog,
                        ignore_sct: args.insecure_ignore_sct,
                    },
                }))
            }
            CliCommand::Token(TokenCommand::Issue(args)) => {
                let args = *args;
                Command::TokenIssue(Box::new(commands::token::IssueRequest {
                    key: args.key,
                    learner: args.learner,
                    chapter: args.chapter,
                    due: args.due,
                    output: args.output,
                    force: args.force,
                }))
            }
            #[cfg(feature = "live")]
            CliCommand::Start(args) => Command::Start(Box::new(args.into_request())),
            #[cfg(feature = "live")]
            CliCommand::Render { chapter, file, set } => Command::Render { chapter, file, set },
            #[cfg(feature = "live")]
            CliCommand::Doctor {
                chapter,
                context,
                kyverno,
                bundle,
                json,
            } => Command::Doctor {
                chapter,
                context,
                kyverno_existing: kyverno == KyvernoArg::Existing,
                bundle,
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
            CliCommand::Submit(args) => {
                let args = *args;
                Command::Submit(Box::new(commands::submit::SubmitRequest {
                    chapter: args.chapter,
                    learner: args.learner,
                    key: args.key,
                    output: args.output,
                    force: args.force,
                    dry_run: args.dry_run,
                    context: args.context,
                    wait: std::time::Duration::from_secs(args.wait),
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
                            ModeArg::Audit => content::model::FailureMode::Audit,
                            ModeArg::Enforce => content::model::FailureMode::Enforce,
                        },
                    },
                    None => commands::admit::PolicySource::Files(args.policy),
                },
                set: args.set,
                layouts: args.layouts,
                insecure: args.insecure,
                kyverno_config: args.kyverno_config,
                verify_cache: !args.no_verify_cache,
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
