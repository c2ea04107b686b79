//! Rendering a lab's policy files for a cluster: `${placeholders}` filled from the lab's
//! variables, and the rollout mode applied. Audit renders the Audit-safe settings Kyverno v1.19
//! demands (`failureAction: Audit`, `mutateDigest: false`, `verifyDigest: false`); Enforce turns
//! on digest mutation and verification with `failureAction: Enforce`.
//!
//! The edits are made on the text, at the positions the parser reports, so the author's comments
//! and layout survive into what is applied, and the result is parsed again to prove it.

use std::collections::BTreeMap;

use super::model::FailureMode;
use super::model::KyvernoPolicy;
use crate::spanned::Spanned;

/// Why a policy file could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A placeholder with no value.
    #[error(
        "{file}:{line}:{column}: `${{{name}}}` has no value; define the variable `{name}` in the lab or pass it with --set {name}=VALUE"
    )]
    MissingValue {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The variable.
        name: String,
    },
    /// A multi-line value inside a line with other text.
    #[error(
        "{file}:{line}:{column}: `${{{name}}}` has a multi-line value, so it must stand alone on its line (e.g. under `publicKeys: |-`)"
    )]
    MultiLineInline {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The variable.
        name: String,
    },
    /// The rendered text is not a valid policy.
    #[error("{file}: the rendered policy does not parse ({reason}); run `lab validate` on it")]
    Invalid {
        /// The file.
        file: String,
        /// The parser's message.
        reason: String,
    },
}

/// Fills every `${name}` of `text` from `values`.
pub fn substitute(
    file: &str,
    text: &str,
    values: &BTreeMap<String, String>,
) -> Result<String, RenderError> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        let mut column = 1;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            let name = &after[..end];
            let is_placeholder = name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            out.push_str(&rest[..start]);
            column += rest[..start].chars().count();
            if !is_placeholder {
                out.push_str("${");
                rest = after;
                column += 2;
                continue;
            }
            let at = |f: fn(String, usize, usize, String) -> RenderError| {
                f(file.to_owned(), index + 1, column, name.to_owned())
            };
            let value = values.get(name).ok_or_else(|| {
                at(|file, line, column, name| RenderError::MissingValue {
                    file,
                    line,
                    column,
                    name,
                })
            })?;
            let value = value.trim_end_matches('\n');
            if value.contains('\n') {
                let indent = &line[..line.len() - line.trim_start().len()];
                let alone = line.trim() == format!("${{{name}}}");
                if !alone {
                    return Err(at(|file, line, column, name| {
                        RenderError::MultiLineInline {
                            file,
                            line,
                            column,
                            name,
                        }
                    }));
                }
                out.push_str(&value.replace('\n', &format!("\n{indent}")));
            } else {
                out.push_str(value);
            }
            rest = &after[end + 1..];
            column += name.chars().count() + 3;
        }
        out.push_str(rest);
    }
    Ok(out)
}

/// Applies `mode` to every `verifyImages` entry of the policies in `text` (already substituted).
pub fn apply_mode(file: &str, text: &str, mode: FailureMode) -> Result<String, RenderError> {
    let invalid = |e: serde_saphyr::Error| RenderError::Invalid {
        file: file.to_owned(),
        reason: e.without_snippet().to_string(),
    };
    let policies: Vec<KyvernoPolicy> = serde_saphyr::from_multiple(text).map_err(invalid)?;
    // Enforce pins digests; Audit only reports, so it leaves the images as written.
    let action = mode.as_str();
    let digest = if mode == FailureMode::Enforce {
        "true"
    } else {
        "false"
    };
    let mut edits: Vec<Edit> = Vec::new();
    for entry in policies
        .iter()
        .flat_map(|p| &p.spec.rules)
        .flat_map(|r| &r.verify_images)
    {
        let first_key = (entry.line, entry.column);
        edits.push(set_or_insert(
            entry.failure_action.as_ref().map(at),
            first_key,
            "failureAction",
            action,
        ));
        edits.push(set_or_insert(
            entry.mutate_digest.as_ref().map(at),
            first_key,
            "mutateDigest",
            digest,
        ));
        edits.push(set_or_insert(
            entry.verify_digest.as_ref().map(at),
            first_key,
            "verifyDigest",
            digest,
        ));
    }
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    // Bottom-up and right-to-left, so earlier positions stay valid.
    edits.sort_by_key(|e| std::cmp::Reverse(e.position()));
    for edit in edits {
        edit.apply(&mut lines);
    }
    let rendered: String = lines.concat();
    serde_saphyr::from_multiple::<KyvernoPolicy>(&rendered).map_err(invalid)?;
    Ok(rendered)
}

fn at<T>(sp: &Spanned<T>) -> (usize, usize) {
    (
        usize::try_from(sp.line).unwrap_or(0),
        usize::try_from(sp.column).unwrap_or(0),
    )
}

/// One text edit: replace the scalar at a position, or insert `key: value` before a key.
enum Edit {
    Replace {
        line: usize,
        column: usize,
        value: &'static str,
    },
    Insert {
        line: usize,
        column: usize,
        key: &'static str,
        value: &'static str,
    },
}

fn set_or_insert(
    existing: Option<(usize, usize)>,
    first_key: (u64, u64),
    key: &'static str,
    value: &'static str,
) -> Edit {
    match existing {
        Some((line, column)) => Edit::Replace {
            line,
            column,
            value,
        },
        None => Edit::Insert {
            line: usize::try_from(first_key.0).unwrap_or(0),
            column: usize::try_from(first_key.1).unwrap_or(0),
            key,
            value,
        },
    }
}

impl Edit {
    fn position(&self) -> (usize, usize, u8) {
        match self {
            // A replacement on the same line sorts after (is applied before) an insertion.
            Edit::Replace { line, column, .. } => (*line, *column, 1),
            Edit::Insert { line, column, .. } => (*line, *column, 0),
        }
    }

    fn apply(&self, lines: &mut [String]) {
        let (line, column) = match *self {
            Edit::Replace { line, column, .. } | Edit::Insert { line, column, .. } => {
                (line, column)
            }
        };
        let text = &mut lines[line - 1];
        // Columns count characters; find the byte where the edit starts.
        let start = text
            .char_indices()
            .nth(column - 1)
            .map_or(text.len(), |(i, _)| i);
        match *self {
            Edit::Replace { value, .. } => {
                let end = text[start..]
                    .find([' ', '\t', '\n', '#', ',', '}'])
                    .map_or(text.len(), |e| start + e);
                text.replace_range(start..end, value);
            }
            Edit::Insert { key, value, .. } => {
                let indent = " ".repeat(column - 1);
                text.insert_str(start, &format!("{key}: {value}\n{indent}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "# keep me\napiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  rules:\n    - name: r\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      verifyImages:\n        - imageReferences:\n            - \"${image_registry}/*\"\n          mutateDigest: false\n          attestors:\n            - entries:\n                - keys:\n                    publicKeys: |-\n                      ${cosign_public_key}\n";

    fn values() -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "image_registry".to_owned(),
                "kind-registry:5000/courselab".to_owned(),
            ),
            (
                "cosign_public_key".to_owned(),
                "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n".to_owned(),
            ),
        ])
    }

    #[test]
    fn multi_line_values_keep_their_block_indentation() {
        let text = substitute("p.yaml", POLICY, &values()).unwrap();
        assert!(text.contains("                      -----BEGIN PUBLIC KEY-----\n                      MFkw\n                      -----END PUBLIC KEY-----\n"), "{text}");
        let policy: KyvernoPolicy = serde_saphyr::from_str(&text).unwrap();
        let keys = policy.spec.rules[0].verify_images[0].attestors[0].entries[0]
            .keys
            .as_ref()
            .unwrap();
        assert_eq!(
            keys.public_keys.as_deref(),
            Some("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----")
        );
    }

    #[test]
    fn a_missing_value_names_the_place() {
        let err = substitute("p.yaml", POLICY, &BTreeMap::new()).unwrap_err();
        assert_eq!(
            err,
            RenderError::MissingValue {
                file: "p.yaml".into(),
                line: 15,
                column: 16,
                name: "image_registry".into()
            }
        );
        let inline = substitute("p.yaml", "key: x ${cosign_public_key}\n", &values()).unwrap_err();
        assert!(matches!(
            inline,
            RenderError::MultiLineInline {
                line: 1,
                column: 8,
                ..
            }
        ));
        assert_eq!(
            substitute("x", "echo ${HOME} ${", &BTreeMap::new()).unwrap(),
            "echo ${HOME} ${",
            "shell variables stay"
        );
    }

    fn entry(text: &str) -> (FailureMode, bool, bool) {
        let policy: KyvernoPolicy = serde_saphyr::from_str(text).unwrap();
        let e = &policy.spec.rules[0].verify_images[0];
        (
            policy.rule_action(&policy.spec.rules[0], "", &Default::default()),
            e.effective_mutate_digest(),
            e.effective_verify_digest(),
        )
    }

    #[test]
    fn modes_set_action_and_digest_handling_and_keep_comments() {
        let text = substitute("p.yaml", POLICY, &values()).unwrap();
        let enforce = apply_mode("p.yaml", &text, FailureMode::Enforce).unwrap();
        assert_eq!(entry(&enforce), (FailureMode::Enforce, true, true));
        assert!(enforce.starts_with("# keep me\n"));
        let audit = apply_mode("p.yaml", &enforce, FailureMode::Audit).unwrap();
        assert_eq!(entry(&audit), (FailureMode::Audit, false, false));
        assert_eq!(
            apply_mode("p.yaml", &audit, FailureMode::Audit).unwrap(),
            audit,
            "rendering is idempotent"
        );
    }

    // The chapter's own policy files render in both modes, and every entry takes the mode.
    #[test]
    fn the_ch14_policies_render_in_both_modes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/ch14/policies");
        let mut values = values();
        values.insert("git_owner".into(), "courselab".into());
        for file in [
            "keyed/verify-images.yaml",
            "keyed/verify-attestations.yaml",
            "keyless/verify-images.yaml",
            "keyless/verify-attestations.yaml",
        ] {
            let text = substitute(
                file,
                &std::fs::read_to_string(root.join(file)).unwrap(),
                &values,
            )
            .unwrap();
            for mode in [FailureMode::Audit, FailureMode::Enforce] {
                let rendered = apply_mode(file, &text, mode).unwrap();
                let digests = mode == FailureMode::Enforce;
                assert_eq!(
                    entry(&rendered),
                    (mode, digests, digests),
                    "{file} in {mode:?}"
                );
            }
        }
    }
}
