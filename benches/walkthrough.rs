//! Benchmarks of the walkthrough's record and its batch run:
//! - verifying a progress record's chain of 1,000 records, far more than a learner writes
//!   (target: well under the 0.1 s a learner would notice at `lab status`), and of 10,000 to
//!   show it grows linearly;
//! - appending one record to a 1,000-record file, atomically (temp file, fsync, rename);
//! - `lab walkthrough --yes` of the fixture course against a recorded world, process start to
//!   exit, through all three steps (target < 0.5 s).
//!
//! Run with `cargo bench --bench walkthrough`. Figures are medians of repeated runs.

use std::process::Command;
use std::time::{Duration, Instant};

use courselab::engine::Status;
use courselab::record::{CourseStamp, Event, Progress, RecordedCheck};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn record(n: usize) -> Event {
    if n.is_multiple_of(2) {
        Event::HintShown {
            step: "pin-digest".into(),
            hint: n,
        }
    } else {
        Event::StepPassed {
            step: "incident-hook".into(),
            results: vec![RecordedCheck {
                check: "pod-image-ids-evidence".into(),
                status: Status::Pass,
                message: "evidence/pod-image-ids.txt names 1 running digest".into(),
                evidence: Vec::new(),
            }],
        }
    }
}

fn main() {
    let steps = ["incident-hook", "pin-digest"];
    let course = CourseStamp {
        lab: "ch14".into(),
        version: None,
        digest: "sha256:00".into(),
    };
    let at = "2026-12-06T10:00:00Z".to_owned();
    for size in [1_000, 10_000] {
        let mut progress = Progress::new("ch14");
        for n in 0..size {
            progress.append_at(record(n), at.clone(), &course);
        }
        let took = time(7, || {
            std::hint::black_box(progress.verify(&steps));
        });
        println!("verify a chain of {size} records: {took:?}");
    }

    let dir = tempfile::tempdir().unwrap();
    let mut progress = Progress::new("ch14");
    for n in 0..1_000 {
        progress.append_at(record(n), at.clone(), &course);
    }
    let path = Progress::path(dir.path(), "ch14");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_string_pretty(&progress).unwrap()).unwrap();
    let took = time(21, || {
        Progress::update(dir.path(), &course, |_| (vec![record(1)], ())).unwrap();
    });
    println!(
        "append one record to a 1,000-record file (locked, read afresh, written atomically): {took:?}"
    );

    let course =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course-walk");
    let lab = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/lab");
    if !lab.exists() {
        println!("(build target/release/lab first for the whole-run figure)");
        return;
    }
    let took = time(7, || {
        let work = tempfile::tempdir().unwrap();
        std::fs::copy(
            course.join("../../../labs/ch14/tests/keys/test-only-signer.pub"),
            work.path().join("cosign.pub"),
        )
        .unwrap();
        std::fs::create_dir_all(work.path().join("evidence")).unwrap();
        std::fs::write(
            work.path().join("evidence/notes.md"),
            "The app runs a tag that nobody can trace back to the build CI tested.\n",
        )
        .unwrap();
        std::fs::write(
            work.path().join("answers.yaml"),
            "q-sign: b\nq-enforce: [a, b]\n",
        )
        .unwrap();
        std::fs::write(
            work.path().join("world.json"),
            r#"{"workloads": {"Deployment/develop/app": [["app", "kind-registry:5000/walk/app@sha256:5bc628ed2850bf90f65fdd64cf6cffeaece3fa69d3a19d57dc450f3d85a9ba80"]]}}"#,
        )
        .unwrap();
        let out = Command::new(&lab)
            .current_dir(work.path())
            .arg("--course")
            .arg(&course)
            .args([
                "walkthrough",
                "walk",
                "--world",
                "world.json",
                "--answers",
                "answers.yaml",
                "--yes",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    });
    println!("lab walkthrough --yes, three steps and the quiz, process start to exit: {took:?}");
}
