//! The real Kyverno CLI (`kubectl-kyverno`, built by `.ci/peers/build` from Kyverno v1.19.0)
//! on what `lab test --export` writes: every exported case passes under it, with the fixture
//! images `lab test --push` put in a real registry.

use std::collections::BTreeSet;

use super::peers::peer_command;
use super::{lab, output, registry_with_ch14_fixtures, repo};

/// `kyverno test`'s summary line: (passed, failed).
fn summary(text: &str) -> Option<(usize, usize)> {
    let line = text.lines().find(|l| l.starts_with("Test Summary:"))?;
    let numbers: Vec<usize> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match numbers[..] {
        [passed, failed] => Some((passed, failed)),
        _ => None,
    }
}

#[test]
fn every_exported_ch14_case_passes_under_the_real_kyverno_cli() {
    let registry = registry_with_ch14_fixtures();

    let out = tempfile::tempdir().unwrap();
    let exported = out.path().join("kyverno-tests");
    let (code, stdout, stderr) = output(
        lab(&repo())
            .args(["test", "ch14", "--export"])
            .arg(&exported)
            .args([
                "--set",
                &format!("image_registry={}/courselab", registry.addr),
            ]),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");

    let run = peer_command("kubectl-kyverno")
        .arg("test")
        .arg(&exported)
        .args(["--detailed-results", "--remove-color"])
        .env("HOME", out.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let (passed, failed) = summary(&text).unwrap_or_else(|| panic!("no summary:\n{text}"));
    assert_eq!(failed, 0, "{text}");
    assert!(run.status.success(), "{text}");
    // Every expected result of every exported Test was checked, none skipped: the CLI's
    // detailed rows name exactly the (policy, rule, resource) triples lab exported.
    let mut expected = BTreeSet::new();
    for entry in walk(&exported) {
        if entry.file_name().is_some_and(|n| n == "kyverno-test.yaml") {
            let text = std::fs::read_to_string(&entry).unwrap();
            let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
            for result in doc["results"].as_array().unwrap() {
                for resource in result["resources"].as_array().unwrap() {
                    expected.insert((
                        result["policy"].as_str().unwrap().to_owned(),
                        result["rule"].as_str().unwrap().to_owned(),
                        resource.as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    let rows = detailed_rows(&text);
    assert!(rows.iter().all(|(_, result)| result == "Pass"), "{text}");
    let checked: BTreeSet<_> = rows.into_iter().map(|(triple, _)| triple).collect();
    assert!(expected.len() >= 16, "{expected:?}");
    assert_eq!(checked, expected, "{text}");
    assert!(passed >= expected.len());
}

/// The `--detailed-results` table rows: ((policy, rule, resource name), result).
fn detailed_rows(text: &str) -> Vec<((String, String, String), String)> {
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('│').map(str::trim).collect();
            // "", ID, POLICY, RULE, RESOURCE, RESULT, REASON, MESSAGE, ""
            if cells.len() < 7 || cells[1].parse::<usize>().is_err() {
                return None;
            }
            let name = cells[4].rsplit('/').next()?.to_owned();
            Some((
                (cells[2].to_owned(), cells[3].to_owned(), name),
                cells[5].to_owned(),
            ))
        })
        .collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
