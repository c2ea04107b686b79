//! Benchmarks of the walkthrough's record and its batch run:
//! - verifying a progress record's chain of 1,000 records, far more than a learner writes
//!   (target: well under the 0.1 s a learner would notice at `lab status`), and of 10,000 to
//!   show it grows linearly;
//! - appending one record to a 1,000-record file, atomically (temp file, fsync, rename);
//! - `lab walkthrough --yes` of the fixture course against a recorded world, process start to
//!   exit, through all three steps (target < 0.5 s).
//!
//! Run with `cargo bench --bench walkthrough`. Figures are medians of repeated runs. Under
//! `cargo test --bench '*'` (CI) it runs short: chains of 100 and 1,000 records, a few runs.

mod common;

use std::process::Command;

use common::{Mode, time};
use courselab::engine::Status;
use courselab::record::{CourseStamp, Event, Progress, RecordedCheck};

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
    let mode = Mode::from_env();
    let steps = ["incident-hook", "pin-digest"];
    let course = CourseStamp {
        lab: "ch14".into(),
        version: None,
        digest: "sha256:00".into(),
    };
    let at = "2026-12-06T10:00:00Z".to_owned();
    for size in mode.pick([1_000, 10_000], [100, 1_000]) {
        let mut progress = Progress::new("ch14");
        for n in 0..size {
            progress.append_at(record(n), at.clone(), &course);
        }
        let took = time(mode.pick(7, 2), || {
            let breaks = progress.verify(&steps);
            assert!(breaks.is_empty(), "the chain holds: {breaks:?}");
            breaks
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
    let appends = mode.pick(21, 3);
    let took = time(appends, || {
        Progress::update(dir.path(), &course, |_| (vec![record(1)], ())).unwrap();
    });
    let written = Progress::load(dir.path(), "ch14").unwrap();
    assert_eq!(
        written.records.len(),
        1_000 + appends,
        "every append is in the file"
    );
    assert!(
        written.verify(&steps).is_empty(),
        "the appended chain holds"
    );
    println!(
        "append one record to a 1,000-record file (locked, read afresh, written atomically): {took:?}"
    );

    let course =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course-walk");
    let lab = env!("CARGO_BIN_EXE_lab");
    let took = time(mode.pick(7, 1), || {
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
        let out = Command::new(lab)
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
        let record = Progress::load(work.path(), "walk").unwrap();
        let passed = record.passed(&["write-notes", "pin-app", "quiz"]);
        assert_eq!(passed.len(), 3, "the run passed every step: {passed:?}");
    });
    println!("lab walkthrough --yes, three steps and the quiz, process start to exit: {took:?}");
}
