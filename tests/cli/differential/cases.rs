//! The cases: ch14's, as `lab test --export` renders them, and the corpus of
//! `tests/fixtures/differential/`, with its placeholders filled.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::super::peers::peer_command;
use super::super::{lab, repo};
use super::verdict::text;

/// One case: its policies, the namespaces it uses (with their labels) and its resources.
pub(super) struct Case {
    pub(super) name: String,
    pub(super) policies: Vec<Value>,
    pub(super) namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub(super) resources: Vec<Value>,
}

/// Splits a multi-document YAML text into a case.
pub(super) fn case_from(name: &str, text: &str) -> Case {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut case = Case {
        name: name.to_owned(),
        policies: Vec::new(),
        namespaces: BTreeMap::new(),
        resources: Vec::new(),
    };
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        match doc["kind"].as_str() {
            Some("ClusterPolicy" | "Policy") => case.policies.push(doc),
            Some("Namespace") => {
                let labels = doc["metadata"]["labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect();
                case.namespaces
                    .insert(doc["metadata"]["name"].as_str().unwrap().to_owned(), labels);
            }
            _ => case.resources.push(doc),
        }
    }
    for r in &mut case.resources {
        let ns = r["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        r["metadata"]["namespace"] = json!(ns);
        case.namespaces.entry(ns).or_default();
    }
    case
}

/// Fills the corpus placeholders: `${registry}`, `${digest:TAG}` and, on a line of their own,
/// `${trusted_key}` and `${other_key}` (PEM, indented as the placeholder is).
pub(super) fn fill(
    text: &str,
    registry: &str,
    keys: &BTreeMap<&str, String>,
    digests: &BTreeMap<String, String>,
) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(pem) = trimmed
            .strip_prefix("${")
            .and_then(|k| k.strip_suffix('}'))
            .and_then(|k| keys.get(k))
        {
            let indent = &line[..line.len() - trimmed.len()];
            for pem_line in pem.lines() {
                writeln!(out, "{indent}{pem_line}").unwrap();
            }
            continue;
        }
        let mut line = line.replace("${registry}", registry);
        for (tag, digest) in digests {
            line = line.replace(&format!("${{digest:{tag}}}"), digest);
        }
        writeln!(out, "{line}").unwrap();
    }
    out
}

pub(super) fn digest_of(image: &str) -> String {
    let out = peer_command("crane")
        .args(["digest", image])
        .output()
        .unwrap();
    assert!(out.status.success(), "crane digest {image}: {}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub(super) fn corpus(registry: &str) -> Vec<Case> {
    let keys_dir = repo().join("labs/ch14/tests/keys");
    let keys = BTreeMap::from([
        (
            "trusted_key",
            std::fs::read_to_string(keys_dir.join("test-only-signer.pub")).unwrap(),
        ),
        (
            "other_key",
            std::fs::read_to_string(keys_dir.join("test-only-other-signer.pub")).unwrap(),
        ),
    ]);
    let prefix = format!("{registry}/courselab");
    let digests: BTreeMap<String, String> = [
        "1.4.2-ci",
        "1.4.2",
        "1.4.2-signed-only",
        "1.4.2-other-signer",
    ]
    .iter()
    .map(|t| (t.to_string(), digest_of(&format!("{prefix}/demo:{t}"))))
    .collect();
    // Case 71's `repository`: the signed image's signature and attestation, kept in another
    // repository of the registry as `cosign --repository` keeps them.
    let signed = digests["1.4.2-ci"].replacen(':', "-", 1);
    for suffix in ["sig", "att"] {
        let out = peer_command("crane")
            .arg("copy")
            .arg(format!("{prefix}/demo:{signed}.{suffix}"))
            .arg(format!("{prefix}/signatures:{signed}.{suffix}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "crane copy: {}", text(&out));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/fixtures/differential"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let name = f.file_stem().unwrap().to_string_lossy().into_owned();
            case_from(
                &name,
                &fill(
                    &std::fs::read_to_string(f).unwrap(),
                    &prefix,
                    &keys,
                    &digests,
                ),
            )
        })
        .collect()
}

/// ch14's cases in both modes, as `lab test --export` renders them for this registry.
pub(super) fn ch14_cases(registry: &str, dir: &Path) -> Vec<Case> {
    let exported = dir.join("export");
    let out = lab(&repo())
        .args(["test", "ch14", "--export"])
        .arg(&exported)
        .args(["--set", &format!("image_registry={registry}/courselab")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut cases = Vec::new();
    for mode in ["audit", "enforce"] {
        let mut docs = String::new();
        let mode_dir = exported.join(mode);
        let mut tests: Vec<PathBuf> = std::fs::read_dir(&mode_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        tests.sort();
        for test in &tests {
            for p in std::fs::read_dir(test.join("policies")).unwrap() {
                docs.push_str(&std::fs::read_to_string(p.unwrap().path()).unwrap());
                docs.push_str("\n---\n");
            }
        }
        // Every split Test carries the same resources; take the first's.
        let mut resources: Vec<PathBuf> = std::fs::read_dir(tests[0].join("resources"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        resources.sort();
        for r in resources {
            docs.push_str(&std::fs::read_to_string(r).unwrap());
            docs.push_str("\n---\n");
        }
        cases.push(case_from(&format!("ch14-{mode}"), &docs));
    }
    cases
}
