//! The `lab test` report: each chapter's [`SuiteReport`] for people (a line per case, failures
//! explained), as one JSON document for one chapter or many, and as JUnit for CI.

use std::fmt::Write as _;

use serde::Serialize;

use super::junit::{Outcome, TestCase, TestSuite, TestSuites};
use super::{Format, Unsupported};
use crate::suite::run::SuiteReport;

/// The version of the `lab test --format json` document.
pub const LAB_TEST_VERSION: u32 = 1;

/// The report in `format`: human, JSON or JUnit.
pub fn render(reports: &[SuiteReport], format: Format) -> Result<String, Unsupported> {
    match format {
        Format::Human => Ok(human(reports)),
        Format::Json => Ok(json(reports)),
        Format::Junit => Ok(junit(reports).render()),
        Format::Github | Format::Html => Err(Unsupported {
            report: "lab test",
            format,
            writes: &[Format::Human, Format::Json, Format::Junit],
        }),
    }
}

/// The human report: each chapter's, a blank line between them.
pub fn human(reports: &[SuiteReport]) -> String {
    reports
        .iter()
        .map(chapter_text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One chapter for people. Passing cases get one line each; failures show expected, actual
/// and Kyverno's message.
fn chapter_text(report: &SuiteReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lab test {}: images from {}\n",
        report.chapter, report.images_from
    );
    for test in &report.tests {
        let _ = writeln!(out, "{} ({}, policies {})", test.file, test.name, test.mode);
        for case in &test.cases {
            if case.passed {
                let _ = writeln!(out, "  ok    {}: {}", case.name, case.actual);
            } else {
                let _ = writeln!(
                    out,
                    "  FAIL  {}: expected {}, got {}{}",
                    case.name,
                    case.expected,
                    case.actual,
                    if case.line > 0 {
                        format!(" (line {})", case.line)
                    } else {
                        String::new()
                    }
                );
                if let Some(message) = &case.message {
                    for line in message.trim().lines() {
                        let _ = writeln!(out, "        | {line}");
                    }
                }
            }
        }
        out.push('\n');
    }
    if let Some(why) = &report.mutations_skipped {
        let _ = writeln!(out, "mutations: not run ({why})");
    } else {
        let _ = writeln!(out, "mutations (each must make at least one case fail):");
        for m in &report.mutations {
            let verdict = if !m.applicable {
                "not applicable".to_owned()
            } else if m.noticed_by.is_empty() {
                "SURVIVED: no case noticed; add a case that fails without this protection"
                    .to_owned()
            } else {
                format!(
                    "noticed by {} case{} (first: {})",
                    m.noticed_by.len(),
                    if m.noticed_by.len() == 1 { "" } else { "s" },
                    m.noticed_by[0]
                )
            };
            let _ = writeln!(out, "  {:<26} {}: {verdict}", m.id, m.description);
        }
    }
    let survived = report.mutations.iter().filter(|m| m.survived()).count();
    let _ = writeln!(
        out,
        "\n{}: {} case{}, {} failed; {} mutation{}, {} survived",
        if report.passed() { "passed" } else { "FAILED" },
        report.cases(),
        if report.cases() == 1 { "" } else { "s" },
        report.failed(),
        report.mutations.len(),
        if report.mutations.len() == 1 { "" } else { "s" },
        survived
    );
    out
}

/// The JSON document.
#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    passed: bool,
    chapters: &'a [SuiteReport],
}

/// The JSON report: `{"chapters": [...], "passed": bool, "schema_version": 1}`, the same shape
/// for one chapter or many (keys sorted, as `lab test` has always written them).
pub fn json(reports: &[SuiteReport]) -> String {
    super::json::sorted_document(&Document {
        schema_version: LAB_TEST_VERSION,
        passed: reports.iter().all(SuiteReport::passed),
        chapters: reports,
    })
}

/// JUnit for one or more chapters: one suite per test file (a case per policy case), and one
/// per chapter for the mutations (a mutation that survived fails; one that cannot apply is
/// skipped).
pub fn junit(reports: &[SuiteReport]) -> TestSuites {
    let chapters: Vec<&str> = reports.iter().map(|r| r.chapter.as_str()).collect();
    TestSuites {
        name: format!("lab test {}", chapters.join(" ")),
        time: None,
        suites: reports.iter().flat_map(suites).collect(),
    }
}

fn suites(report: &SuiteReport) -> Vec<TestSuite> {
    let mut suites: Vec<TestSuite> = report
        .tests
        .iter()
        .map(|test| TestSuite {
            name: test.file.clone(),
            cases: test
                .cases
                .iter()
                .map(|case| TestCase {
                    classname: test.name.clone(),
                    name: case.name.clone(),
                    time: None,
                    outcome: if case.passed {
                        Outcome::Passed
                    } else {
                        Outcome::Failed {
                            message: format!("expected {}, got {}", case.expected, case.actual),
                            text: case.message.clone().unwrap_or_default(),
                        }
                    },
                })
                .collect(),
        })
        .collect();
    if !report.mutations.is_empty() {
        suites.push(TestSuite {
            name: format!("mutations {}", report.chapter),
            cases: report
                .mutations
                .iter()
                .map(|m| TestCase {
                    classname: "mutations".into(),
                    name: m.id.into(),
                    time: None,
                    outcome: if !m.applicable {
                        Outcome::Skipped {
                            message: "not applicable".into(),
                        }
                    } else if m.survived() {
                        Outcome::Failed {
                            message: "survived".into(),
                            text: format!("{}: no case noticed", m.description),
                        }
                    } else {
                        Outcome::Passed
                    },
                })
                .collect(),
        });
    }
    suites
}
