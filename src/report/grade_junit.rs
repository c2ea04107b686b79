//! `lab grade --format junit`: the class as JUnit XML, so that a CI system that shows test
//! results (a course's grading pipeline) shows each learner as a suite and each check as a
//! case. Written with the one JUnit model, which escapes; learner-written text is first made
//! visible as the table shows it, so the XML printed to a terminal obeys no control character.

use super::class_report::ClassReport;
use super::junit::{Outcome, TestCase, TestSuite, TestSuites};
use crate::engine::Status;
use crate::grade::class::{Outcome as Graded, Submission};
use crate::text::{printable, printable_block};

/// The JUnit report: a suite per submission in the table's order, named by the learner (by
/// the file when it was rejected). A graded file has a case per check (a failed check fails,
/// one that could not be judged errs) and, when flagged, a `flags` case that fails with every
/// flag; a rejected file has one erring case with the reason; a learner who handed nothing in
/// has one skipped case.
pub fn junit(report: &ClassReport<'_>) -> TestSuites {
    TestSuites {
        name: format!("lab grade {}", printable(report.assignment.name)),
        time: None,
        suites: report.sorted().into_iter().map(suite).collect(),
    }
}

fn suite(s: &Submission) -> TestSuite {
    let learner = s.learner.as_deref().map(printable);
    let file = printable(&s.file).into_owned();
    let name = match (s.outcome, learner) {
        (Graded::Rejected, _) | (_, None) => file.clone(),
        (_, Some(learner)) => learner.into_owned(),
    };
    let case = |classname: &str, case: &str, outcome| TestCase {
        classname: classname.to_owned(),
        name: case.to_owned(),
        time: None,
        outcome,
    };
    let cases = match s.outcome {
        Graded::Rejected => {
            let (message, text) = said(s.rejected.as_deref().unwrap_or("rejected"));
            vec![case(
                &name,
                "submission",
                Outcome::Errored { message, text },
            )]
        }
        Graded::Missing => vec![case(
            &name,
            "submission",
            Outcome::Skipped {
                message: "on the roster, handed nothing in".into(),
            },
        )],
        Graded::Graded | Graded::Flagged => {
            let mut cases: Vec<TestCase> = s
                .checks
                .iter()
                .map(|c| {
                    let (message, text) = said(&c.message);
                    let outcome = match c.status {
                        Status::Pass => Outcome::Passed,
                        Status::Fail => Outcome::Failed { message, text },
                        Status::Error => Outcome::Errored { message, text },
                    };
                    let step = printable(&c.step);
                    case(&format!("{name}.{step}"), &printable(&c.check), outcome)
                })
                .collect();
            if !s.flags.is_empty() {
                let flags: Vec<String> = s
                    .flags
                    .iter()
                    .map(|f| format!("- {}", printable_block(f)))
                    .collect();
                cases.push(case(
                    &name,
                    "flags",
                    Outcome::Failed {
                        message: format!("{} flag(s) an instructor must look at", s.flags.len()),
                        text: flags.join("\n"),
                    },
                ));
            }
            cases
        }
    };
    TestSuite { name, cases }
}

/// A message as a `message` attribute (one line: XML reads a line break in an attribute as a
/// space) and, when it has several lines, as the element's text too.
fn said(message: &str) -> (String, String) {
    let text = if message.contains('\n') {
        printable_block(message).into_owned()
    } else {
        String::new()
    };
    (printable(message).into_owned(), text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::class_fixture::{FORMULA_ID, class, summary};
    use crate::report::class_report::Assignment;

    fn xml() -> String {
        let class = class();
        let summary = summary(&class);
        junit(&ClassReport {
            class: &class,
            summary: &summary,
            color: false,
            assignment: Assignment {
                name: "ch14",
                canvas_id: None,
            },
        })
        .render()
    }

    #[test]
    fn a_suite_per_learner_a_case_per_check_and_every_outcome_shown() {
        let text = xml();
        insta::assert_snapshot!(text);
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let root = doc.root_element();
        assert_eq!(root.attribute("errors"), Some("3"));
        let suites: Vec<roxmltree::Node> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        let names: Vec<&str> = suites.iter().filter_map(|s| s.attribute("name")).collect();
        assert_eq!(
            names,
            [
                FORMULA_ID,
                "ada",
                "bob",
                "carol",
                "class/eve.tar.gz",
                "class/broken\\u{1b}[2J.tar.gz"
            ]
        );
        let counts = |s: &roxmltree::Node| {
            ["tests", "failures", "errors", "skipped"].map(|a| s.attribute(a).unwrap().to_owned())
        };
        // bob: three checks (pass, fail, error) and his flags.
        assert_eq!(counts(&suites[2]), ["4", "2", "1", "0"]);
        assert_eq!(counts(&suites[1]), ["2", "0", "0", "0"]);
        assert_eq!(counts(&suites[3]), ["1", "0", "0", "1"]);
        assert_eq!(counts(&suites[4]), ["1", "0", "1", "0"]);
        let reason = suites[4]
            .descendants()
            .find(|n| n.has_tag_name("error"))
            .and_then(|n| n.attribute("message"))
            .unwrap();
        assert!(
            reason.starts_with("signed by a key that is not eve's"),
            "{reason}"
        );
        let failure = suites[0]
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        // Markup and quotes are text, the escape sequence is shown.
        assert_eq!(
            failure.attribute("message"),
            Some("\\u{1b}[2Jruns <img src=x> by tag, \"latest\"")
        );
        assert!(!text.contains('\u{1b}') && !text.contains("<img"), "{text}");
        let flags = suites[2]
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .find(|n| n.attribute("name") == Some("flags"))
            .unwrap();
        let listed = flags.first_element_child().unwrap().text().unwrap();
        assert!(
            listed.contains("- late: packed") && listed.contains("\n- copy: the same public key"),
            "{listed}"
        );
    }
}
