//! The sample class in `examples/class-ch14/` graded through the real binary, exactly as its
//! README tells a newcomer to: every kind of verdict must come out. `UPDATE_EXAMPLES=1`
//! regenerates the folder's bundles and roster first (ECDSA signatures are randomized, so the
//! bytes change each time: the verdicts are what is compared, and the table's snapshot).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::ch14_class::{Ch14, roster, sample_class};
use super::{lab, output, repo};

/// The folder, relative to the repository root.
const FOLDER: &str = "examples/class-ch14";

/// The README's command, with `more` arguments and the report's file added.
fn grade(dir: &Path, more: &[&str], out: &Path) -> (i32, String, String) {
    output(
        lab(dir)
            .args(["grade", FOLDER, "--roster"])
            .arg(format!("{FOLDER}/roster.csv"))
            .args([
                "--answer-key",
                "quizzes/ch14.key.yaml",
                "--due",
                "2026-12-06",
            ])
            .args(more)
            .arg("-o")
            .arg(out),
    )
}

fn regenerate(folder: &Path) {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".tar.gz") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let class = sample_class(&Ch14::load());
    for member in &class {
        std::fs::write(folder.join(&member.file), &member.bytes).unwrap();
    }
    std::fs::write(folder.join("roster.csv"), roster(&class)).unwrap();
}

#[test]
fn the_sample_class_shows_every_kind_of_verdict() {
    let folder = repo().join(FOLDER);
    if std::env::var_os("UPDATE_EXAMPLES").is_some_and(|v| !v.is_empty() && v != "0") {
        regenerate(&folder);
    }
    let out = tempfile::tempdir().unwrap();
    let report = out.path().join("grades.json");
    let (code, stdout, stderr) = grade(&repo(), &["--format", "json"], &report);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let mut by_file: BTreeMap<String, &Value> = BTreeMap::new();
    let mut missing = Vec::new();
    for s in doc["submissions"].as_array().unwrap() {
        match s["file"].as_str() {
            Some(file) => {
                by_file.insert(file.trim_start_matches(&format!("{FOLDER}/")).into(), s);
            }
            None => missing.push(s["learner"].as_str().unwrap().to_owned()),
        }
    }
    let row = |file: &str| {
        *by_file
            .get(file)
            .unwrap_or_else(|| panic!("{file}: {doc:#}"))
    };
    let flags = |file: &str| -> String {
        row(file)["flags"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|f| f.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    let score = |file: &str| {
        (
            row(file)["earned"].as_u64().unwrap(),
            row(file)["points"].as_u64().unwrap(),
        )
    };

    // Full marks, nothing to look at.
    assert_eq!(row("ada.tar.gz")["outcome"], "graded", "{doc:#}");
    assert_eq!(score("ada.tar.gz"), (120, 120), "{doc:#}");
    assert_eq!(row("ada.tar.gz")["name"], "Ada Quill", "{doc:#}");
    // Partial: graded, fewer points, and the failing checks say why.
    let (ben, max) = score("ben.tar.gz");
    assert_eq!(row("ben.tar.gz")["outcome"], "graded", "{doc:#}");
    assert!(0 < ben && ben < 120 && max == 120, "{doc:#}");
    let failing: Vec<&str> = row("ben.tar.gz")["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert!(
        failing.contains(&"policies-enforcing") && failing.contains(&"denial-evidence"),
        "{failing:?}"
    );
    // Late: full marks, flagged as late.
    assert_eq!(row("cleo.tar.gz")["outcome"], "flagged", "{doc:#}");
    assert_eq!(row("cleo.tar.gz")["late"], true, "{doc:#}");
    assert!(
        flags("cleo.tar.gz").starts_with("late: packed at 2026-12-07T09:30:00Z"),
        "{doc:#}"
    );
    assert_eq!(score("cleo.tar.gz"), (120, 120), "{doc:#}");
    // Tampered: the edited file is named.
    assert_eq!(row("dev.tar.gz")["outcome"], "flagged", "{doc:#}");
    assert!(
        flags("dev.tar.gz").contains("tampered: ")
            && flags("dev.tar.gz").contains("work/evidence/remediation.md"),
        "{doc:#}"
    );
    // The copied pair: both sides flagged, each naming the other.
    for (file, other) in [("eli.tar.gz", "fay"), ("fay.tar.gz", "eli")] {
        assert_eq!(row(file)["outcome"], "flagged", "{doc:#}");
        let flags = flags(file);
        assert!(
            flags.contains("copy: the same signature of the image")
                && flags.contains(&format!(" as {other} ({FOLDER}/{other}.tar.gz)")),
            "{file}: {flags}"
        );
    }
    // Fay's image is signed by Eli's key, not the one her file carries.
    assert!(score("fay.tar.gz").0 < 120, "{doc:#}");
    // Unsigned and hostile: rejected, with the reason; their learners handed in nothing gradable.
    for (file, reason) in [
        ("gus.tar.gz", "holds no statement.sigstore.json"),
        ("hal.tar.gz", "climbs out of the archive with `..`"),
    ] {
        assert_eq!(row(file)["outcome"], "rejected", "{doc:#}");
        let why = row(file)["rejected"].as_str().unwrap();
        assert!(why.contains(reason), "{file}: {why}");
    }
    assert_eq!(missing, ["gus", "hal"], "{doc:#}");
    assert_eq!(by_file.len(), 8, "{doc:#}");
    assert!(
        !repo().join(".bashrc").exists() && !repo().join("examples/.bashrc").exists(),
        "nothing the hostile archive names is written"
    );

    // The table a newcomer sees (every verdict, the same after each regeneration).
    let table = out.path().join("grades.txt");
    let (code, stdout, stderr) = grade(&repo(), &["--format", "table"], &table);
    assert_eq!(code, 0, "{stdout}{stderr}");
    insta::assert_snapshot!("class-ch14-table", std::fs::read_to_string(&table).unwrap());

    // Every other report of the same class, written at once, each snapshotted (after a
    // regeneration these may change where they quote what differs: review them then).
    let reports = out.path().join("reports");
    let (code, stdout, stderr) = grade(
        &repo(),
        &[
            "--assignment-name",
            "Chapter 14 lab",
            "--canvas-assignment-id",
            "1414",
            "--format",
            "json",
            "--format",
            "csv",
            "--format",
            "canvas",
            "--format",
            "junit",
        ],
        &reports,
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    for (name, file) in [
        ("class-ch14-json", "grades.json"),
        ("class-ch14-csv", "grades.csv"),
        ("class-ch14-canvas", "canvas.csv"),
        ("class-ch14-junit", "junit.xml"),
    ] {
        insta::assert_snapshot!(name, std::fs::read_to_string(reports.join(file)).unwrap());
    }
    // Gradescope grades one upload: ada's.
    let results = out.path().join("results.json");
    let (code, stdout, stderr) = output(
        lab(&repo())
            .args(["grade", &format!("{FOLDER}/ada.tar.gz")])
            .args([
                "--answer-key",
                "quizzes/ch14.key.yaml",
                "--format",
                "gradescope",
                "-o",
            ])
            .arg(&results),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    insta::assert_snapshot!(
        "class-ch14-gradescope-ada",
        std::fs::read_to_string(&results).unwrap()
    );
}
