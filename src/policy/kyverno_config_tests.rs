use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::policy::matching::Operation;

fn pod(namespace: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": namespace}})
}

fn left_out(config: &KyvernoConfig, object: &Value) -> Option<LeftOut> {
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let labels = BTreeMap::from([(
        "kubernetes.io/metadata.name".to_owned(),
        namespace.to_owned(),
    )]);
    let request = Request {
        object,
        operation: Operation::Create,
        namespace_labels: (!namespace.is_empty()).then_some(&labels),
    };
    config.left_out(&request)
}

#[test]
fn the_charts_defaults_leave_out_kube_system_kyverno_and_replicasets() {
    let config = KyvernoConfig::chart_default();
    assert_eq!(
        left_out(&config, &pod("kube-system")),
        Some(LeftOut::Webhook {
            selector: "namespaceSelector",
            what: "namespace kube-system".into()
        })
    );
    assert_eq!(
        left_out(&config, &pod("kyverno")),
        Some(LeftOut::Webhook {
            selector: "namespaceSelector",
            what: "namespace kyverno".into()
        })
    );
    // Past the webhook (kube-public is not in its NotIn), a resource filter.
    assert_eq!(
        left_out(&config, &pod("kube-public")),
        Some(LeftOut::ResourceFilter("[*/*,kube-public,*]".into()))
    );
    let replica_set = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "default"}});
    assert_eq!(
        left_out(&config, &replica_set),
        Some(LeftOut::ResourceFilter("[ReplicaSet,*,*]".into()))
    );
    // What a lab's learners create is evaluated.
    assert_eq!(left_out(&config, &pod("default")), None);
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "prod"}});
    assert_eq!(left_out(&config, &deployment), None);
    assert_eq!(
        left_out(
            &config,
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}})
        ),
        None
    );
}

#[test]
fn a_namespace_is_held_to_the_selector_by_its_own_labels_and_to_filters_by_its_name() {
    let config = KyvernoConfig::chart_default();
    // The Namespace kube-system is cluster-scoped; the selector reads its own name label.
    let kube_system =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}});
    assert!(matches!(
        left_out(&config, &kube_system),
        Some(LeftOut::Webhook { .. })
    ));
    // `[*/*,kube-public,*]` matches the Namespace kube-public by its name (`ToFilter`).
    let no_selector = KyvernoConfig {
        namespace_selector: None,
        ..KyvernoConfig::chart_default()
    };
    let kube_public =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-public"}});
    assert_eq!(
        left_out(&no_selector, &kube_public),
        Some(LeftOut::ResourceFilter("[*/*,kube-public,*]".into()))
    );
    // Other cluster-scoped objects pass a namespaceSelector.
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"}});
    assert_eq!(left_out(&config, &role), None);
    let own = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "kyverno:admission-controller"}});
    assert_eq!(
        left_out(&config, &own),
        Some(LeftOut::ResourceFilter(
            "[ClusterRole,*,kyverno:admission-controller]".into()
        ))
    );
}

#[test]
fn kind_selectors_split_as_kyverno_splits_them() {
    let split = |s: &str| {
        let (g, v, k, sub) = kind_selector(s);
        format!("{g}|{v}|{k}|{sub}")
    };
    assert_eq!(split("Pod"), "*|*|Pod|");
    assert_eq!(split("*/*"), "*|*|*|*");
    assert_eq!(split("*/status"), "*|*|*|status");
    assert_eq!(split("v1/Pod"), "*|v1|Pod|");
    assert_eq!(
        split("v2beta1/HorizontalPodAutoscaler"),
        "*|v2beta1|HorizontalPodAutoscaler|"
    );
    // Two digits are not a version to Kyverno's regex: a kind and a subresource.
    assert_eq!(split("v10/Pod"), "*|*|v10|Pod");
    assert_eq!(split("Pod/binding"), "*|*|Pod|binding");
    assert_eq!(split("Node/?*"), "*|*|Node|?*");
    assert_eq!(split("v1/Pod/status"), "*|v1|Pod|status");
    assert_eq!(split("apps/v1/Deployment"), "apps|v1|Deployment|");
    assert_eq!(
        split("apps/v1/Deployment/scale"),
        "apps|v1|Deployment|scale"
    );
    // The last part is split at dots too (`Pod.status`).
    assert_eq!(split("Pod.status"), "*|*|Pod|status");
}

#[test]
fn filters_are_read_as_parse_kinds_reads_them() {
    let filters =
        parse_filters("  [Event,*,*] [Pod,default] junk [Secret] [a,b,c,d] [] [[Job,x,y]");
    let written: Vec<&str> = filters.iter().map(|f| f.written.as_str()).collect();
    assert_eq!(
        written,
        ["[Event,*,*]", "[Pod,default]", "[Secret]", "[Job,x,y]"]
    );
    // A filter without a name matches only objects with an empty name (none are created).
    let config = KyvernoConfig {
        filters,
        ..KyvernoConfig::none()
    };
    assert_eq!(left_out(&config, &pod("default")), None);
    let event = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"}});
    assert_eq!(
        left_out(&config, &event),
        Some(LeftOut::ResourceFilter("[Event,*,*]".into()))
    );
}

#[test]
fn a_configmap_is_read_for_its_filters_and_webhooks() {
    let configmap = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kyverno", "namespace": "kyverno"},
        "data": {
            "resourceFilters": "[Pod,team-*,*]",
            "webhooks": r#"{"objectSelector":{"matchExpressions":[{"key":"skip","operator":"DoesNotExist"}]}}"#
        }
    });
    let config = KyvernoConfig::from_configmap(&configmap, "kyverno.yaml").unwrap();
    // kube-system is evaluated: this configuration has no namespaceSelector.
    assert_eq!(left_out(&config, &pod("kube-system")), None);
    assert_eq!(
        left_out(&config, &pod("team-a")),
        Some(LeftOut::ResourceFilter("[Pod,team-*,*]".into()))
    );
    let mut skipped = pod("default");
    skipped["metadata"]["labels"] = json!({"skip": "yes"});
    assert!(matches!(
        left_out(&config, &skipped),
        Some(LeftOut::Webhook {
            selector: "objectSelector",
            ..
        })
    ));
    // An empty ConfigMap filters nothing.
    let empty = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kyverno"}});
    let config = KyvernoConfig::from_configmap(&empty, "empty.yaml").unwrap();
    assert_eq!(left_out(&config, &pod("kube-system")), None);
}

#[test]
fn a_configmap_that_kyverno_cannot_read_is_refused_with_what_to_do() {
    let not_a_configmap = json!({"kind": "Secret"});
    assert!(
        KyvernoConfig::from_configmap(&not_a_configmap, "k.yaml")
            .unwrap_err()
            .to_string()
            .contains("k.yaml is not a ConfigMap")
    );
    let bad_json = json!({"kind": "ConfigMap", "data": {"webhooks": "{not json"}});
    assert!(
        KyvernoConfig::from_configmap(&bad_json, "k.yaml")
            .unwrap_err()
            .to_string()
            .starts_with("k.yaml: data.webhooks is not JSON")
    );
    let number = json!({"kind": "ConfigMap", "data": {"resourceFilters": 3}});
    assert!(
        KyvernoConfig::from_configmap(&number, "k.yaml")
            .unwrap_err()
            .to_string()
            .contains("data.resourceFilters must be a string")
    );
}

#[test]
fn the_reason_says_it_is_the_configuration_and_not_a_policy() {
    let text = LeftOut::ResourceFilter("[ReplicaSet,*,*]".into()).to_string();
    assert!(text.starts_with("left out by Kyverno's configuration, not by a policy"));
    assert!(text.contains("[ReplicaSet,*,*]"));
}
