//! Whether a rule's `match` and `exclude` blocks select an admission request, as Kyverno v1.19
//! decides it (`pkg/engine/utils/match.go`, `pkg/utils/match/*.go`): `any` needs one filter,
//! `all` every filter; within a filter every criterion that is given must hold and one left
//! empty is not checked, kinds included, so an `exclude` naming only namespaces excludes every
//! object in them; an empty filter matches nothing and excludes nothing; names, namespaces and
//! annotation values are wildcard patterns; `exclude` wins over `match`.
//!
//! Offline there is no requester, as in `kyverno test` without a user-info file: a `match`
//! filter's `subjects`, `roles` and `clusterRoles` are dropped (match.go does so when the
//! request info is empty), while an `exclude` filter's are compared with the empty user and so
//! never hold. A `namespaceSelector` is evaluated on the labels the caller knows for the
//! namespace (none when it knows none, as `kyverno test` passes an empty map), so `NotIn` and
//! `DoesNotExist` can match a namespace nobody described.
//!
//! Kyverno's policy validation rejects a `match` filter without `kinds`
//! (`pkg/validation/policy/validate.go`), and so does `lab validate`; kindless `exclude`
//! filters are common and valid.

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
    /// As the admission request names it.
    pub fn as_str(self) -> &'static str {
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
    /// `metadata.name`, or `metadata.generateName` for an object still to be named.
    fn name_or_generate_name(&self) -> &str {
        match self.name() {
            "" => self
                .object
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
                .unwrap_or(""),
            name => name,
        }
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

/// Whether `rule` applies to the request, as `MatchesResourceDescription` decides it: the
/// `match` block must select the object, and then an `exclude` block must not exclude it.
pub fn applies(rule: &EffectiveRule<'_>, request: &Request<'_>) -> bool {
    let selected = match_selects(&rule.rule.match_resources, rule.generated, request);
    let excluded = rule
        .rule
        .exclude
        .as_ref()
        .is_some_and(|e| exclude_excludes(e, rule.generated, request));
    selected && !excluded
}

/// The older single-filter form of a block (`resources` beside `subjects`, `roles`, ...).
fn legacy_filter(block: &MatchResources) -> ResourceFilter {
    ResourceFilter {
        resources: block.resources.clone(),
        subjects: block.subjects.clone(),
        roles: block.roles.clone(),
        cluster_roles: block.cluster_roles.clone(),
    }
}

/// `match`: `any` when given, else `all`, else the older single filter.
fn match_selects(block: &MatchResources, generated: bool, request: &Request<'_>) -> bool {
    let selects = |f: &ResourceFilter| filter_selects(f, generated, request);
    if !block.any.is_empty() {
        block.any.iter().any(selects)
    } else if !block.all.is_empty() {
        block.all.iter().all(selects)
    } else {
        selects(&legacy_filter(block))
    }
}

/// `exclude`: `any` when given, else `all` (every filter must exclude), else the single filter.
fn exclude_excludes(block: &MatchResources, generated: bool, request: &Request<'_>) -> bool {
    let excludes = |f: &ResourceFilter| filter_excludes(f, generated, request);
    if !block.any.is_empty() {
        block.any.iter().any(excludes)
    } else if !block.all.is_empty() {
        block.all.iter().all(excludes)
    } else {
        excludes(&legacy_filter(block))
    }
}

/// `matchesResourceDescriptionMatchHelper`. Kyverno drops a match filter's user info when the
/// request carries none, as `kyverno test` (and so every offline request) does: `subjects`,
/// `roles` and `clusterRoles` are then ignored, and a filter with nothing else matches nothing
/// ("match cannot be empty").
fn filter_selects(filter: &ResourceFilter, generated: bool, request: &Request<'_>) -> bool {
    filter
        .resources
        .as_ref()
        .filter(|d| !description_is_empty(d))
        .is_some_and(|d| description_holds(d, generated, request))
}

/// `matchesResourceDescriptionExcludeHelper`: an empty filter excludes nothing; user info is
/// kept and checked against the empty requester, which only a `User` subject named `*` (or
/// an empty name) matches.
fn filter_excludes(filter: &ResourceFilter, generated: bool, request: &Request<'_>) -> bool {
    let description = filter
        .resources
        .as_ref()
        .filter(|d| !description_is_empty(d));
    let has_user_info =
        !filter.subjects.is_empty() || !filter.roles.is_empty() || !filter.cluster_roles.is_empty();
    if description.is_none() && !has_user_info {
        return false;
    }
    let description_ok = description.is_none_or(|d| description_holds(d, generated, request));
    // Roles and cluster roles are compared with the requester's, of which there are none.
    let roles_ok = filter.roles.is_empty() && filter.cluster_roles.is_empty();
    let subjects_ok = filter.subjects.is_empty() || filter.subjects.iter().any(names_empty_user);
    description_ok && roles_ok && subjects_ok
}

/// `CheckSubjects` against the empty `UserInfo` Kyverno has offline: a `User` subject whose
/// name pattern matches the empty username; service accounts and groups never match.
fn names_empty_user(subject: &Value) -> bool {
    subject["kind"].as_str() == Some("User")
        && wildcard::matches(subject["name"].as_str().unwrap_or(""), "")
}

/// `ResourceDescription.IsEmpty`.
fn description_is_empty(d: &ResourceDescription) -> bool {
    d.kinds.is_empty()
        && d.name.as_deref().is_none_or(str::is_empty)
        && d.names.is_empty()
        && d.namespaces.is_empty()
        && d.annotations.is_empty()
        && d.selector.is_none()
        && d.namespace_selector.is_none()
        && d.operations.is_empty()
}

/// `doesResourceMatchConditionBlock` for the resource description: every criterion that is
/// given must hold, and a criterion left empty is not checked (kinds included).
fn description_holds(d: &ResourceDescription, generated: bool, request: &Request<'_>) -> bool {
    let operation_ok =
        d.operations.is_empty() || d.operations.iter().any(|o| o == request.operation.as_str());
    let kind_ok = d.kinds.is_empty() || d.kinds.iter().any(|k| kind_matches(k, generated, request));
    let name = request.name_or_generate_name();
    let name_ok = d
        .name
        .as_deref()
        .is_none_or(|n| n.is_empty() || wildcard::matches(n, name));
    let names_ok = d.names.is_empty() || d.names.iter().any(|n| wildcard::matches(n, name));
    // checkNameSpace: a Namespace is matched by its own name, a cluster-scoped object by "".
    let namespace = if request.kind() == "Namespace" {
        request.name()
    } else {
        request.namespace_name()
    };
    let namespace_ok =
        d.namespaces.is_empty() || d.namespaces.iter().any(|p| wildcard::matches(p, namespace));
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
    // A namespaceSelector never selects a Namespace itself, is not checked for an object
    // without a kind, and is evaluated on the labels Kyverno has for the namespace, none when
    // it knows none (kyverno test's empty map).
    let namespace_selector_ok = d.namespace_selector.as_ref().is_none_or(|s| {
        request.kind() != "Namespace"
            && (request.kind().is_empty() || selector_matches(s, request.labels()))
    });
    operation_ok
        && kind_ok
        && name_ok
        && names_ok
        && namespace_ok
        && annotations_ok
        && selector_ok
        && namespace_selector_ok
}

/// `CheckKind` with `ParseKindSelector` (`pkg/utils/kube/kind.go`): `Kind`, `version/Kind`,
/// `group/version/Kind`, with an optional subresource, each part a wildcard pattern. Offline
/// requests are never for a subresource. A generated rule's Pod stands for the controller.
fn kind_matches(pattern: &str, generated: bool, request: &Request<'_>) -> bool {
    if generated && is_pod(pattern) {
        return true;
    }
    let Some(selector) = KindSelector::parse(pattern) else {
        return false;
    };
    let (group, version) = request
        .api_version()
        .rsplit_once('/')
        .unwrap_or(("", request.api_version()));
    wildcard::matches(selector.group, group)
        && wildcard::matches(selector.version, version)
        && wildcard::matches(selector.kind, request.kind())
        && wildcard::matches(selector.subresource, "")
}

/// A kind pattern split as `ParseKindSelector` splits it.
pub(crate) struct KindSelector<'a> {
    pub(crate) group: &'a str,
    pub(crate) version: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) subresource: &'a str,
}

impl<'a> KindSelector<'a> {
    pub(crate) fn parse(input: &'a str) -> Option<Self> {
        let mut parts: Vec<&str> = input.split('/').collect();
        if let Some(last) = parts.pop() {
            parts.extend(last.split('.'));
        }
        let is_version = |s: &str| s == "*" || is_kube_version(s);
        let selector = |group, version, kind, subresource| {
            Some(KindSelector {
                group,
                version,
                kind,
                subresource,
            })
        };
        match parts[..] {
            [kind] => selector("*", "*", kind, ""),
            ["*", "*"] => selector("*", "*", "*", "*"),
            ["*", sub] if sub.to_lowercase() == sub => selector("*", "*", "*", sub),
            [version, kind] if is_version(version) => selector("*", version, kind, ""),
            [kind, sub] => selector("*", "*", kind, sub),
            [version, kind, sub] if is_version(version) => selector("*", version, kind, sub),
            [group, version, kind] => selector(group, version, kind, ""),
            [group, version, kind, sub] => selector(group, version, kind, sub),
            _ => None,
        }
    }
}

/// `^v\d((alpha|beta)\d)?$`: one digit, as Kyverno's `versionRegex` has it.
pub(crate) fn is_kube_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let mut chars = rest.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_digit()) {
        return false;
    }
    let tail = chars.as_str();
    tail.is_empty()
        || ["alpha", "beta"].iter().any(|stage| {
            tail.strip_prefix(stage)
                .is_some_and(|d| d.len() == 1 && d.chars().all(|c| c.is_ascii_digit()))
        })
}

/// A label selector as `CheckSelector` (`pkg/utils/match/labels.go`) evaluates it: wildcards in
/// `matchLabels` keys and values are first replaced by a label they match
/// (`wildcards.ReplaceInSelector`), then `matchLabels` and `matchExpressions` (In, NotIn,
/// Exists, DoesNotExist) must all hold. A selector Kubernetes cannot parse (In or NotIn with no
/// values, Exists or DoesNotExist with values, another operator) matches nothing.
pub fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector["matchLabels"].as_object().is_none_or(|m| {
        m.iter().all(|(k, v)| {
            let Some(v) = v.as_str() else {
                return false;
            };
            if k.contains(['*', '?']) || v.contains(['*', '?']) {
                labels
                    .iter()
                    .any(|(lk, lv)| wildcard::matches(k, lk) && wildcard::matches(v, lv))
                    || labels.get(&without_wildcards(k)) == Some(&without_wildcards(v))
            } else {
                labels.get(k).map(String::as_str) == Some(v)
            }
        })
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
                Some("In") if !values.is_empty() => value.is_some_and(|v| values.contains(&v)),
                Some("NotIn") if !values.is_empty() => value.is_none_or(|v| !values.contains(&v)),
                Some("Exists") if values.is_empty() => value.is_some(),
                Some("DoesNotExist") if values.is_empty() => value.is_none(),
                _ => false,
            }
        })
    });
    labels_ok && expressions_ok
}

/// `replaceWildCardChars`: a wildcard that matched no label becomes `0`.
fn without_wildcards(s: &str) -> String {
    s.replace(['*', '?'], "0")
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

    /// A Pod named `name` in `ns` with the given labels and annotations.
    fn pod_with(ns: &str, name: &str, labels: Value, annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations}})
    }

    /// `block` (`match` or `exclude`) with one `any` filter whose resources are `description`.
    fn one_filter(block: &str, description: &str) -> String {
        format!("      {block}:\n        any:\n          - resources:\n{description}")
    }

    /// Each criterion alone, with a Pod it selects and one it does not.
    fn single_criteria() -> [(&'static str, &'static str, Value, Value); 4] {
        [
            (
                "namespaces",
                "              namespaces: [kube-*]\n",
                pod_with("kube-system", "a", json!({}), json!({})),
                pod_with("develop", "a", json!({}), json!({})),
            ),
            (
                "names",
                "              names: [hotfix-*]\n",
                pod_with("develop", "hotfix-1", json!({}), json!({})),
                pod_with("develop", "demo-1", json!({}), json!({})),
            ),
            (
                "selector",
                "              selector:\n                matchLabels: {trusted: 'yes'}\n",
                pod_with("develop", "a", json!({"trusted": "yes"}), json!({})),
                pod_with("develop", "a", json!({"trusted": "no"}), json!({})),
            ),
            (
                "annotations",
                "              annotations: {break-glass: 'ticket-*'}\n",
                pod_with(
                    "develop",
                    "a",
                    json!({}),
                    json!({"break-glass": "ticket-42"}),
                ),
                pod_with("develop", "a", json!({}), json!({"other": "ticket-42"})),
            ),
        ]
    }

    const ALL_PODS: &str = "        any:\n          - resources:\n              kinds: [Pod]\n";

    // Issue 10 item 11: an exclude without kinds never excluded, because every criterion,
    // kinds included, had to hold; match.go checks kinds only when some are given.
    #[test]
    fn exclude_with_only_namespaces_names_a_selector_or_annotations_excludes() {
        for (criterion, description, excluded, kept) in single_criteria() {
            let p = policy(ALL_PODS, &one_filter("exclude", description));
            assert!(admits(&p, &excluded).is_empty(), "{criterion}: excluded");
            assert_eq!(admits(&p, &kept), ["r"], "{criterion}: kept");
        }
    }

    // Kyverno's validation refuses a match filter without kinds, but its engine checks only
    // the criteria given; the evaluator does the same for policies built in code.
    #[test]
    fn match_with_only_namespaces_names_a_selector_or_annotations_selects_any_kind() {
        for (criterion, description, selected, other) in single_criteria() {
            let block = one_filter("match", description);
            let block = block.trim_start_matches("      match:\n");
            let p = policy(block, "");
            assert_eq!(admits(&p, &selected), ["r"], "{criterion}: selected");
            assert!(admits(&p, &other).is_empty(), "{criterion}: not selected");
        }
        let p = policy(
            "        any:\n          - resources:\n              namespaces: [develop]\n",
            "",
        );
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "develop"}});
        assert_eq!(admits(&p, &service), ["r"], "no kinds: every kind");
    }

    // A pod controller in an excluded namespace is excluded too: the generated rule keeps the
    // kindless exclude filter as written (autogen only rewrites filters that name Pods).
    #[test]
    fn a_kindless_exclude_applies_to_the_generated_controller_rule() {
        let p = policy(
            ALL_PODS,
            &one_filter("exclude", "              namespaces: [kube-system]\n"),
        );
        let deployment = |ns: &str| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": ns}});
        assert!(admits(&p, &deployment("kube-system")).is_empty());
        assert_eq!(admits(&p, &deployment("develop")), ["autogen-r"]);
    }

    // match.go: an empty filter is "match cannot be empty" under match and excludes nothing.
    #[test]
    fn an_empty_filter_matches_nothing_and_excludes_nothing() {
        let empty = "        any:\n          - resources: {}\n";
        assert!(admits(&policy(empty, ""), &pod("develop", json!({}))).is_empty());
        let p = policy(ALL_PODS, &format!("      exclude:\n{empty}"));
        assert_eq!(admits(&p, &pod("develop", json!({}))), ["r"]);
    }

    #[test]
    fn exclude_all_needs_every_filter_to_exclude() {
        let exclude = "      exclude:\n        all:\n          - resources:\n              namespaces: [develop]\n          - resources:\n              names: [hotfix-*]\n";
        let p = policy(ALL_PODS, exclude);
        let hotfix = pod_with("develop", "hotfix-1", json!({}), json!({}));
        assert!(admits(&p, &hotfix).is_empty());
        assert_eq!(admits(&p, &pod("develop", json!({}))), ["r"]);
    }

    // match.go clears a match filter's user info when the request has none (kyverno test),
    // but compares an exclude filter's with the empty user, which no role or group matches.
    #[test]
    fn match_subjects_are_dropped_offline_and_exclude_subjects_never_hold() {
        let subjects = "            subjects:\n              - kind: Group\n                name: system:masters\n";
        let p = policy(&format!("{ALL_PODS}{subjects}"), "");
        assert_eq!(admits(&p, &pod("x", json!({}))), ["r"]);
        let only_subjects = "        any:\n          - subjects:\n              - kind: User\n                name: alice\n";
        assert!(admits(&policy(only_subjects, ""), &pod("x", json!({}))).is_empty());
        let p = policy(
            ALL_PODS,
            &format!(
                "      exclude:\n        any:\n          - resources:\n              namespaces: [x]\n{subjects}"
            ),
        );
        assert_eq!(admits(&p, &pod("x", json!({}))), ["r"]);
        let roles = "      exclude:\n        any:\n          - clusterRoles: [cluster-admin]\n";
        assert_eq!(
            admits(&policy(ALL_PODS, roles), &pod("x", json!({}))),
            ["r"]
        );
    }

    // checkNameSpace: a Namespace object is in the namespace of its own name.
    #[test]
    fn a_namespace_is_matched_by_its_own_name_and_a_pod_by_its_generate_name() {
        let p = policy(
            "        any:\n          - resources:\n              kinds: [Namespace]\n              namespaces: [develop]\n",
            "",
        );
        let namespace =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "develop"}});
        assert_eq!(admits(&p, &namespace), ["r"]);
        let p = policy(
            "        any:\n          - resources:\n              kinds: [Pod]\n              names: [demo-*]\n",
            "",
        );
        let unnamed = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "demo-", "namespace": "x"}});
        assert_eq!(admits(&p, &unnamed), ["r"]);
    }

    // ParseKindSelector: Kind, version/Kind, group/version/Kind, with subresources; an
    // offline request is never for a subresource.
    #[test]
    fn kind_selectors_parse_as_kyverno_parses_them() {
        let pod = pod("x", json!({}));
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "x"}});
        let on = |pattern: &str, object: &Value| {
            let request = Request {
                object,
                operation: Operation::Create,
                namespace_labels: None,
            };
            kind_matches(pattern, false, &request)
        };
        assert!(on("Pod", &pod) && on("v1/Pod", &pod) && on("*/*", &pod) && on("*", &pod));
        assert!(!on("apps/v1/Pod", &pod) && !on("Pod/ephemeralcontainers", &pod));
        assert!(on("apps/v1/Deployment", &deployment) && on("apps/*/Deployment", &deployment));
        assert!(on("v1/Deployment", &deployment) && !on("batch/v1/Deployment", &deployment));
        assert!(!on("Deployment/scale", &deployment) && !on("a/b/c/d/e", &deployment));
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
        // Kubernetes refuses to parse these, and CheckSelector then matches nothing.
        assert!(!selector_matches(&sel("NotIn", json!([])), &labels));
        assert!(!selector_matches(&sel("Exists", json!(["demo"])), &labels));
        assert!(!selector_matches(&sel("Gt", json!(["1"])), &labels));
    }

    // wildcards.ReplaceInSelector: a wildcard in matchLabels stands for a label it matches.
    #[test]
    fn match_labels_may_hold_wildcards() {
        let labels = BTreeMap::from([("app.kubernetes.io/name".to_owned(), "demo".to_owned())]);
        assert!(selector_matches(
            &json!({"matchLabels": {"app.kubernetes.io/*": "d?mo"}}),
            &labels
        ));
        assert!(!selector_matches(
            &json!({"matchLabels": {"app.kubernetes.io/*": "x*"}}),
            &labels
        ));
        assert!(!selector_matches(
            &json!({"matchLabels": {"app.kubernetes.io/name": 1}}),
            &labels
        ));
    }
}
