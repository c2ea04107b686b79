//! How every JSON document of `lab` is written: pretty, with one trailing newline, so that
//! all machine-readable output looks alike.

use serde::Serialize;

/// The document as pretty JSON and a newline, its keys in the order of its fields.
pub(crate) fn document(doc: &impl Serialize) -> String {
    serde_json::to_string_pretty(doc).expect("a report serializes") + "\n"
}

/// The document as [`document`] writes it, but with the keys of every object sorted: the
/// order of the documents that were first written through a `serde_json::Value` (`lab test`,
/// `lab doctor`), kept so that their output does not change.
pub(crate) fn sorted_document(doc: &impl Serialize) -> String {
    document(&serde_json::to_value(doc).expect("a report serializes"))
}
