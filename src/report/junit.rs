//! The one JUnit XML model, for `lab test`, `lab rehearse` and `lab grade`: suites of cases
//! that pass, fail, err or are skipped. The counts are taken from the cases and every text is escaped here, once,
//! so a reporter only says what each case is.

use std::fmt::Write as _;

/// The document: `<testsuites>`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSuites {
    /// Its `name`.
    pub name: String,
    /// Seconds in all, when measured.
    pub time: Option<f64>,
    /// The suites, in order.
    pub suites: Vec<TestSuite>,
}

/// One `<testsuite>`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSuite {
    /// Its `name`.
    pub name: String,
    /// Its cases, in order.
    pub cases: Vec<TestCase>,
}

/// One `<testcase>`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    /// Its `classname`.
    pub classname: String,
    /// Its `name`.
    pub name: String,
    /// Seconds it took, when measured.
    pub time: Option<f64>,
    /// How it ended.
    pub outcome: Outcome,
}

/// How a case ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It failed: a `<failure>` with a message and a longer text.
    Failed {
        /// The `message` attribute.
        message: String,
        /// The element's text (may be empty).
        text: String,
    },
    /// It could not be judged: an `<error>` with a message and a longer text.
    Errored {
        /// The `message` attribute.
        message: String,
        /// The element's text (may be empty).
        text: String,
    },
    /// It was not run: a `<skipped>` with the reason.
    Skipped {
        /// The `message` attribute.
        message: String,
    },
}

impl TestSuite {
    fn count(&self, wanted: fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| wanted(&c.outcome)).count()
    }

    /// Cases that failed.
    pub fn failures(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed { .. }))
    }

    /// Cases that erred.
    pub fn errors(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Errored { .. }))
    }

    /// Cases that were skipped.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }
}

impl TestSuites {
    /// Cases in all.
    pub fn tests(&self) -> usize {
        self.suites.iter().map(|s| s.cases.len()).sum()
    }

    /// Failed cases in all.
    pub fn failures(&self) -> usize {
        self.suites.iter().map(TestSuite::failures).sum()
    }

    /// Erred cases in all.
    pub fn errors(&self) -> usize {
        self.suites.iter().map(TestSuite::errors).sum()
    }

    /// The XML document.
    pub fn render(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = write!(
            out,
            "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\"",
            escape(&self.name),
            self.tests(),
            self.failures(),
            self.errors()
        );
        if let Some(time) = self.time {
            let _ = write!(out, " time=\"{time:.3}\"");
        }
        out.push_str(">\n");
        for suite in &self.suites {
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
                escape(&suite.name),
                suite.cases.len(),
                suite.failures(),
                suite.errors(),
                suite.skipped()
            );
            for case in &suite.cases {
                case.render(&mut out);
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

impl TestCase {
    fn render(&self, out: &mut String) {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            escape(&self.classname),
            escape(&self.name)
        );
        if let Some(time) = self.time {
            let _ = write!(out, " time=\"{time:.3}\"");
        }
        match &self.outcome {
            Outcome::Passed => out.push_str("/>\n"),
            Outcome::Failed { message, text } => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    escape(message),
                    escape(text)
                );
            }
            Outcome::Errored { message, text } => {
                let _ = writeln!(
                    out,
                    ">\n      <error message=\"{}\">{}</error>\n    </testcase>",
                    escape(message),
                    escape(text)
                );
            }
            Outcome::Skipped { message } => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    escape(message)
                );
            }
        }
    }
}

/// Text and attribute values as XML 1.0 allows them.
fn escape(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(
            escape("a<b & 'c' \"d\"\u{1}"),
            "a&lt;b &amp; &apos;c&apos; &quot;d&quot;"
        );
    }

    #[test]
    fn counts_come_from_the_cases_and_every_text_is_escaped() {
        let case = |name: &str, outcome| TestCase {
            classname: "c<1>".into(),
            name: name.into(),
            time: None,
            outcome,
        };
        let doc = TestSuites {
            name: "lab \"x\"".into(),
            time: Some(1.5),
            suites: vec![TestSuite {
                name: "s&t".into(),
                cases: vec![
                    case("ok", Outcome::Passed),
                    case(
                        "bad",
                        Outcome::Failed {
                            message: "m<".into(),
                            text: "t>".into(),
                        },
                    ),
                    case(
                        "broken",
                        Outcome::Errored {
                            message: "e&".into(),
                            text: String::new(),
                        },
                    ),
                    case(
                        "later",
                        Outcome::Skipped {
                            message: "why'".into(),
                        },
                    ),
                ],
            }],
        };
        assert_eq!(
            doc.render(),
            r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="lab &quot;x&quot;" tests="4" failures="1" errors="1" time="1.500">
  <testsuite name="s&amp;t" tests="4" failures="1" errors="1" skipped="1">
    <testcase classname="c&lt;1&gt;" name="ok"/>
    <testcase classname="c&lt;1&gt;" name="bad">
      <failure message="m&lt;">t&gt;</failure>
    </testcase>
    <testcase classname="c&lt;1&gt;" name="broken">
      <error message="e&amp;"></error>
    </testcase>
    <testcase classname="c&lt;1&gt;" name="later">
      <skipped message="why&apos;"/>
    </testcase>
  </testsuite>
</testsuites>
"#
        );
    }
}
