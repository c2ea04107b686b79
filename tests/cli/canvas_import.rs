//! What Canvas's gradebook import makes of a CSV file, for holding `lab grade --format canvas`
//! to it: the rules of Canvas's `lib/gradebook_importer.rb` (notes in the shared grading
//! reference, §3), written down here from reading it. The delimiter is chosen from the first
//! three lines; the header passes only when column 0 contains `Student`, column 1 `ID`, and the
//! last student column (`SIS Login ID` and `SIS User ID` followed by `SIS Login ID` widen the
//! student columns) contains `Section`; an assignment column titled `Title (id)` names that
//! assignment; a row whose first cell contains `Points Possible` gives the points; a row of
//! nothing but blanks or `Muted` is not a student. Shared by the canvas reporter's unit tests
//! and the CLI tests (`#[path]`), so both hold the output to one reading.

use regex::Regex;

/// One assignment column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The header cell as written.
    pub header: String,
    /// The title Canvas reads from it.
    pub title: String,
    /// The assignment id, when the header is `Title (id)`.
    pub id: Option<u64>,
    /// Its `Points Possible` cell.
    pub points_possible: Option<String>,
}

/// One student row, as Canvas reads its cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Student {
    /// `Student`: matched by name only when no id matches.
    pub name: String,
    /// `ID`: the Canvas user id, matched first.
    pub id: String,
    /// `SIS User ID`, when the header has the column.
    pub sis_user_id: Option<String>,
    /// `SIS Login ID`, when the header has the column.
    pub sis_login_id: Option<String>,
    /// `Section`.
    pub section: String,
    /// One grade per assignment column, stripped (empty: no score).
    pub grades: Vec<String>,
}

/// The file as Canvas would import it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// `;` or `,`.
    pub delimiter: u8,
    /// The assignment columns.
    pub columns: Vec<Column>,
    /// Whether a `Points Possible` row came right after the header.
    pub points_row_second: bool,
    /// The students, in order.
    pub students: Vec<Student>,
}

/// Columns Canvas's import never reads as assignments.
const NOT_ASSIGNMENTS: [&str; 9] = [
    "Current Score",
    "Current Points",
    "Current Grade",
    "Final Score",
    "Final Points",
    "Final Grade",
    "Override Score",
    "Override Grade",
    "Override Status",
];

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid pattern")
}

/// The record count of one line with `delimiter`, or `None` where Ruby's CSV would call the
/// line malformed (an open quote).
fn fields(line: &str, delimiter: u8) -> Option<usize> {
    if line.matches('"').count() % 2 == 1 {
        return None;
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(line.as_bytes());
    reader.records().next()?.ok().map(|r| r.len())
}

/// Canvas's choice of delimiter: the one that splits the first three lines into the same
/// number of fields, `;` only when it gives more fields than `,`.
fn delimiter(text: &str) -> u8 {
    let first: Vec<&str> = text.split_inclusive('\n').take(3).collect();
    let count = |delimiter: u8| {
        let counts: Vec<Option<usize>> = first.iter().map(|l| fields(l, delimiter)).collect();
        match counts.first() {
            Some(Some(n)) if counts.iter().all(|c| *c == Some(*n)) => *n,
            _ => 0,
        }
    };
    if count(b';') > count(b',') {
        b';'
    } else {
        b','
    }
}

/// Reads `text` as Canvas's gradebook import does; `Err` is why Canvas would refuse it (its
/// "Invalid header row"), in words.
pub fn import(text: &str) -> Result<Import, String> {
    let delimiter = delimiter(text);
    let blank_line = re(r"^[;, ]*$");
    let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.map(|r| r.iter().map(String::from).collect()))
        .collect::<Result<Vec<Vec<String>>, _>>()
        .map_err(|e| format!("not CSV: {e}"))?
        .into_iter()
        .filter(|row: &Vec<String>| !row.iter().all(|cell| blank_line.is_match(cell)))
        .collect();
    let (header, rest) = rows.split_first().ok_or("no header row")?;
    let cell = |row: &[String], i: usize| row.get(i).cloned().unwrap_or_default();
    if !(header.len() > 3 && header[0].contains("Student") && header[1].contains("ID")) {
        return Err(format!(
            "Invalid header row: column 0 must contain `Student` and column 1 `ID` (in a row of more than 3 columns): {header:?}"
        ));
    }
    let login = re(r"SIS\s+Login\s+ID");
    let mut student_columns = 3;
    let (mut sis_user, mut sis_login) = (None, None);
    if login.is_match(&header[2]) {
        sis_login = Some(2);
        student_columns += 1;
    } else if re(r"SIS\s+User\s+ID").is_match(&header[2]) && login.is_match(&cell(header, 3)) {
        sis_user = Some(2);
        sis_login = Some(3);
        student_columns += 2;
        let integration = usize::from(re(r"Integration\s+ID").is_match(&cell(header, 4)));
        student_columns += integration;
        if re(r"Root\s+Account").is_match(&cell(header, 4 + integration)) {
            student_columns += 1;
        }
    }
    let last = cell(header, student_columns - 1);
    if !last.contains("Section") {
        return Err(format!(
            "Invalid header row: the last student column (column {}) must contain `Section`, not {last:?}",
            student_columns - 1
        ));
    }
    let title_and_id = re(r"\A(.*)\s\((\d+)\)\z");
    let mut columns: Vec<(usize, Column)> = header
        .iter()
        .enumerate()
        .skip(student_columns)
        .filter(|(_, h)| !NOT_ASSIGNMENTS.iter().any(|n| h.contains(n)))
        .map(|(i, h)| {
            let (title, id) = match title_and_id.captures(h) {
                Some(c) => (c[1].to_owned(), c[2].parse().ok()),
                None => (h.clone(), None),
            };
            let column = Column {
                header: h.clone(),
                title,
                id,
                points_possible: None,
            };
            (i, column)
        })
        .collect();
    let muted = re(r"(?im)^\s*(Muted|Manual Posting.*)?\s*$");
    let mut students = Vec::new();
    let mut points_row_second = false;
    for (n, row) in rest.iter().enumerate() {
        if cell(row, 0).contains("Points Possible") {
            points_row_second |= n == 0;
            for (i, column) in &mut columns {
                column.points_possible = row.get(*i).cloned();
            }
            continue;
        }
        if row.iter().all(|c| muted.is_match(c)) {
            continue;
        }
        students.push(Student {
            name: cell(row, 0),
            id: cell(row, 1),
            sis_user_id: sis_user.map(|i| cell(row, i)),
            sis_login_id: sis_login.map(|i| cell(row, i)),
            section: cell(row, student_columns - 1),
            grades: columns
                .iter()
                .map(|(i, _)| cell(row, *i).trim().to_owned())
                .collect(),
        });
    }
    Ok(Import {
        delimiter,
        columns: columns.into_iter().map(|(_, c)| c).collect(),
        points_row_second,
        students,
    })
}

/// `text` as `lab grade --format canvas` must write it: Canvas imports it, with a comma, every
/// student column of its export, one assignment column (named by `assignment_id` when one is
/// given) and the `Points Possible` row right after the header.
pub fn check(text: &str, assignment_id: Option<u64>) -> Result<Import, String> {
    let import = import(text)?;
    if import.delimiter != b',' {
        return Err("Canvas would read it as semicolon-delimited".into());
    }
    let [column] = import.columns.as_slice() else {
        return Err(format!("not one assignment column: {:?}", import.columns));
    };
    if assignment_id.is_some() && column.id != assignment_id {
        return Err(format!(
            "the assignment header {:?} does not name assignment {assignment_id:?} as `Title (id)`",
            column.header
        ));
    }
    if !import.points_row_second {
        return Err("no `Points Possible` row right after the header".into());
    }
    if import
        .students
        .iter()
        .any(|s| s.sis_user_id.is_none() || s.sis_login_id.is_none())
    {
        return Err("the SIS User ID and SIS Login ID columns are not read".into());
    }
    Ok(import)
}
