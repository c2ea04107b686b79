use super::*;

fn node(yaml: &str) -> Node {
    serde_saphyr::from_str(yaml).unwrap()
}

/// What the committed schema says of a policy, as `path: message @line`.
fn problems(policy: &str) -> Vec<String> {
    check(&node(policy))
        .into_iter()
        .map(|e| format!("{}: {} @{}", e.path, e.message, e.line))
        .collect()
}

const POLICY: &str = "\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-images
spec:
  background: false
  rules:
    - name: verify
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: [\"registry.example/*\"]
          failureAction: Enforce
          mutateDigest: true
          attestors:
            - count: 1
              entries:
                - keys:
                    publicKeys: \"${cosign_public_key}\"
                    rekor: {ignoreTlog: true}
                    ctlog: {ignoreSCT: true}
";

fn with(from: &str, to: &str) -> String {
    assert!(POLICY.contains(from), "{from}");
    POLICY.replacen(from, to, 1)
}

#[test]
fn the_committed_schema_is_kyvernos_and_accepts_a_plain_policy() {
    let schema: Value = serde_json::from_str(SCHEMA_JSON).unwrap();
    assert!(
        schema["properties"]["spec"]["properties"]["rules"]["items"]["properties"]["verifyImages"]
            .is_object(),
        "the committed file is the ClusterPolicy v1 schema"
    );
    assert_eq!(unknown_keywords(&schema), Vec::<String>::new());
    assert_eq!(problems(POLICY), Vec::<String>::new());
}

#[test]
fn every_ch14_policy_fits_the_schema() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/labs/ch14/policies");
    let mut seen = 0;
    for flavour in ["keyed", "keyless"] {
        for entry in std::fs::read_dir(format!("{dir}/{flavour}")).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let docs: Vec<Node> = serde_saphyr::from_multiple(&text).unwrap();
            for doc in docs {
                assert_eq!(check(&doc), Vec::new(), "{text}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 4, "{seen}");
}

#[test]
fn an_unknown_field_is_refused_at_its_key() {
    assert_eq!(
        problems(&with("mutateDigest: true", "mutateDigests: true")),
        [
            "spec.rules[0].verifyImages[0].mutateDigests: is not a field of this object (kubectl apply refuses unknown fields) @16"
        ]
    );
}

#[test]
fn types_enums_limits_and_required_fields_are_held() {
    assert_eq!(
        problems(&with("failureAction: Enforce", "failureAction: Deny")),
        [
            "spec.rules[0].verifyImages[0].failureAction: \"Deny\" is not one of \"Audit\", \"Enforce\" @15"
        ]
    );
    assert_eq!(
        problems(&with("- count: 1", "- count: 0")),
        ["spec.rules[0].verifyImages[0].attestors[0].count: is 0, and must be at least 1 @18"]
    );
    assert_eq!(
        problems(&with("background: false", "background: \"no\"")),
        ["spec.background: must be a boolean, not string \"no\" @6"]
    );
    assert_eq!(
        problems(&with(
            "    - name: verify\n",
            &format!("    - name: {}\n", "r".repeat(64))
        )),
        ["spec.rules[0].name: is 64 characters long, more than the 63 allowed @8"]
    );
    assert_eq!(
        problems(&with("    - name: verify\n      match:", "    - match:")),
        ["spec.rules[0].name: is required and missing @8"]
    );
}

#[test]
fn fields_that_exclude_each_other_are_told_by_name() {
    let both = with(
        "      verifyImages:",
        "      exclude:\n        any: [{resources: {namespaces: [a]}}]\n        all: [{resources: {namespaces: [b]}}]\n      verifyImages:",
    );
    assert_eq!(
        problems(&both),
        ["spec.rules[0].exclude: may not set `any` and `all` together @14"]
    );
    let no_source = with(
        "      verifyImages:",
        "      context:\n        - name: x\n      verifyImages:",
    );
    let found = problems(&no_source);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with(
            "spec.rules[0].context[0]: must set exactly one of `configMap`, `apiCall`"
        ),
        "{found:?}"
    );
    assert!(found[0].ends_with("and sets none @14"), "{found:?}");
}

#[test]
fn placeholders_and_nulls_are_left_for_the_rendered_policy() {
    assert_eq!(
        problems(&with("- count: 1", "- count: ${n}")),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(&with("failureAction: Enforce", "failureAction: ${mode}")),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(&with("mutateDigest: true", "mutateDigest: null")),
        Vec::<String>::new()
    );
}

#[test]
fn sets_and_maps_refuse_repeated_items() {
    let schema: Schema = serde_json::from_str(
        r#"{"type":"object","properties":{
            "tags":{"type":"array","items":{"type":"string"},"x-kubernetes-list-type":"set"},
            "ports":{"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["port"],
                     "items":{"type":"object","properties":{"port":{"type":"integer"},"name":{"type":"string"}}}}}}"#,
    )
    .unwrap();
    let doc = node("tags: [a, b, a]\nports:\n  - {port: 1, name: a}\n  - {port: 1, name: b}\n");
    let mut out = Vec::new();
    validate(&schema, &doc, &mut Path::root(), &mut out, Fields::Known);
    let found: Vec<String> = out
        .iter()
        .map(|e| format!("{}: {} @{}", e.path, e.message, e.line))
        .collect();
    assert_eq!(
        found,
        [
            "tags[2]: repeats the same item as one before it: \"a\" @1",
            "ports[1]: repeats an item with the same port as one before it: [1] @4",
        ]
    );
}

#[test]
fn the_schema_is_made_from_a_crd_without_descriptions_or_status() {
    let crd = "\
spec:
  versions:
    - name: v2beta1
      schema: {openAPIV3Schema: {type: string}}
    - name: v1
      schema:
        openAPIV3Schema:
          description: top
          type: object
          properties:
            description: {type: string, description: a property named description stays}
            spec:
              type: object
              oneOf: [{required: [a], description: gone}]
              properties:
                a: {type: array, items: {type: string, description: gone}}
            status: {type: object}
";
    let made: Value = serde_json::from_str(&schema_from_crd(crd).unwrap()).unwrap();
    assert_eq!(
        made,
        serde_json::json!({
            "type": "object",
            "properties": {
                "description": {"type": "string"},
                "spec": {
                    "type": "object",
                    "oneOf": [{"required": ["a"]}],
                    "properties": {"a": {"type": "array", "items": {"type": "string"}}}
                }
            }
        })
    );
    assert!(schema_from_crd("spec: {versions: []}").is_err());
}
