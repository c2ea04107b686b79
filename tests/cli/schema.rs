//! The committed JSON Schemas must equal what the model generates. Regenerate them with
//! `UPDATE_SCHEMAS=1 cargo test --test cli schema`.

use super::repo;

/// Every schema `lab` generates: the course files' and the submission statement's.
fn all() -> Vec<(&'static str, String)> {
    let mut all = courselab::content::schema::all();
    all.push(courselab::submission::statement::schema());
    all.push(courselab::report::grade::schema());
    all.push(courselab::bundle::manifest::schema());
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

/// The Kyverno module the peers are built from (`.ci/peers/kyverno/go.mod`), found or fetched
/// by Go from the module proxy: its folder.
pub fn kyverno_module() -> std::path::PathBuf {
    let go_mod = std::fs::read_to_string(repo().join(".ci/peers/kyverno/go.mod")).unwrap();
    let version = go_mod
        .lines()
        .find_map(|l| l.trim().strip_prefix("github.com/kyverno/kyverno v"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the peers pin github.com/kyverno/kyverno");
    let out = std::process::Command::new("go")
        .args(["mod", "download", "-json"])
        .arg(format!("github.com/kyverno/kyverno@v{version}"))
        .current_dir(repo().join(".ci/peers/kyverno"))
        .output()
        .expect("Go runs (it builds the test peers; see .ci/run)");
    assert!(
        out.status.success(),
        "go mod download: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        format!("v{version}"),
        courselab::policy::crd::CRD_KYVERNO_VERSION,
        "the peers' Kyverno and the CRD schema's version must be the same: regenerate it"
    );
    std::path::PathBuf::from(info["Dir"].as_str().expect("go names the module's folder"))
}

/// The committed Kyverno CRD schema is the pinned module's, and uses only keywords the
/// validator knows. Regenerate it with `UPDATE_SCHEMAS=1 cargo test --test cli schema`.
#[test]
fn committed_kyverno_crd_schema_is_the_pinned_modules() {
    let crds = kyverno_module().join("config/crds/kyverno");
    let cluster = std::fs::read_to_string(crds.join("kyverno.io_clusterpolicies.yaml")).unwrap();
    let generated = courselab::policy::crd::schema_from_crd(&cluster).unwrap();
    // A namespaced Policy is held to the same schema.
    let namespaced = std::fs::read_to_string(crds.join("kyverno.io_policies.yaml")).unwrap();
    assert_eq!(
        courselab::policy::crd::schema_from_crd(&namespaced).unwrap(),
        generated,
        "Policy's v1 schema differs from ClusterPolicy's"
    );
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(
        courselab::policy::crd::unknown_keywords(&schema),
        Vec::<String>::new(),
        "keywords the validator does not know"
    );
    let path = repo().join("src/policy/crd/clusterpolicy-v1.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated && std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    assert!(
        committed == generated,
        "src/policy/crd/clusterpolicy-v1.json is stale: run `UPDATE_SCHEMAS=1 cargo test --test cli schema` and commit it"
    );
}
