//! The learner's commands around the walkthrough: `lab walkthrough` (which `lab start` enters
//! after provisioning), `lab quiz`, `lab hint`, `lab next`, `lab reset`, `lab runbook`,
//! `lab steps`, and the progress part of `lab status`. They open the chapter and the learner's
//! progress, build the lesson (the chapter's text with this learner's values), and hand the
//! engine's results to `crate::walkthrough`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use super::emit;
use super::session::{Looking, Session};
use crate::backend::runner::{Backends, CheckRunner};
use crate::backend::{KubeCluster, watch};
use crate::content::diagnostic::did_you_mean;
use crate::engine::CheckResult;
use crate::grade::quiz;
use crate::record::{Event, Progress};
use crate::runtime::Interrupted;
use crate::walkthrough::flow::{Checks, Flow, Input, Io, Lesson, Outcome};
use crate::walkthrough::markdown::{Look, render, sections};
use crate::walkthrough::{WalkError, screens};
use crate::{Config, LabError, exit_code};

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

/// Whether a person can be asked: a terminal on both ends, not CI, not `--yes`.
pub fn can_ask(yes: bool) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    !yes && !ci && std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The terminal's width, or 80.
fn look(config: &Config) -> Look {
    // COLUMNS first (scripts, tests), then the terminal's own width, else 80.
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .or_else(|| {
            crossterm::terminal::size()
                .ok()
                .filter(|(w, _)| *w > 0 && std::io::stdout().is_terminal())
                .map(|(w, _)| usize::from(w))
        })
        .map_or(80, |w| w.clamp(40, 120));
    Look {
        width,
        color: config.color,
    }
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

/// The chapter's text with this learner's values; a text whose values are missing is shown
/// as written, placeholders and all.
pub(crate) fn lesson(session: &Session) -> Lesson<'_> {
    let chapter = &session.chapter;
    let fill = |text: &str| {
        chapter
            .fill(text, &session.values)
            .unwrap_or_else(|_| text.to_owned())
    };
    let mut lesson = Lesson {
        lab: &chapter.lab,
        instructions: BTreeMap::new(),
        hints: BTreeMap::new(),
        solutions: BTreeMap::new(),
        runbooks: BTreeMap::new(),
        quiz: quiz::find(chapter).ok().map(|(_, q)| q),
    };
    for step in &chapter.lab.steps {
        let id = step.id.value.0.clone();
        lesson
            .instructions
            .insert(id.clone(), fill(&step.instructions));
        lesson
            .hints
            .insert(id.clone(), step.hints.iter().map(|h| fill(h)).collect());
        let solution = session
            .solution(step)
            .unwrap_or_else(|_| step.solve.clone());
        lesson.solutions.insert(id.clone(), solution);
        if let Some(link) = &step.runbook
            && let Some(section) = runbook_section(session, &link.value.0)
        {
            lesson.runbooks.insert(id, section);
        }
    }
    lesson
}

/// The Markdown a runbook link (`../../runbooks/x.md#anchor`) points to.
fn runbook_section(session: &Session, link: &str) -> Option<String> {
    let (path, anchor) = link.split_once('#').unwrap_or((link, ""));
    let rel = session.chapter.resolve(path).ok()?;
    let text = session.chapter.text(&rel).ok()?;
    if anchor.is_empty() {
        return Some(text.to_owned());
    }
    sections(text)
        .into_iter()
        .find(|(_, _, slug, _)| slug == anchor)
        .map(|(_, _, _, body)| body)
}

fn flow<'s>(config: &Config, session: &'s Session) -> Result<Flow<'s>, LabError> {
    Ok(Flow {
        lesson: lesson(session),
        progress: Progress::load(&session.workdir, &session.id()).map_err(WalkError::from)?,
        workdir: &session.workdir,
        course: session.course(),
        look: look(config),
    })
}

/// The runner behind the walkthrough and `lab next`.
struct RunnerChecks(CheckRunner);

impl RunnerChecks {
    fn open(session: &Session, request: &WalkRequest) -> Result<Self, LabError> {
        let looking = match &request.world {
            Some(path) => Looking::World(path.clone()),
            None => Looking::Live {
                context: request.context.clone(),
            },
        };
        Ok(RunnerChecks(session.runner(looking, request.wait)?))
    }
}

impl Checks for RunnerChecks {
    fn run(&mut self, step: &str) -> Result<Vec<CheckResult>, Interrupted> {
        self.0.run_step(step)
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
        let mut files = checks.0.evidence_paths();
        if let Some(world) = &request.world {
            files.push(world.clone());
        }
        watch_files(files, tx.clone());
        if let Backends::Live { .. } = &checks.0.backends {
            let context = request
                .context
                .clone()
                .or_else(|| session.state.as_ref().map(|s| s.context.clone()));
            watch_cluster(context, checks.0.namespaces(), tx.clone());
        }
    }
    drop(tx);
    let mut io = TerminalIo::new(rx, config.color)?;
    let outcome = flow.interactive(&mut checks, &mut io);
    drop(io);
    let outcome = outcome?;
    Ok(code(&outcome))
}

/// Polls the modification times of `files` twice a second, and says which changed.
fn watch_files(files: Vec<PathBuf>, tx: mpsc::Sender<Result<String, String>>) {
    std::thread::spawn(move || {
        let stamp = |p: &PathBuf| -> Option<(SystemTime, u64)> {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        };
        let mut seen: Vec<Option<(SystemTime, u64)>> = files.iter().map(stamp).collect();
        loop {
            std::thread::sleep(Duration::from_millis(400));
            for (i, file) in files.iter().enumerate() {
                let now = stamp(file);
                if now != seen[i] {
                    seen[i] = now;
                    let name = file.file_name().map_or_else(
                        || file.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                    if tx.send(Ok(name)).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// Watches the cluster objects the checks read, on a thread of its own.
fn watch_cluster(
    context: Option<String>,
    namespaces: Vec<String>,
    tx: mpsc::Sender<Result<String, String>>,
) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            let _ = tx.send(Err("cannot start the cluster watch".into()));
            return;
        };
        runtime.block_on(async {
            let cluster = match KubeCluster::connect(context.as_deref()).await {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx.send(Err(format!("watching the cluster: {e}")));
                    return;
                }
            };
            let targets = watch::Targets { namespaces };
            watch::watch(&cluster, &targets, |m| tx.send(m).is_ok()).await;
        });
    });
}

/// The terminal: keys in raw mode, changes from the watchers, screens out, the quiz through
/// dialoguer.
struct TerminalIo {
    changes: mpsc::Receiver<Result<String, String>>,
    raw: bool,
    color: bool,
}

impl TerminalIo {
    fn new(
        changes: mpsc::Receiver<Result<String, String>>,
        color: bool,
    ) -> Result<Self, WalkError> {
        crossterm::terminal::enable_raw_mode().map_err(|e| WalkError::Terminal(e.to_string()))?;
        Ok(TerminalIo {
            changes,
            raw: true,
            color,
        })
    }

    fn set_raw(&mut self, raw: bool) {
        let done = if raw {
            crossterm::terminal::enable_raw_mode()
        } else {
            crossterm::terminal::disable_raw_mode()
        };
        if done.is_ok() {
            self.raw = raw;
        }
    }
}

impl Drop for TerminalIo {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

impl Io for TerminalIo {
    fn show(&mut self, text: &str) {
        let mut stdout = std::io::stdout();
        let text = if self.raw {
            text.replace('\n', "\r\n")
        } else {
            text.to_owned()
        };
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }

    fn next(&mut self) -> Input {
        use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
        loop {
            match self.changes.try_recv() {
                Ok(Ok(what)) => {
                    // A burst of changes (a rollout's Pods, a report's updates) becomes one
                    // re-check: wait for half a second of quiet, three seconds at most.
                    let until = std::time::Instant::now() + Duration::from_secs(3);
                    while std::time::Instant::now() < until
                        && self
                            .changes
                            .recv_timeout(Duration::from_millis(500))
                            .is_ok()
                    {}
                    return Input::Changed(what);
                }
                Ok(Err(problem)) => self.show(&format!("({problem}; press c to check by hand)\n")),
                Err(_) => {}
            }
            match event::poll(Duration::from_millis(150)) {
                Ok(true) => match event::read() {
                    Ok(TermEvent::Key(key)) if key.kind != KeyEventKind::Release => {
                        match key.code {
                            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                                return Input::Key('q');
                            }
                            KeyCode::Char(c) => return Input::Key(c.to_ascii_lowercase()),
                            KeyCode::Esc => return Input::Key('q'),
                            _ => {}
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return Input::Closed,
                },
                Ok(false) => {}
                Err(_) => return Input::Closed,
            }
        }
    }

    fn ask(
        &mut self,
        quiz: &crate::content::model::Quiz,
        feedback: &mut dyn FnMut(usize, &[String]) -> String,
    ) -> Option<BTreeMap<String, Vec<String>>> {
        self.set_raw(false);
        let answers = ask_quiz(quiz, feedback, self.color);
        self.set_raw(true);
        answers
    }
}

/// Asks every question with dialoguer, showing the feedback after each; `None` if the person
/// pressed Esc or q.
fn ask_quiz(
    quiz: &crate::content::model::Quiz,
    feedback: &mut dyn FnMut(usize, &[String]) -> String,
    color: bool,
) -> Option<BTreeMap<String, Vec<String>>> {
    use crate::content::model::Choice;
    let theme = dialoguer::theme::SimpleTheme;
    let look = Look { width: 80, color };
    let mut answers = BTreeMap::new();
    let total = quiz.questions.len();
    println!("{}\n", quiz.title);
    for (i, question) in quiz.questions.iter().enumerate() {
        print!("{}", screens::question(i, total, question, look));
        let items: Vec<String> = question
            .options
            .value
            .iter()
            .map(|o| format!("{}) {}", o.id.value.0, o.text.value))
            .collect();
        let picked: Vec<usize> = match question.choice {
            Choice::Single => dialoguer::Select::with_theme(&theme)
                .items(&items)
                .default(0)
                .interact_opt()
                .ok()
                .flatten()
                .map(|i| vec![i])?,
            Choice::Multiple => dialoguer::MultiSelect::with_theme(&theme)
                .with_prompt("space to pick, enter to answer")
                .items(&items)
                .interact_opt()
                .ok()
                .flatten()?,
        };
        let ids: Vec<String> = picked
            .iter()
            .map(|&k| question.options.value[k].id.value.0.clone())
            .collect();
        println!("{}", feedback(i, &ids));
        answers.insert(question.id.0.clone(), ids);
    }
    Some(answers)
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
                text.push_str(&screens::answered(q, &picked));
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
                config.color,
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
                    text.push_str(&screens::answered(q, &picked));
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
                config.color,
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
    let text = flow.next_hint(step)?;
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
    let text = session.chapter.text(&rel)?;
    let look = look(config);
    let Some(wanted) = section else {
        emit(out, &render(text, look))?;
        return Ok(exit_code::SUCCESS);
    };
    let all = sections(text);
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

/// Whether the progress record's chain is intact, and the screen that says so (the path as
/// the learner sees it from the working folder).
fn integrity(session: &Session, flow: &Flow<'_>) -> (bool, String) {
    let breaks = flow.progress.verify(&session.chapter.lab.step_ids());
    let path = Progress::path(std::path::Path::new(""), &session.id());
    let screen = screens::breaks(
        &path.display().to_string(),
        flow.progress.records.len(),
        &breaks,
    );
    (breaks.is_empty(), screen)
}

/// The progress part of `lab status`: the steps, and whether the record is intact; with
/// `done_when`, the summary too. Returns the exit code it implies.
pub(crate) fn status(
    config: &Config,
    session: &Session,
    done_when: bool,
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let flow = flow(config, session)?;
    emit(out, &flow.list_screen())?;
    let (intact, screen) = integrity(session, &flow);
    emit(out, &screen)?;
    if done_when {
        // Steps not passed yet are scored by their checks run now.
        let passed = flow.progress.passed(&session.chapter.lab.step_ids());
        let looking = if session.state.is_some() {
            Looking::Live { context: None }
        } else {
            Looking::Offline
        };
        let now = match session.runner(looking, Duration::ZERO) {
            Ok(runner) => runner
                .run(
                    |c| !passed.contains_key(&c.step),
                    "of the steps not passed yet",
                )
                .map_err(|_| LabError::Interrupted)?,
            Err(e) => {
                emit(out, &format!("The checks could not run now: {e}\n"))?;
                Vec::new()
            }
        };
        emit(out, &flow.done_when_screen(&now))?;
    }
    Ok(if intact {
        exit_code::SUCCESS
    } else {
        exit_code::PROGRESS_TAMPERED
    })
}
