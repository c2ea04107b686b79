//! Attestation conditions against Kyverno v1.19's evaluation; each test cites the Go file it
//! mirrors (`pkg/engine/variables/evaluate.go`, `pkg/engine/variables/operator/*.go`).

use serde_json::{Value, json};

use super::*;

fn predicate() -> Value {
    json!({"spdxVersion": "SPDX-2.3", "name": "demo", "packages": 2, "reviewed": true,
           "creationInfo": {"creators": ["Tool: syft-1.0", "Organization: courselab"]}})
}

/// One condition that holds (`true`) or not, with `message`.
fn cond(holds: bool, message: &str) -> Value {
    let value = if holds { "SPDX-2.3" } else { "SPDX-9" };
    json!({"key": "{{ spdxVersion }}", "operator": "Equals", "value": value, "message": message})
}

fn check(blocks: Value) -> Result<Option<String>, ConditionError> {
    conditions_hold(blocks.as_array().unwrap(), &predicate())
}

/// Whether the single condition `key operator value` holds.
fn holds(key: Value, operator: &str, value: Value) -> bool {
    let blocks =
        json!([{"all": [{"key": key, "operator": operator, "value": value, "message": "no"}]}]);
    match check(blocks) {
        Ok(None) => true,
        Ok(Some(_)) => false,
        Err(e) => panic!("{e:?}"),
    }
}

// evaluate.go evaluateAnyAllConditionsWithContext: `any` is evaluated first and its false
// messages (those before the one that holds) are kept; `all` stops at its first failure; the
// block's message joins the non-empty ones with "; ".
#[test]
fn a_failing_block_joins_the_any_and_all_messages_in_order() {
    let blocks = json!([{"all": [cond(true, "a1"), cond(false, "a2"), cond(false, "a3")],
                         "any": [cond(false, "y1"), cond(true, "y2"), cond(false, "y3")]}]);
    assert_eq!(check(blocks), Ok(Some("y1; a2".into())));
    let no_any_holds = json!([{"any": [cond(false, "y1"), cond(false, ""), cond(false, "y3")]}]);
    assert_eq!(check(no_any_holds), Ok(Some("y1; y3".into())));
}

// evaluate.go: a failing condition without `message` contributes an empty string, so the
// block's message is empty (Kyverno has no default such as "condition failed").
#[test]
fn an_empty_message_yields_an_empty_string() {
    let blocks =
        json!([{"all": [{"key": "{{ spdxVersion }}", "operator": "Equals", "value": "x"}]}]);
    assert_eq!(check(blocks), Ok(Some(String::new())));
}

// evaluate.go EvaluateAnyAllConditionsWithContext: the first failing block decides.
#[test]
fn the_first_failing_block_gives_the_message() {
    let blocks = json!([{"all": [cond(true, "ok")]}, {"all": [cond(false, "second")]},
                        {"all": [cond(false, "third")]}]);
    assert_eq!(check(blocks), Ok(Some("second".into())));
    let passing = json!([{"any": [cond(true, "")]}, {"all": [cond(true, "")]}]);
    assert_eq!(check(passing), Ok(None));
}

// evaluate.go: `any` stops at the first condition that holds and `all` at the first that
// fails, so a condition after it is never evaluated (here one that could not be).
#[test]
fn evaluation_stops_where_kyverno_stops() {
    let unsupported = json!({"key": "{{ packages }}", "operator": "GreaterThan", "value": 1});
    assert_eq!(
        check(json!([{"any": [cond(true, ""), unsupported.clone()]}])),
        Ok(None)
    );
    assert_eq!(
        check(json!([{"all": [cond(false, "stop"), unsupported.clone()]}])),
        Ok(Some("stop".into()))
    );
    assert!(matches!(
        check(json!([{"any": [cond(false, ""), unsupported]}])),
        Err(ConditionError::Unsupported(_))
    ));
}

// api/kyverno/v1/common_types.go: `any` and `all` are `omitempty`, and Kyverno's substitution
// round-trips the conditions through JSON, so an empty `any` is no `any` at all.
#[test]
fn an_empty_any_list_is_ignored() {
    assert_eq!(
        check(json!([{"any": [], "all": [cond(true, "")]}])),
        Ok(None)
    );
}

// vars.go SubstituteAllInConditions substitutes every block before any is evaluated, so an
// expression Kyverno would resolve but this evaluator cannot is reported even after a failure.
#[test]
fn every_variable_is_resolved_before_evaluation() {
    let blocks = json!([{"all": [cond(false, "first")]},
                        {"all": [{"key": "{{ time_now_utc() }}", "operator": "Equals", "value": 1}]}]);
    assert!(
        matches!(check(blocks), Err(ConditionError::Unsupported(m)) if m.contains("`time_now_utc` does not run offline"))
    );
}

// EvaluateConditions adds the predicate to Kyverno's context and the variables are JMESPath:
// an SBOM's packages and creators are read with filters, projections and functions.
#[test]
fn variables_are_kyvernos_jmespath_over_the_predicate() {
    assert!(holds(
        json!("{{ creationInfo.creators[?starts_with(@, 'Tool: syft')] | length(@) }}"),
        "Equals",
        json!(1)
    ));
    assert!(holds(
        json!("{{ contains(join(',', creationInfo.creators), 'courselab') }}"),
        "Equals",
        json!(true)
    ));
    assert!(holds(
        json!("{{ split(creationInfo.creators[0], ': ')[1] }}"),
        "Equals",
        json!("syft-1.0")
    ));
    assert!(holds(
        json!("{{ creationInfo.creators[].to_lower(@) }}"),
        "AnyIn",
        json!(["organization: courselab"])
    ));
    // The admission request is Kyverno's to know: not guessed from the predicate alone.
    assert!(matches!(
        check(json!([{"all": [{"key": "{{ request.object.kind }}", "operator": "Equals", "value": "Pod"}]}])),
        Err(ConditionError::Unsupported(m)) if m.contains("`request.object.kind` is part of Kyverno's context")
    ));
}

// vars.go substituteVariablesIfAny: a string that is one variable becomes its value; otherwise
// the text is spliced in (messages included); `\{{` escapes; a missing field fails.
#[test]
fn variables_are_substituted_in_keys_values_and_messages() {
    let blocks = json!([{"all": [{"key": "{{ spdxVersion }}", "operator": "Equals", "value": "x",
                                  "message": "got {{ spdxVersion }} for {{name}}, not \\{{ x }}"}]}]);
    assert_eq!(
        check(blocks),
        Ok(Some("got SPDX-2.3 for demo, not {{ x }}".into()))
    );
    assert!(holds(json!("{{ name }}"), "Equals", json!("{{ name }}")));
    assert!(holds(json!("v{{ packages }}"), "Equals", json!("v2")));
    assert!(
        holds(json!("{{ packages }}"), "Equals", json!(2)),
        "a whole variable keeps its type"
    );
    // vars.go: an unknown key fails the substitution, so the entry does not count, even in an
    // `any` block whose other condition holds.
    let missing = [json!({"any": [
        {"key": "{{ spdxVersion }}", "operator": "Equals", "value": "SPDX-2.3"},
        {"key": "{{ nothing.here }}", "operator": "Equals", "value": ""}
    ]})];
    assert_eq!(
        check(Value::Array(missing.to_vec())),
        Err(ConditionError::Kyverno("failed to substitute variables in attestation conditions: failed to resolve nothing.here at path /0/any/1/key: JMESPath query failed: Unknown key \"nothing\" in path".into()))
    );
    assert!(
        holds(json!("SPDX-2.3"), "Equals", json!("SPDX-2.3")),
        "a literal key is allowed"
    );
}

// operator.go CreateOperatorHandler: names match without regard to case; `Equal` is an alias;
// an unknown or missing operator has no handler, which variables.Evaluate reports with a nil
// error (`%!w(<nil>)`).
#[test]
fn operator_names_are_case_insensitive_and_unknown_ones_are_kyvernos_error() {
    for operator in ["Equals", "equals", "EQUALS", "Equal"] {
        assert!(
            holds(json!("{{ name }}"), operator, json!("demo")),
            "{operator}"
        );
    }
    for condition in [
        json!({"key": "{{ name }}", "operator": "Matches", "value": "demo"}),
        json!({"key": "{{ name }}", "value": "demo"}),
    ] {
        assert_eq!(
            check(json!([{"all": [condition]}])),
            Err(ConditionError::Kyverno(
                "failed to create handler for condition operator: %!w(<nil>)".into()
            ))
        );
    }
    assert!(matches!(
        check(json!([{"all": [{"key": "{{ name }}", "operator": "In", "value": ["demo"]}]}])),
        Err(ConditionError::Unsupported(_))
    ));
}

// equal.go validateValueWithStringPattern: the value is the wildcard pattern, the key is not.
#[test]
fn equals_takes_the_wildcard_from_the_value() {
    assert!(holds(
        json!("{{ spdxVersion }}"),
        "Equals",
        json!("SPDX-2.*")
    ));
    assert!(holds(
        json!("{{ spdxVersion }}"),
        "Equals",
        json!("SPDX-?.3")
    ));
    assert!(!holds(json!("SPDX-*"), "Equals", json!("SPDX-2.3")));
    assert!(!holds(
        json!("{{ spdxVersion }}"),
        "NotEquals",
        json!("SPDX-2.*")
    ));
    assert!(holds(
        json!("{{ spdxVersion }}"),
        "NotEquals",
        json!("SPDX-3.*")
    ));
}

// equal.go: JSON numbers are float64s; a number key accepts a number or a numeric string, a
// string key does not accept a number, and a boolean only equals a boolean.
#[test]
fn equals_compares_numbers_and_booleans_as_kyverno_does() {
    assert!(holds(json!("{{ packages }}"), "Equals", json!(2.0)));
    assert!(holds(json!("{{ packages }}"), "Equals", json!("2")));
    assert!(!holds(json!("{{ packages }}"), "Equals", json!("two")));
    assert!(
        !holds(json!("2"), "Equals", json!(2)),
        "a string key wants a string value"
    );
    assert!(holds(json!("{{ reviewed }}"), "Equals", json!(true)));
    assert!(!holds(json!("{{ reviewed }}"), "Equals", json!("true")));
    assert!(holds(
        json!("{{ creationInfo }}"),
        "Equals",
        json!({"creators": ["Tool: syft-1.0", "Organization: courselab"]})
    ));
}

// notequal.go: a value of another type is not equal (true), but a null key is neither equal nor
// not equal (false).
#[test]
fn not_equals_is_true_across_types_and_false_for_a_null_key() {
    assert!(holds(json!("{{ reviewed }}"), "NotEquals", json!("true")));
    assert!(holds(json!("{{ packages }}"), "NotEquals", json!("two")));
    assert!(!holds(json!(null), "NotEquals", json!("x")));
    assert!(!holds(json!(null), "Equals", json!(null)));
}

// equal.go: a string key that parses as a Kubernetes quantity is compared as one when the
// value is a string, so a version such as `2.3` does not match the pattern `2.*`.
#[test]
fn equals_reads_quantities_before_patterns() {
    assert!(holds(json!("1Gi"), "Equals", json!("1024Mi")));
    assert!(holds(json!("1.5"), "Equals", json!("1500m")));
    assert!(holds(json!("2.30"), "Equals", json!("2.3")));
    assert!(!holds(json!("2.3"), "Equals", json!("2.*")));
    assert!(holds(json!("2.3"), "NotEquals", json!("2.*")));
    assert!(!holds(json!("1k"), "Equals", json!("1Ki")));
}

// operator.go parseDuration: a duration key equals a duration string or a number of seconds
// (`time.Duration(float64)` truncates).
#[test]
fn equals_reads_durations_first() {
    assert!(holds(json!("1h"), "Equals", json!("60m")));
    assert!(holds(json!("1m30s"), "Equals", json!("90s")));
    assert!(holds(json!("90s"), "Equals", json!(90)));
    assert!(holds(json!("2s"), "Equals", json!(2.7)));
    assert!(!holds(json!("1.5s"), "Equals", json!(1)));
    assert!(holds(json!("1.5s"), "Equals", json!("1500ms")));
}

// anyin.go anyKeyExistsInArray: against a list either side may hold the wildcard; a string
// value is a pattern, else a JSON list or the string itself compared exactly; any other value
// type makes AnyIn and AnyNotIn both false.
#[test]
fn any_in_matches_wildcards_on_either_side() {
    assert!(holds(
        json!("{{ spdxVersion }}"),
        "AnyIn",
        json!(["SPDX-2.2", "SPDX-2.*"])
    ));
    assert!(holds(json!("SPDX-*"), "AnyIn", json!(["SPDX-2.3"])));
    assert!(holds(
        json!("{{ spdxVersion }}"),
        "AnyIn",
        json!("SPDX-2.*")
    ));
    assert!(holds(
        json!("{{ spdxVersion }}"),
        "AnyIn",
        json!("[\"x\", \"SPDX-2.3\"]")
    ));
    assert!(!holds(
        json!("{{ spdxVersion }}"),
        "AnyIn",
        json!(["SPDX-2.2"])
    ));
    assert!(!holds(json!("{{ packages }}"), "AnyIn", json!(2)));
    assert!(!holds(json!("{{ packages }}"), "AnyNotIn", json!(3)));
    assert!(!holds(json!(null), "AnyNotIn", json!(["x"])));
}

// anyin.go / allin.go: a scalar key is compared as fmt.Sprint prints it (`%v`), a list key
// element by element.
#[test]
fn scalar_keys_are_compared_as_go_prints_them() {
    assert!(holds(json!("{{ packages }}"), "AnyIn", json!(["1", "2"])));
    assert!(holds(json!("{{ reviewed }}"), "AllIn", json!(["true"])));
    assert!(holds(json!(1_000_000), "AnyIn", json!(["1e+06"])));
    assert!(holds(json!(0.0001), "AnyIn", json!(["0.0001"])));
    assert!(holds(json!(123_456), "AnyIn", json!(["123456"])));
    assert_eq!(go_float(1.5e-7), "1.5e-07");
    assert_eq!(go_float(-2.25), "-2.25");
}

// allin.go isAllIn / allnotin.go isAllNotIn / anynotin.go isAnyNotIn over a list key; an empty
// list key is AllIn; a number value is a one-element list for AnyIn but rejected by AllIn
// (anySetExistsInArray has that case, allSetExistsInArray does not).
#[test]
fn list_keys_follow_each_operators_set_rule() {
    let creators = json!("{{ creationInfo.creators }}");
    assert!(holds(
        creators.clone(),
        "AllIn",
        json!(["Tool: *", "Organization: *"])
    ));
    assert!(!holds(creators.clone(), "AllIn", json!(["Tool: *"])));
    assert!(holds(creators.clone(), "AnyIn", json!(["Tool: *"])));
    assert!(holds(creators.clone(), "AnyNotIn", json!(["Tool: *"])));
    assert!(!holds(creators.clone(), "AllNotIn", json!(["Tool: *"])));
    assert!(holds(creators, "AllNotIn", json!(["Person: *"])));
    assert!(holds(json!([]), "AllIn", json!(["x"])));
    assert!(!holds(json!([]), "AnyIn", json!(["x"])));
    assert!(holds(json!([2]), "AnyIn", json!(2)));
    assert!(!holds(json!([2]), "AllIn", json!(2)));
}

// pkg/engine/operator/operator.go InRangeRegex: `1-10` is a range for the In operators, checked
// by pattern validation that is not modelled offline.
#[test]
fn range_values_are_unsupported_offline() {
    let blocks =
        json!([{"all": [{"key": "{{ packages }}", "operator": "AnyIn", "value": "1-10"}]}]);
    assert!(matches!(check(blocks), Err(ConditionError::Unsupported(m)) if m.contains("`1-10`")));
    assert!(
        holds(json!("{{ spdxVersion }}"), "AnyNotIn", json!("SPDX-2-3")),
        "not a range"
    );
}

// utils.go EvaluateConditions: the predicate must be an object, but only when there are
// conditions (imageverifier.go checkAttestations returns early otherwise).
#[test]
fn a_predicate_that_is_not_an_object_fails_only_with_conditions() {
    assert_eq!(conditions_hold(&[], &json!("text")), Ok(None));
    assert!(matches!(
        conditions_hold(&[json!({"all": [cond(true, "")]})], &json!("text")),
        Err(ConditionError::Kyverno(m)) if m.starts_with("failed to extract predicate from statement")
    ));
}

// Go's time.ParseDuration and apimachinery's ParseQuantity, on their own.
#[test]
fn durations_and_quantities_parse_as_in_go() {
    assert_eq!(go_duration("1h2m3.5s"), Some(3_723_500_000_000));
    assert_eq!(go_duration("-1.5us"), Some(-1_500));
    assert_eq!(go_duration("0"), Some(0));
    for bad in ["", "1", "h", "1x", ".s", "1e3s"] {
        assert_eq!(go_duration(bad), None, "{bad}");
    }
    assert_eq!(Quantity::parse("1e3"), Quantity::parse("1k"));
    assert_eq!(
        Quantity::parse("0.0000000001"),
        Quantity::parse("1n"),
        "rounded up to nano"
    );
    for bad in ["SPDX-2.3", "1.0.0", "v1", "1x", "e"] {
        assert!(Quantity::parse(bad).is_none(), "{bad}");
    }
}

// evaluate.go evaluateOldConditions: conditions written as a plain list are the deprecated
// form, which this evaluator leaves undecided rather than guessing its messages.
#[test]
fn the_deprecated_list_form_is_undecided_for_preconditions_and_deny() {
    let context = super::super::jmespath::data(&json!({"request": {"operation": "CREATE"}}));
    let list = json!([{"key": "{{ request.operation }}", "operator": "Equals", "value": "CREATE"}]);
    assert!(matches!(
        preconditions_hold(&list, &context, &[&["request", "operation"]]),
        Err(ConditionError::Unsupported(m)) if m.starts_with("`preconditions` as a plain list")
    ));
    assert!(matches!(
        deny_holds(&list, &context, &[&["request", "operation"]]),
        Err(ConditionError::Unsupported(m)) if m.starts_with("deny `conditions` as a plain list")
    ));
    let block = json!({"all": list});
    assert_eq!(
        preconditions_hold(&block, &context, &[&["request", "operation"]]),
        Ok(None)
    );
    assert_eq!(
        deny_holds(&block, &context, &[&["request", "operation"]]),
        Ok((true, String::new()))
    );
}
