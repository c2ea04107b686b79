//! The walkthrough at a real terminal: keys read in raw mode, the watchers' changes merged in,
//! screens written out, and the quiz asked through dialoguer. The flow itself (`flow`) knows
//! nothing of terminals; this is the one [`Io`] that talks to one.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use super::WalkError;
use super::flow::{Input, Io};
use super::markdown::Look;
use super::screens;

/// The terminal: keys in raw mode, changes from the watchers, screens out, the quiz through
/// dialoguer.
pub struct TerminalIo {
    changes: mpsc::Receiver<Result<String, String>>,
    raw: bool,
    color: bool,
}

impl TerminalIo {
    pub fn new(
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
pub fn ask_quiz(
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
