//! What `lab` shows only to a person at a terminal: a spinner while something is waited for.
//! Without a terminal on standard error (a pipe, a file, CI), nothing is drawn and the
//! commands' plain lines are the whole output.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether a person is watching: standard error is a terminal, `CI` is not set to a true
/// value, and the terminal is not `dumb`.
pub fn interactive() -> bool {
    watched(
        std::io::stderr().is_terminal(),
        std::env::var("CI").ok().as_deref(),
        std::env::var("TERM").ok().as_deref(),
    )
}

/// [`interactive`], given what it reads.
fn watched(is_terminal: bool, ci: Option<&str>, term: Option<&str>) -> bool {
    let ci = ci.is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
    is_terminal && !ci && term != Some("dumb")
}

/// A spinner on standard error with what is being waited for; cleared when dropped, so the
/// line the command prints next takes its place.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    /// Starts a spinner saying `message`, if a person is watching; else does nothing.
    pub fn start(message: impl Into<String>) -> Self {
        if !interactive() {
            return Spinner(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message.into());
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner(Some(bar))
    }

    /// Whether it is drawn.
    pub fn is_drawn(&self) -> bool {
        self.0.is_some()
    }

    /// Changes what it says.
    pub fn set(&self, message: impl Into<String>) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.into());
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_terminal_outside_ci_is_watched() {
        assert!(watched(true, None, Some("xterm-256color")));
        assert!(watched(true, Some("false"), None));
        assert!(!watched(false, None, Some("xterm")), "a pipe or a file");
        assert!(!watched(true, Some("true"), Some("xterm")), "CI=true");
        assert!(!watched(true, Some("1"), Some("xterm")));
        assert!(!watched(true, None, Some("dumb")));
    }
}
