use super::*;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Shape {
    #[allow(dead_code)]
    name: String,
}

fn problem(json: &str) -> Problem {
    parse::<Shape>(json.as_bytes(), "it is of another shape").unwrap_err()
}

#[test]
fn nesting_past_the_limit_is_named_where_it_starts_whatever_the_types_expect() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(
        problem(&deep),
        Problem {
            line: 1,
            column: 65,
            why: "it nests arrays and objects more than 64 deep"
        }
    );
    let inside = format!(
        "{{\n  \"name\": {}{}}}",
        "{\"a\":".repeat(10_000),
        "}".repeat(10_000)
    );
    let found = problem(&inside);
    assert_eq!((found.line, found.column), (2, 11 + 63 * 5), "{found:?}");
    assert!(found.why.contains("more than 64 deep"));
}

#[test]
fn brackets_in_strings_do_not_count_and_the_limit_itself_is_allowed() {
    let quoted = format!(
        "{{\"name\": \"{}\\\"{}\"}}",
        "[".repeat(500),
        "{".repeat(500)
    );
    assert_eq!(
        parse::<Shape>(quoted.as_bytes(), "").unwrap().name.len(),
        1001
    );
    let at_limit = format!("{}{}", "[".repeat(DEPTH_LIMIT), "]".repeat(DEPTH_LIMIT));
    assert!(parse::<serde_json::Value>(at_limit.as_bytes(), "").is_ok());
}

#[test]
fn other_problems_are_named_without_quoting_the_input() {
    assert_eq!(problem("#!/bin/sh\n").why, "it is not valid JSON");
    assert_eq!(problem("{\"name\": ").why, "it ends early");
    let other = problem("{\"token: s3cret\": 1}");
    assert_eq!(other.why, "it is of another shape");
    assert!(!format!("{other:?}").contains("s3cret"));
}
