//! Whether a live policy is still the policy the lab rendered, "but for the mode": every field
//! the lab wrote has the same value live, and every field added live is one of the defaults
//! Kyverno v1.19 fills in (observed on the real admission controller: `admission`,
//! `emitWarning`, `skipBackgroundRequests`, `required`, `useCache`, `signatureAlgorithm`;
//! the CRD defaults `validationFailureAction`). Anything else added (an `exclude`, a
//! `precondition`, `failurePolicy: Ignore`, `required: false`) is a bypass.

use serde_json::Value;

/// Keys that carry the rollout mode; the mode is checked on its own.
const MODE_KEYS: &[&str] = &[
    "failureAction",
    "mutateDigest",
    "verifyDigest",
    "validationFailureAction",
];

/// Defaults Kyverno adds to a stored policy, with the only value that is harmless.
const DEFAULTS: &[(&str, &str)] = &[
    ("admission", "true"),
    ("emitWarning", "false"),
    ("skipBackgroundRequests", "true"),
    ("required", "true"),
    ("useCache", "true"),
    ("signatureAlgorithm", "\"sha256\""),
    ("failurePolicy", "\"Fail\""),
];

/// The differences between the rendered `want` and the `live` value, as `path: what` lines;
/// empty when the live policy is the rendered one but for the mode.
pub fn drift(want: &Value, live: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("spec", want, live, &mut out);
    out
}

fn walk(path: &str, want: &Value, live: &Value, out: &mut Vec<String>) {
    match (want, live) {
        (Value::Object(w), Value::Object(l)) => {
            for (key, wv) in w {
                if MODE_KEYS.contains(&key.as_str()) {
                    continue;
                }
                let child = format!("{path}.{key}");
                match l.get(key) {
                    Some(lv) => walk(&child, wv, lv, out),
                    None => out.push(format!("{child}: removed")),
                }
            }
            for (key, lv) in l {
                if w.contains_key(key) || MODE_KEYS.contains(&key.as_str()) {
                    continue;
                }
                let harmless = DEFAULTS.iter().any(|(k, v)| {
                    *k == key && serde_json::from_str::<Value>(v).ok().as_ref() == Some(lv)
                });
                if !harmless {
                    out.push(format!("{path}.{key}: added ({})", short(lv)));
                }
            }
        }
        (Value::Array(w), Value::Array(l)) => {
            if w.len() != l.len() {
                out.push(format!(
                    "{path}: {} entries where the lab has {}",
                    l.len(),
                    w.len()
                ));
                return;
            }
            for (i, (wv, lv)) in w.iter().zip(l).enumerate() {
                walk(&format!("{path}[{i}]"), wv, lv, out);
            }
        }
        (Value::String(w), Value::String(l)) if w.trim_end() == l.trim_end() => {}
        _ if want == live => {}
        _ => out.push(format!(
            "{path}: {} where the lab has {}",
            short(live),
            short(want)
        )),
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(57).collect::<String>())
    } else {
        text
    }
}

/// Whether the policy's `Ready` condition is `True`.
pub fn is_ready(policy: &Value) -> bool {
    policy
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rendered() -> Value {
        json!({"background": false, "rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "verifyImages": [{"failureAction": "Enforce", "mutateDigest": true, "imageReferences": ["r/*"]}]}]})
    }

    #[test]
    fn kyverno_defaults_and_the_mode_are_not_drift() {
        let live = json!({"background": false, "admission": true, "emitWarning": false,
            "validationFailureAction": "Audit",
            "rules": [{"name": "r", "skipBackgroundRequests": true, "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "verifyImages": [{"failureAction": "Audit", "mutateDigest": false, "required": true, "useCache": true, "imageReferences": ["r/*"]}]}]});
        assert_eq!(drift(&rendered(), &live), Vec::<String>::new());
    }

    #[test]
    fn an_added_exclude_a_changed_reference_and_ignore_are_drift() {
        let live = json!({"background": false, "failurePolicy": "Ignore",
            "rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "exclude": {"any": [{"resources": {"namespaces": ["develop"]}}]},
            "verifyImages": [{"failureAction": "Enforce", "required": false, "imageReferences": ["other/*"]}]}]});
        let d = drift(&rendered(), &live);
        assert_eq!(
            d,
            [
                "spec.rules[0].verifyImages[0].imageReferences[0]: \"other/*\" where the lab has \"r/*\"",
                "spec.rules[0].verifyImages[0].required: added (false)",
                "spec.rules[0].exclude: added ({\"any\":[{\"resources\":{\"namespaces\":[\"develop\"]}}]})",
                "spec.failurePolicy: added (\"Ignore\")",
            ]
        );
    }

    #[test]
    fn a_policy_without_a_ready_condition_is_not_ready() {
        let p = json!({"spec": {"rules": []}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        assert!(!is_ready(&p));
    }
}
