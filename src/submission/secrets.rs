//! Secrets never leave the learner's machine: every file `lab submit` would pack is scanned
//! first, and one finding stops the command, naming the file, the line and what was found,
//! never the value. What is looked for: PEM private keys of every kind (cosign's encrypted ones
//! included), kubeconfig credentials (`client-key-data`, `token`, `password`), bearer tokens
//! (JWTs, which Kubernetes service-account tokens are), and the key formats of the clouds and
//! forges a learner is likely to hold (AWS, Google, GitHub, GitLab, Slack).

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::text::printable;

/// One secret found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, as it would be named in the archive.
    pub file: String,
    /// The 1-based line.
    pub line: usize,
    /// What was found (never the value).
    pub what: &'static str,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} (not shown)",
            printable(&self.file),
            self.line,
            self.what
        )
    }
}

struct Rule {
    what: &'static str,
    pattern: Regex,
}

fn rule(what: &'static str, pattern: &str) -> Rule {
    Rule {
        what,
        pattern: Regex::new(pattern).expect("the secret patterns compile"),
    }
}

/// Whether a field's value is a placeholder, not a secret: `<...>`, `${...}`, `$VAR`, `***`,
/// `REDACTED`, `changeme`, `none`, `null`.
fn placeholder(value: &str) -> bool {
    static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:<.*>|\$\{.*\}|\$[A-Za-z_][A-Za-z0-9_]*|\*+|(?i:redacted|changeme|none|null|true|false))$")
            .expect("the placeholder pattern compiles")
    });
    PLACEHOLDER.is_match(value)
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        rule(
            "a PEM private key",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        ),
        rule(
            "a kubeconfig client key (client-key-data)",
            r#"(?i)["']?client-key-data["']?\s*[:=]\s*["']?[A-Za-z0-9+/=]{16,}"#,
        ),
        rule(
            "a token field",
            r#"(?i)(?:^|[\s{,"'])["']?(?:token|id-token|refresh-token|access[_-]token|auth[_-]token|bearer[_-]?token)["']?\s*[:=]\s*["']?(?P<v>[^\s"',}]{8,})"#,
        ),
        rule(
            "a password field",
            r#"(?i)(?:^|[\s{,"'])["']?(?:password|passwd|client[_-]secret|secret[_-]access[_-]key|aws_secret_access_key)["']?\s*[:=]\s*["']?(?P<v>[^\s"',}]{4,})"#,
        ),
        rule(
            "a bearer token (a JWT)",
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        ),
        rule("an AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        rule("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
        rule(
            "a GitHub token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b",
        ),
        rule("a GitLab token", r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
        rule("a Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ]
});

/// Every secret in `data`, the file `name`, one finding per line and kind.
pub fn scan(name: &str, data: &[u8]) -> Vec<Finding> {
    let text = String::from_utf8_lossy(data);
    let mut findings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for rule in RULES.iter() {
            let found = rule
                .pattern
                .captures_iter(line)
                .any(|c| c.name("v").is_none_or(|value| !placeholder(value.as_str())));
            if found {
                findings.push(Finding {
                    file: name.to_owned(),
                    line: index + 1,
                    what: rule.what,
                });
            }
        }
    }
    findings
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
