//! The committed JSON Schemas must equal what the model generates. Regenerate them with
//! `UPDATE_SCHEMAS=1 cargo test --test cli schema`.

use super::repo;

/// Every schema `lab` generates: the course files' and the submission statement's.
fn all() -> Vec<(&'static str, String)> {
    let mut all = courselab::content::schema::all();
    all.push(courselab::submission::statement::schema());
    all.push(courselab::report::grade::schema());
    all
}

#[test]
fn committed_schemas_are_current() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (name, generated) in all() {
        let path = repo().join("schemas").join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            if update {
                std::fs::write(&path, &generated).unwrap();
            } else {
                stale.push(name);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale schemas {stale:?}: run `UPDATE_SCHEMAS=1 cargo test --test cli schema` and commit schemas/"
    );
}

#[test]
fn schemas_describe_every_field() {
    for (name, generated) in all() {
        let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
        let mut undocumented = Vec::new();
        walk(&schema, "", &mut undocumented);
        assert!(
            undocumented.is_empty(),
            "{name}: properties without a description: {undocumented:?}"
        );
    }
}

fn walk(value: &serde_json::Value, path: &str, undocumented: &mut Vec<String>) {
    let described_here = value.get("description").is_some();
    if let Some(props) = value.get("properties").and_then(|p| p.as_object()) {
        for (key, prop) in props {
            // An enum variant (`oneOf` item with one property) carries its doc on the item.
            let has_doc = prop.get("description").is_some() || described_here && props.len() == 1;
            if !has_doc {
                undocumented.push(format!("{path}/{key}"));
            }
        }
    }
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| walk(v, &format!("{path}/{k}"), undocumented)),
        serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, path, undocumented)),
        _ => {}
    }
}
