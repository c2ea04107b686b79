//! How course YAML is read: the YAML reader's limits, chosen for course files, and its errors
//! told the way an author can act on them (a sentence at file:line, then what to do), never as
//! Rust debug text or a reader's setting.

use serde::de::DeserializeOwned;
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{
    Budget, Error, ExternalMessageSource, MessageFormatter, Options, UserMessageFormatter,
};

use super::diagnostic::{Diagnostic, did_you_mean};
use super::load::FileKind;

/// YAML documents one file may hold: a generated manifest of 10,000 objects still loads.
pub const MAX_DOCUMENTS: usize = 10_000;
/// Nodes (each key, value, list and mapping) one file may hold: 10,000 small Deployments (about
/// 40 nodes each) fit, and a file at the limit needs well under 100 MB while it is read.
pub const MAX_NODES: usize = 500_000;
/// How deeply lists and mappings may nest; course files need a dozen levels at most.
pub const MAX_DEPTH: usize = 64;
/// Events aliases (`*name`) may replay in one file: generous for anchors in policies, and it
/// stops an alias bomb after a tenth of what the reader's default allows.
pub const MAX_REPLAYED_EVENTS: usize = 100_000;

/// The reader's options for every course file: the limits above, duplicate keys rejected (the
/// default), no comment events (nothing reads them) and no source snippets (the reporters
/// draw their own).
pub fn options() -> Options {
    let mut budget = Budget::default();
    budget.max_documents = MAX_DOCUMENTS;
    budget.max_nodes = MAX_NODES;
    budget.max_depth = MAX_DEPTH;
    // A node is one event (a scalar) or two (a list or mapping opens and closes), a document
    // two more and an alias one, so the event limit is never the first a file reaches.
    budget.max_events = 2 * MAX_NODES + 2 * MAX_DOCUMENTS + budget.max_aliases + 16;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    options.emit_comments = false;
    options.with_snippet = false;
    options
}

/// Parses a single-document file with the course's options.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_saphyr::from_str_with_options(text, options())
}

/// Parses a multi-document (`---` separated) file with the course's options.
pub fn from_multiple<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, Error> {
    serde_saphyr::from_multiple_with_options(text, options())
}

/// Whether a YAML text holds no document: only blank lines, comments and `---`/`...` markers.
pub fn is_empty(text: &str) -> bool {
    text.trim_start_matches('\u{feff}').lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---" || line == "..."
    })
}

/// The error for a YAML file with nothing in it.
pub fn empty_file(rel: &str, kind: FileKind) -> Diagnostic {
    Diagnostic::error("yaml/empty-file", rel, (0, 0), "this file is empty").help(format!(
        "{}; write that, or delete the file",
        kind.contents()
    ))
}

/// Whether the reader failed on the YAML itself (syntax or a limit) rather than on a value
/// that does not fit the type it was read into.
pub fn is_yaml_error(error: &Error) -> bool {
    describe(error, FileKind::Unknown).code.starts_with("yaml/")
}

/// A reader error in `text` as a diagnostic at the line and column the reader reports.
pub fn to_diagnostic(rel: &str, text: &str, error: &Error, kind: FileKind) -> Diagnostic {
    let mut at = error.location().map_or((0, 0), |l| (l.line(), l.column()));
    let mut described = describe(error, kind);
    // The parser reports a tab at the value before it; the author needs the tab itself.
    if is_tab_error(error)
        && let Some(tab) = tab_in_indentation(text, at.0)
    {
        at = tab;
        described.message = "this line is indented with a tab".to_owned();
    }
    Diagnostic::error(described.code, rel, at, described.message).help(described.help)
}

fn is_tab_error(error: &Error) -> bool {
    use serde_saphyr::granit_parser::ErrorKind as K;
    let Error::ExternalMessage { source, .. } = error.without_snippet() else {
        return false;
    };
    let ExternalMessageSource::Parser(scan) = source.as_ref() else {
        return false;
    };
    matches!(
        scan.kind(),
        K::TabNotAllowed
            | K::TabInBlockIndentation
            | K::TabAtBlockScalarStart
            | K::TabInIndentation
            | K::TabInPlainScalar
    )
}

/// The first tab in the indentation of line `from` or a later one, as `(line, column)`.
fn tab_in_indentation(text: &str, from: u64) -> Option<(u64, u64)> {
    let skip = usize::try_from(from.saturating_sub(1)).ok()?;
    text.lines().enumerate().skip(skip).find_map(|(i, line)| {
        let indent = &line[..line.len() - line.trim_start().len()];
        let column = indent.find('\t')?;
        Some((i as u64 + 1, column as u64 + 1))
    })
}

/// A diagnostic's rule, message and help.
struct Described {
    code: &'static str,
    message: String,
    help: String,
}

impl Described {
    fn new(code: &'static str, message: impl Into<String>, help: impl Into<String>) -> Self {
        Described {
            code,
            message: message.into(),
            help: help.into(),
        }
    }

    fn syntax(message: impl Into<String>) -> Self {
        Self::new("yaml/syntax", message, SYNTAX_HELP)
    }
}

const SYNTAX_HELP: &str =
    "fix the YAML here: check indentation, quoting, and that every `[` and `{` is closed";

/// Every variant of the reader's error, by class: syntax, duplicate keys, limits, values that
/// do not fit the course's types, and the rest (which these options and types never produce).
fn describe(error: &Error, kind: FileKind) -> Described {
    use Error as E;
    let value_help = format!("change the value to the expected type{}", schema_help(kind));
    match error {
        E::WithSnippet { error, .. } | E::AliasError { error, .. } => describe(error, kind),

        E::ExternalMessage { msg, .. } if is_tab_error(error) => Described::new(
            "yaml/syntax",
            plain(msg),
            "replace the tab with spaces; YAML indents with spaces only",
        ),
        E::ExternalMessage { msg, .. } => Described::syntax(plain(msg)),
        E::Eof { .. } => Described::new(
            "yaml/syntax",
            "the file ends in the middle of a value",
            "close the last quote, `[` or `{`, or finish the last entry",
        ),
        E::UnknownAnchor { .. } => Described::new(
            "yaml/syntax",
            "this alias (`*name`) refers to no anchor (`&name`) defined before it",
            "define the anchor before its first use, or write the value out",
        ),
        E::ContainerEndMismatch { .. }
        | E::UnexpectedSequenceEnd { .. }
        | E::UnexpectedMappingEnd { .. }
        | E::UnexpectedContainerEndWhileSkippingNode { .. }
        | E::UnexpectedContainerEndWhileReadingKeyNode { .. } => {
            Described::syntax("a list or mapping ends here before its entry is complete")
        }
        E::IndentationError {
            required, actual, ..
        } => Described::syntax(format!(
            "this line is indented by {actual} spaces; the indentation must be {required}"
        )),
        E::FoldedBlockScalarMustIndentContent { .. } => Described::new(
            "yaml/syntax",
            "the text of a `>` block is not indented",
            "indent the text under `>` further than the key it belongs to",
        ),
        E::MultipleDocuments { .. } => Described::new(
            "yaml/syntax",
            format!(
                "a {} is one YAML document, but a `---` here starts another",
                kind.noun()
            ),
            "remove the `---` line and what follows it, or move that document into a file of its own",
        ),
        E::MergeValueNotMapOrSeqOfMaps { .. } | E::MergeKeyNotAllowed { .. } => Described::new(
            "yaml/syntax",
            "a merge key (`<<`) must be followed by a mapping or a list of mappings",
            "merge an anchored mapping (`<<: *name`), or write the keys out",
        ),
        E::InvalidBinaryBase64 { .. } | E::BinaryNotUtf8 { .. } => Described::new(
            "yaml/syntax",
            "this `!!binary` value is not base64-encoded UTF-8 text",
            "remove the `!!binary` tag and write the text itself",
        ),
        E::UnsupportedTag { tag, .. } | E::TaggedStructFieldName { tag, .. } => Described::new(
            "yaml/syntax",
            format!("the tag `{}` is not supported here", plain(tag)),
            "remove the tag; course files need no `!` tags",
        ),

        E::DuplicateMappingKey { key, .. } => Described::new(
            "yaml/syntax",
            match key {
                Some(key) => format!("key `{}` appears twice in this mapping", plain(key)),
                None => "a key appears twice in this mapping".to_owned(),
            },
            "keep the one you mean and remove the other",
        ),

        E::Budget { breach, .. } => limit(breach),
        E::AliasReplayCounterOverflow { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => Described::new(
            "yaml/limit",
            "aliases (`*name`) here expand to more YAML than `lab` reads in one file",
            ALIAS_HELP,
        ),

        E::SerdeUnknownField {
            field, expected, ..
        } => unknown_name("schema/unknown-field", "field", field, expected, kind),
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => unknown_name("schema/unknown-variant", "variant", variant, expected, kind),
        E::SerdeMissingField { field, .. } => Described::new(
            "schema/missing-field",
            format!("missing field `{field}`"),
            format!("add `{field}:` here{}", schema_help(kind)),
        ),
        E::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | E::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => Described::new(
            "schema/invalid-value",
            format!(
                "expected {}, found {}",
                plain_expected(expected),
                plain_found(unexpected)
            ),
            value_help,
        ),
        E::SerdeInvalidLength { len, expected, .. } => Described::new(
            "schema/invalid-value",
            format!("expected {}, found {len} entries", plain_expected(expected)),
            value_help,
        ),
        E::InvalidScalar { ty, .. } => Described::new(
            "schema/invalid-value",
            format!("expected {} here", scalar_type(ty)),
            value_help,
        ),
        E::Unexpected { expected, .. } => Described::new(
            "schema/invalid-value",
            format!("expected {} here", plain_expected(expected)),
            value_help,
        ),
        E::NullIntoString { .. } | E::InvalidCharNull { .. } => Described::new(
            "schema/invalid-value",
            "a value is missing here",
            "write the value after the `:`, or remove the key",
        ),
        E::InvalidCharNotSingleScalar { .. } => Described::new(
            "schema/invalid-value",
            "expected a single character here",
            value_help,
        ),
        E::InvalidBooleanStrict { .. } => Described::new(
            "schema/invalid-value",
            "expected `true` or `false` here",
            value_help,
        ),
        E::NonFiniteFloat { value, .. } => Described::new(
            "schema/invalid-value",
            format!("`{}` is not a finite number", plain(value)),
            value_help,
        ),
        E::QuotingRequired { value, .. } => Described::new(
            "schema/invalid-value",
            format!("`{}` would be read as a number or a boolean", plain(value)),
            "put the value in quotes to keep it as text",
        ),
        E::ExpectedEmptyMappingForUnitStruct { .. } => Described::new(
            "schema/invalid-value",
            "expected an empty mapping `{}` here",
            value_help,
        ),
        E::UnexpectedValueForUnit { .. } | E::UnexpectedValueForUnitEnumVariant { .. } => {
            Described::new(
                "schema/invalid-value",
                "this name takes no value",
                "remove the value after it",
            )
        }
        E::ExpectedStringKeyForExternallyTaggedEnum { .. }
        | E::ExternallyTaggedEnumExpectedScalarOrMapping { .. }
        | E::ExpectedMappingEndAfterEnumVariantValue { .. } => Described::new(
            "schema/invalid-value",
            "expected a single key here, naming the kind of entry",
            value_help,
        ),
        E::TaggedEnumMismatch { .. } | E::TaggedScalarCannotDeserializeIntoString { .. } => {
            Described::new(
                "schema/invalid-value",
                "the `!` tag on this value does not fit the field",
                "remove the tag",
            )
        }
        E::Message { msg, .. } | E::SerdeVariantId { msg, .. } => {
            Described::new("schema/invalid-value", plain(msg), value_help)
        }

        // Includes, properties, borrowed strings, readers, hooks and internal states: the
        // course's options and types never produce these; say so rather than guess.
        other => Described::new(
            "yaml/syntax",
            format!(
                "the YAML reader could not read this file: {}",
                plain(&UserMessageFormatter.format_message(other))
            ),
            "if the YAML looks right, report this as a bug in `lab`, with the file",
        ),
    }
}

const ALIAS_HELP: &str = "write the values out instead of repeating them through aliases";
const SPLIT_HELP: &str = "split it into several smaller files and list each one in the lab";

/// A limit of the reader, with the limit itself and what to do.
fn limit(breach: &BudgetBreach) -> Described {
    use BudgetBreach as B;
    let budget = options().budget.unwrap_or_default();
    let (message, help) = match breach {
        B::Documents { .. } => (
            format!(
                "this file holds more than {} YAML documents, the most `lab` reads in one file",
                count(budget.max_documents)
            ),
            format!(
                "split it into files of at most {} documents each and list each one in the lab",
                count(budget.max_documents)
            ),
        ),
        B::Nodes { .. } | B::Events { .. } => (
            format!(
                "this file holds more than {} YAML nodes (keys, values, lists and mappings), the most `lab` reads in one file",
                count(budget.max_nodes)
            ),
            SPLIT_HELP.to_owned(),
        ),
        B::Depth { .. } => (
            format!(
                "lists and mappings are nested more than {} levels deep here",
                budget.max_depth
            ),
            "flatten the nesting; an unclosed `[` or `{` can also cause this".to_owned(),
        ),
        B::ScalarBytes { .. } | B::InputBytes { .. } | B::CommentBytes { .. } => (
            format!(
                "the text in this file adds up to more than {} MiB, the most `lab` reads in one file",
                budget.max_total_scalar_bytes >> 20
            ),
            "keep large data out of course YAML: put it in a file of its own and name that file"
                .to_owned(),
        ),
        B::Aliases { .. } => (
            format!(
                "this file uses more than {} aliases (`*name`)",
                count(budget.max_aliases)
            ),
            ALIAS_HELP.to_owned(),
        ),
        B::Anchors { .. } => (
            format!(
                "this file defines more than {} anchors (`&name`)",
                count(budget.max_anchors)
            ),
            ALIAS_HELP.to_owned(),
        ),
        B::AliasAnchorRatio { aliases, anchors } => (
            format!(
                "{} aliases (`*name`) repeat only {} anchors, which is how YAML bombs are built",
                count(*aliases),
                count(*anchors)
            ),
            ALIAS_HELP.to_owned(),
        ),
        B::RecordedAnchorEvents { .. } | B::RecordedAnchorBytes { .. } => (
            "the anchored values (`&name`) here are too large to repeat through aliases".to_owned(),
            ALIAS_HELP.to_owned(),
        ),
        B::MergeKeys { .. } => (
            format!(
                "this file uses more than {} merge keys (`<<`)",
                count(budget.max_merge_keys)
            ),
            "write the merged keys out instead".to_owned(),
        ),
        B::SequenceUnbalanced => {
            return Described::syntax("a list or mapping ends here that was never opened");
        }
        _ => (
            "this file is larger or more complex than `lab` reads in one file".to_owned(),
            SPLIT_HELP.to_owned(),
        ),
    };
    Described::new("yaml/limit", message, help)
}

fn unknown_name(
    code: &'static str,
    what: &str,
    word: &str,
    expected: &[&'static str],
    kind: FileKind,
) -> Described {
    let word = plain(word);
    let message = if expected.is_empty() {
        format!("unknown {what} `{word}`; nothing is expected here")
    } else {
        format!(
            "unknown {what} `{word}`, expected one of {}",
            expected.join(", ")
        )
    };
    let help = match did_you_mean(&word, expected.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None if expected.is_empty() => format!("remove it{}", schema_help(kind)),
        None => format!(
            "expected one of: {}{}",
            expected.join(", "),
            schema_help(kind)
        ),
    };
    Described::new(code, message, help)
}

fn schema_help(kind: FileKind) -> String {
    kind.schema().map_or_else(String::new, |s| {
        format!("; the fields are described in {s}")
    })
}

/// Serde's description of what it wanted, without Rust type names.
fn plain_expected(expected: &str) -> String {
    let expected = expected.trim();
    if expected.starts_with("struct ") || matches!(expected, "a map" | "map" | "mapping start") {
        return "a mapping (`key: value` lines)".to_owned();
    }
    if expected.starts_with("enum ") {
        return "one of the names this field allows".to_owned();
    }
    match expected {
        "a sequence" | "seq" | "sequence start" => "a list".to_owned(),
        "string scalar" | "scalar" | "string" | "a string" => "a single value".to_owned(),
        "empty mapping start" | "empty mapping end" => "an empty mapping `{}`".to_owned(),
        "a boolean" => "`true` or `false`".to_owned(),
        "null" => "no value".to_owned(),
        other => scalar_type(other),
    }
}

/// Serde's description of what it found (`sequence`, `map`, `integer \`5\``...).
fn plain_found(found: &str) -> String {
    match found {
        "sequence" => "a list".to_owned(),
        "map" => "a mapping".to_owned(),
        "unit value" => "no value".to_owned(),
        other => plain(other),
    }
}

/// A Rust scalar type named as a course author knows it.
fn scalar_type(ty: &str) -> String {
    let words = match ty {
        "u8" => "a whole number from 0 to 255",
        "u16" => "a whole number from 0 to 65535",
        "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "bool" => "`true` or `false`",
        "char" => "a single character",
        other => return plain(other),
    };
    words.to_owned()
}

/// Text from the reader or the file, with control characters escaped so they cannot break
/// the report's layout.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// `10000` as `10,000`.
fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use serde_saphyr::Location;

    use super::*;
    use crate::content::load::Manifest;
    use crate::content::model::Lab;

    fn error_of<T: DeserializeOwned>(text: &str) -> Diagnostic {
        let error = from_multiple::<T>(text)
            .err()
            .expect("the text is rejected");
        to_diagnostic("f.yaml", text, &error, FileKind::Manifests)
    }

    /// What a person must never read: Rust debug text, reader settings, a cut-off location.
    fn assert_reads_as_a_sentence(d: &Diagnostic) {
        let all = format!("{} {}", d.message, d.help.as_deref().unwrap_or(""));
        for leak in [
            "{ ", "Options", "Policy", "budget", " at line", "(used", "Option<", "u32",
        ] {
            assert!(!all.contains(leak), "`{leak}` in {all:?}");
        }
        assert!(d.help.is_some(), "{d:?} says what to do");
    }

    #[test]
    fn parser_errors_keep_the_parsers_words_and_position() {
        for (text, at) in [
            ("a: \"open\nb: x\n", (2, 1)),
            ("a: [1, 2\nb: c\n", (2, 2)),
            ("a: b: c\n", (1, 5)),
        ] {
            let d = error_of::<Value>(text);
            assert_eq!(
                (d.code, (d.line, d.column)),
                ("yaml/syntax", at),
                "{text:?}"
            );
            assert_reads_as_a_sentence(&d);
        }
        let d = error_of::<Value>("a: *nowhere\n");
        assert_eq!(d.code, "yaml/syntax");
        assert!(d.message.contains("anchor"), "{}", d.message);
    }

    // The parser reports a tab at the plain scalar before it, a line above the tab.
    #[test]
    fn a_tab_is_pointed_at_where_it_is() {
        for (text, at) in [
            ("metadata:\n  name: app\n\tnamespace: default\n", (3, 1)),
            ("a:\n  b: 1\n  c:\n  \td: 1\n", (4, 3)),
            ("a:\n\t- x\n", (2, 1)),
        ] {
            let d = error_of::<Value>(text);
            assert_eq!(
                (d.code, (d.line, d.column)),
                ("yaml/syntax", at),
                "{text:?}"
            );
            assert_eq!(
                (d.message.as_str(), d.help.as_deref()),
                (
                    "this line is indented with a tab",
                    Some("replace the tab with spaces; YAML indents with spaces only")
                )
            );
        }
    }

    // serde-saphyr's own text is "duplicate mapping key: x, set DuplicateKeyPolicy in Options
    // if acceptable", advice for a programmer.
    #[test]
    fn a_duplicate_key_reads_as_a_sentence() {
        let d = error_of::<Value>("apiVersion: v1\nkind: Pod\napiVersion: v2\n");
        assert_eq!((d.code, d.line), ("yaml/syntax", 3));
        assert_eq!(d.message, "key `apiVersion` appears twice in this mapping");
        assert_reads_as_a_sentence(&d);
    }

    // A 10,000-object manifest is accepted; one more document is told the limit.
    #[test]
    fn ten_thousand_documents_load_and_one_more_is_told_the_limit() {
        let docs = |n: usize| vec!["apiVersion: v1\nkind: Namespace\n"; n].join("---\n");
        let loaded = from_multiple::<Manifest>(&docs(MAX_DOCUMENTS)).unwrap();
        assert_eq!(loaded.len(), MAX_DOCUMENTS);
        let d = error_of::<Manifest>(&docs(MAX_DOCUMENTS + 1));
        assert_eq!(d.code, "yaml/limit");
        assert_eq!(
            d.line,
            3 * MAX_DOCUMENTS as u64,
            "at the `---` of the document too many"
        );
        assert!(
            d.message.contains("more than 10,000 YAML documents"),
            "{}",
            d.message
        );
        assert!(d.help.as_deref().unwrap().starts_with("split it"), "{d:?}");
        assert_reads_as_a_sentence(&d);
    }

    // The reader's default text is "budget breached: Depth { depth: 65 }".
    #[test]
    fn nesting_too_deep_is_told_the_limit() {
        let deep = format!("a: {}x{}\n", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let d = error_of::<Value>(&deep);
        assert_eq!(d.code, "yaml/limit");
        assert!(d.message.contains("more than 64 levels"), "{}", d.message);
        assert_reads_as_a_sentence(&d);
    }

    // An alias bomb breaches a limit through an alias; the reader's text then carries "(defined
    // at line 5, column 7) (used at line 6, ...", which cutting at " at line " left half of.
    #[test]
    fn an_alias_bomb_is_a_limit_told_whole() {
        let mut bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n".to_owned();
        for (name, prev) in ["b", "c", "d", "e", "f"].iter().zip("abcde".chars()) {
            let aliases = vec![format!("*{prev}"); 10].join(", ");
            bomb.push_str(&format!("{name}: &{name} [{aliases}]\n"));
        }
        let d = error_of::<Value>(&bomb);
        assert_eq!(d.code, "yaml/limit");
        assert!(d.line > 1, "at the alias that breaches: {d:?}");
        assert_reads_as_a_sentence(&d);
    }

    #[test]
    fn every_limit_names_its_limit_in_words() {
        use BudgetBreach as B;
        let breaches = [
            B::Events { events: 1 },
            B::Aliases { aliases: 1 },
            B::Anchors { anchors: 1 },
            B::Depth { depth: 1 },
            B::InclusionDepth { depth: 1 },
            B::Documents { documents: 1 },
            B::Nodes { nodes: 1 },
            B::ScalarBytes {
                total_scalar_bytes: 1,
            },
            B::CommentBytes {
                total_comment_bytes: 1,
            },
            B::MergeKeys { merge_keys: 1 },
            B::AliasAnchorRatio {
                aliases: 1_000,
                anchors: 1,
            },
            B::InputBytes { input_bytes: 1 },
            B::RecordedAnchorEvents {
                recorded_anchor_events: 1,
            },
            B::RecordedAnchorBytes {
                recorded_anchor_bytes: 1,
            },
            B::PropertyExpansionDepth {
                depth: 1,
                max_depth: 1,
            },
            B::PropertyInterpolationWork {
                work: 1,
                max_work: 1,
            },
        ];
        for breach in breaches {
            let error = Error::Budget {
                breach: breach.clone(),
                location: Location::UNKNOWN,
            };
            let d = to_diagnostic("f.yaml", "", &error, FileKind::Manifests);
            assert_eq!(d.code, "yaml/limit", "{breach:?}");
            assert_reads_as_a_sentence(&d);
        }
        let nodes = Error::Budget {
            breach: B::Nodes {
                nodes: MAX_NODES + 1,
            },
            location: Location::UNKNOWN,
        };
        let d = to_diagnostic("f.yaml", "", &nodes, FileKind::Manifests);
        assert!(
            d.message.contains("more than 500,000 YAML nodes"),
            "{}",
            d.message
        );
        let unbalanced = Error::Budget {
            breach: B::SequenceUnbalanced,
            location: Location::UNKNOWN,
        };
        assert_eq!(
            describe(&unbalanced, FileKind::Manifests).code,
            "yaml/syntax"
        );
    }

    #[test]
    fn values_of_the_wrong_type_name_no_rust_types() {
        let lab = |text: &str| {
            let error = from_str::<Lab>(text).expect_err("rejected");
            to_diagnostic("labs/x/lab.yaml", text, &error, FileKind::Lab)
        };
        let d = lab("schema_version: one\n");
        assert_eq!(
            (d.code, d.message.as_str()),
            (
                "schema/invalid-value",
                "expected a whole number (0 or more) here"
            )
        );
        assert_reads_as_a_sentence(&d);
        let d = lab("just text\n");
        assert_eq!(d.code, "schema/invalid-value");
        assert!(d.message.starts_with("expected a mapping"), "{}", d.message);
        assert_reads_as_a_sentence(&d);
        let d = lab("schema_version: 1\nid: x\naliases: x\n");
        assert_eq!(d.message, "expected a list here");
        let d = lab("schema_version: 1\nid:\n");
        assert_eq!(d.code, "schema/invalid-value");
        assert_reads_as_a_sentence(&d);
    }

    #[test]
    fn unknown_and_missing_fields_keep_their_suggestions() {
        let error = from_str::<Lab>("schema_version: 1\nidd: x\n").unwrap_err();
        let d = to_diagnostic("labs/x/lab.yaml", "", &error, FileKind::Lab);
        assert_eq!((d.code, d.line), ("schema/unknown-field", 2));
        assert!(
            d.message
                .starts_with("unknown field `idd`, expected one of schema_version, id,")
        );
        assert_eq!(d.help.as_deref(), Some("did you mean `id`?"));
        let error = from_str::<Lab>("schema_version: 1\n").unwrap_err();
        let d = to_diagnostic("labs/x/lab.yaml", "", &error, FileKind::Lab);
        assert_eq!(
            (d.code, d.message.as_str()),
            ("schema/missing-field", "missing field `id`")
        );
        assert_eq!(
            d.help.as_deref(),
            Some("add `id:` here; the fields are described in schemas/lab.schema.json")
        );
    }

    #[test]
    fn a_second_document_in_a_one_document_file_says_which_file_kind() {
        let error = from_str::<Value>("a: 1\n---\nb: 2\n").unwrap_err();
        let d = to_diagnostic("kind-config/k.yaml", "", &error, FileKind::KindConfig);
        assert_eq!(d.code, "yaml/syntax");
        assert!(
            d.message
                .starts_with("a kind cluster config is one YAML document"),
            "{}",
            d.message
        );
        assert_reads_as_a_sentence(&d);
    }

    #[test]
    fn errors_these_options_never_produce_still_read_as_sentences() {
        let d = to_diagnostic(
            "f.yaml",
            "",
            &Error::InternalDepthUnderflow {
                location: Location::UNKNOWN,
            },
            FileKind::Manifests,
        );
        assert_eq!((d.code, d.line, d.column), ("yaml/syntax", 0, 0));
        assert!(
            d.message
                .starts_with("the YAML reader could not read this file: "),
            "{}",
            d.message
        );
        assert!(d.help.as_deref().unwrap().contains("bug in `lab`"));
    }

    #[test]
    fn syntax_and_limits_are_yaml_errors_and_types_are_not() {
        assert!(is_yaml_error(&from_str::<Value>("a: [1\n").unwrap_err()));
        assert!(is_yaml_error(
            &from_str::<Value>(&"[".repeat(70)).unwrap_err()
        ));
        assert!(!is_yaml_error(&from_str::<Lab>("- a\n").unwrap_err()));
    }

    #[test]
    fn empty_means_no_document() {
        for text in [
            "",
            "\n\n",
            "# only a comment\n",
            "---\n# later\n...\n",
            "\u{feff}\n",
        ] {
            assert!(is_empty(text), "{text:?}");
        }
        for text in ["a: 1", "--- a", "- x"] {
            assert!(!is_empty(text), "{text:?}");
        }
        let d = empty_file("labs/x/manifests/m.yaml", FileKind::Manifests);
        assert_eq!(
            (d.code, d.severity),
            ("yaml/empty-file", crate::content::Severity::Error)
        );
        assert!(
            d.help
                .as_deref()
                .unwrap()
                .starts_with("a manifest holds one or more Kubernetes objects")
        );
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(7), "7");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_000_000), "1,000,000");
    }
}
