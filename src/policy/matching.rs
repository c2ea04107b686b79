//! Whether a rule's `match` and `exclude` blocks select an admission request, as Kyverno decides
//! it (`pkg/engine/utils/match.go`, `pkg/utils/match/*.go`): `any` needs one filter, `all` every
//! filter; within a filter every given criterion must hold; names, namespaces and annotation
//! values are wildcard patterns; `exclude` wins over `match`.
//!
//! Offline there is no requester: filters on `subjects`, `roles` or `clusterRoles` never match.
//! A `namespaceSelector` is evaluated on the labels the caller knows for the namespace (none
//! when it knows none, as `kyverno test` passes an empty map), so `NotIn` and `DoesNotExist`
//! can match a namespace nobody described.

use std::collections::BTreeMap;

use serde_json::Value;

use super::autogen::{EffectiveRule, is_pod};
use super::model::{KyvernoPolicy, MatchResources, ResourceDescription, ResourceFilter};
use crate::wildcard;

/// The admission operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A new object.
    Create,
    /// A changed object.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
        }
    }
}

/// What the matcher needs to know about a request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The object.
    pub object: &'a Value,
    /// The operation.
    pub operation: Operation,
    /// Labels of the object's namespace, when known.
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
}

/// The labels of a namespace Kyverno knows nothing about.
static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

impl<'a> Request<'a> {
    /// A CREATE of `object`, with its namespace's labels looked up in `labels_by_namespace`.
    pub fn create(
        object: &'a Value,
        labels_by_namespace: &'a BTreeMap<String, BTreeMap<String, String>>,
    ) -> Self {
        Request {
            object,
            operation: Operation::Create,
            namespace_labels: object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .and_then(|ns| labels_by_namespace.get(ns)),
        }
    }

    /// The object's namespace, empty for a cluster-scoped object.
    pub fn namespace_name(&self) -> &str {
        self.namespace().unwrap_or("")
    }

    /// The namespace's labels, none when they are not known.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        self.namespace_labels.unwrap_or(&NO_LABELS)
    }
}

impl Request<'_> {
    fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or("")
    }
    fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    fn namespace(&self) -> Option<&str> {
        self.object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
    }
    fn string_map(&self, key: &str) -> BTreeMap<String, String> {
        metadata_map(self.object, key)
    }
}

/// An object's `metadata.<key>` (`labels` or `annotations`) as strings; non-string values are
/// left out.
pub fn metadata_map(object: &Value, key: &str) -> BTreeMap<String, String> {
    object
        .pointer(&format!("/metadata/{key}"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Kinds that live outside namespaces, among those a course's manifests are likely to hold.
const CLUSTER_SCOPED_KINDS: [&str; 16] = [
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "CSIDriver",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ClusterPolicy",
    "ClusterPolicyReport",
];

/// Puts a namespaced object written without `metadata.namespace` into `default`, as the API
/// server does and as `kyverno test` loads resources (`cmd/cli/kubectl-kyverno/resource/
/// resource.go`), so that namespace matching, selectors and the denial text see it there.
pub fn default_namespace(object: &mut Value) {
    let kind = object["kind"].as_str().unwrap_or("");
    if kind.is_empty() || CLUSTER_SCOPED_KINDS.contains(&kind) {
        return;
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut)
        && metadata
            .get("namespace")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        metadata.insert("namespace".into(), Value::String("default".into()));
    }
}

/// Whether a policy can apply to the object at all: a namespaced `Policy` only to objects of
/// its own namespace (`pkg/engine/utils/match.go`: "policy and resource namespaces mismatch").
pub fn policy_in_scope(policy: &KyvernoPolicy, object: &Value) -> bool {
    policy.metadata.namespace.as_deref().is_none_or(|ns| {
        object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            == Some(ns)
    })
}

/// Whether `rule` applies to the request.
pub fn applies(rule: &EffectiveRule<'_>, request: &Request<'_>) -> bool {
    let selected = block_matches(&rule.rule.match_resources, rule.generated, request);
    let excluded = rule
        .rule
        .exclude
        .as_ref()
        .is_some_and(|e| block_matches(e, rule.generated, request));
    selected && !excluded
}

fn block_matches(block: &MatchResources, generated: bool, request: &Request<'_>) -> bool {
    if let Some(resources) = &block.resources {
        let legacy = ResourceFilter {
            resources: Some(resources.clone()),
            subjects: block.subjects.clone(),
            roles: block.roles.clone(),
            cluster_roles: block.cluster_roles.clone(),
        };
        return filter_matches(&legacy, generated, request);
    }
    if !block.any.is_empty() {
        return block
            .any
            .iter()
            .any(|f| filter_matches(f, generated, request));
    }
    !block.all.is_empty()
        && block
            .all
            .iter()
            .all(|f| filter_matches(f, generated, request))
}

fn filter_matches(filter: &ResourceFilter, generated: bool, request: &Request<'_>) -> bool {
    if !filter.subjects.is_empty() || !filter.roles.is_empty() || !filter.cluster_roles.is_empty() {
        return false;
    }
    filter
        .resources
        .as_ref()
        .is_some_and(|d| description_matches(d, generated, request))
}

fn description_matches(d: &ResourceDescription, generated: bool, request: &Request<'_>) -> bool {
    let kind_ok = d.kinds.iter().any(|k| kind_matches(k, generated, request));
    let names: Vec<&String> = d.names.iter().chain(&d.name).collect();
    let name_ok = names.is_empty() || names.iter().any(|n| wildcard::matches(n, request.name()));
    let namespace_ok = d.namespaces.is_empty()
        || request
            .namespace()
            .is_some_and(|ns| d.namespaces.iter().any(|p| wildcard::matches(p, ns)));
    let operation_ok =
        d.operations.is_empty() || d.operations.iter().any(|o| o == request.operation.as_str());
    let annotations = request.string_map("annotations");
    let annotations_ok = d.annotations.iter().all(|(k, v)| {
        annotations
            .iter()
            .any(|(ak, av)| wildcard::matches(k, ak) && wildcard::matches(v, av))
    });
    let selector_ok = d
        .selector
        .as_ref()
        .is_none_or(|s| selector_matches(s, &request.string_map("labels")));
    // match.go: a namespaceSelector never selects a Namespace itself, and is evaluated on the
    // labels Kyverno has for the namespace, none when it knows none (kyverno test's empty map).
    let namespace_selector_ok = d
        .namespace_selector
        .as_ref()
        .is_none_or(|s| request.kind() != "Namespace" && selector_matches(s, request.labels()));
    kind_ok
        && name_ok
        && namespace_ok
        && operation_ok
        && annotations_ok
        && selector_ok
        && namespace_selector_ok
}

/// `Pod`, `v1/Pod`, `apps/v1/Deployment` or `*`; a generated rule's Pod stands for the controller.
fn kind_matches(pattern: &str, generated: bool, request: &Request<'_>) -> bool {
    if pattern == "*" {
        return true;
    }
    if generated && is_pod(pattern) {
        return true;
    }
    let (group_version, kind) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    if !wildcard::matches(kind, request.kind()) {
        return false;
    }
    group_version.is_empty()
        || wildcard::matches(group_version, request.api_version())
        || request
            .api_version()
            .ends_with(&format!("/{group_version}"))
}

/// A label selector: `matchLabels` and `matchExpressions` (In, NotIn, Exists, DoesNotExist).
pub fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector["matchLabels"].as_object().is_none_or(|m| {
        m.iter()
            .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
    });
    let expressions_ok = selector["matchExpressions"].as_array().is_none_or(|exprs| {
        exprs.iter().all(|e| {
            let key = e["key"].as_str().unwrap_or("");
            let values: Vec<&str> = e["values"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let value = labels.get(key).map(String::as_str);
            match e["operator"].as_str() {
                Some("In") => value.is_some_and(|v| values.contains(&v)),
                Some("NotIn") => value.is_none_or(|v| !values.contains(&v)),
                Some("Exists") => value.is_some(),
                Some("DoesNotExist") => value.is_none(),
                _ => false,
            }
        })
    });
    labels_ok && expressions_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::autogen::rules_for_kind;
    use crate::policy::model::KyvernoPolicy;
    use serde_json::json;

    fn policy(match_block: &str, exclude: &str) -> KyvernoPolicy {
        let text = format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  rules:\n    - name: r\n      match:\n{match_block}{exclude}      verifyImages:\n        - imageReferences: ['*']\n"
        );
        serde_saphyr::from_str(&text).unwrap()
    }

    fn admits(p: &KyvernoPolicy, object: &Value) -> Vec<String> {
        let request = Request {
            object,
            operation: Operation::Create,
            namespace_labels: None,
        };
        let kind = object["kind"].as_str().unwrap();
        rules_for_kind(p, kind)
            .into_iter()
            .filter(|r| applies(r, &request))
            .map(|r| r.name)
            .collect()
    }

    fn pod(ns: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "demo-1", "namespace": ns, "labels": labels}})
    }

    const DEVELOP_PODS: &str = "        any:\n          - resources:\n              kinds: [Pod]\n              namespaces: [develop]\n";

    #[test]
    fn kinds_and_namespaces_select() {
        let p = policy(DEVELOP_PODS, "");
        assert_eq!(admits(&p, &pod("develop", json!({}))), ["r"]);
        assert!(admits(&p, &pod("default", json!({}))).is_empty());
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "demo", "namespace": "develop"}});
        assert_eq!(admits(&p, &deployment), ["autogen-r"]);
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "demo", "namespace": "develop"}});
        assert!(admits(&p, &service).is_empty());
    }

    #[test]
    fn exclude_wins_over_match() {
        let p = policy(
            DEVELOP_PODS,
            "      exclude:\n        any:\n          - resources:\n              kinds: [Pod]\n              selector:\n                matchLabels: {trusted: 'yes'}\n",
        );
        assert_eq!(admits(&p, &pod("develop", json!({"trusted": "no"}))), ["r"]);
        assert!(admits(&p, &pod("develop", json!({"trusted": "yes"}))).is_empty());
    }

    #[test]
    fn all_needs_every_filter_and_names_are_wildcards() {
        let p = policy(
            "        all:\n          - resources:\n              kinds: [v1/Pod]\n          - resources:\n              kinds: [Pod]\n              names: ['demo-*']\n",
            "",
        );
        assert_eq!(admits(&p, &pod("x", json!({}))), ["r"]);
        let other = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "other", "namespace": "x"}});
        assert!(admits(&p, &other).is_empty());
    }

    #[test]
    fn subjects_never_match_offline() {
        let p = policy(
            "        any:\n          - resources:\n              kinds: [Pod]\n            subjects:\n              - kind: User\n                name: alice\n",
            "",
        );
        assert!(admits(&p, &pod("x", json!({}))).is_empty());
    }

    #[test]
    fn selector_expressions() {
        let labels = BTreeMap::from([("app".to_owned(), "demo".to_owned())]);
        let sel = |op: &str, values: Value| json!({"matchExpressions": [{"key": "app", "operator": op, "values": values}]});
        assert!(selector_matches(&sel("In", json!(["demo", "x"])), &labels));
        assert!(!selector_matches(&sel("NotIn", json!(["demo"])), &labels));
        assert!(selector_matches(&sel("Exists", json!([])), &labels));
        assert!(!selector_matches(&sel("DoesNotExist", json!([])), &labels));
        assert!(!selector_matches(
            &json!({"matchLabels": {"app": "other"}}),
            &labels
        ));
    }
}
