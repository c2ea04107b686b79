//! Renders a [`SuiteReport`] for people (a line per case, failures explained), as JSON, and as
//! JUnit XML for CI systems that show test results.

use std::fmt::Write as _;

use super::run::SuiteReport;

/// The human report. Passing cases get one line each; failures show expected, actual and
/// Kyverno's message.
pub fn suite_text(report: &SuiteReport) -> String {
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

/// The JSON report: `{"schema_version": 1, "passed": bool, "chapters": [...]}`, the same shape
/// for one chapter or many.
pub fn json(reports: &[SuiteReport]) -> String {
    let doc = serde_json::json!({
        "schema_version": 1,
        "passed": reports.iter().all(SuiteReport::passed),
        "chapters": reports,
    });
    serde_json::to_string_pretty(&doc).expect("the report serializes") + "\n"
}

pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML for one or more chapters: one `<testsuite>` per test file and one per chapter for
/// the mutations.
pub fn junit(reports: &[SuiteReport]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let survived = |r: &SuiteReport| r.mutations.iter().filter(|m| m.survived()).count();
    let chapters: Vec<&str> = reports.iter().map(|r| r.chapter.as_str()).collect();
    let _ = writeln!(
        out,
        "<testsuites name=\"lab test {}\" tests=\"{}\" failures=\"{}\">",
        xml(&chapters.join(" ")),
        reports
            .iter()
            .map(|r| r.cases() + r.mutations.len())
            .sum::<usize>(),
        reports
            .iter()
            .map(|r| r.failed() + survived(r))
            .sum::<usize>()
    );
    for report in reports {
        suites(report, survived(report), &mut out);
    }
    out.push_str("</testsuites>\n");
    out
}

fn suites(report: &SuiteReport, survived: usize, out: &mut String) {
    for test in &report.tests {
        let failures = test.cases.iter().filter(|c| !c.passed).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">",
            xml(&test.file),
            test.cases.len(),
            failures
        );
        for case in &test.cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(&test.name),
                xml(&case.name)
            );
            if case.passed {
                out.push_str("/>\n");
            } else {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"expected {}, got {}\">{}</failure>\n    </testcase>",
                    xml(&case.expected),
                    xml(&case.actual),
                    xml(case.message.as_deref().unwrap_or(""))
                );
            }
        }
        out.push_str("  </testsuite>\n");
    }
    if !report.mutations.is_empty() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"mutations {}\" tests=\"{}\" failures=\"{}\">",
            xml(&report.chapter),
            report.mutations.len(),
            survived
        );
        for m in &report.mutations {
            let _ = write!(
                out,
                "    <testcase classname=\"mutations\" name=\"{}\"",
                xml(m.id)
            );
            if !m.applicable {
                out.push_str(">\n      <skipped message=\"not applicable\"/>\n    </testcase>\n");
            } else if m.survived() {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"survived\">{}: no case noticed</failure>\n    </testcase>",
                    xml(m.description)
                );
            } else {
                out.push_str("/>\n");
            }
        }
        out.push_str("  </testsuite>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(
            xml("a<b & 'c' \"d\"\u{1}"),
            "a&lt;b &amp; &apos;c&apos; &quot;d&quot;"
        );
    }
}
