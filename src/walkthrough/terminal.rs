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
use crate::content::model::{Choice, Question, Quiz};

/// The terminal: keys in raw mode, changes from the watchers, screens out, the quiz through
/// dialoguer.
pub struct TerminalIo {
    changes: mpsc::Receiver<Result<String, String>>,
    raw: bool,
    look: Look,
}

impl TerminalIo {
    pub fn new(
        changes: mpsc::Receiver<Result<String, String>>,
        look: Look,
    ) -> Result<Self, WalkError> {
        crossterm::terminal::enable_raw_mode().map_err(|e| WalkError::Terminal(e.to_string()))?;
        Ok(TerminalIo {
            changes,
            raw: true,
            look,
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
        quiz: &Quiz,
        feedback: &mut dyn FnMut(usize, &[String]) -> String,
    ) -> Option<BTreeMap<String, Vec<String>>> {
        self.set_raw(false);
        let answers = ask_quiz(quiz, feedback, self.look);
        self.set_raw(true);
        answers
    }
}

/// Asks every question with dialoguer; after each answer the list is gone and the screen
/// keeps what was picked, then `feedback`. `None` if the person pressed Esc or q.
pub fn ask_quiz(
    quiz: &Quiz,
    feedback: &mut dyn FnMut(usize, &[String]) -> String,
    look: Look,
) -> Option<BTreeMap<String, Vec<String>>> {
    let (look, rows) = on_screen(look);
    let mut answers = BTreeMap::new();
    let total = quiz.questions.len();
    print!("{}", screens::quiz_title(quiz, look));
    for (i, question) in quiz.questions.iter().enumerate() {
        print!("{}", screens::question(i, total, question, look));
        let _ = std::io::stdout().flush();
        let items = screens::option_items(question, look.width);
        let picked = pick(question, &items, rows)?;
        let ids: Vec<String> = picked
            .iter()
            .map(|&k| question.options.value[k].id.value.0.clone())
            .collect();
        print!("{}", screens::picked(question, &ids, look.width));
        println!("{}", feedback(i, &ids));
        answers.insert(question.id.0.clone(), ids);
    }
    Some(answers)
}

/// The look the quiz is drawn with, no wider than the terminal whatever COLUMNS says (the
/// widget counts rows by the lines it was given), and the terminal's height.
fn on_screen(look: Look) -> (Look, Option<usize>) {
    match crossterm::terminal::size() {
        Ok((cols, rows)) if cols > 0 && rows > 0 => (
            Look {
                width: look.width.min(usize::from(cols)),
                ..look
            },
            Some(usize::from(rows)),
        ),
        _ => (look, None),
    }
}

/// The widget, over options wrapped to the width; `None` if the person left.
fn pick(question: &Question, items: &[String], rows: Option<usize>) -> Option<Vec<usize>> {
    let theme = dialoguer::theme::SimpleTheme;
    let page = rows.map(|rows| per_page(items, rows));
    match question.choice {
        Choice::Single => {
            let mut select = dialoguer::Select::with_theme(&theme)
                .items(items)
                .default(0);
            if let Some(page) = page {
                select = select.max_length(page);
            }
            select.interact_opt().ok().flatten().map(|i| vec![i])
        }
        Choice::Multiple => {
            // The picks are shown by `screens::picked`, wrapped; the widget's own report of
            // them is one unwrapped line.
            let mut select = dialoguer::MultiSelect::with_theme(&theme)
                .with_prompt("space to pick, enter to answer")
                .report(false)
                .items(items);
            if let Some(page) = page {
                select = select.max_length(page);
            }
            select.interact_opt().ok().flatten()
        }
    }
}

/// The widget's `max_length` for a terminal `rows` high: as many options as fit with the
/// tallest of them, since the widget pages by options, not rows, and cannot clear rows that
/// have scrolled away. It takes two off for its prompt and paging line.
fn per_page(items: &[String], rows: usize) -> usize {
    let tallest = items.iter().map(|i| i.lines().count()).max().unwrap_or(1);
    (rows.saturating_sub(3) / tallest.max(1)).max(1) + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_of_options_fits_the_terminal_height() {
        let items = vec!["a) one\n   two\n   three".to_owned(); 10];
        // 24 rows, 3 kept for the prompt: 7 options of 3 rows; the widget takes 2 off.
        assert_eq!(per_page(&items, 24), 9);
        assert_eq!(per_page(&items, 2), 3);
        assert_eq!(per_page(&["a) one".to_owned()], 50), 49);
    }
}
