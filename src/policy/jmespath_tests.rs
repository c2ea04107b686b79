//! Kyverno's JMESPath against the fork's behaviour (`github.com/kyverno/go-jmespath`
//! `interpreter.go`) and Kyverno's functions (`pkg/engine/jmespath/functions.go`).

use serde_json::json;

use super::*;

fn sbom() -> Value {
    json!({
        "spdxVersion": "SPDX-2.3",
        "creationInfo": {"creators": ["Tool: syft-1.4.1", "Organization: courselab"]},
        "packages": [
            {"name": "openssl", "versionInfo": "3.0.13"},
            {"name": "musl", "versionInfo": "1.2.4"},
            {"name": "demo"}
        ],
        "empty": null
    })
}

fn run(expression: &str) -> Result<Value, QueryError> {
    query(expression, &data(&sbom()), &[])
}

#[test]
fn the_standard_language_and_functions_run() {
    assert_eq!(run("spdxVersion"), Ok(json!("SPDX-2.3")));
    assert_eq!(
        run("packages[?name=='openssl'].versionInfo"),
        Ok(json!(["3.0.13"]))
    );
    assert_eq!(run("packages[?name=='curl'] | length(@)"), Ok(json!(0)));
    assert_eq!(run("length(packages)"), Ok(json!(3)));
    assert_eq!(
        run("packages[].name"),
        Ok(json!(["openssl", "musl", "demo"]))
    );
    assert_eq!(
        run("creationInfo.creators[?starts_with(@, 'Tool: syft')] | length(@) > `0`"),
        Ok(json!(true))
    );
    assert_eq!(run("to_string(length(packages))"), Ok(json!("3")));
    assert_eq!(run("contains(packages[].name, 'musl')"), Ok(json!(true)));
    // A projection keeps only what is not null: `demo` has no versionInfo.
    assert_eq!(
        run("packages[*].versionInfo"),
        Ok(json!(["3.0.13", "1.2.4"]))
    );
}

// interpreter.go: ASTField on an object without the key is a NotFoundError, which a
// sub-expression passes up and most other nodes turn into nil.
#[test]
fn a_missing_key_fails_only_where_the_fork_passes_it_up() {
    let unknown = |key: &str| {
        Err(QueryError::Kyverno(format!(
            "Unknown key \"{key}\" in path"
        )))
    };
    assert_eq!(run("missing"), unknown("missing"));
    assert_eq!(run("creationInfo.tools"), unknown("tools"));
    assert_eq!(run("creationInfo.tools[0]"), unknown("tools"));
    assert!(
        matches!(run("missing | length(@)"), Err(QueryError::Unsupported(_))),
        "a pipe turns the missing key into null, and length(null) fails as a type error"
    );
    assert_eq!(run("spdxVersion && missing"), unknown("missing"));
    // Turned into null: `||`, a filter's condition, a projection, a comparison, a pipe.
    assert_eq!(run("missing || 'fallback'"), Ok(json!("fallback")));
    assert_eq!(run("creationInfo.tools | 'piped'"), Ok(json!("piped")));
    assert_eq!(run("spdxVersion | missing"), Ok(Value::Null));
    assert_eq!(run("packages[?license=='MIT']"), Ok(json!([])));
    assert_eq!(run("packages[].license"), Ok(json!([])));
    assert_eq!(run("missing == `null`"), Ok(json!(true)));
    assert_eq!(run("empty"), Ok(Value::Null), "a key holding null is there");
    // An index past the end, or a field of a string, is null, not an unknown key.
    assert_eq!(run("packages[7]"), Ok(Value::Null));
    assert_eq!(run("spdxVersion.major"), Ok(Value::Null));
    // The false left side of `&&` is the answer: its right side is not read.
    assert_eq!(run("empty && missing"), Ok(Value::Null));
}

#[test]
fn kyvernos_string_functions_run_as_go_runs_them() {
    assert_eq!(run("to_upper(spdxVersion)"), Ok(json!("SPDX-2.3")));
    assert_eq!(run("to_lower(spdxVersion)"), Ok(json!("spdx-2.3")));
    assert_eq!(run("trim('--a-b--', '-')"), Ok(json!("a-b")));
    assert_eq!(run("trim_prefix(spdxVersion, 'SPDX-')"), Ok(json!("2.3")));
    assert_eq!(run("trim_prefix(spdxVersion, 'x')"), Ok(json!("SPDX-2.3")));
    assert_eq!(
        run("split(creationInfo.creators[0], ': ')"),
        Ok(json!(["Tool", "syft-1.4.1"]))
    );
    assert_eq!(run("split('ab', '')"), Ok(json!(["a", "b"])));
    assert_eq!(run("replace('aaa', 'a', 'b', `2`)"), Ok(json!("bba")));
    assert_eq!(run("replace('aaa', 'a', 'b', `-1`)"), Ok(json!("bbb")));
    assert_eq!(run("replace_all('a.b.c', '.', '/')"), Ok(json!("a/b/c")));
    assert_eq!(run("equal_fold('SPDX', 'spdx')"), Ok(json!(true)));
    assert_eq!(
        run("regex_match('^Tool: syft-[0-9.]+$', creationInfo.creators[0])"),
        Ok(json!(true))
    );
    assert_eq!(run("regex_match('^3', `3.5`)"), Ok(json!(true)));
    assert_eq!(
        run("pattern_match('Tool: syft-*', creationInfo.creators[0])"),
        Ok(json!(true))
    );
    assert_eq!(run("base64_encode('syft')"), Ok(json!("c3lmdA==")));
    assert_eq!(run("base64_decode('c3lmdA==')"), Ok(json!("syft")));
}

#[test]
fn what_does_not_run_here_is_unsupported_and_says_why() {
    let unsupported = |expression: &str, why: &str| match run(expression) {
        Err(QueryError::Unsupported(m)) => assert!(m.contains(why), "{expression}: {m}"),
        other => panic!("{expression}: {other:?}"),
    };
    unsupported(
        "time_now_utc()",
        "Kyverno's function `time_now_utc` does not run offline",
    );
    unsupported(
        "semver_compare('1.0.0', '>1.0.0')",
        "`semver_compare` does not run offline",
    );
    unsupported(
        "no_such_fn(spdxVersion)",
        "`no_such_fn` is not a JMESPath or Kyverno function",
    );
    unsupported(
        "request.object.kind",
        "`request.object.kind` is part of Kyverno's context",
    );
    unsupported(
        "request.object.kind || 'Pod'",
        "reads `request.object.kind`",
    );
    unsupported("packages[?", "cannot read");
    unsupported("abs('x')", "fails when run here");
    // A predicate that has a field of that name is read as it is.
    let with_request = data(&json!({"request": "in the predicate"}));
    assert_eq!(
        query("request", &with_request, &[]),
        Ok(json!("in the predicate"))
    );
}
