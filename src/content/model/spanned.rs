//! The small string types of the course model whose shape the schema states: ids and
//! course-relative paths. (Values that remember their place are [`crate::spanned::Spanned`].)

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

/// Pattern of ids: lowercase letters and digits, words joined by single `-`.
pub const ID_PATTERN: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";

/// An id a person types: a lab, step, check or objective id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(transparent)]
pub struct LabId(pub String);

impl LabId {
    /// Whether the id has the documented shape ([`ID_PATTERN`]).
    pub fn is_well_formed(&self) -> bool {
        !self.0.is_empty()
            && self.0.split('-').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
    }
}

impl fmt::Display for LabId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsonSchema for LabId {
    fn schema_name() -> Cow<'static, str> {
        "Id".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": ID_PATTERN,
            "description": "Lowercase letters and digits, words joined by `-`."
        })
    }
}

/// A relative path to another course file, optionally with a `#anchor` (for Markdown links).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct RelPath(pub String);

impl RelPath {
    /// The path without its `#anchor`.
    pub fn path(&self) -> &str {
        self.0.split_once('#').map_or(&self.0, |(p, _)| p)
    }
    /// The `#anchor`, if any.
    pub fn anchor(&self) -> Option<&str> {
        self.0.split_once('#').map(|(_, a)| a)
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsonSchema for RelPath {
    fn schema_name() -> Cow<'static, str> {
        "RelativePath".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "pattern": "^[^/]",
            "description": "A path relative to the file that names it, with an optional `#anchor`."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_kebab_case() {
        for good in ["ch14", "supply-chain", "a1-b2"] {
            assert!(LabId(good.into()).is_well_formed(), "{good}");
        }
        for bad in ["", "Ch14", "a--b", "-a", "a-", "a_b", "a b"] {
            assert!(!LabId(bad.into()).is_well_formed(), "{bad}");
        }
    }

    #[test]
    fn anchors_split_from_paths() {
        let p = RelPath("../../runbooks/supply-chain.md#triage".into());
        assert_eq!(p.path(), "../../runbooks/supply-chain.md");
        assert_eq!(p.anchor(), Some("triage"));
    }
}
