use super::*;
use crate::report::class_fixture::{FORMULA_ID, class, summary};
use crate::report::class_report::Assignment;

#[path = "../../tests/cli/canvas_import.rs"]
mod canvas_import;

fn canvas(class: &[Submission], canvas_id: Option<u64>) -> String {
    let summary = summary(class);
    csv(&ClassReport {
        class,
        summary: &summary,
        color: false,
        assignment: Assignment {
            name: "Supply Chain Security (Advanced)",
            canvas_id,
        },
    })
}

#[test]
fn canvas_imports_it_as_one_assignment_with_a_row_per_learner() {
    let text = canvas(&class(), Some(7301));
    insta::assert_snapshot!(text.replace("\r\n", "\n"));
    let import = canvas_import::check(&text, Some(7301)).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let column = &import.columns[0];
    assert_eq!(column.title, "Supply Chain Security (Advanced)");
    assert_eq!(column.header, "Supply Chain Security (Advanced) (7301)");
    assert_eq!(column.points_possible.as_deref(), Some("120"));
    let rows: Vec<[&str; 6]> = import
        .students
        .iter()
        .map(|s| {
            [
                s.name.as_str(),
                s.id.as_str(),
                s.sis_user_id.as_deref().unwrap(),
                s.sis_login_id.as_deref().unwrap(),
                s.section.as_str(),
                s.grades[0].as_str(),
            ]
        })
        .collect();
    let formula = format!("'{FORMULA_ID}");
    assert_eq!(
        rows,
        [
            // The name, not the id, is the Student; every cell that would run is guarded.
            [
                "<script>alert(1)</script>",
                "",
                "'-2+3",
                formula.as_str(),
                "'+SUM(A1:A9)",
                "50"
            ],
            ["Ada Lovelace", "4021", "S-001", "ada", "A1", "120"],
            // One line per learner: a line break in a name is shown, not written.
            ["Builder, \"Bob\"\\u{a}Jr.", "", "S-002", "bob", "A1", "70"],
            // Missing and rejected: blank, which Canvas reads as no score.
            ["'-Carol", "4023", "", "carol", "B2", ""],
            ["Eve", "", "", "eve", "", ""],
        ]
    );
    // The unreadable file has no learner: no row Canvas could not match.
    assert!(!text.contains("broken"), "{text}");
}

#[test]
fn without_an_assignment_id_the_column_is_the_title_alone() {
    let text = canvas(&class(), None);
    let import = canvas_import::check(&text, None).unwrap();
    assert_eq!(import.columns[0].header, "Supply Chain Security (Advanced)");
    assert_eq!(import.columns[0].id, None);
}

#[test]
fn a_learner_with_two_graded_files_gets_no_score_and_one_row() {
    let mut class = class();
    let mut again = class
        .iter()
        .find(|s| s.learner.as_deref() == Some("ada"))
        .unwrap()
        .clone();
    again.file = "class/ada-2.tar.gz".into();
    again.earned = 10;
    class.push(again);
    let text = canvas(&class, Some(1));
    let import = canvas_import::check(&text, Some(1)).unwrap();
    let ada: Vec<&canvas_import::Student> = import
        .students
        .iter()
        .filter(|s| s.sis_login_id.as_deref() == Some("ada"))
        .collect();
    assert_eq!(ada.len(), 1, "{text}");
    assert_eq!(ada[0].grades, [""]);
    // A rejected second file does not take the graded one's score away.
    let mut class = self::class();
    let mut rejected = Submission::rejected("class/ada-2.tar.gz", "unsigned".into());
    rejected.learner = Some("ada".into());
    rejected.who = class[2].who.clone();
    class.push(rejected);
    let import = canvas_import::check(&canvas(&class, Some(1)), Some(1)).unwrap();
    assert_eq!(import.students[1].grades, ["120"]);
}

#[test]
fn a_hostile_assignment_name_stays_one_guarded_header_cell() {
    let text = canvas(&class(), Some(9));
    assert!(text.starts_with("Student,ID,SIS User ID,SIS Login ID,Section,"));
    let summary = summary(&[]);
    let text = csv(&ClassReport {
        class: &[],
        summary: &summary,
        color: false,
        assignment: Assignment {
            name: "=HYPERLINK(\"x\"),\nch14",
            canvas_id: Some(9),
        },
    });
    let import = canvas_import::check(&text, Some(9)).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(import.columns[0].title, "'=HYPERLINK(\"x\"),\\u{a}ch14");
    assert_eq!(import.columns[0].points_possible.as_deref(), Some(""));
    assert!(import.students.is_empty());
}
