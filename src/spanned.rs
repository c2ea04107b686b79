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

/// A YAML value of any shape with the position of every node in it: for checks that follow a
/// document's own structure (a CRD's schema) rather than a Rust type.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: NodeValue,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
}

/// What a [`Node`] holds, a plain scalar read as the YAML reader reads one when nothing says
/// its type (`yes` and `no` are booleans, as in the YAML 1.1 reader Kubernetes uses).
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Integer(i128),
    /// A number that is not an integer.
    Float(f64),
    /// A string (quoted, or a plain scalar that is nothing else).
    String(String),
    /// A sequence.
    List(Vec<Node>),
    /// A mapping, its keys in the order written, each with its own position.
    Map(Vec<(Spanned<String>, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<NodeValue>::deserialize(deserializer)?;
        Ok(Node {
            value: spanned.value,
            line: spanned.line,
            column: spanned.column,
        })
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_none<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
        NodeValue::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Integer(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<NodeValue, E> {
        Ok(NodeValue::Integer(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<NodeValue, E> {
        Ok(NodeValue::Integer(v))
    }
    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<NodeValue, E> {
        i128::try_from(v)
            .map(NodeValue::Integer)
            .map_err(|_| E::custom("an integer too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<NodeValue, E> {
        Ok(NodeValue::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeValue, E> {
        Ok(NodeValue::String(v))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(NodeValue::List(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(NodeValue::Map(entries))
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

    #[test]
    fn a_node_keeps_every_position_and_reads_plain_scalars_by_their_look() {
        let text = "a: 1\nb:\n  - \"1\"\n  - x: true\n    y: ~\n    z: 1.5\nc: yes\n";
        let node: Node = serde_saphyr::from_str(text).unwrap();
        let NodeValue::Map(top) = &node.value else {
            panic!("{node:?}")
        };
        let keys: Vec<(&str, u64, u64)> = top
            .iter()
            .map(|(k, _)| (k.as_str(), k.line, k.column))
            .collect();
        assert_eq!(keys, [("a", 1, 1), ("b", 2, 1), ("c", 7, 1)]);
        assert_eq!(top[0].1.value, NodeValue::Integer(1));
        assert_eq!(top[2].1.value, NodeValue::Bool(true));
        let NodeValue::List(items) = &top[1].1.value else {
            panic!("{node:?}")
        };
        assert_eq!(
            (&items[0].value, items[0].line, items[0].column),
            (&NodeValue::String("1".into()), 3, 5)
        );
        let NodeValue::Map(inner) = &items[1].value else {
            panic!("{node:?}")
        };
        assert_eq!(inner[0].1.value, NodeValue::Bool(true));
        assert_eq!(
            (inner[1].1.value.clone(), inner[1].1.line),
            (NodeValue::Null, 5)
        );
        assert_eq!(inner[2].1.value, NodeValue::Float(1.5));
    }
}
