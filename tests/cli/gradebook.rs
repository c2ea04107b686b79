//! `lab grade --format csv --format canvas --format junit -o DIR` through the real binary, for a
//! class of finished ch14 files (`ch14_submission::finished`), an unreadable one and a roster
//! learner who handed nothing in: each report holds every row of the class, the Canvas file
//! is read as Canvas's importer reads it (`canvas_import`), and that check is shown to refuse
//! the headers Canvas refuses.

use roxmltree::Document;

use super::canvas_import::{check, import};
use super::ch14_class::finished;
use super::{lab, output, repo};

const ROSTER: &str = "id,name,section,email,canvas_id,sis_user_id\n\
    ada,Ada Lovelace,A1,ada@example.edu,4021,S-001\n\
    bob,\"=HYPERLINK(\"\"http://x\"\"),Bob\",B2,,,\n\
    carol,Carol,B2,,4023,\n";

#[test]
fn csv_canvas_and_junit_are_written_for_the_whole_class() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    std::fs::create_dir(&class).unwrap();
    // Both carry the committed TEST key: the copy check flags them, on both sides.
    std::fs::write(class.join("ada.tar.gz"), finished("ada", &[])).unwrap();
    std::fs::write(class.join("bob.tar.gz"), finished("bob", &[])).unwrap();
    std::fs::write(class.join("broken.tar.gz"), b"not a gzip file").unwrap();
    std::fs::write(dir.path().join("class.csv"), ROSTER).unwrap();
    let (code, stdout, stderr) = output(lab(dir.path()).arg("--course").arg(repo()).args([
        "grade",
        "class",
        "--roster",
        "class.csv",
        "--format",
        "csv",
        "--format",
        "canvas",
        "--format",
        "junit",
        "--canvas-assignment-id",
        "7301",
        "-o",
        "reports",
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("Wrote grades.csv, canvas.csv, junit.xml in reports (3 submissions)"),
        "{stdout}"
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join("reports").join(name)).unwrap();

    let gradebook = read("grades.csv");
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(gradebook.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    let learners: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(learners, ["ada", "bob", "carol", ""], "{gradebook}");
    let ada = &rows[0];
    assert_eq!(&ada[4], "flagged", "{gradebook}");
    assert_eq!(ada[5], ada[6], "full marks: {gradebook}");
    assert_eq!(&ada[7], "100.00");
    assert!(
        ada[ada.len() - 3].starts_with("copy: the same public key")
            && ada[ada.len() - 3].ends_with("as bob (class/bob.tar.gz)"),
        "{gradebook}"
    );
    assert!(rows[1][1].starts_with("'=HYPERLINK"), "{gradebook}");
    assert_eq!(&rows[2][4], "missing");
    assert!(
        rows[3][rows[3].len() - 2].contains("not a gzip file"),
        "{gradebook}"
    );
    insta::assert_snapshot!("gradebook-csv", gradebook.replace("\r\n", "\n"));

    let canvas = read("canvas.csv");
    let imported = check(&canvas, Some(7301)).unwrap_or_else(|e| panic!("{e}\n{canvas}"));
    let column = &imported.columns[0];
    assert_eq!(column.title, "Supply Chain Security (Advanced)");
    assert_eq!(column.points_possible.as_deref(), Some(&ada[6]));
    let students: Vec<[&str; 6]> = imported
        .students
        .iter()
        .map(|s| {
            [
                s.name.as_str(),
                s.id.as_str(),
                s.sis_user_id.as_deref().unwrap_or("?"),
                s.sis_login_id.as_deref().unwrap_or("?"),
                s.section.as_str(),
                s.grades[0].as_str(),
            ]
        })
        .collect();
    assert_eq!(
        students,
        [
            ["Ada Lovelace", "4021", "S-001", "ada", "A1", &ada[5]],
            [
                "'=HYPERLINK(\"http://x\"),Bob",
                "",
                "",
                "bob",
                "B2",
                &rows[1][5]
            ],
            ["Carol", "4023", "", "carol", "B2", ""],
        ]
    );
    insta::assert_snapshot!("gradebook-canvas", canvas.replace("\r\n", "\n"));

    let junit = read("junit.xml");
    let doc = Document::parse(&junit).unwrap_or_else(|e| panic!("{e}\n{junit}"));
    let suites: Vec<(&str, &str, &str, &str)> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|s| {
            let attribute = |name| s.attribute(name).unwrap();
            (
                attribute("name"),
                attribute("failures"),
                attribute("errors"),
                attribute("skipped"),
            )
        })
        .collect();
    // Each finished file passes every check and fails only its `flags` case (the copy).
    assert_eq!(
        suites,
        [
            ("ada", "1", "0", "0"),
            ("bob", "1", "0", "0"),
            ("carol", "0", "0", "1"),
            ("class/broken.tar.gz", "0", "1", "0"),
        ],
        "{junit}"
    );
    let checks = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("testcase")
                && n.attribute("classname")
                    .is_some_and(|c| c.starts_with("ada."))
        })
        .count();
    assert!(checks > 10, "a case per check of ch14: {junit}");
}

#[test]
fn the_canvas_check_refuses_the_headers_canvas_refuses() {
    let good = "Student,ID,SIS User ID,SIS Login ID,Section,Lab (12)\r\n    Points Possible,,,,,10\r\nAda,1,S1,ada,A1,9\r\n";
    let read = check(good, Some(12)).unwrap();
    assert_eq!(read.students[0].grades, ["9"]);
    // Canvas's own export without SIS ids passes its import, too.
    let export =
        "Student,ID,SIS Login ID,Section,Lab (12)\n    Points Possible,,,,10\nAda,1,ada,A1,9\n";
    let read = import(export).unwrap();
    assert_eq!(read.students[0].sis_login_id.as_deref(), Some("ada"));
    assert_eq!(read.students[0].sis_user_id, None);
    for (bad, why) in [
        (
            "Student,ID,SIS User ID,Section,Lab (12)\n    Points Possible,,,,10\n",
            "the last student column (column 2) must contain `Section`",
        ),
        (
            "ID,Student,SIS User ID,SIS Login ID,Section,Lab (12)\n",
            "column 0 must contain `Student`",
        ),
        (
            "Student,ID,SIS Login ID,SIS User ID,Section,Lab (12)\n",
            "must contain `Section`, not \"SIS User ID\"",
        ),
        ("Student,ID,Section\n", "in a row of more than 3 columns"),
        (
            "Student,ID,SIS User ID,SIS Login ID,Section,Lab 12\n    Points Possible,,,,,10\n",
            "does not name assignment Some(12)",
        ),
        (
            "Student,ID,SIS User ID,SIS Login ID,Section,Lab (12)\nAda,1,S1,ada,A1,9\n    Points Possible,,,,,10\n",
            "no `Points Possible` row right after the header",
        ),
        (
            "Student;ID;SIS User ID;SIS Login ID;Section;Lab (12)\n    Points Possible;;;;;10\nAda;1;S1;ada;A1;9\n",
            "semicolon-delimited",
        ),
    ] {
        let error = check(bad, Some(12)).unwrap_err();
        assert!(error.contains(why), "{bad:?}: {error}");
    }
}
