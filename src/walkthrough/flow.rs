//! The walkthrough's logic, apart from any terminal: which step is current, what each key does,
//! when the checks run, what is recorded. A person drives it through [`Io`] (keys and changes
//! in, screens out); without a terminal, [`Flow::batch`] goes through the steps in order and
//! stops at the first that does not pass. Checks come from the engine through [`Checks`].

use std::collections::BTreeMap;
use std::path::Path;

use super::WalkError;
use super::markdown::Look;
use super::screens::{self, StepState};
use crate::content::model::QuizMode;
use crate::content::model::{Lab, Quiz, Step};
use crate::engine::{CheckResult, Status};
use crate::grade::GradeError;
use crate::grade::done_when::{Summary, summarize};
use crate::grade::quiz::{Attempt, attempt_event, is_correct, judge};
use crate::record::{CourseStamp, Event, Progress, RecordedCheck};
use crate::runtime::Interrupted;

/// Runs a step's checks (the engine against real or recorded backends).
pub trait Checks {
    /// The results of `step`'s checks now; an empty list when the step has none.
    fn run(&mut self, step: &str) -> Result<Vec<CheckResult>, Interrupted>;
}

/// What a person did, or what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A key.
    Key(char),
    /// Something the checks read changed (a file, a cluster object), named.
    Changed(String),
    /// The input is gone (the terminal closed).
    Closed,
}

/// A person at a terminal.
pub trait Io {
    /// Shows text.
    fn show(&mut self, text: &str);
    /// Waits for the next key or change.
    fn next(&mut self) -> Input;
    /// Asks the quiz's questions, showing `feedback` after each answer; `None` when the person
    /// left it before the end.
    fn ask(
        &mut self,
        quiz: &Quiz,
        feedback: &mut dyn FnMut(usize, &[String]) -> String,
    ) -> Option<BTreeMap<String, Vec<String>>>;
}

/// The chapter's text as this learner reads it: instructions, hints and solutions with their
/// values filled in, and the runbook section each step points to.
pub struct Lesson<'a> {
    /// The lab.
    pub lab: &'a Lab,
    /// Per step: instructions, filled.
    pub instructions: BTreeMap<String, String>,
    /// Per step: hints, filled.
    pub hints: BTreeMap<String, Vec<String>>,
    /// Per step: the solution, filled.
    pub solutions: BTreeMap<String, Option<String>>,
    /// Per step: the runbook section (Markdown), if the step names one.
    pub runbooks: BTreeMap<String, String>,
    /// The quiz, if the chapter has one.
    pub quiz: Option<Quiz>,
}

/// How a walkthrough ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every step passed; the done-when summary.
    Finished(Summary),
    /// The person quit at a step.
    Quit(String),
    /// Without a terminal: stopped at a step whose checks do not all pass.
    Stopped {
        /// The step.
        step: String,
        /// The exit code its results imply (see [`crate::engine::exit_code`]).
        exit: u8,
    },
}

/// The walkthrough of one learner.
pub struct Flow<'a> {
    /// The text.
    pub lesson: Lesson<'a>,
    /// The progress as last read or written; every record is appended to the file itself,
    /// under its lock, and this copy replaced by what was written.
    pub progress: Progress,
    /// Where it is kept.
    pub workdir: &'a Path,
    /// The course the records are made against.
    pub course: CourseStamp,
    /// How screens look.
    pub look: Look,
}

/// Whether two runs of a step's checks say the same: each check's status and message.
fn same_results(before: &[CheckResult], now: &[CheckResult]) -> bool {
    before.len() == now.len()
        && before
            .iter()
            .zip(now)
            .all(|(a, b)| a.check == b.check && a.status == b.status && a.message == b.message)
}

fn all_pass(results: &[CheckResult]) -> bool {
    results.iter().all(|r| r.status == Status::Pass)
}

impl<'a> Flow<'a> {
    fn step_ids(&self) -> Vec<&str> {
        self.lesson.lab.step_ids()
    }

    /// The step to do now, `None` when all are passed.
    pub fn current(&self) -> Option<&'a Step> {
        let lab: &'a Lab = self.lesson.lab;
        let ids = self.step_ids();
        let current = self.progress.current(&ids)?.to_owned();
        lab.steps.iter().find(|s| s.id.value.0 == current)
    }

    /// Appends what `decide` picks from the record as it is on disk now, and keeps the
    /// record as written.
    fn record<T>(
        &mut self,
        decide: impl FnOnce(&Progress) -> (Vec<Event>, T),
    ) -> Result<T, WalkError> {
        let (progress, answer) = Progress::update(self.workdir, &self.course, decide)?;
        self.progress = progress;
        Ok(answer)
    }

    /// The step screen.
    pub fn step_screen(&self, step: &Step) -> String {
        let steps = &self.lesson.lab.steps;
        let index = steps.iter().position(|s| s.id == step.id).unwrap_or(0);
        let text = self
            .lesson
            .instructions
            .get(&step.id.value.0)
            .map_or(step.instructions.as_str(), String::as_str);
        screens::step(step, index, steps.len(), text, self.look)
    }

    /// The list of steps.
    pub fn list_screen(&self) -> String {
        let ids = self.step_ids();
        let passed = self.progress.passed(&ids);
        let current = self.progress.current(&ids);
        let rows: Vec<(&Step, StepState)> = self
            .lesson
            .lab
            .steps
            .iter()
            .map(|s| {
                let id = s.id.value.0.as_str();
                let state = if passed.contains_key(id) {
                    StepState::Passed
                } else if Some(id) == current {
                    StepState::Current
                } else {
                    StepState::Ahead
                };
                (s, state)
            })
            .collect();
        screens::step_list(&self.lesson.lab.id.value.0, &rows)
    }

    /// Shows the next hint of `step` and records it.
    pub fn next_hint(&mut self, step: &Step, next: screens::Next<'_>) -> Result<String, WalkError> {
        let id = step.id.value.0.clone();
        let hints = self.lesson.hints.get(&id).cloned().unwrap_or_default();
        // The number is decided under the lock: a hint shown in another terminal counts.
        let n = self.record(|p| {
            let n = p.hints_shown(&id) + 1;
            let event = Event::HintShown {
                step: id.clone(),
                hint: n,
            };
            (
                if n <= hints.len() {
                    vec![event]
                } else {
                    vec![]
                },
                n,
            )
        })?;
        Ok(screens::hint(
            step,
            n,
            hints.len(),
            hints.get(n - 1).map(String::as_str),
            self.look,
            next,
        ))
    }

    /// Shows the solution of `step` and records that it was seen.
    pub fn solution(&mut self, step: &Step) -> Result<String, WalkError> {
        let id = step.id.value.0.clone();
        let script = self.lesson.solutions.get(&id).cloned().flatten();
        if script.is_some() {
            self.progress = Progress::note_solution_shown(self.workdir, &self.course, &id)?;
        }
        Ok(screens::solution(step, script.as_deref()))
    }

    /// The runbook section of `step`.
    pub fn runbook(&self, step: &Step) -> String {
        match self.lesson.runbooks.get(&step.id.value.0) {
            Some(section) => super::markdown::render(section, self.look),
            None => format!(
                "Step `{}` names no runbook section; `lab runbook {}` shows the whole runbook.\n",
                step.id.value.0, self.lesson.lab.id.value.0
            ),
        }
    }

    /// Records `step` as passed with `results`, which must all pass.
    pub fn pass(&mut self, step: &Step, results: &[CheckResult]) -> Result<(), WalkError> {
        let event = Event::StepPassed {
            step: step.id.value.0.clone(),
            results: results.iter().map(RecordedCheck::from).collect(),
        };
        self.record(|_| (vec![event], ()))
    }

    /// Records a quiz attempt (the first counts) and judges it when the quiz is practice. A
    /// graded quiz is answered once: a later attempt records nothing (`first` is false).
    pub fn record_quiz(
        &mut self,
        answers: &BTreeMap<String, Vec<String>>,
    ) -> Result<(Option<Attempt>, bool), WalkError> {
        let Some(quiz) = &self.lesson.quiz else {
            return Err(GradeError::NoQuiz {
                lab: self.lesson.lab.id.value.0.clone(),
            }
            .into());
        };
        let attempt = judge(quiz, answers);
        let graded = quiz.mode == QuizMode::Graded;
        // Whether it is the first is decided under the lock: two at once cannot both be.
        let first = self.record(|p| {
            let first = p.first_quiz().is_none();
            if graded && !first {
                return (Vec::new(), false);
            }
            (vec![attempt_event(answers, first)], first)
        })?;
        Ok((attempt, first))
    }

    /// Whether the quiz is graded and already answered: it is answered once.
    pub fn graded_quiz_answered(&self) -> bool {
        self.lesson
            .quiz
            .as_ref()
            .is_some_and(|q| q.mode == QuizMode::Graded)
            && self.progress.first_quiz().is_some()
    }

    /// What follows an attempt: the score of a practice quiz, or that a graded one is recorded.
    pub fn quiz_result_screen(&self, attempt: Option<&Attempt>, first: bool) -> String {
        match (&self.lesson.quiz, attempt) {
            (Some(quiz), Some(attempt)) => screens::score(quiz, attempt, first),
            (Some(quiz), None) => screens::recorded(quiz, first),
            (None, _) => String::new(),
        }
    }

    /// The done-when summary, with `live` results for steps not yet passed.
    pub fn summary(&self, live: &[CheckResult]) -> Summary {
        let graded = self
            .lesson
            .quiz
            .as_ref()
            .is_some_and(|q| q.mode == QuizMode::Graded);
        summarize(self.lesson.lab, &self.progress, live, graded)
    }

    /// The done-when screen, with `live` results for steps not yet passed.
    pub fn done_when_screen(&self, live: &[CheckResult]) -> String {
        screens::done_when(&self.lesson.lab.id.value.0, &self.summary(live), self.look)
    }

    /// Without a terminal: from the current step on, show it, run its checks, and move on while
    /// they pass; stop at the first step that does not. A quiz step takes `answers` if given.
    pub fn batch(
        &mut self,
        checks: &mut dyn Checks,
        answers: Option<&BTreeMap<String, Vec<String>>>,
        out: &mut dyn FnMut(&str),
    ) -> Result<Outcome, WalkError> {
        let mut live = Vec::new();
        while let Some(step) = self.current() {
            out(&self.step_screen(step));
            if step.has_quiz()
                && self.progress.first_quiz().is_none()
                && let Some(answers) = answers
            {
                let (attempt, first) = self.record_quiz(answers)?;
                out(&self.quiz_result_screen(attempt.as_ref(), first));
            }
            let results = checks.run(&step.id.value.0)?;
            out(&screens::results(
                &results,
                self.look,
                screens::Next::Commands(&self.lesson.lab.id.value.0),
            ));
            if !all_pass(&results) {
                let exit = crate::engine::exit_code(&results);
                live.extend(results);
                out(&self.done_when_screen(&live));
                return Ok(Outcome::Stopped {
                    step: step.id.value.0.clone(),
                    exit,
                });
            }
            self.pass(step, &results)?;
        }
        let summary = self.summary(&live);
        out(&screens::done_when(
            &self.lesson.lab.id.value.0,
            &summary,
            self.look,
        ));
        Ok(Outcome::Finished(summary))
    }

    /// With a person at a terminal: where to run the commands, then the current step, its
    /// checks, then keys and changes (when `watching`) until every step is passed or they quit.
    pub fn interactive(
        &mut self,
        checks: &mut dyn Checks,
        io: &mut dyn Io,
        watching: bool,
    ) -> Result<Outcome, WalkError> {
        io.show(&screens::intro(
            &self.lesson.lab.id.value.0,
            &self.workdir.display().to_string(),
            watching,
            self.look,
        ));
        'steps: while let Some(step) = self.current() {
            let id = step.id.value.0.clone();
            io.show(&self.step_screen(step));
            io.show(&format!("{}\n", screens::keys(step.has_quiz())));
            let mut results = checks.run(&id)?;
            io.show(&screens::results(&results, self.look, screens::Next::Keys));
            loop {
                match io.next() {
                    Input::Key('c') => {
                        results = checks.run(&id)?;
                        io.show(&screens::results(&results, self.look, screens::Next::Keys));
                    }
                    Input::Changed(what) => {
                        // A watch fires for changes that do not move any check: a result is
                        // shown again only when it says something new.
                        let now = checks.run(&id)?;
                        if same_results(&results, &now) {
                            io.show(&format!(
                                "({what} changed: checking again; the checks say the same)\n"
                            ));
                        } else {
                            io.show(&format!("({what} changed: checking again)\n"));
                            io.show(&screens::results(&now, self.look, screens::Next::Keys));
                        }
                        results = now;
                    }
                    Input::Key('h') => {
                        let text = self.next_hint(step, screens::Next::Keys)?;
                        io.show(&text);
                    }
                    Input::Key('s') => {
                        let text = self.solution(step)?;
                        io.show(&text);
                    }
                    Input::Key('r') => io.show(&self.runbook(step)),
                    Input::Key('l') => io.show(&self.list_screen()),
                    Input::Key('t') if step.has_quiz() => {
                        self.quiz_at_terminal(io)?;
                        results = checks.run(&id)?;
                        io.show(&screens::results(&results, self.look, screens::Next::Keys));
                    }
                    Input::Key('n') => {
                        if all_pass(&results) {
                            self.pass(step, &results)?;
                            continue 'steps;
                        }
                        io.show("n moves on once every check passes: press c to check now, h for a hint.\n");
                    }
                    Input::Key('q') | Input::Closed => {
                        io.show(&format!(
                            "Your progress is saved. `lab start {0}` (or `lab walkthrough {0}`) resumes at step `{id}`.\n",
                            self.lesson.lab.id.value.0
                        ));
                        return Ok(Outcome::Quit(id));
                    }
                    Input::Key('?') => io.show(&format!("{}\n", screens::keys(step.has_quiz()))),
                    Input::Key(_) => {}
                }
            }
        }
        let summary = self.summary(&[]);
        io.show(&screens::done_when(
            &self.lesson.lab.id.value.0,
            &summary,
            self.look,
        ));
        Ok(Outcome::Finished(summary))
    }

    /// Asks the quiz at the terminal, with feedback after each answer (a graded quiz's only
    /// says it is recorded), and records it.
    pub fn quiz_at_terminal(&mut self, io: &mut dyn Io) -> Result<Option<Attempt>, WalkError> {
        let Some(quiz) = &self.lesson.quiz else {
            io.show("This lab has no quiz.\n");
            return Ok(None);
        };
        if self.graded_quiz_answered() {
            io.show(&screens::recorded(quiz, false));
            return Ok(None);
        }
        let lab = quiz.lab.value.0.clone();
        let look = self.look;
        let mut feedback = |i: usize, picked: &[String]| {
            let q = &quiz.questions[i];
            screens::feedback(q, is_correct(&lab, q, picked), look)
        };
        let Some(answers) = io.ask(quiz, &mut feedback) else {
            io.show("Quiz left before the end: nothing recorded.\n");
            return Ok(None);
        };
        let (attempt, first) = self.record_quiz(&answers)?;
        io.show(&self.quiz_result_screen(attempt.as_ref(), first));
        Ok(attempt)
    }
}
