//! Benchmarks of `lab validate`:
//! - cold: the real binary validating the real course, process start to exit (target < 50 ms);
//! - scaling: in-process validation of generated courses 1x, 10x and 100x the real one, which
//!   should grow linearly.
//!
//! Run with `cargo bench --bench validate`. Figures are medians of repeated runs. Under
//! `cargo test --bench '*'` (CI) it runs short: a few runs, courses 1x and 3x the real one.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Mode, time};
use courselab::content::files::{CourseFiles, Selection};
use courselab::content::model::feedback_digest;
use courselab::content::validate::validate;

/// The chapter's keys, which its `tests:` section names. The snapshot holds them as files that
/// exist but are not text, which a course built in memory cannot hold; the keys are PEM text,
/// and validation asks only that they exist.
const KEYS: &str = "labs/ch14/tests/keys";

/// The real course copied `copies` times, each chapter renamed so the course stays valid.
fn generated_course(root: &Path, copies: usize) -> CourseFiles {
    let real = CourseFiles::from_disk(root).expect("the course reads");
    let key = real.text("quizzes/ch14.key.yaml").map(str::to_owned);
    let mut chapter: Vec<(String, String)> = real
        .texts()
        .filter(|(p, _)| p.contains("ch14"))
        .map(|(p, t)| (p.to_owned(), t.to_owned()))
        .collect();
    for entry in std::fs::read_dir(root.join(KEYS)).expect("the chapter's keys are there") {
        let path = format!("{KEYS}/{}", entry.unwrap().file_name().to_string_lossy());
        if real.text(&path).is_none() {
            assert!(real.exists(&path), "{path} is in the course");
            let text = std::fs::read_to_string(root.join(&path)).expect("a key is PEM text");
            chapter.push((path, text));
        }
    }
    let mut course = CourseFiles::empty("");
    for (path, text) in real.texts() {
        if !path.contains("ch14") {
            course.insert_text(path, text.to_owned());
        }
    }
    for n in 0..copies {
        let id = format!("ch14-{n:04}");
        for (path, text) in &chapter {
            let mut text = text
                .replace("id: ch14\n", &format!("id: {id}\n"))
                .replace("lab: ch14\n", &format!("lab: {id}\n"))
                .replace("quizzes/ch14.yaml", &format!("quizzes/{id}.yaml"))
                .replace("kind-config/ch14.yaml", &format!("kind-config/{id}.yaml"))
                .replace("  - supply-chain\n", &format!("  - supply-chain-{n}\n"))
                .replace(
                    "  - supply-chain-advanced\n",
                    &format!("  - supply-chain-advanced-{n}\n"),
                );
            if path == "quizzes/ch14.yaml" {
                text = redigest(&text, key.as_deref().unwrap_or(""), &id);
            }
            course.insert_text(&path.replace("ch14", &id), text);
        }
    }
    course
}

/// Recomputes the feedback digests of a copied quiz for its new lab id.
fn redigest(quiz: &str, key: &str, id: &str) -> String {
    let mut out = quiz.to_owned();
    let mut question = "";
    for line in key.lines() {
        if let Some(q) = line.trim().strip_prefix("- question: ") {
            question = q;
        } else if let Some(list) = line.trim().strip_prefix("correct: [") {
            let ids: Vec<&str> = list
                .trim_end_matches(']')
                .split(',')
                .map(str::trim)
                .collect();
            let old = feedback_digest("ch14", question, ids.iter().copied());
            out = out.replace(&old, &feedback_digest(id, question, ids.iter().copied()));
        }
    }
    out
}

fn main() {
    let mode = Mode::from_env();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lab = env!("CARGO_BIN_EXE_lab");

    let cold = time(mode.pick(30, 2), || {
        let out = Command::new(lab)
            .args(["validate", "--format", "json"])
            .current_dir(root)
            .output()
            .unwrap();
        assert!(out.status.success(), "the course validates: {out:?}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            report["files_checked"].as_u64() > Some(0),
            "lab validate checked no file: {report}"
        );
    });
    println!(
        "cold `lab validate` on the course (process start to exit): {:.1} ms",
        cold.as_secs_f64() * 1e3
    );

    let sizes = mode.pick([1, 10, 100], [1, 2, 3]);
    let mut per_chapter = Vec::new();
    let mut files = Vec::new();
    for copies in sizes {
        let course = generated_course(root, copies);
        let report = validate(&course, &Selection::All);
        assert_eq!(
            report.errors,
            0,
            "the generated course is valid: {:?}",
            report.diagnostics.first()
        );
        files.push(report.files_checked);
        let runs = match (mode, copies) {
            (Mode::Short, _) => 2,
            (Mode::Full, 100) => 5,
            (Mode::Full, _) => 20,
        };
        let took = time(runs, || validate(&course, &Selection::All));
        let each = took.as_secs_f64() * 1e3 / copies as f64;
        per_chapter.push(each);
        println!(
            "in-process validate, {copies:>3} chapters ({:>5} files): {:>8.2} ms total, {each:.3} ms per chapter",
            report.files_checked,
            took.as_secs_f64() * 1e3
        );
    }
    // Each copy adds the same chapter files, so a generator that stopped copying shows here.
    let chapter_files = files[1] - files[0];
    assert!(chapter_files > 0, "the copies added no file: {files:?}");
    assert_eq!(
        files[2] - files[0],
        chapter_files * (sizes[2] - sizes[0]) / (sizes[1] - sizes[0]),
        "every copy adds the same files: {files:?}"
    );
    println!(
        "per-chapter cost at {}x relative to 1x: {:.2} (1.00 = linear)",
        sizes[2],
        per_chapter[2] / per_chapter[0]
    );
}
