//! The text a Kyverno denial carries (`pkg/webhooks/utils/block.go` `GetBlockedMessages` in
//! kyverno/kyverno v1.19.0): the resource, then a YAML map of policy -> rule -> message, written
//! by go-yaml v3 (`go.yaml.in/yaml/v3`, indent 2). Its key order and quoting are mirrored here,
//! so that a denial reads byte for byte as `kubectl` shows it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::evaluate::{RuleResponse, Status};

/// `GetBlockedMessages`: every rule of the webhook's responses that neither passed nor
/// skipped (not only the rules that blocked), under its policy's name, the last message of a
/// rule winning.
pub fn denial_text(object: &Value, responses: &[RuleResponse]) -> String {
    let mut failures: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in responses {
        if !matches!(r.status, Status::Pass | Status::Skip) {
            failures
                .entry(r.policy.clone())
                .or_default()
                .insert(r.rule.clone(), r.message.clone());
        }
    }
    blocked_message(object, &failures)
}

/// `\n\nresource <Kind>/<ns>/<name> was blocked due to the following policies \n\n<yaml>`.
fn blocked_message(object: &Value, blocked: &BTreeMap<String, BTreeMap<String, String>>) -> String {
    let kind = object["kind"].as_str().unwrap_or("");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut text = format!(
        "\n\nresource {kind}/{namespace}/{name} was blocked due to the following policies \n\n"
    );
    let mut policies: Vec<_> = blocked.iter().collect();
    policies.sort_by(|a, b| go_yaml_key_order(a.0, b.0));
    for (policy, rules) in policies {
        text.push_str(&format!("{}:\n", yaml_scalar(policy, 0)));
        let mut rules: Vec<_> = rules.iter().collect();
        rules.sort_by(|a, b| go_yaml_key_order(a.0, b.0));
        for (rule, message) in rules {
            text.push_str(&format!(
                "  {}: {}\n",
                yaml_scalar(rule, 2),
                yaml_scalar(message, 2)
            ));
        }
    }
    text
}

/// The order go-yaml v3 writes string map keys in (`sorter.go` `keyList.Less`, v3.0.4): letters
/// compare as runes, runs of digits by their value, so `rule-9` comes before `rule-10`.
fn go_yaml_key_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let less = |a: &[char], b: &[char]| -> bool {
        let mut digits = false;
        for i in 0..a.len().min(b.len()) {
            if a[i] == b[i] {
                digits = a[i].is_numeric();
                continue;
            }
            let (al, bl) = (a[i].is_alphabetic(), b[i].is_alphabetic());
            if al && bl {
                return a[i] < b[i];
            }
            if al || bl {
                return if digits { al } else { bl };
            }
            let (mut an, mut bn) = (0i64, 0i64);
            if a[i] == '0' || b[i] == '0' {
                for j in (0..i).rev() {
                    if !a[j].is_numeric() {
                        break;
                    }
                    if a[j] != '0' {
                        an = 1;
                        bn = 1;
                        break;
                    }
                }
            }
            let mut ai = i;
            while ai < a.len() && a[ai].is_ascii_digit() {
                an = an
                    .saturating_mul(10)
                    .saturating_add(i64::from(a[ai] as u8 - b'0'));
                ai += 1;
            }
            let mut bi = i;
            while bi < b.len() && b[bi].is_ascii_digit() {
                bn = bn
                    .saturating_mul(10)
                    .saturating_add(i64::from(b[bi] as u8 - b'0'));
                bi += 1;
            }
            if an != bn {
                return an < bn;
            }
            if ai != bi {
                return ai < bi;
            }
            return a[i] < b[i];
        }
        a.len() < b.len()
    };
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if less(&a, &b) {
        Ordering::Less
    } else if less(&b, &a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// A string as go-yaml v3 writes it: plain when it can be, single-quoted when it contains
/// `: ` or ` #` or starts with an indicator, a literal block when it has newlines.
fn yaml_scalar(s: &str, indent: usize) -> String {
    if s.contains('\n') {
        let pad = " ".repeat(indent + 2);
        return format!(
            "|-\n{}",
            s.lines()
                .map(|l| format!("{pad}{l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let needs_quotes = s.is_empty()
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        || s.ends_with(char::is_whitespace);
    if needs_quotes {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_scalars_are_quoted_as_go_yaml_v3_quotes_them() {
        assert_eq!(yaml_scalar("check-image", 2), "check-image");
        assert_eq!(
            yaml_scalar("failed to verify image x: no signatures found", 2),
            "'failed to verify image x: no signatures found'"
        );
        assert_eq!(yaml_scalar("it's: here", 2), "'it''s: here'");
        assert_eq!(yaml_scalar("a\nb", 2), "|-\n    a\n    b");
    }

    #[test]
    fn keys_are_ordered_as_go_yaml_orders_them() {
        let mut keys = vec!["rule-10", "rule-9", "b", "a", "rule-1a", "A"];
        keys.sort_by(|a, b| go_yaml_key_order(a, b));
        assert_eq!(keys, ["A", "a", "b", "rule-1a", "rule-9", "rule-10"]);
    }

    // The expectation of Kyverno's own unit test, pkg/webhooks/utils/block_test.go.
    #[test]
    fn denial_text_has_kyvernos_shape() {
        let object =
            serde_json::json!({"kind": "foo", "metadata": {"name": "baz", "namespace": "bar"}});
        let blocked = BTreeMap::from([(
            "test".to_owned(),
            BTreeMap::from([("rule-fail".to_owned(), "message fail".to_owned())]),
        )]);
        assert_eq!(
            blocked_message(&object, &blocked),
            "\n\nresource foo/bar/baz was blocked due to the following policies \n\ntest:\n  rule-fail: message fail\n"
        );
    }
}
