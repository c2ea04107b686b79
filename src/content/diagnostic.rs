//! A problem found in course content: where it is, what is wrong, and what to do about it.
//! Validators only produce these (gathered in a [`ValidationReport`]);
//! [`crate::report::validation`] turns them into text.

use serde::Serialize;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The content is broken; `lab validate` exits 2.
    Error,
    /// The content works but is probably not what the author meant.
    Warning,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable rule id, e.g. `kyverno/audit-mutate-digest`; see the README for the list.
    pub code: &'static str,
    /// The file, relative to the course root, with `/` separators.
    pub file: String,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: u64,
    /// 1-based column; 0 when the problem concerns the whole file.
    pub column: u64,
    /// What is wrong, as a lowercase fragment.
    pub message: String,
    /// What to do next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The upstream behaviour this rule mirrors, e.g. a Kyverno source file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<&'static str>,
}

impl Diagnostic {
    /// An error at a position.
    pub fn error(
        code: &'static str,
        file: &str,
        at: (u64, u64),
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, code, file, at, message.into())
    }

    /// A warning at a position.
    pub fn warning(
        code: &'static str,
        file: &str,
        at: (u64, u64),
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, code, file, at, message.into())
    }

    fn new(
        severity: Severity,
        code: &'static str,
        file: &str,
        at: (u64, u64),
        message: String,
    ) -> Self {
        Diagnostic {
            severity,
            code,
            file: file.to_owned(),
            line: at.0,
            column: at.1,
            message,
            help: None,
            reference: None,
        }
    }

    /// Adds what to do next.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds the upstream source whose behaviour the rule mirrors.
    #[must_use]
    pub fn reference(mut self, reference: &'static str) -> Self {
        self.reference = Some(reference);
        self
    }

    /// Sort key: file, then position, then code.
    pub fn sort_key(&self) -> (&str, u64, u64, &'static str) {
        (&self.file, self.line, self.column, self.code)
    }
}

/// Suggests the candidate closest to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|&(d, c)| d <= limit && d < c.chars().count())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Diagnostics as plain lines, `file:line:col: message` with the help below, for error
/// messages that are not rendered with source snippets.
pub fn one_line_each(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| {
            format!(
                "{}:{}:{}: {}{}",
                d.file,
                d.line,
                d.column,
                d.message,
                d.help
                    .as_ref()
                    .map(|h| format!("\n  help: {h}"))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The outcome of one validation: every problem found, sorted, and how many files were read.
#[derive(Debug)]
pub struct ValidationReport {
    /// How many course files were read.
    pub files_checked: usize,
    /// Number of errors.
    pub errors: usize,
    /// Number of warnings.
    pub warnings: usize,
    /// Every problem, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// Prefix that turns a diagnostic's course-relative file into a path the user can open.
    pub display_root: String,
}

impl ValidationReport {
    /// Builds a report, sorting and de-duplicating the diagnostics.
    pub fn new(
        mut diagnostics: Vec<Diagnostic>,
        files_checked: usize,
        display_root: String,
    ) -> Self {
        diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        diagnostics.dedup();
        let errors = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        ValidationReport {
            files_checked,
            errors,
            warnings: diagnostics.len() - errors,
            diagnostics,
            display_root,
        }
    }

    /// The path the user can open for a diagnostic's course-relative `file`.
    pub fn display_path(&self, file: &str) -> String {
        format!("{}{file}", self.display_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(did_you_mean("chekcs", ["checks", "steps"]), Some("checks"));
        assert_eq!(
            did_you_mean("mutateDigst", ["mutateDigest", "verifyDigest"]),
            Some("mutateDigest")
        );
        assert_eq!(did_you_mean("zzz", ["checks", "steps"]), None);
        assert_eq!(
            did_you_mean("a", ["b"]),
            None,
            "a one-letter word is not a typo of another"
        );
    }
}
