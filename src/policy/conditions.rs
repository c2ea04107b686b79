//! Attestation `conditions`, evaluated over the statement's predicate as Kyverno v1.19 evaluates
//! them: `EvaluateConditions` (`pkg/engine/internal/utils.go`) substitutes every variable first,
//! then `EvaluateAnyAllConditionsWithContext` (`pkg/engine/variables/evaluate.go`) runs each
//! block, and the operators of `pkg/engine/variables/operator/` compare. A variable is
//! Kyverno's JMESPath over the predicate (`policy::jmespath`: filters, projections, the standard
//! functions and Kyverno's string functions); one that reads the rest of Kyverno's context (the
//! admission request), one of Kyverno's functions that does not run offline, range values
//! (`1-10`) and the numeric, duration and deprecated `In`/`NotIn` operators are reported as
//! unsupported rather than guessed.

use std::borrow::Cow;

use jmespath::Rcvar;
use serde_json::Value;

use crate::wildcard;

use super::jmespath::QueryError;
use super::matching::{Operation, Request};

use super::go_values::{Quantity, go_duration, go_float, go_parse_float};

/// Why conditions could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionError {
    /// Kyverno fails too (its wording): the attestation entry then does not count.
    Kyverno(String),
    /// Kyverno would evaluate it, this offline evaluator cannot: the outcome is an error.
    Unsupported(String),
}

use ConditionError::{Kyverno, Unsupported};

/// Evaluates `blocks` (`any`/`all` lists of `{key, operator, value, message}`) against a
/// predicate: `Ok(None)` when they hold, `Ok(Some(message))` when they do not, with the messages
/// of the first failing block joined as Kyverno joins them.
pub fn conditions_hold(
    blocks: &[Value],
    predicate: &Value,
) -> Result<Option<String>, ConditionError> {
    // imageverifier.go checkAttestations: no conditions, nothing to extract or check.
    if blocks.is_empty() {
        return Ok(None);
    }
    if !predicate.is_object() {
        return Err(Kyverno(
            "failed to extract predicate from statement: the predicate is not a JSON object".into(),
        ));
    }
    // SubstituteAllInConditions runs over every block before any is evaluated, with the
    // predicate added to the root of Kyverno's context (`AddJSONObject`).
    let data = super::jmespath::data(predicate);
    let substituted = blocks
        .iter()
        .enumerate()
        .map(|(i, block)| substitute(block, &data, &format!("/{i}")))
        .collect::<Result<Vec<_>, _>>()?;
    for block in &substituted {
        if let Some(message) = block_fails(block, ATTESTATION, &mut |c| Ok(Cow::Borrowed(c)))? {
            return Ok(Some(message));
        }
    }
    Ok(None)
}

/// How an attestation's conditions that cannot be read fail.
const ATTESTATION: &str = "failed to substitute variables in attestation conditions";

/// The parts of Kyverno's context a rule's `preconditions` may read here: the admission
/// request's operation, object, namespace, name and kind, and on a CREATE its (null) old
/// object. Its user, dry-run flag, options, `images` and the rest are Kyverno's to know.
const REQUEST_KNOWN: &[&[&str]] = &[
    &["request", "operation"],
    &["request", "object"],
    &["request", "namespace"],
    &["request", "name"],
    &["request", "kind"],
];
const CREATE_KNOWN: &[&[&str]] = &[
    &["request", "operation"],
    &["request", "object"],
    &["request", "oldObject"],
    &["request", "namespace"],
    &["request", "name"],
    &["request", "kind"],
];

/// What this evaluator knows of Kyverno's context for one request.
pub struct RequestContext {
    /// `{"request": {...}}`, to which blocks add their own entries.
    pub json: Value,
    /// The same, as JMESPath queries read it.
    pub data: Rcvar,
    /// Which parts of Kyverno's context `json` holds.
    pub known: &'static [&'static [&'static str]],
}

/// Kyverno's context for `request` as far as it is known here (`AddRequest`: the admission
/// request as JSON, its empty fields left out).
pub fn request_context(request: &Request<'_>) -> RequestContext {
    let object = request.object;
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let mut admission = serde_json::Map::new();
    admission.insert(
        "kind".into(),
        serde_json::json!({"group": group, "version": version,
                           "kind": object["kind"].as_str().unwrap_or("")}),
    );
    for (field, value) in [
        ("name", object.pointer("/metadata/name")),
        ("namespace", object.pointer("/metadata/namespace")),
    ] {
        if let Some(text) = value.and_then(Value::as_str).filter(|t| !t.is_empty()) {
            admission.insert(field.into(), Value::String(text.to_owned()));
        }
    }
    admission.insert(
        "operation".into(),
        Value::String(request.operation.as_str().to_owned()),
    );
    admission.insert("object".into(), object.clone());
    let known = match request.operation {
        Operation::Create => {
            admission.insert("oldObject".into(), Value::Null);
            CREATE_KNOWN
        }
        Operation::Update => REQUEST_KNOWN,
    };
    let json = serde_json::json!({ "request": Value::Object(admission) });
    RequestContext {
        data: super::jmespath::data(&json),
        json,
        known,
    }
}

/// A rule's `preconditions` (`internal.CheckPreconditions`, `variables.Evaluate`): the
/// `any`/`all` block, each condition's key and then value substituted as it is evaluated (so
/// a condition never reached is never resolved). `Ok(None)` when they hold, `Ok(Some(message))`
/// when they do not (the false conditions' messages, as for attestations), `Err` when one
/// cannot be evaluated: Kyverno's own error (`Kyverno`), or one this evaluator cannot tell.
pub fn preconditions_hold(
    preconditions: &Value,
    context: &Rcvar,
    known: &[&[&str]],
) -> Result<Option<String>, ConditionError> {
    any_all_block(preconditions, "`preconditions`")?;
    block_fails(
        preconditions,
        "failed to parse preconditions",
        &mut |condition| substitute_condition(condition, context, known),
    )
}

/// An entry's `validate.deny.conditions` (`CheckDenyPreconditions`): evaluated as
/// preconditions are; `(true, message)` when they hold, which denies, with the messages of
/// the conditions that held.
pub fn deny_holds(
    conditions: &Value,
    context: &Rcvar,
    known: &[&[&str]],
) -> Result<(bool, String), ConditionError> {
    any_all_block(conditions, "deny `conditions`")?;
    block_verdict(
        conditions,
        "failed to parse deny conditions",
        &mut |condition| substitute_condition(condition, context, known),
    )
}

/// Conditions written as a plain list, the deprecated form (`evaluateOldConditions`), are not
/// evaluated offline.
fn any_all_block(conditions: &Value, what: &str) -> Result<(), ConditionError> {
    if conditions.is_array() {
        return Err(Unsupported(format!(
            "{what} as a plain list (the deprecated form) are not evaluated offline; write them as an `any`/`all` block"
        )));
    }
    Ok(())
}

/// `variables.Evaluate`'s substitution of one condition: its key, then its value, each with
/// Kyverno's error for a variable that does not resolve.
fn substitute_condition<'c>(
    condition: &'c Value,
    context: &Rcvar,
    known: &[&[&str]],
) -> Result<Cow<'c, Value>, ConditionError> {
    let mut prepared = condition.clone();
    for field in ["key", "value"] {
        if let Some(part) = condition.get(field) {
            let substituted = substitute_with(part, context, known, "").map_err(|e| match e {
                Kyverno(m) => Kyverno(format!(
                    "failed to substitute variables in condition {field}: {m}"
                )),
                other => other,
            })?;
            prepared[field] = substituted;
        }
    }
    Ok(Cow::Owned(prepared))
}

/// Kyverno's `SubstituteAll` over a text (a deny message): its variables replaced.
pub fn substitute_message(
    text: &str,
    context: &Rcvar,
    known: &[&[&str]],
) -> Result<Value, ConditionError> {
    substitute_text(text, context, known, "")
}

/// `evaluateAnyAllConditionsWithContext`: `any` first, stopping at the first condition that
/// holds; then `all`, stopping at the first that fails. When the block fails, its message is
/// every collected false message (the `any` ones before a holding one included), non-empty
/// ones joined with `"; "`; an empty `message` contributes nothing.
fn block_fails(
    block: &Value,
    failing: &str,
    prepare: &mut dyn FnMut(&Value) -> Result<Cow<'_, Value>, ConditionError>,
) -> Result<Option<String>, ConditionError> {
    let (held, message) = block_verdict(block, failing, prepare)?;
    Ok((!held).then_some(message))
}

/// Whether an `any`/`all` block holds, and its message: the messages of the conditions that
/// held when it holds (`any`'s holding one, then `all`'s), of those that failed when it does
/// not, non-empty ones joined with `"; "` (`evaluateAnyAllConditionsWithContext`).
fn block_verdict(
    block: &Value,
    failing: &str,
    prepare: &mut dyn FnMut(&Value) -> Result<Cow<'_, Value>, ConditionError>,
) -> Result<(bool, String), ConditionError> {
    let object = block.as_object().ok_or_else(|| {
        Kyverno(format!(
            "{failing}: a condition block is not an `any`/`all` map"
        ))
    })?;
    // `any` and `all` are `omitempty`: after the JSON round trip an empty list is no list.
    let list = |name: &str| -> Result<Option<&Vec<Value>>, ConditionError> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) if items.is_empty() => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(Kyverno(format!("{failing}: `{name}` is not a list"))),
        }
    };
    let mut false_messages = Vec::new();
    let mut true_messages = Vec::new();
    let mut any_held = true;
    if let Some(any) = list("any")? {
        any_held = false;
        for condition in any {
            let (held, message) = evaluate(prepare(condition)?.as_ref(), failing)?;
            if held {
                any_held = true;
                true_messages.push(message);
                break;
            }
            false_messages.push(message);
        }
    }
    let mut all_held = true;
    for condition in list("all")?.into_iter().flatten() {
        let (held, message) = evaluate(prepare(condition)?.as_ref(), failing)?;
        if !held {
            all_held = false;
            false_messages.push(message);
            break;
        }
        true_messages.push(message);
    }
    let held = any_held && all_held;
    let messages = if held { true_messages } else { false_messages };
    let non_empty: Vec<String> = messages.into_iter().filter(|m| !m.is_empty()).collect();
    Ok((held, non_empty.join("; ")))
}

/// `variables.Evaluate`: the operator's verdict on the (substituted) key and value, and the
/// condition's message. A missing key or value is null; the operator name is matched without
/// regard to case, as `CreateOperatorHandler` matches it.
fn evaluate(condition: &Value, failing: &str) -> Result<(bool, String), ConditionError> {
    let key = condition.get("key").unwrap_or(&Value::Null);
    let value = condition.get("value").unwrap_or(&Value::Null);
    let message = match condition.get("message") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(m)) => m.clone(),
        Some(_) => {
            return Err(Kyverno(format!("{failing}: a `message` is not a string")));
        }
    };
    let operator = condition
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let held = match operator.to_ascii_lowercase().as_str() {
        "equal" | "equals" => equals(key, value),
        "notequal" | "notequals" => not_equals(key, value),
        "anyin" => in_family(key, value, InOperator::Any)?,
        "allin" => in_family(key, value, InOperator::All)?,
        "anynotin" => in_family(key, value, InOperator::AnyNot)?,
        "allnotin" => in_family(key, value, InOperator::AllNot)?,
        "in" | "notin" => {
            return Err(Unsupported(format!(
                "the deprecated operator `{operator}` is not evaluated offline; use `AnyIn`/`AllIn` or `AnyNotIn`/`AllNotIn`"
            )));
        }
        "greaterthanorequals"
        | "greaterthan"
        | "lessthanorequals"
        | "lessthan"
        | "durationgreaterthanorequals"
        | "durationgreaterthan"
        | "durationlessthanorequals"
        | "durationlessthan" => {
            return Err(Unsupported(format!(
                "operator `{operator}` is not supported offline"
            )));
        }
        // Evaluate wraps a nil error here, which Go prints as `%!w(<nil>)`.
        _ => {
            return Err(Kyverno(
                "failed to create handler for condition operator: %!w(<nil>)".into(),
            ));
        }
    };
    Ok((held, message))
}

/// `EqualHandler.Evaluate` (`equal.go`). JSON numbers are Go float64s; a string key is compared
/// as a duration, then as a Kubernetes quantity, then as a wildcard pattern given by the value.
fn equals(key: &Value, value: &Value) -> bool {
    match key {
        Value::Bool(k) => value.as_bool() == Some(*k),
        Value::Number(k) => {
            let k = k.as_f64().unwrap_or(f64::NAN);
            match value {
                Value::Number(v) => v.as_f64() == Some(k),
                Value::String(v) => go_parse_float(v) == Some(k),
                _ => false,
            }
        }
        Value::String(k) => {
            if let Some((k, v)) = durations(k, value) {
                return k == v;
            }
            if let Some(kq) = Quantity::parse(k)
                && let Value::String(v) = value
            {
                return Quantity::parse(v).is_some_and(|vq| kq == vq);
            }
            value.as_str().is_some_and(|v| wildcard::matches(v, k))
        }
        Value::Object(_) => value.is_object() && deep_equal(key, value),
        Value::Array(_) => value.is_array() && deep_equal(key, value),
        Value::Null => false,
    }
}

/// `NotEqualHandler.Evaluate` (`notequal.go`): mostly the negation of [`equals`], but a value of
/// another type is *not equal* (true), and a null key is neither (false).
fn not_equals(key: &Value, value: &Value) -> bool {
    match key {
        Value::Bool(k) => value.as_bool().is_none_or(|v| v != *k),
        Value::Number(k) => {
            let k = k.as_f64().unwrap_or(f64::NAN);
            match value {
                Value::Number(v) => v.as_f64() != Some(k),
                Value::String(v) => go_parse_float(v).is_none_or(|v| v != k),
                _ => true,
            }
        }
        Value::String(k) => {
            if let Some((k, v)) = durations(k, value) {
                return k != v;
            }
            if let Some(kq) = Quantity::parse(k)
                && let Value::String(v) = value
            {
                if v.is_empty() {
                    return !wildcard::matches(v, k);
                }
                return Quantity::parse(v).is_none_or(|vq| kq != vq);
            }
            value.as_str().is_none_or(|v| !wildcard::matches(v, k))
        }
        Value::Object(_) => !value.is_object() || !deep_equal(key, value),
        Value::Array(_) => !value.is_array() || !deep_equal(key, value),
        Value::Null => false,
    }
}

/// Go's `reflect.DeepEqual` on decoded JSON, where every number is a float64.
fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| deep_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        _ => a == b,
    }
}

/// `parseDuration` (`operator.go`) for a string key: the key must be a Go duration (not `"0"`),
/// and the value a duration string or a number of seconds (truncated to whole seconds, as
/// `time.Duration(float64)` truncates). Nanoseconds, or `None` when they are not both durations.
fn durations(key: &str, value: &Value) -> Option<(i128, i128)> {
    let key_duration = (key != "0").then(|| go_duration(key)).flatten();
    let value_duration = value.as_str().filter(|v| *v != "0").and_then(go_duration);
    let key_duration = key_duration?;
    let value_duration = match value_duration {
        Some(d) => d,
        None => (value.as_f64()?.trunc() as i128) * 1_000_000_000,
    };
    Some((key_duration, value_duration))
}

/// Which of Kyverno's `AnyIn`, `AllIn`, `AnyNotIn` and `AllNotIn`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InOperator {
    Any,
    All,
    AnyNot,
    AllNot,
}

/// `AnyIn`, `AllIn`, `AnyNotIn` and `AllNotIn` (`anyin.go`, `allin.go`, `anynotin.go`,
/// `allnotin.go`). A scalar key is compared as text (`fmt.Sprint`); a list key element by
/// element. Against a list value, either side may hold the wildcard; against a string value, the
/// string is a pattern for a scalar key, else a JSON list of strings or the one string itself,
/// compared exactly. A value of another type, or a null or map key, makes every one of them false.
fn in_family(key: &Value, value: &Value, operator: InOperator) -> Result<bool, ConditionError> {
    let keys: Vec<String> = match key {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            let exists = scalar_in(&go_sprint(key), value)?;
            return Ok(match operator {
                InOperator::Any | InOperator::All => exists == Some(true),
                InOperator::AnyNot | InOperator::AllNot => exists == Some(false),
            });
        }
        Value::Array(items) => items.iter().map(go_sprint).collect(),
        Value::Null | Value::Object(_) => return Ok(false),
    };
    let not = matches!(operator, InOperator::AnyNot | InOperator::AllNot);
    let candidates: Vec<String> = match value {
        Value::Array(items) => items.iter().map(go_sprint).collect(),
        // anySetExistsInArray reads a number or a boolean as a one-element list; allSet... does not.
        Value::Number(_) | Value::Bool(_)
            if matches!(operator, InOperator::Any | InOperator::AnyNot) =>
        {
            vec![go_sprint(value)]
        }
        Value::String(text) => {
            if keys.len() == 1 && keys[0] == *text {
                return Ok(!not);
            }
            check_not_range(text)?;
            match string_list(text) {
                Some(list) => list,
                None => return Ok(false),
            }
        }
        _ => return Ok(false),
    };
    let matched = |k: &String| {
        candidates
            .iter()
            .any(|v| wildcard::matches(k, v) || wildcard::matches(v, k))
    };
    Ok(match operator {
        InOperator::Any => keys.iter().any(matched),
        InOperator::All => keys.iter().all(matched),
        InOperator::AnyNot => keys.iter().any(|k| !matched(k)),
        InOperator::AllNot => !keys.iter().any(matched),
    })
}

/// `anyKeyExistsInArray` / `allKeyExistsInArray` (the same code): `Some(found)`, or `None` when
/// the value has a type these operators reject.
fn scalar_in(key: &str, value: &Value) -> Result<Option<bool>, ConditionError> {
    match value {
        Value::Array(items) => {
            Ok(Some(items.iter().map(go_sprint).any(|v| {
                wildcard::matches(&v, key) || wildcard::matches(key, &v)
            })))
        }
        Value::String(text) => {
            if wildcard::matches(text, key) {
                return Ok(Some(true));
            }
            check_not_range(text)?;
            Ok(string_list(text).map(|list| list.iter().any(|v| v == key)))
        }
        _ => Ok(None),
    }
}

/// A string value read as a list: JSON text must be a list of strings (`None` otherwise, which
/// the operators treat as a rejected type); other text is a list of itself.
fn string_list(text: &str) -> Option<Vec<String>> {
    if serde_json::from_str::<Value>(text).is_ok() {
        serde_json::from_str(text).ok()
    } else {
        Some(vec![text.to_owned()])
    }
}

/// A value such as `1-10` or `2.2-2.3Gi` is a range for these operators (`InRangeRegex`,
/// `pkg/engine/operator/operator.go`), checked with Kyverno's pattern validation, which is not
/// modelled offline.
fn check_not_range(text: &str) -> Result<(), ConditionError> {
    fn bound(s: &str) -> Option<&str> {
        let s = s.strip_prefix(['-', '|', '+']).unwrap_or(s);
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut s = &s[digits..];
        if let Some(f) = s.strip_prefix('.') {
            let fraction = f.bytes().take_while(u8::is_ascii_digit).count();
            if fraction > 0 {
                s = &f[fraction..];
            }
        }
        Some(s.trim_start_matches(|c: char| c.is_ascii_alphabetic()))
    }
    let is_range = bound(text)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(bound)
        .is_some_and(str::is_empty);
    if is_range {
        return Err(Unsupported(format!(
            "the range value `{text}` is not evaluated offline; list the accepted values instead"
        )));
    }
    Ok(())
}

/// Go's `fmt.Sprint` of a decoded JSON value: floats in `%v` form (`2.3`, `10`, `1e+06`),
/// `<nil>`, `[a b]`, `map[k:v]` with sorted keys.
fn go_sprint(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "<nil>".into(),
        Value::Number(n) => go_float(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_sprint).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", go_sprint(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Kyverno's variable substitution over the whole conditions (`SubstituteAllInConditions`,
/// `pkg/engine/variables/vars.go`): in every string, map key included, each `{{ ... }}` not
/// escaped as `\{{` is replaced; a string that is exactly one variable becomes its value, any
/// other takes its text (strings as they are, other values as JSON).
/// `at` is the JSON pointer of `value` in the conditions, which a failed lookup names.
fn substitute(value: &Value, data: &Rcvar, at: &str) -> Result<Value, ConditionError> {
    substitute_with(value, data, &[], at).map_err(|e| match e {
        Kyverno(m) => Kyverno(format!("{ATTESTATION}: {m}")),
        other => other,
    })
}

/// [`substitute`] over a context of which `known` parts are modelled, with Kyverno's error
/// (`failed to resolve ...`) unprefixed.
fn substitute_with(
    value: &Value,
    data: &Rcvar,
    known: &[&[&str]],
    at: &str,
) -> Result<Value, ConditionError> {
    Ok(match value {
        Value::String(text) => substitute_text(text, data, known, at)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| substitute_with(item, data, known, &format!("{at}/{i}")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, item) in map {
                let inner = format!("{at}/{key}");
                let key = match substitute_text(key, data, known, at)? {
                    Value::String(k) => k,
                    other => other.to_string(),
                };
                out.insert(key, substitute_with(item, data, known, &inner)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

fn substitute_text(
    text: &str,
    data: &Rcvar,
    known: &[&[&str]],
    at: &str,
) -> Result<Value, ConditionError> {
    let variables = variables_in(text);
    if let [(0, end)] = variables.as_slice()
        && *end == text.len()
    {
        return lookup(&text[2..end - 2], data, known, at);
    }
    let mut out = String::new();
    let mut from = 0;
    for (start, end) in variables {
        out.push_str(&text[from..start]);
        match lookup(&text[start + 2..end - 2], data, known, at)? {
            Value::String(s) => out.push_str(&s),
            other => out.push_str(&other.to_string()),
        }
        from = end;
    }
    out.push_str(&text[from..]);
    Ok(Value::String(out.replace("\\{{", "{{")))
}

/// The byte ranges of `{{ ... }}` variables (`RegexVariables`): not preceded by `\`, holding no
/// braces but one level of `{...}`.
fn variables_in(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        let escaped = i > 0 && bytes[i - 1] == b'\\';
        if bytes[i] == b'{'
            && bytes[i + 1] == b'{'
            && !escaped
            && let Some(end) = variable_end(bytes, i + 2)
        {
            found.push((i, end));
            i = end;
            continue;
        }
        i += 1;
    }
    found
}

fn variable_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    while i < bytes.len() {
        match bytes[i] {
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i + 2),
            b'}' => return None,
            b'{' => {
                let close = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == b'}' || b == b'{')?;
                if bytes[i + 1 + close] == b'{' {
                    return None;
                }
                i += close + 2;
            }
            _ => i += 1,
        }
    }
    None
}

/// Resolves a variable: Kyverno's JMESPath over the predicate (`policy::jmespath`). A query
/// that fails as Kyverno's fails (a field the predicate lacks, read on the way from its root)
/// fails with Kyverno's wording (`vars.go` `substituteVariablesIfAny`, as in
/// `pkg/engine/validation_test.go`), which makes the attestation entry not count; one this
/// evaluator does not run is unsupported.
fn lookup(
    expression: &str,
    data: &Rcvar,
    known: &[&[&str]],
    at: &str,
) -> Result<Value, ConditionError> {
    let query = expression.trim();
    super::jmespath::query(query, data, known).map_err(|e| match e {
        QueryError::Kyverno(reason) => Kyverno(format!(
            "failed to resolve {query} at path {at}: JMESPath query failed: {reason}"
        )),
        QueryError::Unsupported(why) => Unsupported(why),
    })
}

#[cfg(test)]
#[path = "conditions_tests.rs"]
mod tests;
