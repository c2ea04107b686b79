//! `${name}` placeholders: finding them with their positions and substituting lab variables.
//! Names are lowercase (`[a-z][a-z0-9_]*`), so shell variables such as `${IMAGE}` in
//! instructions are left alone, and so are Kyverno's own `{{ }}` expressions.

use std::collections::BTreeMap;

/// A placeholder found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// The variable name.
    pub name: String,
    /// 1-based line of the `$`.
    pub line: u64,
    /// 1-based column (in characters) of the `$`.
    pub column: u64,
}

/// Every `${name}` in `text`.
pub fn find(text: &str) -> Vec<Placeholder> {
    let mut found = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        let mut rest = line;
        let mut consumed = 0;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let name_len = after
                .char_indices()
                .find(|&(i, c)| {
                    !(c.is_ascii_lowercase() || (i > 0 && (c.is_ascii_digit() || c == '_')))
                })
                .map_or(after.len(), |(i, _)| i);
            if name_len > 0 && after[name_len..].starts_with('}') {
                let byte_col = consumed + start;
                found.push(Placeholder {
                    name: after[..name_len].to_owned(),
                    line: line_no as u64 + 1,
                    column: line[..byte_col].chars().count() as u64 + 1,
                });
            }
            consumed += start + 2;
            rest = after;
        }
    }
    found
}

/// Replaces every `${name}` whose value is known; unknown ones stay as they are.
pub fn substitute(text: &str, values: &BTreeMap<&str, Option<&str>>) -> String {
    let mut out = text.to_owned();
    for (name, value) in values {
        if let Some(value) = value {
            out = out.replace(&format!("${{{name}}}"), value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lowercase_placeholders_with_positions() {
        let text =
            "a: ${image_registry}/x\n  é ${git_owner} ${IMAGE} ${} ${bad-name} {{ request.x }}\n";
        let found: Vec<_> = find(text)
            .into_iter()
            .map(|p| (p.name, p.line, p.column))
            .collect();
        assert_eq!(
            found,
            [
                ("image_registry".to_owned(), 1, 4),
                ("git_owner".to_owned(), 2, 5)
            ]
        );
    }

    #[test]
    fn substitutes_known_values_only() {
        let values = BTreeMap::from([("a", Some("1")), ("b", None)]);
        assert_eq!(substitute("${a}/${b}/${c}", &values), "1/${b}/${c}");
    }
}
