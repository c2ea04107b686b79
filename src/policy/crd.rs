//! Kyverno's own CRD schema for `kyverno.io/v1` policies, as the API server holds a policy to it
//! before any webhook sees it: the field types, the enums, the required fields, the limits
//! (`count: minimum 1`, a rule name of at most 63 characters), the fields that exclude each
//! other, and no field the schema does not know (`kubectl apply` validates strictly).
//!
//! The schema is Kyverno v1.19.0's (`config/crds/kyverno/kyverno.io_clusterpolicies.yaml`, the
//! `v1` version's `openAPIV3Schema`, which `kyverno.io_policies.yaml` shares), committed as
//! `src/policy/crd/clusterpolicy-v1.json` with its descriptions and its `status` left out
//! ([`schema_from_crd`] makes it; a test holds it equal to the module's). The validator knows
//! the keywords that schema uses, as Kubernetes' structural schemas read them
//! (`k8s.io/apiextensions-apiserver` and `k8s.io/kube-openapi` `validate`); a test holds the
//! schema to those keywords, so a new one in a later Kyverno is noticed, not ignored.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

use crate::spanned::{Node, NodeValue};

/// The committed schema of a `kyverno.io/v1` ClusterPolicy or Policy.
const SCHEMA_JSON: &str = include_str!("crd/clusterpolicy-v1.json");

/// The Kyverno release whose CRD the committed schema is.
pub const CRD_KYVERNO_VERSION: &str = "v1.19.0";

/// The keywords the validator reads or knowingly ignores (`default` is the API server's to
/// fill in; `x-kubernetes-map-type` changes how apply merges, not what is valid).
pub const KNOWN_KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "items",
    "required",
    "enum",
    "additionalProperties",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "default",
    "nullable",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "format",
    "not",
    "oneOf",
    "anyOf",
    "allOf",
];

/// One schema node, the keywords [`KNOWN_KEYWORDS`] names.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, Schema>,
    items: Option<Box<Schema>>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(rename = "enum")]
    one_of_values: Option<Vec<Value>>,
    additional_properties: Option<Additional>,
    #[serde(rename = "x-kubernetes-preserve-unknown-fields", default)]
    preserve_unknown_fields: bool,
    #[serde(rename = "x-kubernetes-int-or-string", default)]
    int_or_string: bool,
    #[serde(rename = "x-kubernetes-list-type")]
    list_type: Option<String>,
    #[serde(rename = "x-kubernetes-list-map-keys", default)]
    list_map_keys: Vec<String>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    #[serde(default)]
    exclusive_minimum: bool,
    #[serde(default)]
    exclusive_maximum: bool,
    min_length: Option<usize>,
    max_length: Option<usize>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    pattern: Option<String>,
    format: Option<String>,
    not: Option<Box<Schema>>,
    #[serde(default)]
    one_of: Vec<Schema>,
    #[serde(default)]
    any_of: Vec<Schema>,
    #[serde(default)]
    all_of: Vec<Schema>,
}

/// `additionalProperties`: `true`, `false` or the schema of every other member.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Additional {
    Allowed(bool),
    Schema(Box<Schema>),
}

/// The schema of a `kyverno.io/v1` policy.
pub fn policy_schema() -> &'static Schema {
    static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
        serde_json::from_str(SCHEMA_JSON).expect("the committed CRD schema is a schema")
    });
    &SCHEMA
}

/// Something the CRD's schema does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// The field, as Kubernetes names it: `spec.rules[0].verifyImages[0].failureAction`.
    pub path: String,
    /// Where: the field's key for a field the schema does not know, else its value (the
    /// object's own position for a field it lacks).
    pub line: u64,
    /// Column of the same.
    pub column: u64,
    /// What is wrong, in a sentence without the path.
    pub message: String,
}

/// What the CRD's schema says of `doc`, a `kyverno.io/v1` ClusterPolicy or Policy. `metadata`
/// is left to the API server's own object-metadata rules, as the schema leaves it.
pub fn check(doc: &Node) -> Vec<SchemaError> {
    let mut out = Vec::new();
    validate(
        policy_schema(),
        doc,
        &mut Path::root(),
        &mut out,
        Fields::Known,
    );
    out
}

/// Whether a field the schema does not name is wrong: it is, except inside `not`, `oneOf`,
/// `anyOf` and `allOf`, whose schemas only add conditions to the structural one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fields {
    Known,
    Any,
}

/// The path to a node, built as the validator descends.
struct Path {
    parts: Vec<String>,
}

impl Path {
    fn root() -> Self {
        Path { parts: Vec::new() }
    }

    fn field(&mut self, name: &str) {
        self.parts.push(if self.parts.is_empty() {
            name.to_owned()
        } else {
            format!(".{name}")
        });
    }

    fn index(&mut self, i: usize) {
        self.parts.push(format!("[{i}]"));
    }

    fn pop(&mut self) {
        self.parts.pop();
    }

    fn text(&self) -> String {
        if self.parts.is_empty() {
            "<root>".to_owned()
        } else {
            self.parts.concat()
        }
    }
}

fn error(out: &mut Vec<SchemaError>, path: &Path, at: &Node, message: String) {
    out.push(SchemaError {
        path: path.text(),
        line: at.line,
        column: at.column,
        message,
    });
}

/// A value that is a whole `${placeholder}` of a course file: its type is known only once the
/// lab renders it, so only a string schema can judge it.
fn is_placeholder(text: &str) -> bool {
    text.strip_prefix("${")
        .and_then(|t| t.strip_suffix('}'))
        .is_some_and(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// The node as JSON, for `enum` and duplicate comparisons and for messages.
fn json(node: &Node) -> Value {
    match &node.value {
        NodeValue::Null => Value::Null,
        NodeValue::Bool(b) => Value::Bool(*b),
        NodeValue::Integer(i) => i64::try_from(*i)
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(i.to_string())),
        NodeValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        NodeValue::String(s) => Value::String(s.clone()),
        NodeValue::List(items) => Value::Array(items.iter().map(json).collect()),
        NodeValue::Map(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.value.clone(), json(v)))
                .collect(),
        ),
    }
}

fn type_name(node: &Node) -> &'static str {
    match node.value {
        NodeValue::Null => "null",
        NodeValue::Bool(_) => "boolean",
        NodeValue::Integer(_) => "integer",
        NodeValue::Float(_) => "number",
        NodeValue::String(_) => "string",
        NodeValue::List(_) => "array",
        NodeValue::Map(_) => "object",
    }
}

/// Whether `node` is of the schema's type (any, when it names none).
fn has_type(schema: &Schema, node: &Node) -> bool {
    if schema.int_or_string {
        return matches!(node.value, NodeValue::Integer(_) | NodeValue::String(_));
    }
    matches!(
        (schema.kind.as_deref(), &node.value),
        (None, _)
            | (Some("object"), NodeValue::Map(_))
            | (Some("array"), NodeValue::List(_))
            | (Some("string"), NodeValue::String(_))
            | (Some("boolean"), NodeValue::Bool(_))
            | (Some("integer"), NodeValue::Integer(_))
            | (Some("number"), NodeValue::Integer(_) | NodeValue::Float(_))
    )
}

fn validate(
    schema: &Schema,
    node: &Node,
    path: &mut Path,
    out: &mut Vec<SchemaError>,
    fields: Fields,
) {
    // A null is dropped before validation unless the schema says `nullable` (Kubernetes prunes
    // nulls of non-nullable fields): either way it is never wrong, so `nullable` is not read.
    if node.value == NodeValue::Null {
        return;
    }
    if let NodeValue::String(text) = &node.value
        && is_placeholder(text)
        && schema.kind.as_deref() != Some("string")
    {
        return;
    }
    if !has_type(schema, node) {
        let wanted = if schema.int_or_string {
            "an integer or a string"
        } else {
            match schema.kind.as_deref() {
                Some("object") => "an object",
                Some("array") => "a list",
                Some("string") => "a string",
                Some("boolean") => "a boolean",
                Some("integer") => "an integer",
                Some("number") => "a number",
                _ => "of another type",
            }
        };
        error(
            out,
            path,
            node,
            format!("must be {wanted}, not {}", describe(node)),
        );
        return;
    }
    if let Some(allowed) = &schema.one_of_values {
        let unrendered = matches!(&node.value, NodeValue::String(t) if t.contains("${"));
        let value = json(node);
        if !unrendered && !allowed.contains(&value) {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            error(
                out,
                path,
                node,
                format!("{value} is not one of {}", list.join(", ")),
            );
        }
    }
    match &node.value {
        NodeValue::String(text) => check_string(schema, text, node, path, out),
        NodeValue::Integer(_) | NodeValue::Float(_) => check_number(schema, node, path, out),
        NodeValue::List(items) => check_list(schema, items, node, path, out, fields),
        NodeValue::Map(members) => check_object(schema, members, node, path, out, fields),
        NodeValue::Null | NodeValue::Bool(_) => {}
    }
    check_combinations(schema, node, path, out);
}

fn describe(node: &Node) -> String {
    match &node.value {
        NodeValue::List(_) => "a list".to_owned(),
        NodeValue::Map(_) => "an object".to_owned(),
        _ => format!("{} {}", type_name(node), json(node)),
    }
}

fn check_string(schema: &Schema, text: &str, node: &Node, path: &Path, out: &mut Vec<SchemaError>) {
    // A text with placeholders is measured once the lab renders it.
    if text.contains("${") {
        return;
    }
    let length = text.chars().count();
    if let Some(max) = schema.max_length.filter(|max| length > *max) {
        error(
            out,
            path,
            node,
            format!("is {length} characters long, more than the {max} allowed"),
        );
    }
    if let Some(min) = schema.min_length.filter(|min| length < *min) {
        error(
            out,
            path,
            node,
            format!("is {length} characters long, fewer than the {min} required"),
        );
    }
    if let Some(pattern) = &schema.pattern
        && let Ok(re) = regex::Regex::new(pattern)
        && !re.is_match(text)
    {
        error(
            out,
            path,
            node,
            format!("{:?} does not match the pattern {pattern}", text),
        );
    }
}

fn check_number(schema: &Schema, node: &Node, path: &Path, out: &mut Vec<SchemaError>) {
    let (value, shown) = match node.value {
        NodeValue::Integer(i) => (i as f64, i.to_string()),
        NodeValue::Float(f) => (f, f.to_string()),
        _ => return,
    };
    if let Some(min) = schema.minimum
        && (value < min || (schema.exclusive_minimum && value == min))
    {
        let relation = if schema.exclusive_minimum {
            "greater than"
        } else {
            "at least"
        };
        error(
            out,
            path,
            node,
            format!("is {shown}, and must be {relation} {min}"),
        );
    }
    if let Some(max) = schema.maximum
        && (value > max || (schema.exclusive_maximum && value == max))
    {
        let relation = if schema.exclusive_maximum {
            "less than"
        } else {
            "at most"
        };
        error(
            out,
            path,
            node,
            format!("is {shown}, and must be {relation} {max}"),
        );
    }
    let range = match schema.format.as_deref() {
        Some("int32") => Some((f64::from(i32::MIN), f64::from(i32::MAX))),
        _ => None,
    };
    if let Some((low, high)) = range
        && !(low..=high).contains(&value)
    {
        error(
            out,
            path,
            node,
            format!("is {shown}, beyond a 32-bit integer"),
        );
    }
}

fn check_list(
    schema: &Schema,
    items: &[Node],
    node: &Node,
    path: &mut Path,
    out: &mut Vec<SchemaError>,
    fields: Fields,
) {
    if let Some(max) = schema.max_items.filter(|max| items.len() > *max) {
        error(
            out,
            path,
            node,
            format!("has {} items, more than the {max} allowed", items.len()),
        );
    }
    if let Some(min) = schema.min_items.filter(|min| items.len() < *min) {
        error(
            out,
            path,
            node,
            format!("has {} items, fewer than the {min} required", items.len()),
        );
    }
    if let Some(item_schema) = &schema.items {
        for (i, item) in items.iter().enumerate() {
            path.index(i);
            validate(item_schema, item, path, out, fields);
            path.pop();
        }
    }
    // What makes two items the same: the whole item in a set, its keys in a map.
    let identity = |item: &Node| -> Value {
        match schema.list_type.as_deref() {
            Some("map") => {
                let value = json(item);
                Value::Array(
                    schema
                        .list_map_keys
                        .iter()
                        .map(|k| value.get(k).cloned().unwrap_or(Value::Null))
                        .collect(),
                )
            }
            _ => json(item),
        }
    };
    if matches!(schema.list_type.as_deref(), Some("set" | "map")) {
        let mut seen: Vec<Value> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let id = identity(item);
            if seen.contains(&id) {
                path.index(i);
                let what = if schema.list_type.as_deref() == Some("map") {
                    format!("an item with the same {}", schema.list_map_keys.join(", "))
                } else {
                    "the same item".to_owned()
                };
                error(
                    out,
                    path,
                    item,
                    format!("repeats {what} as one before it: {id}"),
                );
                path.pop();
            } else {
                seen.push(id);
            }
        }
    }
}

fn check_object(
    schema: &Schema,
    members: &[(crate::spanned::Spanned<String>, Node)],
    node: &Node,
    path: &mut Path,
    out: &mut Vec<SchemaError>,
    fields: Fields,
) {
    for name in &schema.required {
        let present = members
            .iter()
            .any(|(k, v)| k.value == *name && v.value != NodeValue::Null);
        if !present {
            path.field(name);
            error(out, path, node, "is required and missing".to_owned());
            path.pop();
        }
    }
    for (key, value) in members {
        let root = path.parts.is_empty();
        path.field(&key.value);
        if root && key.value == "metadata" {
            // The API server holds an object's metadata to its own rules, not the CRD's.
            if !matches!(value.value, NodeValue::Map(_) | NodeValue::Null) {
                error(
                    out,
                    path,
                    value,
                    format!("must be an object, not {}", describe(value)),
                );
            }
        } else if let Some(property) = schema.properties.get(&key.value) {
            validate(property, value, path, out, fields);
        } else {
            match schema.additional_properties.as_ref() {
                Some(Additional::Schema(each)) => validate(each, value, path, out, fields),
                Some(Additional::Allowed(true)) => {}
                _ if schema.preserve_unknown_fields || fields == Fields::Any => {}
                _ => out.push(SchemaError {
                    path: path.text(),
                    line: key.line,
                    column: key.column,
                    message: "is not a field of this object (kubectl apply refuses unknown fields)"
                        .to_owned(),
                }),
            }
        }
        path.pop();
    }
}

/// `not`, `oneOf`, `anyOf` and `allOf`: each alternative is tried without reporting, and the
/// outcome told in terms of the fields when the alternatives only require fields (as Kyverno's
/// do: `exclude` may not hold both `any` and `all`, a context entry names one source).
fn check_combinations(schema: &Schema, node: &Node, path: &mut Path, out: &mut Vec<SchemaError>) {
    let holds = |alternative: &Schema, path: &mut Path| {
        let mut errors = Vec::new();
        validate(alternative, node, path, &mut errors, Fields::Any);
        errors.is_empty()
    };
    let fields = |alternative: &Schema| -> Option<String> {
        let only_required = alternative.kind.is_none()
            && alternative.properties.is_empty()
            && alternative.one_of.is_empty()
            && alternative.not.is_none()
            && !alternative.required.is_empty();
        only_required.then(|| {
            alternative
                .required
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        })
    };
    if let Some(not) = &schema.not
        && holds(not, path)
    {
        let message = match fields(not) {
            Some(both) => format!("may not set {both} together"),
            None => "matches a schema it must not match (not)".to_owned(),
        };
        error(out, path, node, message);
    }
    if !schema.one_of.is_empty() {
        let holding = schema.one_of.iter().filter(|a| holds(a, path)).count();
        if holding != 1 {
            let named: Option<Vec<String>> = schema.one_of.iter().map(fields).collect();
            let message = match named {
                Some(names) => format!(
                    "must set exactly one of {}, and sets {}",
                    names.join(", "),
                    if holding == 0 { "none" } else { "several" }
                ),
                None => format!(
                    "must match exactly one of {} schemas (oneOf), and matches {holding}",
                    schema.one_of.len()
                ),
            };
            error(out, path, node, message);
        }
    }
    if !schema.any_of.is_empty() && !schema.any_of.iter().any(|a| holds(a, path)) {
        error(
            out,
            path,
            node,
            format!(
                "must match at least one of {} schemas (anyOf)",
                schema.any_of.len()
            ),
        );
    }
    for alternative in &schema.all_of {
        validate(alternative, node, path, out, Fields::Any);
    }
}

/// The committed schema made from a Kyverno CRD file's text: the `v1` version's
/// `openAPIV3Schema` with every `description` and the `status` left out, as pretty JSON with
/// sorted keys and a final newline.
pub fn schema_from_crd(crd_yaml: &str) -> Result<String, String> {
    let crd: Value = serde_saphyr::from_str(crd_yaml).map_err(|e| e.to_string())?;
    let versions = crd["spec"]["versions"]
        .as_array()
        .ok_or("the CRD has no spec.versions")?;
    let v1 = versions
        .iter()
        .find(|v| v["name"] == "v1")
        .ok_or("the CRD has no v1 version")?;
    let mut schema = v1["schema"]["openAPIV3Schema"].clone();
    if !schema.is_object() {
        return Err("the v1 version has no openAPIV3Schema".into());
    }
    strip_descriptions(&mut schema);
    if let Some(properties) = schema["properties"].as_object_mut() {
        properties.remove("status");
    }
    Ok(serde_json::to_string_pretty(&schema).map_err(|e| e.to_string())? + "\n")
}

/// Removes `description` from a schema and every schema inside it (never a property that
/// happens to be named `description`).
fn strip_descriptions(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    map.remove("description");
    for (keyword, inner) in map.iter_mut() {
        match keyword.as_str() {
            "properties" => inner
                .as_object_mut()
                .into_iter()
                .flat_map(|p| p.values_mut())
                .for_each(strip_descriptions),
            "items" | "additionalProperties" | "not" => strip_descriptions(inner),
            "oneOf" | "anyOf" | "allOf" => inner
                .as_array_mut()
                .into_iter()
                .flatten()
                .for_each(strip_descriptions),
            _ => {}
        }
    }
}

/// The keywords of `schema` and every schema inside it that [`KNOWN_KEYWORDS`] does not name.
pub fn unknown_keywords(schema: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    collect_unknown(schema, &mut unknown);
    unknown.sort();
    unknown.dedup();
    unknown
}

fn collect_unknown(schema: &Value, unknown: &mut Vec<String>) {
    let Some(map) = schema.as_object() else {
        return;
    };
    for (keyword, inner) in map {
        if !KNOWN_KEYWORDS.contains(&keyword.as_str()) {
            unknown.push(keyword.clone());
        }
        match keyword.as_str() {
            "properties" => inner
                .as_object()
                .into_iter()
                .flat_map(|p| p.values())
                .for_each(|p| collect_unknown(p, unknown)),
            "items" | "additionalProperties" | "not" => collect_unknown(inner, unknown),
            "oneOf" | "anyOf" | "allOf" => inner
                .as_array()
                .into_iter()
                .flatten()
                .for_each(|p| collect_unknown(p, unknown)),
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "crd_tests.rs"]
mod tests;
