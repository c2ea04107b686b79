//! Values that remember where in a YAML file they were written, so that a validator or a
//! command can point at `file:line:col`. A leaf of the crate: the course model, the Kyverno
//! policy model and the test-file model all use it.

use std::borrow::Cow;
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

/// A value with the line and column it was written at (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// 1-based line, 0 when the value did not come from a file.
    pub line: u64,
    /// 1-based column, 0 when the value did not come from a file.
    pub column: u64,
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> std::ops::DerefMut for Spanned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        Ok(Spanned {
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
            value: spanned.value,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_survive_the_wrapper() {
        #[derive(Deserialize)]
        struct Doc {
            id: Spanned<String>,
        }
        let doc: Doc = serde_saphyr::from_str("\n  id: ch14\n").unwrap();
        assert_eq!(
            (doc.id.line, doc.id.column, doc.id.as_str()),
            (2, 7, "ch14")
        );
    }
}
