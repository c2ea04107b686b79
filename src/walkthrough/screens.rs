//! Every screen the learner reads in the walkthrough, as text at a given width: a step, its
//! check results, a hint, a solution, the list of steps, the quiz's options, picks and
//! feedback, and the done-when summary. Pure functions, so that each is snapshot-tested
//! without a terminal.

use super::markdown::{Look, no_breaks, render};
use crate::content::model::{Choice, Question, Quiz, Step};
use crate::engine::{CheckResult, Status};
use crate::grade::done_when::{Scored, Source, Summary};
use crate::grade::quiz::Attempt;
use crate::record::Break;
use crate::text::{printable, printable_block};

/// The first screen at a terminal: where the step's commands are run, and that this
/// walkthrough stays open and checks them (by itself when `watching`).
pub fn intro(lab: &str, workdir: &str, watching: bool, look: Look) -> String {
    let checking = if watching {
        "This walkthrough keeps watching your files and the cluster, and checks the step again by itself when they change."
    } else {
        "This walkthrough stays here: press c to check the step after your commands (--manual-run watches nothing)."
    };
    let text = format!(
        "Lab {lab}: run each step's commands in a second terminal, in this folder ({workdir}); they carry your lab's values and work as pasted. {checking}"
    );
    format!("{}\n\n", wrap(&printable(&text), "", look).trim_end())
}

/// The keys, as the bottom line of a step.
pub fn keys(quiz: bool) -> String {
    let mut keys = "[c] check  [h] hint  [s] solution  [r] runbook  [l] steps  [n] next".to_owned();
    if quiz {
        keys.push_str("  [t] take the quiz");
    }
    keys.push_str("  [q] quit");
    keys
}

fn rule(look: Look) -> String {
    "─".repeat(look.width.clamp(20, 100))
}

/// A step: its place, title, instructions (with the learner's values filled in beforehand),
/// the files it touches and what its checks ask.
pub fn step(step: &Step, index: usize, total: usize, instructions: &str, look: Look) -> String {
    let mut out = String::new();
    out.push_str(&rule(look));
    out.push('\n');
    let head = format!("Step {}/{total} · {}", index + 1, step.title);
    out.push_str(&if look.color {
        format!("\x1b[1m{head}\x1b[0m")
    } else {
        head
    });
    out.push_str(&format!("  ({})\n", step.id.value.0));
    out.push_str(&rule(look));
    out.push_str("\n\n");
    out.push_str(&render(instructions, look));
    if !step.files.is_empty() {
        let files: Vec<&str> = step.files.iter().map(|f| f.value.0.as_str()).collect();
        out.push_str(&format!("\nFiles: {}\n", files.join(", ")));
    }
    if !step.checks.is_empty() {
        out.push_str("\nDone when:\n");
        for check in &step.checks {
            out.push_str(&format!("  ○ {}\n", check.title));
        }
    }
    out
}

/// What follows the results: keys at a terminal, commands otherwise.
#[derive(Debug, Clone, Copy)]
pub enum Next<'a> {
    /// A person presses keys.
    Keys,
    /// Commands, for the chapter named.
    Commands(&'a str),
}

/// The results of a check run.
pub fn results(results: &[CheckResult], look: Look, next: Next<'_>) -> String {
    let mut out = String::from("\nChecked now:\n");
    for r in results {
        let (mark, colour) = match r.status {
            Status::Pass => ("✓", "\x1b[32m"),
            Status::Fail => ("✗", "\x1b[31m"),
            Status::Error => ("!", "\x1b[33m"),
        };
        let mark = if look.color {
            format!("{colour}{mark}\x1b[0m")
        } else {
            mark.to_owned()
        };
        out.push_str(&format!("  {mark} {}\n", printable(&r.title)));
        if r.status != Status::Pass {
            out.push_str(&wrap(&printable_block(&r.message), "      ", look));
            if let Some(hint) = &r.hint {
                let hint = printable_block(hint);
                out.push_str(&wrap(&format!("try: {hint}"), "      ", look));
            }
        }
    }
    let passed = results.iter().filter(|r| r.status == Status::Pass).count();
    let total = results.len();
    let summary = match (passed == total, next) {
        (true, Next::Keys) => format!("All {total} check(s) pass. Press n for the next step.\n"),
        (true, Next::Commands(_)) => format!("All {total} check(s) pass.\n"),
        (false, Next::Keys) => format!(
            "{passed} of {total} check(s) pass. Press h for a hint; the checks run again when your files, the cluster or the registry change (or press c).\n"
        ),
        (false, Next::Commands(id)) => format!(
            "{passed} of {total} check(s) pass. `lab hint {id}` gives a hint; run `lab walkthrough {id}` again when you have done more.\n"
        ),
    };
    out.push_str(&wrap(summary.trim_end(), "", look));
    out
}

fn wrap(text: &str, indent: &str, look: Look) -> String {
    let options = no_breaks(textwrap::Options::new(look.width.max(30)))
        .initial_indent(indent)
        .subsequent_indent(indent);
    textwrap::wrap(text, &options)
        .iter()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}

/// Hint `n` (from 1) of the `total` hints a step has where the lab runs, or what to do when
/// there are no more.
pub fn hint(
    step: &Step,
    n: usize,
    total: usize,
    text: Option<&str>,
    look: Look,
    next: Next<'_>,
) -> String {
    let id = &step.id.value.0;
    let (solution, runbook) = match next {
        Next::Keys => (
            "Press s to see its solution".to_owned(),
            "r for the runbook".to_owned(),
        ),
        Next::Commands(lab) => (
            format!("`lab solve {lab} --step {id}` shows its solution"),
            format!("`lab runbook {lab}` the runbook"),
        ),
    };
    match text {
        Some(text) => {
            let body = render(text, look);
            format!(
                "Hint {n} of {total} for `{}`:\n{}",
                step.id.value.0,
                indent(&body, "  ")
            )
        }
        None if total == 0 => {
            format!("Step `{id}` has no hints. {solution}, or {runbook}.\n")
        }
        None => format!("That was the last hint of `{id}`. {solution}.\n"),
    }
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_owned()
            } else {
                format!("{by}{l}\n")
            }
        })
        .collect()
}

/// A step's solution, with the learner's values filled in.
pub fn solution(step: &Step, script: Option<&str>) -> String {
    match script {
        Some(script) => format!(
            "Solution of `{}` (try it yourself first; a solution shown is noted in your progress):\n\n{}\n",
            step.id.value.0,
            indent(script.trim_end(), "    ")
        ),
        None => format!("Step `{}` has no written solution.\n", step.id.value.0),
    }
}

/// The state of a step in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// Recorded as passed.
    Passed,
    /// The one to do now.
    Current,
    /// Not reached.
    Ahead,
}

/// The list of steps with their state.
pub fn step_list(chapter: &str, steps: &[(&Step, StepState)]) -> String {
    let mut out = format!("Steps of {chapter}:\n");
    for (i, (step, state)) in steps.iter().enumerate() {
        let mark = match state {
            StepState::Passed => "✓",
            StepState::Current => "→",
            StepState::Ahead => "·",
        };
        out.push_str(&format!(
            "  {mark} {}. {:<18} {}\n",
            i + 1,
            step.id.value.0,
            step.title
        ));
    }
    out
}

/// Where the progress chain breaks, for a record of `records` records.
pub fn breaks(path: &str, records: usize, breaks: &[Break]) -> String {
    if records == 0 {
        return format!("Progress record {path}: no records yet.\n");
    }
    if breaks.is_empty() {
        return format!("Progress record {path}: {records} record(s), intact.\n");
    }
    let mut out = format!(
        "Progress record {path}: NOT intact ({} problem(s)); your instructor will see this:\n",
        breaks.len()
    );
    for b in breaks {
        out.push_str(&format!("  - {}\n", printable(&b.to_string())));
    }
    out
}

/// One quiz question, as the learner sees it before answering.
pub fn question(index: usize, total: usize, question: &Question, look: Look) -> String {
    let kind = match question.choice {
        Choice::Single => "pick one",
        Choice::Multiple => "pick all that apply",
    };
    format!(
        "Question {}/{total} ({kind}):\n{}",
        index + 1,
        indented(&question.prompt, look)
    )
}

/// The quiz's title, wrapped, and a blank line.
pub fn quiz_title(quiz: &Quiz, look: Look) -> String {
    format!("{}\n", wrap(&printable(&quiz.title), "", look))
}

/// How many columns the quiz widget's marker takes before an option's first row: `> ` where
/// one option is picked, `> [x] ` where several may be.
fn marker_width(choice: Choice) -> usize {
    match choice {
        Choice::Single => 2,
        Choice::Multiple => 6,
    }
}

/// The options of a question as the quiz widget lists them, each already wrapped to a
/// terminal `width` columns wide behind the widget's marker, its later rows indented under
/// its text. The widget clears one row per line of an item when it redraws or is answered, so
/// an option the terminal had to wrap left rows of the list on the screen.
pub fn option_items(question: &Question, width: usize) -> Vec<String> {
    let marker = marker_width(question.choice);
    let newline = format!("\n{}", " ".repeat(marker));
    question
        .options
        .value
        .iter()
        .map(|o| fit(&o.id.value.0, &o.text.value, width, marker).join(&newline))
        .collect()
}

/// What the learner picked, shown once the widget is gone and before the verdict: the
/// options in the question's order, wrapped as the widget wrapped them.
pub fn picked(question: &Question, ids: &[String], width: usize) -> String {
    let chosen: Vec<_> = question
        .options
        .value
        .iter()
        .filter(|o| ids.contains(&o.id.value.0))
        .collect();
    if chosen.is_empty() {
        return "  You picked nothing.\n".to_owned();
    }
    let mut out = String::from("  You picked:\n");
    for o in chosen {
        for line in fit(&o.id.value.0, &o.text.value, width, PICKED_INDENT.len()) {
            out.push_str(&format!("{PICKED_INDENT}{line}\n"));
        }
    }
    out
}

const PICKED_INDENT: &str = "    ";

/// The fewest columns an option's text is wrapped to, however narrow the terminal.
const MIN_ROOM: usize = 12;

/// Option `id`'s text on rows that each fit a terminal `width` columns wide behind `indent`
/// columns, the first starting `id) `, the later ones indented under the text. A row stops
/// short of the last column (some terminals wrap a row that fills it), and has fewer bytes
/// than `width`: dialoguer counts the rows an item takes from its lines' lengths in bytes.
fn fit(id: &str, text: &str, width: usize, indent: usize) -> Vec<String> {
    let head = format!("{}) ", printable(id));
    let hang = " ".repeat(textwrap::core::display_width(&head));
    let text = printable(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut room = width.saturating_sub(indent + 1).max(MIN_ROOM);
    loop {
        let options = no_breaks(textwrap::Options::new(room))
            .break_words(true)
            .initial_indent(&head)
            .subsequent_indent(&hang);
        let lines: Vec<String> = textwrap::wrap(&text, &options)
            .iter()
            .map(|l| l.trim_end().to_owned())
            .collect();
        if room == MIN_ROOM || lines.iter().all(|l| indent + l.len() < width) {
            return lines;
        }
        room -= 1;
    }
}

/// Markdown rendered two columns narrower, then indented by two: rows that fit the width.
fn indented(markdown: &str, look: Look) -> String {
    let narrower = Look {
        width: look.width.saturating_sub(2),
        ..look
    };
    indent(&render(markdown, narrower), "  ")
}

/// The options of a question with the learner's picks marked (answers from a file).
pub fn answered(question: &Question, picked: &[String], width: usize) -> String {
    let mut out = String::new();
    for option in &question.options.value {
        let id = &option.id.value.0;
        let mark = if picked.contains(id) { "[x]" } else { "[ ]" };
        let lines = fit(id, &option.text.value, width, 6);
        out.push_str(&format!("  {mark} {}\n", lines.join("\n      ")));
    }
    if picked.is_empty() {
        out.push_str("  (not answered)\n");
    }
    out
}

/// The feedback after an answer: right or not, then the explanation; for a graded quiz's
/// question (`correct` is `None`), only that the answer is recorded.
pub fn feedback(question: &Question, correct: Option<bool>, look: Look) -> String {
    let Some(correct) = correct else {
        return "Answer recorded.\n".to_owned();
    };
    let verdict = if correct { "Right." } else { "Not quite." };
    let explanation = question
        .explanation
        .as_ref()
        .map(|e| indented(&e.value, look))
        .unwrap_or_default();
    format!("{verdict}\n{explanation}")
}

/// The end of a graded quiz: the answers are recorded (or were already), and who judges them.
pub fn recorded(quiz: &Quiz, first: bool) -> String {
    if first {
        format!(
            "{}: your answers are recorded. This quiz is graded: `lab grade` judges them with your instructor's key, and your report explains each question.\n",
            quiz.title
        )
    } else {
        format!(
            "{}: your answers to this graded quiz are already recorded; it is answered once, and nothing was changed.\n",
            quiz.title
        )
    }
}

/// The score at the end of a quiz.
pub fn score(quiz: &Quiz, attempt: &Attempt, first: bool) -> String {
    let counts = if first {
        "This first attempt is recorded; later attempts are practice."
    } else {
        "Practice attempt: your first attempt is the one recorded."
    };
    scored(quiz, attempt, counts)
}

/// The score at the end of the lab's practice quiz, which is never recorded.
pub fn practice_score(quiz: &Quiz, attempt: &Attempt) -> String {
    scored(
        quiz,
        attempt,
        "A practice quiz: nothing is recorded, and it is not graded.",
    )
}

fn scored(quiz: &Quiz, attempt: &Attempt, counts: &str) -> String {
    let verdict = if attempt.passed {
        "passed"
    } else {
        "not passed"
    };
    format!(
        "{}: {} of {} right, {}% (pass mark {}%): {verdict}.\n{counts}\n",
        quiz.title, attempt.correct, attempt.questions, attempt.score_percent, attempt.pass_percent
    )
}

/// The done-when summary.
pub fn done_when(lab: &str, summary: &Summary, look: Look) -> String {
    let mut out = match &summary.void {
        Some(why) => format!(
            "Done when: no score, {why}. The points below are what the record claims; they count only on an intact record.\n"
        ),
        None if summary.pending > 0 => format!(
            "Done when ({} of {} points; {} more are the graded quiz's, which `lab grade` awards):\n",
            summary.earned, summary.points, summary.pending
        ),
        None => format!(
            "Done when ({} of {} points):\n",
            summary.earned, summary.points
        ),
    };
    if !summary.unknown_steps.is_empty() {
        out.push_str(&format!(
            "The record names steps this lab does not have, never scored: {}.\n",
            printable(&summary.unknown_steps.join(", "))
        ));
    }
    for c in &summary.criteria {
        let mark = if c.earned == c.points {
            "✓"
        } else if c.earned > 0 {
            "◐"
        } else {
            "✗"
        };
        out.push_str(&format!(
            "\n{mark} {} ({} of {} points)\n",
            c.id, c.earned, c.points
        ));
        out.push_str(&wrap(&c.text, "    ", look));
        for s in &c.checks {
            let state = match s.status {
                Some(Status::Pass) => "pass",
                Some(Status::Fail) => "fail",
                Some(Status::Error) => "error",
                None => "not yet",
            };
            let source = match s.source {
                _ if s.awarded_by_grade && s.status == Some(Status::Pass) => {
                    ", answers recorded; `lab grade` awards these"
                }
                Source::Recorded => ", recorded",
                Source::RunNow => ", run now",
                Source::NotRun => "",
            };
            out.push_str(&format!(
                "    {:>2}/{:<2} {} ({state}{source})\n",
                s.earned,
                s.points,
                printable(&s.check)
            ));
            // Evidence comes from the record, which the learner's folder holds.
            for e in s.evidence.iter().take(3) {
                let (what, value) = (printable(&e.what), printable(&e.value));
                out.push_str(&wrap(&format!("{what}: {value}"), "          ", look));
            }
            if let Some(fix) = to_do(lab, s) {
                out.push_str(&format!("          to do: {}\n", printable_block(&fix)));
            }
        }
    }
    out
}

/// For a check that did not earn its points: the command that would.
fn to_do(lab: &str, s: &Scored) -> Option<String> {
    let waits_for_grade = s.awarded_by_grade && s.status == Some(Status::Pass);
    (s.earned < s.points && !waits_for_grade).then(|| {
        if s.quiz {
            format!("`lab quiz {lab}`")
        } else if s.step_passed {
            format!("`lab reset {lab} --step {}`, then do it again", s.step)
        } else {
            format!("`lab hint {lab} --step {}`, then `lab next {lab}`", s.step)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Look = Look {
        width: 80,
        color: false,
    };

    fn step() -> Step {
        serde_saphyr::from_str(
            "id: pin-app\ntitle: Pin the app by digest\ninstructions: Set the image by `@sha256:`.\nhints:\n  - \"`kubectl set image` takes `name=image@sha256:...`.\"\nfiles: [manifests/app.yaml]\nchecks:\n  - id: app-pinned\n    title: The app names its image by digest\n    check:\n      digest-pinned: {kind: Deployment, namespace: develop, name: app}\n",
        )
        .unwrap()
    }

    fn result(status: Status) -> CheckResult {
        CheckResult {
            step: "pin-app".into(),
            check: "app-pinned".into(),
            title: "The app names its image by digest".into(),
            kind: "digest-pinned",
            status,
            message: "Deployment develop/app names images by tag: app=kind-registry:5000/walk/app:1.0".into(),
            hint: Some("pin each image by digest: `kubectl set image -n develop deployment/app CONTAINER=IMAGE@sha256:...`".into()),
            evidence: Vec::new(),
            cause: None,
            elapsed_ms: 3,
        }
    }

    #[test]
    fn the_screens_of_a_step_at_a_terminal() {
        let step = step();
        let mut screens = intro("walk", "/home/learner/lab", true, PLAIN);
        screens += &intro("walk", "/home/learner/lab", false, PLAIN);
        screens += &step_screen_for_test(&step);
        screens += &keys(false);
        screens += "\n";
        screens += &results(&[result(Status::Fail)], PLAIN, Next::Keys);
        screens += &results(&[result(Status::Error)], PLAIN, Next::Commands("walk"));
        screens += &hint(&step, 1, 1, Some(&step.hints[0]), PLAIN, Next::Keys);
        screens += &hint(&step, 2, 1, None, PLAIN, Next::Keys);
        screens += &solution(
            &step,
            Some(
                "kubectl set image -n develop deployment/app app=IMAGE@sha256:0000\nkubectl rollout status -n develop deployment/app",
            ),
        );
        screens += &solution(&step, None);
        insta::assert_snapshot!(screens);
    }

    fn question() -> Question {
        serde_saphyr::from_str(
            "id: q-tags\nobjective: build-once\nchoice: single\nprompt: What runs?\noptions:\n  - id: a\n    text: \"The proof that what runs is what CI built and tested: the new bytes have a new digest that no pipeline, signature or SBOM vouches for.\"\n  - id: b\n    text: Nothing\n",
        )
        .unwrap()
    }

    // An option wider than the terminal was wrapped by the terminal, and the quiz widget,
    // which clears one row per line it was given, left its rows above the verdict.
    #[test]
    fn every_option_row_fits_the_terminal_behind_the_widget_marker() {
        let q = question();
        for width in [40, 60, 80, 120] {
            for item in option_items(&q, width) {
                let lines: Vec<&str> = item.lines().collect();
                assert!(2 + lines[0].len() < width, "{width}: {lines:?}");
                for line in &lines[1..] {
                    assert!(line.len() < width, "{width}: {lines:?}");
                    assert!(line.starts_with("     "), "hanging indent: {line:?}");
                }
            }
        }
        let items = option_items(&q, 60);
        assert_eq!(items[1], "b) Nothing");
        insta::assert_snapshot!(items[0], @r"
        a) The proof that what runs is what CI built and tested:
             the new bytes have a new digest that no pipeline,
             signature or SBOM vouches for.
        ");
    }

    // dialoguer adds rows for a line it finds wider than the terminal by its length in bytes:
    // a line of narrow characters but many bytes made it clear rows above the list.
    #[test]
    fn a_row_of_many_bytes_is_wrapped_shorter() {
        let text = "é".repeat(20) + " " + &"ü".repeat(20);
        for line in fit("a", &text, 60, 2) {
            assert!(2 + line.len() < 60, "{line:?} has {} bytes", line.len());
        }
    }

    #[test]
    fn the_screen_keeps_what_was_picked() {
        let q = question();
        let picked = picked(&q, &["a".into()], 60);
        assert_eq!(
            picked,
            "  You picked:\n    a) The proof that what runs is what CI built and\n       tested: the new bytes have a new digest that no\n       pipeline, signature or SBOM vouches for.\n"
        );
        assert!(picked.lines().all(|l| l.len() < 60), "{picked}");
        assert_eq!(super::picked(&q, &[], 60), "  You picked nothing.\n");
        // Answers from a file are listed the same way, every option marked.
        let listed = answered(&q, &["a".into()], 60);
        assert!(listed.lines().all(|l| l.len() < 60), "{listed}");
        assert!(listed.starts_with("  [x] a) The proof"), "{listed}");
        assert!(listed.ends_with("\n  [ ] b) Nothing\n"), "{listed}");
    }

    fn step_screen_for_test(step: &Step) -> String {
        super::step(step, 1, 3, &step.instructions, PLAIN)
    }
}
