//! One `verifyImages` entry against one image: attestor sets, attestations and their
//! conditions, worded as Kyverno v1.19 words the outcome (`pkg/engine/internal/imageverifier.go`).
//! The image's cosign artifacts are given; fetching them is the caller's (async) business.

use serde_json::Value;

use super::model::{Attestation, Attestor, AttestorSet, VerifyImage};
use crate::content::model::Sp;
use crate::supply::attestation::verify_attestations;
use crate::supply::cosign::CosignArtifacts;
use crate::supply::keyless::{KeylessPolicy, RekorKey, roots_from_pem};
use crate::supply::signature::{Verifier, verify_signatures};

/// The outcome for one image, as Kyverno reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageOutcome {
    /// Verified; the message is Kyverno's pass message.
    Pass(String),
    /// Verification failed (admission blocked only under Enforce).
    Fail(String),
    /// Verification could not run (blocked under failurePolicy Fail, even in Audit).
    Error(String),
}

/// Why the artifacts of an image could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailure {
    /// True for network errors (Kyverno reports them as `error`), false otherwise (`fail`).
    pub network: bool,
    /// The error text.
    pub message: String,
}

/// Verifies `image` (normalized, for messages) against `entry`.
pub fn verify_image(
    image: &str,
    entry: &VerifyImage,
    artifacts: Result<&CosignArtifacts, &FetchFailure>,
) -> ImageOutcome {
    let artifacts = match artifacts {
        Ok(a) => a,
        Err(f) if f.network => {
            return ImageOutcome::Error(format!("failed to verify image {image}: {}", f.message));
        }
        Err(f) => {
            return ImageOutcome::Fail(format!("failed to verify image {image}: {}", f.message));
        }
    };
    for (i, set) in entry.attestors.iter().enumerate() {
        if let Err(outcome) = check_set(set, &format!(".attestors[{i}]"), image, |verifier| {
            verify_signatures(artifacts, verifier)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }) {
            return outcome;
        }
    }
    for attestation in &entry.attestations {
        if let Some(outcome) = check_attestation(image, attestation, artifacts) {
            return outcome;
        }
    }
    if !entry.attestations.is_empty() {
        return ImageOutcome::Pass(format!("verified image attestations for {image}"));
    }
    ImageOutcome::Pass(format!("verified image signatures for {image}"))
}

/// AND across sets, `count` (or all) within a set. `Err` carries the outcome to report.
fn check_set(
    set: &AttestorSet,
    path: &str,
    image: &str,
    mut check: impl FnMut(&Verifier) -> Result<(), String>,
) -> Result<(), ImageOutcome> {
    let required = set
        .count
        .as_ref()
        .map_or(set.entries.len(), |c| c.value as usize);
    let mut verified = 0;
    let mut last_error = None;
    for (j, entry) in set.entries.iter().enumerate() {
        let at = format!("{path}.entries[{j}]{}", kind_suffix(entry));
        match verifier_for(entry) {
            Err(why) => {
                return Err(ImageOutcome::Error(format!(
                    "failed to verify image {image}: {at}: {why}"
                )));
            }
            Ok(verifier) => match check(&verifier) {
                Ok(()) => verified += 1,
                Err(why) => last_error = Some(format!("{at}: {why}")),
            },
        }
        if verified >= required {
            return Ok(());
        }
    }
    Err(ImageOutcome::Fail(format!(
        "failed to verify image {image}: {}",
        last_error.unwrap_or_else(|| format!("{path}: no attestor entries"))
    )))
}

fn kind_suffix(entry: &Sp<Attestor>) -> &'static str {
    if entry.keys.is_some() {
        ".keys"
    } else if entry.keyless.is_some() {
        ".keyless"
    } else if entry.certificates.is_some() {
        ".certificates"
    } else {
        ".attestor"
    }
}

/// The verifier an attestor entry describes. Offline, keyless needs `roots` and either
/// `rekor.ignoreTlog` or `rekor.pubkey`; a key needs `publicKeys` inline.
fn verifier_for(entry: &Attestor) -> Result<Verifier, String> {
    if let Some(keys) = &entry.keys {
        let pem = keys.public_keys.as_deref().ok_or("offline evaluation needs the key inline in `publicKeys` (secrets and KMS cannot be read)")?;
        return Verifier::from_public_key_pem(pem.as_bytes()).map_err(|e| e.to_string());
    }
    if let Some(keyless) = &entry.keyless {
        let roots = keyless
            .roots
            .as_deref()
            .map(|r| roots_from_pem(r.as_bytes()))
            .unwrap_or_default();
        if roots.is_empty() {
            return Err("offline evaluation needs the Fulcio roots in `roots`".into());
        }
        let rekor = match keyless.rekor.as_ref() {
            Some(r) if r.ignore_tlog == Some(true) => None,
            Some(r) if r.pubkey.is_some() => Some(RekorKey::from_pem(
                r.pubkey.as_deref().unwrap_or_default().as_bytes(),
            )?),
            _ => {
                return Err(
                    "offline evaluation needs `rekor.pubkey` or `rekor.ignoreTlog: true`".into(),
                );
            }
        };
        return Ok(Verifier::Keyless(Box::new(KeylessPolicy {
            roots,
            subject: keyless.subject.as_ref().map(|s| s.value.clone()),
            subject_regexp: regex(keyless.subject_regexp.as_ref())?,
            issuer: keyless.issuer.as_ref().map(|s| s.value.clone()),
            issuer_regexp: regex(keyless.issuer_regexp.as_ref())?,
            rekor,
        })));
    }
    Err("this attestor kind is not supported by the offline evaluator".into())
}

fn regex(pattern: Option<&Sp<String>>) -> Result<Option<regex::Regex>, String> {
    pattern
        .map(|p| regex::Regex::new(p).map_err(|e| e.to_string()))
        .transpose()
}

fn check_attestation(
    image: &str,
    attestation: &Sp<Attestation>,
    artifacts: &CosignArtifacts,
) -> Option<ImageOutcome> {
    let wanted = attestation
        .attestation_type
        .as_deref()
        .or(attestation.predicate_type.as_deref())
        .unwrap_or_default();
    let mut statements = Vec::new();
    let mut reason = String::new();
    for (i, set) in attestation.attestors.iter().enumerate() {
        let result =
            check_set(
                set,
                &format!(".attestors[{i}]"),
                image,
                |verifier| match verify_attestations(artifacts, verifier, wanted) {
                    Ok(found) => {
                        statements.extend(found.into_iter().map(|a| a.statement.predicate));
                        Ok(())
                    }
                    Err(e) => {
                        reason = e.to_string();
                        Err(reason.clone())
                    }
                },
            );
        match result {
            Ok(()) => {}
            Err(ImageOutcome::Fail(_)) => {
                return Some(ImageOutcome::Fail(format!(
                    "image attestations verification failed, verifiedCount: 0, requiredCount: 1, error: {reason}"
                )));
            }
            Err(other) => return Some(other),
        }
    }
    for predicate in &statements {
        match conditions_hold(&attestation.conditions, predicate) {
            Ok(None) => {}
            Ok(Some(message)) => {
                return Some(ImageOutcome::Fail(format!(
                    "attestation checks failed for {image} and predicate {wanted}: {message}"
                )));
            }
            Err(why) => {
                return Some(ImageOutcome::Error(format!(
                    "failed to evaluate the conditions of {image} and predicate {wanted}: {why}"
                )));
            }
        }
    }
    None
}

/// Evaluates `conditions` (`any`/`all` blocks of `{key, operator, value, message}`) against a
/// predicate. `Ok(Some(message))` when they fail. Keys are `{{ path.to.field }}` into the
/// predicate; full JMESPath is not supported offline and is reported as an error.
pub fn conditions_hold(blocks: &[Value], predicate: &Value) -> Result<Option<String>, String> {
    for block in blocks {
        if let Some(all) = block.get("all").and_then(Value::as_array) {
            for condition in all {
                if !condition_holds(condition, predicate)? {
                    return Ok(Some(condition_message(condition)));
                }
            }
        }
        if let Some(any) = block.get("any").and_then(Value::as_array)
            && !any.is_empty()
        {
            let mut held = false;
            for condition in any {
                held |= condition_holds(condition, predicate)?;
            }
            if !held {
                return Ok(Some(condition_message(&any[0])));
            }
        }
    }
    Ok(None)
}

fn condition_message(condition: &Value) -> String {
    condition
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("condition failed")
        .to_owned()
}

fn condition_holds(condition: &Value, predicate: &Value) -> Result<bool, String> {
    let key = condition
        .get("key")
        .and_then(Value::as_str)
        .ok_or("a condition has no `key`")?;
    let path = key
        .trim()
        .strip_prefix("{{")
        .and_then(|k| k.strip_suffix("}}"))
        .map(str::trim)
        .ok_or_else(|| format!("key `{key}` is not a `{{{{ path }}}}` expression"))?;
    if !path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
    {
        return Err(format!(
            "`{path}` is a JMESPath expression the offline evaluator does not support; use a plain field path"
        ));
    }
    let actual = path
        .split('.')
        .try_fold(predicate, |v, k| v.get(k))
        .cloned()
        .unwrap_or(Value::Null);
    let expected = condition.get("value").cloned().unwrap_or(Value::Null);
    let listed = |v: &Value| v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
    let operator = condition
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or("Equals");
    Ok(match operator {
        "Equals" => actual == expected,
        "NotEquals" => actual != expected,
        "AnyIn" => listed(&actual)
            .iter()
            .any(|a| listed(&expected).contains(a)),
        "AllIn" => listed(&actual)
            .iter()
            .all(|a| listed(&expected).contains(a)),
        "AnyNotIn" => listed(&actual)
            .iter()
            .any(|a| !listed(&expected).contains(a)),
        "AllNotIn" => listed(&actual)
            .iter()
            .all(|a| !listed(&expected).contains(a)),
        other => return Err(format!("operator `{other}` is not supported offline")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_follow_any_and_all() {
        let predicate =
            json!({"spdxVersion": "SPDX-2.3", "creationInfo": {"creators": ["Tool: syft"]}});
        let ok = [
            json!({"all": [{"key": "{{ spdxVersion }}", "operator": "AnyIn", "value": ["SPDX-2.2", "SPDX-2.3"]}]}),
        ];
        assert_eq!(conditions_hold(&ok, &predicate), Ok(None));
        let bad = [
            json!({"all": [{"key": "{{spdxVersion}}", "operator": "Equals", "value": "SPDX-2.2", "message": "old SPDX"}]}),
        ];
        assert_eq!(
            conditions_hold(&bad, &predicate),
            Ok(Some("old SPDX".into()))
        );
        let any = [
            json!({"any": [{"key": "{{ missing }}", "operator": "Equals", "value": 1}, {"key": "{{ spdxVersion }}", "operator": "NotEquals", "value": "x"}]}),
        ];
        assert_eq!(conditions_hold(&any, &predicate), Ok(None));
        let jmes =
            [json!({"all": [{"key": "{{ length(packages) }}", "operator": "Equals", "value": 1}]})];
        assert!(
            conditions_hold(&jmes, &predicate).is_err(),
            "unsupported expressions are errors, not silent passes"
        );
    }
}
