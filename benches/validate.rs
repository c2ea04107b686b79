//! Benchmarks of `lab validate`:
//! - cold: the real binary validating the real course, process start to exit (target < 50 ms);
//! - scaling: in-process validation of generated courses 1x, 10x and 100x the real one, which
//!   should grow linearly.
//!
//! Run with `cargo bench --bench validate`. Figures are medians of repeated runs.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use courselab::content::files::{CourseFiles, Selection};
use courselab::content::model::feedback_digest;
use courselab::content::validate::validate;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}

/// The real course copied `copies` times, each chapter renamed so the course stays valid.
fn generated_course(root: &Path, copies: usize) -> CourseFiles {
    let real = CourseFiles::from_disk(root).expect("the course reads");
    let key = real.text("quizzes/ch14.key.yaml").map(str::to_owned);
    let mut course = CourseFiles::empty("");
    for (path, text) in real.texts() {
        if !path.contains("ch14") {
            course.insert_text(path, text.to_owned());
        }
    }
    for n in 0..copies {
        let id = format!("ch14-{n:04}");
        for (path, text) in real.texts().filter(|(p, _)| p.contains("ch14")) {
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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lab = env!("CARGO_BIN_EXE_lab");

    let cold = time(30, || {
        let status = Command::new(lab)
            .args(["validate", "--format", "json"])
            .current_dir(root)
            .output()
            .unwrap();
        assert!(status.status.success(), "the course validates");
    });
    println!(
        "cold `lab validate` on the course (process start to exit): {:.1} ms",
        cold.as_secs_f64() * 1e3
    );

    let mut per_chapter = Vec::new();
    for copies in [1, 10, 100] {
        let course = generated_course(root, copies);
        let report = validate(&course, &Selection::All);
        assert_eq!(
            report.errors,
            0,
            "the generated course is valid: {:?}",
            report.diagnostics.first()
        );
        let runs = if copies == 100 { 5 } else { 20 };
        let took = time(runs, || validate(&course, &Selection::All));
        let each = took.as_secs_f64() * 1e3 / copies as f64;
        per_chapter.push(each);
        println!(
            "in-process validate, {copies:>3} chapters ({:>5} files): {:>8.2} ms total, {each:.3} ms per chapter",
            report.files_checked,
            took.as_secs_f64() * 1e3
        );
    }
    println!(
        "per-chapter cost at 100x relative to 1x: {:.2} (1.00 = linear)",
        per_chapter[2] / per_chapter[0]
    );
}
