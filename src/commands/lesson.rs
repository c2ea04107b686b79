//! What the learner's commands share: the chapter's text with this learner's values (the
//! lesson), the walkthrough's flow over their record, whether a person can be asked, and how
//! wide the screen is. `lab walkthrough`, `lab quiz`, `lab hint`, `lab next`, `lab status` and
//! `lab start` build on it; none of them calls another for it.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use super::Config;
use super::session::Session;
use crate::error::LabError;
use crate::grade::quiz;
use crate::record::Progress;
use crate::walkthrough::flow::{Flow, Lesson};
use crate::walkthrough::markdown::{Look, sections};
use crate::walkthrough::{WalkError, screens};

/// Whether a person can be asked: a terminal on both ends, not CI, not `--yes`.
pub fn can_ask(yes: bool) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    !yes && !ci && std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The terminal's width, or 80.
pub(crate) fn look(config: &Config) -> Look {
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

/// The chapter's text with this learner's values (one that does not exist yet left as its
/// placeholder), and with a step's `on_kind` text only where the lab runs on its kind cluster.
pub(crate) fn lesson(session: &Session) -> Lesson<'_> {
    let chapter = &session.chapter;
    let on_kind = session.on_kind();
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
            .insert(id.clone(), session.fill(&step.instructions_for(on_kind)));
        let hints = step.hints_for(on_kind);
        lesson
            .hints
            .insert(id.clone(), hints.iter().map(|h| session.fill(h)).collect());
        lesson.solutions.insert(id.clone(), session.solution(step));
        if let Some(link) = &step.runbook
            && let Some(section) = runbook_section(session, &link.value.0)
        {
            lesson.runbooks.insert(id, section);
        }
    }
    lesson
}

/// The Markdown a runbook link (`../../runbooks/x.md#anchor`) points to, with this learner's
/// values, so that its commands work as pasted.
pub(crate) fn runbook_section(session: &Session, link: &str) -> Option<String> {
    let (path, anchor) = link.split_once('#').unwrap_or((link, ""));
    let rel = session.chapter.resolve(path).ok()?;
    let text = session.fill(session.chapter.text(&rel).ok()?);
    if anchor.is_empty() {
        return Some(text);
    }
    sections(&text)
        .into_iter()
        .find(|(_, _, slug, _)| slug == anchor)
        .map(|(_, _, _, body)| body)
}

pub(crate) fn flow<'s>(config: &Config, session: &'s Session) -> Result<Flow<'s>, LabError> {
    Ok(Flow {
        lesson: lesson(session),
        progress: Progress::load(&session.workdir, &session.id()).map_err(WalkError::from)?,
        workdir: &session.workdir,
        course: session.course(),
        look: look(config),
    })
}

/// Whether the progress record's chain is intact, and the screen that says so (the path as
/// the learner sees it from the working folder).
pub(crate) fn integrity(session: &Session, flow: &Flow<'_>) -> (bool, String) {
    let breaks = flow.progress.verify(&session.chapter.lab.step_ids());
    let path = Progress::path(std::path::Path::new(""), &session.id());
    let screen = screens::breaks(
        &path.display().to_string(),
        flow.progress.records.len(),
        &breaks,
    );
    (breaks.is_empty(), screen)
}
