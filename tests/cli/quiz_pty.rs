//! The quiz as a terminal shows it: `lab quiz` in a pseudo-terminal 60, 80 and 120 columns
//! wide, its output drawn by a terminal emulator (vt100), so that what is asserted is the
//! screen the learner reads, not the bytes that drew it. While a question waits, each option
//! is on the screen once, none wrapped by the terminal; after each answer the screen holds the
//! question, exactly the option(s) picked, then the verdict (a practice quiz, with the
//! explanation) or that the answer is recorded (a graded quiz), and no row of the list.

use std::num::NonZeroU16;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rexpect::session::{Options, PtySession, spawn_with_options};
use serde::Deserialize;

use super::walk_pty::{key, raw};
use super::walkthrough::{Learner, NOTES, PINNED};
use super::{copy_tree, edit, repo};

const DOWN: &str = "\x1b[B";
const ROWS: NonZeroU16 = NonZeroU16::new(60).unwrap();

#[derive(Deserialize)]
struct QuizFile {
    title: String,
    questions: Vec<Question>,
}

#[derive(Deserialize)]
struct Question {
    choice: String,
    options: Vec<Choice>,
    explanation: Option<String>,
}

#[derive(Deserialize)]
struct Choice {
    id: String,
    text: String,
}

impl Question {
    fn multiple(&self) -> bool {
        self.choice == "multiple"
    }

    /// The option as one line, the way the learner reads it however it is wrapped.
    fn option(&self, k: usize) -> String {
        let o = &self.options[k];
        words(&format!("{}) {}", o.id, o.text))
    }
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `lab` in a pseudo-terminal, and the screen its output draws.
struct Terminal {
    pty: PtySession,
    screen: vt100::Parser,
}

impl Terminal {
    /// The width is the terminal's own (`stty`), as a learner's is; COLUMNS is not set.
    fn spawn(cols: NonZeroU16, dir: &Path, course: &Path, args: &[&str]) -> Self {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!(
                "stty cols {cols} rows {ROWS} && exec \"$0\" \"$@\""
            ))
            .arg(env!("CARGO_BIN_EXE_lab"))
            .arg("--color=never")
            .arg("--course")
            .arg(course)
            .args(args)
            .current_dir(dir)
            .env_remove("LAB_COURSE")
            .env_remove("CI")
            .env_remove("COLUMNS")
            .env("NO_COLOR", "1")
            .env("TERM", "xterm");
        let pty = spawn_with_options(
            cmd,
            Options::default()
                .timeout_ms(Some(20_000))
                .strip_ansi_escape_codes(false),
        )
        .expect("lab starts in a pseudo-terminal");
        Terminal {
            pty,
            screen: vt100::Parser::new(ROWS, cols, 0),
        }
    }

    /// Waits for `text` in the output and draws everything up to it and it.
    fn wait_for(&mut self, text: &str) {
        match self.pty.exp_string(&raw(text)) {
            Ok(before) => {
                self.draw(&before);
                self.screen.process(text.as_bytes());
            }
            Err(e) => panic!("{text:?} never came ({e}); the screen:\n{}", self.text()),
        }
    }

    /// Draws what else comes until the output is quiet for a moment: the widget has drawn
    /// and waits for a key.
    fn settle(&mut self) {
        let mut quiet = Instant::now();
        while quiet.elapsed() < Duration::from_millis(120) {
            let mut got = String::new();
            while let Some(c) = self.pty.try_read() {
                got.push(c);
            }
            if got.is_empty() {
                std::thread::sleep(Duration::from_millis(10));
            } else {
                self.draw(&got);
                quiet = Instant::now();
            }
        }
    }

    /// One key, then the redraw it causes. Between two reads the widget's terminal is back in
    /// cooked mode, so a key sent during a redraw would be echoed: keys go one at a time.
    fn press(&mut self, keys: &str) {
        key(&mut self.pty, keys);
        self.settle();
    }

    /// rexpect hands over one char per byte.
    fn draw(&mut self, chars: &str) {
        let bytes: Vec<u8> = chars
            .chars()
            .map(|c| u8::try_from(u32::from(c)).expect("one char per byte"))
            .collect();
        self.screen.process(&bytes);
    }

    /// The screen's rows, each with whether the terminal wrapped it into the next.
    fn rows(&self) -> Vec<(String, bool)> {
        let screen = self.screen.screen();
        let (_, cols) = screen.size();
        screen
            .rows(0, cols.get())
            .enumerate()
            .map(|(r, text)| (text.trim_end().to_owned(), screen.row_wrapped(r as u16)))
            .collect()
    }

    fn text(&self) -> String {
        self.screen.screen().contents()
    }

    /// The rows from the last one that starts with `head` to the end of what is drawn.
    fn since_last(&self, head: &str) -> Vec<(String, bool)> {
        let rows = self.rows();
        let start = rows
            .iter()
            .rposition(|(r, _)| r.starts_with(head))
            .unwrap_or_else(|| panic!("no row starts with {head:?}:\n{}", self.text()));
        let end = rows
            .iter()
            .rposition(|(r, _)| !r.is_empty())
            .map_or(start + 1, |e| e + 1);
        rows[start..end].to_vec()
    }
}

/// A row of the widget without its marker (`> ` or two spaces, then `[x] ` or `[ ] ` when
/// several may be picked), which only the first row of an option has.
fn unmarked(row: &str) -> &str {
    let row = row
        .strip_prefix("> ")
        .or_else(|| row.strip_prefix("  "))
        .unwrap_or(row);
    row.strip_prefix("[x] ")
        .or_else(|| row.strip_prefix("[ ] "))
        .unwrap_or(row)
        .trim_start()
}

/// Answers every question of `quiz` at a terminal: each single choice by moving down past
/// every option to `pick(question)` (so that the list is drawn again and again), each multiple
/// by marking its picks. `end` starts what follows the last answer. Returns what each answer
/// left on the screen, and every problem seen.
fn answer_all(
    term: &mut Terminal,
    quiz: &QuizFile,
    end: &str,
    pick: impl Fn(&Question) -> Vec<usize>,
    verdict: impl Fn(usize) -> &'static str,
) -> (Vec<String>, Vec<String>) {
    let total = quiz.questions.len();
    let (mut answered, mut problems) = (Vec::new(), Vec::new());
    for (i, q) in quiz.questions.iter().enumerate() {
        let head = format!("Question {}/{total} (", i + 1);
        let last = &q.options.last().unwrap().id;
        if i == 0 {
            term.wait_for(&head);
        }
        term.wait_for(&format!(" {last}) "));
        term.settle();
        let picks = pick(q);
        if q.multiple() {
            for k in 0..q.options.len() {
                if picks.contains(&k) {
                    term.press(" ");
                }
                term.press(DOWN);
            }
        } else {
            for _ in 0..q.options.len() + picks[0] {
                term.press(DOWN);
            }
        }
        let waiting = term.since_last(&head);
        let prompt = prompt_rows(&waiting, q);
        problems.extend(list_problems(i, q, &waiting[prompt.len() + 1..]));
        // No settle: what the answer prints is waited for below.
        key(&mut term.pty, "\r");
        let said = verdict(i);
        term.wait_for(said);
        let next = if i + 1 < total {
            format!("Question {}/{total} (", i + 2)
        } else {
            end.to_owned()
        };
        term.wait_for(&next);
        let rows = term.since_last(&head);
        let starts: String = next.trim_end().chars().take(40).collect();
        let Some(stop) = rows.iter().rposition(|(r, _)| r.starts_with(&starts)) else {
            panic!("no row starts with {starts:?}:\n{rows:#?}");
        };
        let after = &rows[..stop];
        problems.extend(answer_problems(i, q, &prompt, &picks, said, after));
        answered.push(after.iter().map(|(r, _)| format!("{r}\n")).collect());
    }
    (answered, problems)
}

/// The question's prompt as drawn while it waits: the rows between its head and the list.
fn prompt_rows(waiting: &[(String, bool)], q: &Question) -> Vec<String> {
    let first = format!("{}) ", q.options[0].id);
    waiting[1..]
        .iter()
        .take_while(|(r, _)| !r.contains("space to pick") && !unmarked(r).starts_with(&first))
        .map(|(r, _)| r.clone())
        .collect()
}

/// While the question waits: every option once and whole, no row wrapped by the terminal.
fn list_problems(i: usize, q: &Question, list: &[(String, bool)]) -> Vec<String> {
    let mut problems = Vec::new();
    let list: Vec<&(String, bool)> = list
        .iter()
        .skip_while(|(r, _)| r.contains("space to pick"))
        .collect();
    let drawn = words(
        &list
            .iter()
            .map(|(r, _)| unmarked(r))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let all = (0..q.options.len())
        .map(|k| q.option(k))
        .collect::<Vec<_>>()
        .join(" ");
    if drawn != all {
        problems.push(format!(
            "question {}: the list shows\n  {drawn}\nnot\n  {all}",
            i + 1
        ));
    }
    if list.iter().any(|(_, wrapped)| *wrapped) {
        problems.push(format!(
            "question {}: the terminal wrapped a row of the list",
            i + 1
        ));
    }
    problems
}

/// After the answer: the prompt as it was, then exactly the picks, the verdict, and (practice)
/// the explanation; no row left over from the list, none wrapped by the terminal.
fn answer_problems(
    i: usize,
    q: &Question,
    prompt: &[String],
    picks: &[usize],
    said: &str,
    after: &[(String, bool)],
) -> Vec<String> {
    let n = i + 1;
    let mut problems = Vec::new();
    let rows: Vec<&str> = after.iter().map(|(r, _)| r.as_str()).collect();
    if rows.get(1..=prompt.len()) != Some(&prompt.iter().map(String::as_str).collect::<Vec<_>>()) {
        problems.push(format!("question {n}: the prompt changed after the answer"));
    }
    let Some(v) = rows.iter().position(|r| *r == said) else {
        problems.push(format!("question {n}: no row is exactly {said:?}"));
        return problems;
    };
    let between = &rows[(prompt.len() + 1).min(v)..v];
    let (left, shown) = match between.iter().position(|r| *r == "  You picked:") {
        Some(p) => (&between[..p], &between[p + 1..]),
        None => (between, &between[..0]),
    };
    if !left.is_empty() {
        problems.push(format!(
            "question {n}: rows of the list left above {said:?}: {left:#?}"
        ));
    }
    let shown = words(&shown.join(" "));
    let picked = picks
        .iter()
        .map(|&k| q.option(k))
        .collect::<Vec<_>>()
        .join(" ");
    if shown != picked {
        problems.push(format!(
            "question {n}: shown as picked {shown:?}, not {picked:?}"
        ));
    }
    let rest = words(&rows[v + 1..].join(" "));
    let explained = match (said, &q.explanation) {
        ("Answer recorded.", _) | (_, None) => String::new(),
        (_, Some(e)) => words(e),
    };
    if rest != explained {
        problems.push(format!(
            "question {n}: after {said:?}: {rest:?}, not {explained:?}"
        ));
    }
    let wrapped: Vec<&String> = after.iter().filter(|(_, w)| *w).map(|(r, _)| r).collect();
    if !wrapped.is_empty() {
        problems.push(format!(
            "question {n}: the terminal wrapped rows after the answer: {wrapped:#?}"
        ));
    }
    problems
}

/// course-walk with its quiz (practice: a verdict after each answer) given a prompt, options
/// and explanations that wrap at 80 columns and more.
fn long_quiz_course(root: &Path) -> QuizFile {
    copy_tree(&Learner::course(), root);
    let quiz = "quizzes/walk.yaml";
    for (from, to) in [
        (
            "prompt: What do you sign?",
            "prompt: After the incident review, the team agrees to sign what they release. What exactly do you sign, so that the signature still means something next week?",
        ),
        (
            "text: The tag\n",
            "text: The tag, `walk/app:1.0`, which anyone with push rights can point at other bytes tomorrow without changing its name at all\n",
        ),
        (
            "text: The digest\n",
            "text: The digest, `sha256:` and the hash of the manifest, which names exactly these bytes and no others, now and later\n",
        ),
        (
            "explanation: Tags move; digests do not.",
            "explanation: Tags move; digests do not. A signature made over a digest keeps vouching for the same bytes, whatever the tags say later.",
        ),
        (
            "text: mutateDigest true\n",
            "text: mutateDigest true, so that Kyverno rewrites each admitted image from its tag to the digest it verified\n",
        ),
        (
            "text: verifyDigest true\n",
            "text: verifyDigest true, so that an image must be named by digest before it is admitted\n",
        ),
        (
            "text: deleting the policy\n",
            "text: deleting the policy whenever a hotfix has to go out in a hurry and nobody can find the signing key\n",
        ),
    ] {
        edit(root, quiz, from, to);
    }
    serde_saphyr::from_str(&std::fs::read_to_string(root.join(quiz)).unwrap()).unwrap()
}

/// The practice quiz at `cols` columns: q-sign right (b), q-enforce not (a and c).
fn practice_quiz_at(cols: u16) -> Vec<String> {
    let course = tempfile::tempdir().unwrap();
    let quiz = long_quiz_course(course.path());
    let learner = Learner::new();
    let mut term = Terminal::spawn(
        NonZeroU16::new(cols).unwrap(),
        learner.path(),
        course.path(),
        &["quiz", "walk"],
    );
    let (answered, problems) = answer_all(
        &mut term,
        &quiz,
        "Mini quiz: ",
        |q| if q.multiple() { vec![0, 2] } else { vec![1] },
        |i| if i == 0 { "Right." } else { "Not quite." },
    );
    term.wait_for("1 of 2 right, 50% (pass mark 50%): passed.");
    term.pty.exp_eof().unwrap();
    assert!(
        problems.is_empty(),
        "at {cols} columns:\n{}",
        problems.join("\n")
    );
    answered
}

// An option wider than the terminal left rows of the list on the screen above the verdict
// (the widget cleared one row per option), and arrow keys drew the list again below them.
#[test]
fn the_practice_quiz_shows_the_picked_option_then_the_verdict_at_60_columns() {
    let answered = practice_quiz_at(60);
    insta::assert_snapshot!("quiz-pty-practice-60", answered.concat());
}

#[test]
fn the_practice_quiz_shows_the_picked_option_then_the_verdict_at_80_columns() {
    practice_quiz_at(80);
}

#[test]
fn the_practice_quiz_shows_the_picked_option_then_the_verdict_at_120_columns() {
    practice_quiz_at(120);
}

// The walkthrough's `t` asks through the same code as `lab quiz`.
#[test]
fn the_walkthrough_asks_the_quiz_the_same_way_at_60_columns() {
    let course = tempfile::tempdir().unwrap();
    let quiz = long_quiz_course(course.path());
    let learner = Learner::new();
    learner.write("evidence/notes.md", NOTES);
    learner.write("world.json", PINNED);
    let walk = [
        "walkthrough",
        "walk",
        "--world",
        "world.json",
        "--manual-run",
    ];
    let cols = NonZeroU16::new(60).unwrap();
    let mut term = Terminal::spawn(cols, learner.path(), course.path(), &walk);
    for step in ["Step 2/3", "Step 3/3"] {
        term.wait_for("Press n for the next step.");
        key(&mut term.pty, "n");
        term.wait_for(step);
    }
    term.wait_for("[t] take the quiz");
    key(&mut term.pty, "t");
    let (answered, problems) = answer_all(
        &mut term,
        &quiz,
        "Mini quiz: ",
        |q| if q.multiple() { vec![0, 2] } else { vec![1] },
        |i| if i == 0 { "Right." } else { "Not quite." },
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(answered, practice_quiz_at(60));
    term.wait_for("✓ The quiz is passed");
    key(&mut term.pty, "q");
    term.pty.exp_eof().unwrap();
}

/// ch14's real quiz (graded: no verdict, the answer is recorded) at `cols` columns, each
/// question answered with its longest option(s), which wrap the most.
fn graded_quiz_at(cols: u16) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("labs/ch14/tests/keys/test-only-signer.pub"),
        dir.path().join("cosign.pub"),
    )
    .unwrap();
    let quiz: QuizFile =
        serde_saphyr::from_str(&std::fs::read_to_string(repo().join("quizzes/ch14.yaml")).unwrap())
            .unwrap();
    let mut term = Terminal::spawn(
        NonZeroU16::new(cols).unwrap(),
        dir.path(),
        &repo(),
        &["quiz", "ch14"],
    );
    let (_, problems) = answer_all(
        &mut term,
        &quiz,
        &format!("{}: your answers are recorded", quiz.title),
        |q| {
            let mut by_length: Vec<usize> = (0..q.options.len()).collect();
            by_length.sort_by_key(|&k| std::cmp::Reverse(q.options[k].text.len()));
            let mut picks = by_length[..if q.multiple() { 2 } else { 1 }].to_vec();
            picks.sort_unstable();
            picks
        },
        |_| "Answer recorded.",
    );
    term.pty.exp_eof().unwrap();
    assert!(
        problems.is_empty(),
        "at {cols} columns, {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(dir.path().join(".lab/ch14/progress.json").is_file());
}

#[test]
fn the_graded_ch14_quiz_shows_each_picked_option_then_recorded_at_60_columns() {
    graded_quiz_at(60);
}

#[test]
fn the_graded_ch14_quiz_shows_each_picked_option_then_recorded_at_80_columns() {
    graded_quiz_at(80);
}

#[test]
fn the_graded_ch14_quiz_shows_each_picked_option_then_recorded_at_120_columns() {
    graded_quiz_at(120);
}
