use super::*;
use crate::report::class_fixture::{FORMULA_ID, class, summary};
use crate::report::class_report::Assignment;

fn gradebook() -> String {
    let class = class();
    let summary = summary(&class);
    csv(&ClassReport {
        class: &class,
        summary: &summary,
        color: false,
        assignment: Assignment::default(),
    })
}

fn records(text: &str) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_formula_is_guarded_and_plain_text_is_not() {
    for (text, guarded) in [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@evil", "'@evil"),
        ("\t=1", "'\t=1"),
        ("  =1", "'  =1"),
        ("\r=1", "\\u{d}=1"),
        ("Ada", "Ada"),
        ("a=b", "a=b"),
        ("", ""),
    ] {
        assert_eq!(cell(text), guarded, "{text:?}");
    }
    assert_eq!(cell("ok\u{1b}[2J"), "ok\\u{1b}[2J");
}

#[test]
fn the_gradebook_has_a_row_per_submission_in_the_tables_order() {
    let text = gradebook();
    // RFC 4180: every record ends with CRLF; a line break inside a quoted cell is the data's.
    assert!(text.ends_with("\r\n"), "{text:?}");
    assert_eq!(text.matches("\r\n").count(), 7, "{text:?}");
    insta::assert_snapshot!(text.replace("\r\n", "\n"));
    let rows = records(&text);
    let header: Vec<&str> = rows[0].iter().collect();
    assert_eq!(
        header,
        [
            "learner",
            "name",
            "email",
            "section",
            "outcome",
            "earned",
            "points",
            "percent",
            "late",
            "criterion:pinned",
            "criterion:signed",
            "criterion:quiz",
            "question:q1",
            "question:q2",
            "question:q3",
            "flags",
            "rejected",
            "file"
        ]
    );
    assert!(rows.iter().all(|r| r.len() == header.len()));
    let learners: Vec<&str> = rows[1..].iter().map(|r| &r[0]).collect();
    assert_eq!(
        learners,
        [&format!("'{FORMULA_ID}"), "ada", "bob", "carol", "eve", ""]
    );
    let row = |learner: &str| {
        rows.iter()
            .find(|r| &r[0] == learner)
            .unwrap_or_else(|| panic!("no row {learner}"))
            .iter()
            .collect::<Vec<&str>>()
    };
    assert_eq!(
        row("ada")[4..15],
        [
            "graded", "120", "120", "100.00", "false", "40", "50", "30", "1", "1", ""
        ]
    );
    assert_eq!(
        row("bob")[1..15],
        [
            "Builder, \"Bob\"\nJr.",
            "bob@example.edu",
            "A1",
            "flagged",
            "70",
            "120",
            "58.33",
            "true",
            "40",
            "0",
            "30",
            "0",
            "",
            "1"
        ]
    );
    assert!(row("bob")[15].contains("late: packed at") && row("bob")[15].contains("; copy:"));
    // No score for a learner with none: blank, not 0.
    assert_eq!(
        row("carol")[1..9],
        ["'-Carol", "", "B2", "missing", "", "", "", ""]
    );
    assert_eq!(row("eve")[4..9], ["rejected", "", "", "", ""]);
    let broken = row("");
    assert_eq!(broken[17], "class/broken\\u{1b}[2J.tar.gz");
    assert_eq!(
        broken[16],
        "not a submission lab can read: it is not a gzip file"
    );
}

#[test]
fn no_learner_written_cell_reaches_a_spreadsheet_as_a_formula() {
    let text = gradebook();
    assert!(!text.contains('\u{1b}'), "{text:?}");
    for record in records(&text) {
        for value in &record {
            assert!(
                !value.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{value:?} in {record:?}"
            );
        }
    }
    let hostile = records(&text)[1]
        .iter()
        .map(String::from)
        .collect::<Vec<_>>();
    assert_eq!(
        hostile[..4],
        [
            format!("'{FORMULA_ID}"),
            "<script>alert(1)</script>".into(),
            "'@evil,\"x\"".into(),
            "'+SUM(A1:A9)".into()
        ]
    );
    assert_eq!(hostile[15], "tampered: work/evidence/triage.md\nchanged");
}
