//! The configuration of the Kyverno a lab's cluster runs, which decides before any policy does
//! whether a request reaches the policies at all:
//! - the resource webhooks' `namespaceSelector` (the ConfigMap's `webhooks`): the API server
//!   does not even call Kyverno for a namespaced object in a namespace it leaves out;
//! - the ConfigMap's `resourceFilters`, `[kind,namespace,name]` entries: Kyverno answers
//!   "allowed" for a request one of them matches without evaluating anything
//!   (`pkg/webhooks/handlers/filter.go`, `withFilter`; `pkg/config/config.go`, `ToFilter`;
//!   `pkg/config/types.go`, `parseKinds`);
//! - Kyverno's own report kinds, which it never evaluates (`pkg/webhooks/utils/exclude.go`).
//!
//! [`KyvernoConfig::chart_default`] is what chart 3.9.0, the one the lab installs, writes as
//! release `kyverno` in namespace `kyverno`; [`KyvernoConfig::from_configmap`] reads another
//! ConfigMap (a file, or the one of a started lab's cluster).

use serde_json::Value;

use super::matching::{KindSelector, Request, metadata_map, selector_matches};
use crate::wildcard;

/// The chart's `config.resourceFilters` (`charts/kyverno/values.yaml`, 3.9.0), with
/// `[*/*,kyverno,*]` first as `excludeKyvernoNamespace` (on by default) puts it
/// (`charts/kyverno/templates/config/_helpers.tpl`). The chart's entries for its own objects
/// in the `kyverno` namespace are left out: `[*/*,kyverno,*]` already holds every one of them.
const CHART_RESOURCE_FILTERS: &str = "[*/*,kyverno,*] [Event,*,*] [*/*,kube-system,*] \
     [*/*,kube-public,*] [*/*,kube-node-lease,*] [Node,*,*] [Node/?*,*,*] [APIService,*,*] \
     [APIService/?*,*,*] [TokenReview,*,*] [SubjectAccessReview,*,*] \
     [SelfSubjectAccessReview,*,*] [Binding,*,*] [Pod/binding,*,*] [ReplicaSet,*,*] \
     [ReplicaSet/?*,*,*] [EphemeralReport,*,*] [ClusterEphemeralReport,*,*] \
     [ClusterRole,*,kyverno:admission-controller] [ClusterRole,*,kyverno:admission-controller:core] \
     [ClusterRole,*,kyverno:admission-controller:additional] \
     [ClusterRole,*,kyverno:background-controller] [ClusterRole,*,kyverno:background-controller:core] \
     [ClusterRole,*,kyverno:background-controller:additional] \
     [ClusterRole,*,kyverno:cleanup-controller] [ClusterRole,*,kyverno:cleanup-controller:core] \
     [ClusterRole,*,kyverno:cleanup-controller:additional] \
     [ClusterRole,*,kyverno:reports-controller] [ClusterRole,*,kyverno:reports-controller:core] \
     [ClusterRole,*,kyverno:reports-controller:additional] \
     [ClusterRoleBinding,*,kyverno:admission-controller] \
     [ClusterRoleBinding,*,kyverno:background-controller] \
     [ClusterRoleBinding,*,kyverno:cleanup-controller] \
     [ClusterRoleBinding,*,kyverno:reports-controller]";

/// The chart's `config.webhooks`, with the `kyverno` namespace added to its `NotIn` as
/// `excludeKyvernoNamespace` does (`kyverno.config.webhooks`).
const CHART_WEBHOOKS: &str = r#"{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system"]},{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kyverno"]}]}}"#;

/// One `[kind,namespace,name]` entry of `resourceFilters`, its kind split as
/// `ParseKindSelector` (`pkg/utils/kube/kind.go`) splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Filter {
    /// The entry as written, to name it.
    written: String,
    group: String,
    version: String,
    kind: String,
    subresource: String,
    namespace: String,
    name: String,
}

/// What Kyverno's configuration does to requests, before any policy.
#[derive(Debug, Clone, PartialEq)]
pub struct KyvernoConfig {
    /// Where it comes from, to say so (`chart 3.9.0's defaults`, a file's name).
    pub source: String,
    filters: Vec<Filter>,
    /// The resource webhooks' `namespaceSelector`, if any.
    namespace_selector: Option<Value>,
    /// The resource webhooks' `objectSelector`, if any.
    object_selector: Option<Value>,
}

/// Why a request never reaches the policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftOut {
    /// The API server does not call Kyverno: the webhooks' `namespaceSelector` (or
    /// `objectSelector`) leaves the object out.
    Webhook {
        /// `namespaceSelector` or `objectSelector`.
        selector: &'static str,
        /// What it left out (`namespace kube-system`).
        what: String,
    },
    /// Kyverno answers "allowed" at once: a `resourceFilters` entry matches.
    ResourceFilter(String),
    /// One of Kyverno's own report kinds, never evaluated.
    KyvernoResource(String),
}

impl std::fmt::Display for LeftOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeftOut::Webhook { selector, what } => write!(
                f,
                "left out by Kyverno's configuration, not by a policy: the resource webhooks' {selector} excludes {what}, so the API server never asks Kyverno"
            ),
            LeftOut::ResourceFilter(entry) => write!(
                f,
                "left out by Kyverno's configuration, not by a policy: the resourceFilters entry {entry} matches it, so Kyverno admits it without evaluating any policy"
            ),
            LeftOut::KyvernoResource(kind) => write!(
                f,
                "left out by Kyverno itself, not by a policy: Kyverno never evaluates its own {kind} objects"
            ),
        }
    }
}

/// A configuration that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl KyvernoConfig {
    /// The configuration chart 3.9.0 installs (the lab's cluster's, unless its `helm_set`
    /// changes `config.*`).
    pub fn chart_default() -> Self {
        let webhooks: Value = serde_json::from_str(CHART_WEBHOOKS).expect("the chart's webhooks");
        KyvernoConfig {
            source: "the defaults of Kyverno's chart 3.9.0".to_owned(),
            filters: parse_filters(CHART_RESOURCE_FILTERS),
            namespace_selector: webhooks.get("namespaceSelector").cloned(),
            object_selector: None,
        }
    }

    /// No configuration at all: every request reaches the policies (as under `kyverno test`).
    pub fn none() -> Self {
        KyvernoConfig {
            source: "no configuration".to_owned(),
            filters: Vec::new(),
            namespace_selector: None,
            object_selector: None,
        }
    }

    /// The Kyverno ConfigMap `configmap` (its `data`), named `source` in messages. Only
    /// `resourceFilters` and `webhooks` concern admission here; a key left out means what it
    /// means to Kyverno: no filters, no selectors.
    pub fn from_configmap(configmap: &Value, source: &str) -> Result<Self, ConfigError> {
        if configmap["kind"] != "ConfigMap" {
            return Err(ConfigError(format!(
                "{source} is not a ConfigMap (kind: {}); give Kyverno's ConfigMap, as `kubectl -n kyverno get configmap kyverno -o yaml` prints it",
                configmap["kind"]
            )));
        }
        let data = &configmap["data"];
        let text = |key: &str| -> Result<Option<&str>, ConfigError> {
            match &data[key] {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s)),
                other => Err(ConfigError(format!(
                    "{source}: data.{key} must be a string, as every ConfigMap value is (found {other})"
                ))),
            }
        };
        let filters = text("resourceFilters")?
            .map(parse_filters)
            .unwrap_or_default();
        let (namespace_selector, object_selector) = match text("webhooks")? {
            None => (None, None),
            Some(json) => {
                let webhooks: Value = serde_json::from_str(json).map_err(|e| {
                    ConfigError(format!(
                        "{source}: data.webhooks is not JSON ({e}); Kyverno would not start with it"
                    ))
                })?;
                (
                    webhooks.get("namespaceSelector").cloned(),
                    webhooks.get("objectSelector").cloned(),
                )
            }
        };
        Ok(KyvernoConfig {
            source: source.to_owned(),
            filters,
            namespace_selector,
            object_selector,
        })
    }

    /// Why `request` never reaches Kyverno's policies, if it does not.
    pub fn left_out(&self, request: &Request<'_>) -> Option<LeftOut> {
        let object = request.object;
        let kind = object["kind"].as_str().unwrap_or("");
        let (group, version) = match object["apiVersion"].as_str().unwrap_or("").split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", object["apiVersion"].as_str().unwrap_or("")),
        };
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let namespace = request.namespace_name();
        let is_namespace = group.is_empty() && version == "v1" && kind == "Namespace";
        // The API server first: a webhook's namespaceSelector is held to a namespaced object's
        // namespace, and to a Namespace's own labels; other cluster-scoped objects pass it.
        if let Some(selector) = &self.namespace_selector {
            let labels = if is_namespace {
                let mut labels = metadata_map(object, "labels");
                labels.insert("kubernetes.io/metadata.name".into(), name.to_owned());
                Some((labels, name))
            } else if namespace.is_empty() {
                None
            } else {
                Some((request.labels().clone(), namespace))
            };
            if let Some((labels, which)) = labels
                && !selector_matches(selector, &labels)
            {
                return Some(LeftOut::Webhook {
                    selector: "namespaceSelector",
                    what: format!("namespace {which}"),
                });
            }
        }
        if let Some(selector) = &self.object_selector
            && !selector_matches(selector, &metadata_map(object, "labels"))
        {
            return Some(LeftOut::Webhook {
                selector: "objectSelector",
                what: format!("{kind} {name} (its labels)"),
            });
        }
        for f in &self.filters {
            let kind_matches = wildcard::matches(&f.group, group)
                && wildcard::matches(&f.version, version)
                && wildcard::matches(&f.kind, kind)
                // An object created, not a subresource.
                && wildcard::matches(&f.subresource, "");
            if kind_matches
                && ((wildcard::matches(&f.namespace, namespace)
                    && wildcard::matches(&f.name, name))
                    || (is_namespace && wildcard::matches(&f.namespace, name)))
            {
                return Some(LeftOut::ResourceFilter(f.written.clone()));
            }
        }
        if matches!(
            kind,
            "AdmissionReport"
                | "ClusterAdmissionReport"
                | "BackgroundScanReport"
                | "ClusterBackgroundScanReport"
                | "UpdateRequest"
        ) {
            return Some(LeftOut::KyvernoResource(kind.to_owned()));
        }
        None
    }
}

/// `resourceFilters` as `parseKinds` reads it: every `[...]`, split at commas into kind,
/// namespace and name (missing ones empty, which only an empty text matches).
fn parse_filters(text: &str) -> Vec<Filter> {
    let mut filters = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find([']', '[']) else {
            break;
        };
        if after.as_bytes()[close] == b'[' {
            // `[` inside an entry: the regex `\[([^\[\]]*)\]` starts again from it.
            rest = &after[close..];
            continue;
        }
        let inner = &after[..close];
        rest = &after[close + 1..];
        let parts: Vec<&str> = inner.split(',').collect();
        let (kind, namespace, name) = match parts.as_slice() {
            [kind, namespace, name] => (*kind, *namespace, *name),
            [kind, namespace] => (*kind, *namespace, ""),
            [kind] => (*kind, "", ""),
            // Four or more: Kyverno keeps the entry before it (a quirk of its loop); an entry
            // that is not a filter is skipped here.
            _ => continue,
        };
        if kind.is_empty() {
            // `newFilter` gives an empty filter, which matches only empty kinds.
            continue;
        }
        let (group, version, kind_name, subresource) = kind_selector(kind);
        filters.push(Filter {
            written: format!("[{inner}]"),
            group,
            version,
            kind: kind_name,
            subresource,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        });
    }
    filters
}

/// `ParseKindSelector` (`pkg/utils/kube/kind.go`, [`KindSelector`]): `Kind`,
/// `Kind/subresource`, `version/Kind`, `group/version/Kind`, ... into group, version, kind and
/// subresource; empty parts for what it cannot split.
fn kind_selector(input: &str) -> (String, String, String, String) {
    match KindSelector::parse(input) {
        Some(s) => (
            s.group.to_owned(),
            s.version.to_owned(),
            s.kind.to_owned(),
            s.subresource.to_owned(),
        ),
        None => (String::new(), String::new(), String::new(), String::new()),
    }
}

#[cfg(test)]
#[path = "kyverno_config_tests.rs"]
mod tests;
