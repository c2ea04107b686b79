//! Values that remember where in a YAML file they were written, so that a validator can point
//! at `file:line:col`, plus the small string types whose shape the schema states.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

/// A value with the line and column it was written at (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    /// The value.
    pub value: T,
    /// 1-based line, 0 when the value did not come from a file.
    pub line: u64,
    /// 1-based column, 0 when the value did not come from a file.
    pub column: u64,
}

impl<T> Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> std::ops::DerefMut for Sp<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<T>::deserialize(deserializer)?;
        Ok(Sp {
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
            value: spanned.value,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

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
    fn spans_survive_the_wrapper() {
        #[derive(Deserialize)]
        struct Doc {
            id: Sp<LabId>,
        }
        let doc: Doc = serde_saphyr::from_str("\n  id: ch14\n").unwrap();
        assert_eq!(
            (doc.id.line, doc.id.column, doc.id.0.as_str()),
            (2, 7, "ch14")
        );
    }

    #[test]
    fn anchors_split_from_paths() {
        let p = RelPath("../../runbooks/supply-chain.md#triage".into());
        assert_eq!(p.path(), "../../runbooks/supply-chain.md");
        assert_eq!(p.anchor(), Some("triage"));
    }
}
