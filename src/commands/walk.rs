//! The learner's commands around the walkthrough: `lab walkthrough` (which `lab start` enters
//! after provisioning), `lab quiz`, `lab hint`, `lab next`, `lab reset`, `lab runbook`,
//! `lab steps`, and the progress part of `lab status`. They open the chapter and the learner's
//! progress, build the lesson (the chapter's text with this learner's values), and hand the
//! engine's results to `crate::walkthrough`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use super::Config;
use super::emit;
use super::lesson::{can_ask, flow, integrity, look};
use super::session::{Looking, Session};
use crate::backend::runner::{Backends, CheckRunner};
use crate::backend::watch::{watch_cluster, watch_files, watch_registry};
use crate::content::diagnostic::did_you_mean;
use crate::engine::CheckResult;
use crate::error::LabError;
use crate::exit_code;
use crate::grade::quiz;
use crate::record::{Event, Progress};
use crate::runtime::Interrupted;
use crate::walkthrough::flow::{Checks, Outcome};
use crate::walkthrough::markdown::{render, sections};
use crate::walkthrough::terminal::{TerminalIo, ask_quiz};
use crate::walkthrough::{WalkError, screens};

/// A walkthrough command.
#[derive(Debug, Clone)]
pub enum WalkCommand {
    /// `lab walkthrough`.
    Walkthrough(WalkRequest),
    /// `lab quiz`.
    Quiz {
        /// The chapter.
        chapter: Option<String>,
        /// Answers from a file instead of the terminal.
        answers: Option<PathBuf>,
        /// JSON output.
        json: bool,
        /// The lab's practice quiz instead.
        practice: bool,
    },
    /// `lab hint`.
    Hint {
        /// The chapter.
        chapter: Option<String>,
        /// The step (default: the current one).
        step: Option<String>,
    },
    /// `lab next`.
    Next(WalkRequest),
    /// `lab reset`.
    Reset {
        /// The chapter.
        chapter: Option<String>,
        /// The first step to reset (default: the first step).
        step: Option<String>,
        /// Do not ask.
        yes: bool,
    },
    /// `lab runbook`.
    Runbook {
        /// The chapter.
        chapter: Option<String>,
        /// A section's anchor or heading.
        section: Option<String>,
    },
    /// `lab steps`.
    Steps {
        /// The chapter.
        chapter: Option<String>,
    },
}

/// The options of `lab walkthrough` and `lab next`.
#[derive(Debug, Clone, Default)]
pub struct WalkRequest {
    /// The chapter.
    pub chapter: Option<String>,
    /// No watching: checks run on `c` only.
    pub manual_run: bool,
    /// Never wait for a key.
    pub yes: bool,
    /// Quiz answers for a run without a terminal.
    pub answers: Option<PathBuf>,
    /// A recorded world instead of the cluster.
    pub world: Option<PathBuf>,
    /// How long a settling check may be retried, per run.
    pub wait: Duration,
    /// The cluster context (default: the one `lab start` used).
    pub context: Option<String>,
}

/// Runs a walkthrough command.
pub fn run(config: &Config, command: &WalkCommand, out: &mut impl Write) -> Result<u8, LabError> {
    match command {
        WalkCommand::Walkthrough(request) => {
            let session = Session::open(config, request.chapter.as_deref(), &[])?;
            walkthrough(config, &session, request, out)
        }
        WalkCommand::Next(request) => next(config, request, out),
        WalkCommand::Quiz {
            chapter,
            answers,
            json,
            practice: false,
        } => take_quiz(config, chapter.as_deref(), answers.as_deref(), *json, out),
        WalkCommand::Quiz {
            chapter,
            answers,
            practice: true,
            ..
        } => take_practice(config, chapter.as_deref(), answers.as_deref(), out),
        WalkCommand::Hint { chapter, step } => {
            hint(config, chapter.as_deref(), step.as_deref(), out)
        }
        WalkCommand::Reset { chapter, step, yes } => {
            reset(config, chapter.as_deref(), step.as_deref(), *yes, out)
        }
        WalkCommand::Runbook { chapter, section } => {
            runbook(config, chapter.as_deref(), section.as_deref(), out)
        }
        WalkCommand::Steps { chapter } => {
            let session = Session::open(config, chapter.as_deref(), &[])?;
            let flow = flow(config, &session)?;
            emit(out, &flow.list_screen())?;
            Ok(exit_code::SUCCESS)
        }
    }
}

/// The runner behind the walkthrough and `lab next`, and the step whose checks it last ran
/// (the one shown), which the registry watch follows.
struct RunnerChecks {
    runner: CheckRunner,
    current: Arc<Mutex<Option<String>>>,
}

impl RunnerChecks {
    fn open(session: &Session, request: &WalkRequest) -> Result<Self, LabError> {
        let looking = match &request.world {
            Some(path) => Looking::World(path.clone()),
            None => Looking::Live {
                context: request.context.clone(),
            },
        };
        Ok(RunnerChecks {
            runner: session.runner(looking, request.wait)?,
            current: Arc::default(),
        })
    }
}

impl Checks for RunnerChecks {
    fn run(&mut self, step: &str) -> Result<Vec<CheckResult>, Interrupted> {
        if let Ok(mut current) = self.current.lock() {
            *current = Some(step.to_owned());
        }
        self.runner.run_step(step)
    }
}

/// The exit code of an outcome.
fn code(outcome: &Outcome) -> u8 {
    match outcome {
        Outcome::Finished(_) | Outcome::Quit(_) => exit_code::SUCCESS,
        Outcome::Stopped { exit, .. } => *exit,
    }
}

/// `lab walkthrough`, and the end of `lab start`.
pub(crate) fn walkthrough(
    config: &Config,
    session: &Session,
    request: &WalkRequest,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let mut flow = flow(config, session)?;
    let (intact, screen) = integrity(session, &flow);
    if !intact {
        emit(out, &screen)?;
    }
    let mut checks = RunnerChecks::open(session, request)?;
    if !can_ask(request.yes) {
        let answers = match &request.answers {
            Some(path) => {
                let (_, quiz) = quiz::find(&session.chapter).map_err(WalkError::from)?;
                Some(read_answers(&quiz, path)?)
            }
            None => None,
        };
        let mut text = String::new();
        let outcome = flow.batch(&mut checks, answers.as_ref(), &mut |s| text.push_str(s))?;
        emit(out, &text)?;
        return Ok(code(&outcome));
    }
    let (tx, rx) = mpsc::channel();
    if !request.manual_run {
        let mut files = checks.runner.evidence_paths();
        if let Some(world) = &request.world {
            files.push(world.clone());
        }
        watch_files(files, tx.clone());
        if let Backends::Live { .. } = &checks.runner.backends {
            let context = request
                .context
                .clone()
                .or_else(|| session.state.as_ref().map(|s| s.context.clone()));
            watch_cluster(context, checks.runner.namespaces(), tx.clone());
            let targets = checks.runner.registry_targets();
            if !targets.is_empty() {
                watch_registry(
                    session.registry()?,
                    targets,
                    checks.current.clone(),
                    tx.clone(),
                );
            }
        }
    }
    drop(tx);
    let mut io = TerminalIo::new(rx, flow.look)?;
    let outcome = flow.interactive(&mut checks, &mut io, !request.manual_run);
    drop(io);
    let outcome = outcome?;
    Ok(code(&outcome))
}

fn read_answers(
    quiz: &crate::content::model::Quiz,
    path: &std::path::Path,
) -> Result<BTreeMap<String, Vec<String>>, LabError> {
    let text = crate::input::read_text(path, crate::input::limit::MANIFEST, "an answers file")
        .map_err(|e| LabError::Usage(e.to_string()))?;
    Ok(quiz::parse_answers(&path.display().to_string(), &text, quiz).map_err(WalkError::from)?)
}

/// `lab quiz --practice`: the lab's practice quiz, judged at once, nothing recorded.
fn take_practice(
    config: &Config,
    chapter: Option<&str>,
    answers: Option<&std::path::Path>,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let session = Session::open(config, chapter, &[])?;
    let Some((_, quiz)) = quiz::find_practice(&session.chapter).map_err(WalkError::from)? else {
        return Err(LabError::Usage(format!(
            "lab {} has no practice quiz (`practice_quiz:` in its lab file); `lab quiz {}` takes the chapter quiz",
            session.id(),
            session.id()
        )));
    };
    let look = look(config);
    let lab = quiz.lab.value.0.clone();
    let answers = match answers {
        Some(path) => {
            let answers = read_answers(&quiz, path)?;
            let mut text = String::new();
            for (i, q) in quiz.questions.iter().enumerate() {
                let picked = answers.get(&q.id.0).cloned().unwrap_or_default();
                text.push_str(&screens::question(i, quiz.questions.len(), q, look));
                text.push_str(&screens::answered(q, &picked, look.width));
                text.push_str(&screens::feedback(
                    q,
                    quiz::is_correct(&lab, q, &picked),
                    look,
                ));
                text.push('\n');
            }
            emit(out, &text)?;
            answers
        }
        None if can_ask(false) => {
            let asked = ask_quiz(
                &quiz,
                &mut |i, picked| {
                    let q = &quiz.questions[i];
                    screens::feedback(q, quiz::is_correct(&lab, q, picked), look)
                },
                look,
            );
            let Some(answers) = asked else {
                emit(out, "Quiz left before the end.\n")?;
                return Ok(exit_code::WORK_FELL_SHORT);
            };
            answers
        }
        None => {
            return Err(LabError::Usage(
                "no terminal to ask the quiz on: give the answers with --answers FILE".into(),
            ));
        }
    };
    // The lab file names it as a practice quiz; `lab validate` refuses one that is not.
    let Some(attempt) = quiz::judge(&quiz, &answers) else {
        return Err(LabError::Usage(format!(
            "the practice quiz of lab {} is not `mode: practice`; `lab validate` says more",
            session.id()
        )));
    };
    emit(out, &screens::practice_score(&quiz, &attempt))?;
    Ok(if attempt.passed {
        exit_code::SUCCESS
    } else {
        exit_code::WORK_FELL_SHORT
    })
}

fn take_quiz(
    config: &Config,
    chapter: Option<&str>,
    answers: Option<&std::path::Path>,
    json: bool,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let session = Session::open(config, chapter, &[])?;
    let mut flow = flow(config, &session)?;
    let (_, quiz) = quiz::find(&session.chapter).map_err(WalkError::from)?;
    if flow.graded_quiz_answered() {
        emit(out, &screens::recorded(&quiz, false))?;
        return Ok(exit_code::SUCCESS);
    }
    let (attempt, first) = match answers {
        Some(path) => {
            let answers = read_answers(&quiz, path)?;
            let (attempt, first) = flow.record_quiz(&answers)?;
            if !json {
                let mut text = String::new();
                for (i, q) in quiz.questions.iter().enumerate() {
                    let picked = answers.get(&q.id.0).cloned().unwrap_or_default();
                    text.push_str(&screens::question(i, quiz.questions.len(), q, flow.look));
                    text.push_str(&screens::answered(q, &picked, flow.look.width));
                    text.push_str(&screens::feedback(
                        q,
                        quiz::is_correct(&quiz.lab.value.0, q, &picked),
                        flow.look,
                    ));
                    text.push('\n');
                }
                emit(out, &text)?;
            }
            (attempt, first)
        }
        None if can_ask(false) => {
            let lab = quiz.lab.value.0.clone();
            let look = flow.look;
            let asked = ask_quiz(
                &quiz,
                &mut |i, picked| {
                    let q = &quiz.questions[i];
                    screens::feedback(q, quiz::is_correct(&lab, q, picked), look)
                },
                look,
            );
            let Some(answers) = asked else {
                emit(out, "Quiz left before the end: nothing recorded.\n")?;
                return Ok(exit_code::WORK_FELL_SHORT);
            };
            flow.record_quiz(&answers)?
        }
        None => {
            return Err(LabError::Usage(
                "no terminal to ask the quiz on: give the answers with --answers FILE (one line per question, e.g. `q-promote-by-digest: a`)".into(),
            ));
        }
    };
    if json {
        let doc = crate::report::quiz::json(&session.id(), quiz.mode, first, attempt.as_ref());
        emit(out, &doc)?;
    } else {
        emit(out, &flow.quiz_result_screen(attempt.as_ref(), first))?;
    }
    // A graded quiz is judged by `lab grade`; here it is only recorded.
    Ok(match attempt {
        Some(a) if !a.passed => exit_code::WORK_FELL_SHORT,
        _ => exit_code::SUCCESS,
    })
}

fn hint(
    config: &Config,
    chapter: Option<&str>,
    step: Option<&str>,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let session = Session::open(config, chapter, &[])?;
    let mut flow = flow(config, &session)?;
    let step = match step {
        Some(id) => session.step(id)?,
        None => match flow.current() {
            Some(s) => s,
            None => {
                emit(out, "Every step is done; nothing to hint at.\n")?;
                return Ok(exit_code::SUCCESS);
            }
        },
    };
    let text = flow.next_hint(step, screens::Next::Commands(&session.id()))?;
    emit(out, &text)?;
    Ok(exit_code::SUCCESS)
}

fn next(config: &Config, request: &WalkRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let session = Session::open(config, request.chapter.as_deref(), &[])?;
    let mut flow = flow(config, &session)?;
    let Some(step) = flow.current() else {
        emit(out, "Every step is already done.\n")?;
        return Ok(exit_code::SUCCESS);
    };
    let mut checks = RunnerChecks::open(&session, request)?;
    let results = checks
        .run(&step.id.value.0)
        .map_err(|_| LabError::Interrupted)?;
    emit(
        out,
        &screens::results(&results, flow.look, screens::Next::Commands(&session.id())),
    )?;
    let code = crate::engine::exit_code(&results);
    if code != exit_code::SUCCESS {
        emit(
            out,
            &format!(
                "Step `{}` is not done yet: `lab next` moves on once every check passes.\n",
                step.id.value.0
            ),
        )?;
        return Ok(code);
    }
    flow.pass(step, &results)?;
    match flow.current() {
        Some(next) => emit(out, &flow.step_screen(next))?,
        None => emit(out, &flow.done_when_screen(&[]))?,
    }
    Ok(exit_code::SUCCESS)
}

fn reset(
    config: &Config,
    chapter: Option<&str>,
    step: Option<&str>,
    yes: bool,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let session = Session::open(config, chapter, &[])?;
    let from = match step {
        Some(id) => session.step(id)?,
        None => session
            .chapter
            .lab
            .steps
            .first()
            .ok_or_else(|| LabError::Usage("the lab has no steps".into()))?,
    };
    let from_id = from.id.value.0.clone();
    let question = format!(
        "Reset your progress from step `{from_id}` on? Those steps are then to do again; your files, the cluster and the record of what you did so far stay."
    );
    if !yes {
        if !can_ask(false) {
            return Err(LabError::Usage(format!(
                "{question} There is no terminal to ask on: run `lab reset` with --yes"
            )));
        }
        let confirmed = dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact_opt()
            .map_err(|e| WalkError::Terminal(e.to_string()))?;
        if confirmed != Some(true) {
            emit(out, "Nothing was reset.\n")?;
            return Ok(exit_code::SUCCESS);
        }
    }
    let reset = Event::Reset {
        from_step: from_id.clone(),
    };
    Progress::update(&session.workdir, &session.course(), |_| (vec![reset], ()))
        .map_err(WalkError::from)?;
    emit(
        out,
        &format!("Progress reset from step `{from_id}`: `lab walkthrough` resumes there.\n"),
    )?;
    Ok(exit_code::SUCCESS)
}

fn runbook(
    config: &Config,
    chapter: Option<&str>,
    section: Option<&str>,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let session = Session::open(config, chapter, &[])?;
    let link = &session.chapter.lab.runbook;
    let (path, _) = link.value.0.split_once('#').unwrap_or((&link.value.0, ""));
    let rel = session.chapter.resolve(path)?;
    // Filled as a step is: its commands work as pasted.
    let text = session.fill(session.chapter.text(&rel)?);
    let look = look(config);
    let Some(wanted) = section else {
        emit(out, &render(&text, look))?;
        return Ok(exit_code::SUCCESS);
    };
    let all = sections(&text);
    let wanted_slug = crate::walkthrough::markdown::slug(wanted.trim_start_matches('#'));
    match all.iter().find(|(_, _, slug, _)| *slug == wanted_slug) {
        Some((_, _, _, body)) => {
            emit(out, &render(body, look))?;
            Ok(exit_code::SUCCESS)
        }
        None => {
            let slugs: Vec<&str> = all.iter().map(|(_, _, s, _)| s.as_str()).collect();
            let hint = did_you_mean(&wanted_slug, slugs.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            Err(LabError::Usage(format!(
                "{} has no section `{wanted}`; {hint}its sections are: {}",
                session.chapter.shown(&rel),
                slugs.join(", ")
            )))
        }
    }
}
