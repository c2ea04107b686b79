//! Kyverno's auto-generation of rules for pod controllers (`pkg/autogen/v1/autogen.go`,
//! `rule.go`): a rule that matches Pods also gets `autogen-<rule>` for DaemonSet, Deployment,
//! Job, StatefulSet, ReplicaSet and ReplicationController, and `autogen-cronjob-<rule>` for
//! CronJob, unless the annotation `pod-policies.kyverno.io/autogen-controllers` says `none` or
//! lists fewer controllers. Auto-gen is skipped when a match or exclude block selects by
//! `names`, `selector` or `annotations`, or mixes Pods with other kinds.

use super::model::{KyvernoPolicy, MatchResources, ResourceDescription, Rule};

/// The annotation that controls auto-gen.
pub const AUTOGEN_ANNOTATION: &str = "pod-policies.kyverno.io/autogen-controllers";
/// The controllers auto-gen covers by default, besides CronJob.
pub const POD_CONTROLLERS: [&str; 6] = [
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
];
/// Kubernetes' limit on names, which Kyverno applies to generated rule names.
const MAX_RULE_NAME: usize = 63;

/// Which rule of a policy applies to a resource kind, and where its pod spec is.
#[derive(Debug, Clone)]
pub struct EffectiveRule<'a> {
    /// The rule as written.
    pub rule: &'a Rule,
    /// Its name as Kyverno reports it (`autogen-...` for generated rules).
    pub name: String,
    /// JSON pointer to the pod spec in the resource.
    pub pod_spec: &'static str,
    /// Whether the rule was generated for a controller: its `Pod` kinds then stand for the
    /// controller's kind.
    pub generated: bool,
}

/// The rules of `policy` that apply to a resource of `kind`, with generated ones.
pub fn rules_for_kind<'a>(policy: &'a KyvernoPolicy, kind: &str) -> Vec<EffectiveRule<'a>> {
    let controllers = controllers(policy);
    let mut out = Vec::new();
    for rule in &policy.spec.rules {
        if kind == "Pod" || !can_autogen(rule) {
            out.push(EffectiveRule {
                rule,
                name: rule.name.value.clone(),
                pod_spec: pod_spec_pointer(kind),
                generated: false,
            });
            continue;
        }
        if kind == "CronJob" && controllers.contains(&"CronJob") {
            out.push(EffectiveRule {
                rule,
                name: truncate(format!("autogen-cronjob-{}", rule.name.value)),
                pod_spec: pod_spec_pointer(kind),
                generated: true,
            });
        } else if controllers.contains(&kind) {
            out.push(EffectiveRule {
                rule,
                name: truncate(format!("autogen-{}", rule.name.value)),
                pod_spec: pod_spec_pointer(kind),
                generated: true,
            });
        }
    }
    out
}

/// Where the pod spec of a resource of `kind` is.
pub fn pod_spec_pointer(kind: &str) -> &'static str {
    match kind {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    }
}

/// The controllers the annotation allows (all when absent, none for `none`).
fn controllers(policy: &KyvernoPolicy) -> Vec<&str> {
    match policy
        .metadata
        .annotations
        .get(AUTOGEN_ANNOTATION)
        .map(String::as_str)
    {
        None => POD_CONTROLLERS.iter().copied().chain(["CronJob"]).collect(),
        Some("none") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect(),
    }
}

/// Whether Kyverno would generate controller rules from `rule`.
fn can_autogen(rule: &Rule) -> bool {
    let blocks = std::iter::once(&rule.match_resources).chain(rule.exclude.as_ref());
    let descriptions: Vec<&ResourceDescription> = blocks.flat_map(descriptions).collect();
    let matches_pods = descriptions
        .iter()
        .any(|d| d.kinds.iter().any(|k| is_pod(k)));
    let mixes_kinds = descriptions
        .iter()
        .any(|d| d.kinds.iter().any(|k| !is_pod(k)));
    let selects_narrowly = descriptions.iter().any(|d| {
        !d.names.is_empty() || d.name.is_some() || d.selector.is_some() || !d.annotations.is_empty()
    });
    matches_pods && !mixes_kinds && !selects_narrowly
}

fn descriptions(block: &MatchResources) -> Vec<&ResourceDescription> {
    block
        .any
        .iter()
        .chain(&block.all)
        .filter_map(|f| f.resources.as_ref())
        .chain(block.resources.as_ref())
        .collect()
}

pub(crate) fn is_pod(kind: &str) -> bool {
    kind == "Pod" || kind.ends_with("/Pod")
}

fn truncate(mut name: String) -> String {
    name.truncate(MAX_RULE_NAME);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(annotations: &str, match_block: &str) -> KyvernoPolicy {
        let text = format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\n{annotations}spec:\n  rules:\n    - name: check-image\n      match:\n{match_block}      verifyImages:\n        - imageReferences: ['*']\n"
        );
        serde_saphyr::from_str(&text).unwrap()
    }

    const PODS: &str = "        any:\n          - resources:\n              kinds: [Pod]\n";

    fn names(p: &KyvernoPolicy, kind: &str) -> Vec<String> {
        rules_for_kind(p, kind)
            .into_iter()
            .map(|r| r.name)
            .collect()
    }

    #[test]
    fn pod_rules_generate_controller_rules() {
        let p = policy("", PODS);
        assert_eq!(names(&p, "Pod"), ["check-image"]);
        assert_eq!(names(&p, "Deployment"), ["autogen-check-image"]);
        assert_eq!(names(&p, "CronJob"), ["autogen-cronjob-check-image"]);
        assert_eq!(
            rules_for_kind(&p, "CronJob")[0].pod_spec,
            "/spec/jobTemplate/spec/template/spec"
        );
        assert_eq!(
            rules_for_kind(&p, "StatefulSet")[0].pod_spec,
            "/spec/template/spec"
        );
    }

    #[test]
    fn the_annotation_restricts_or_disables_autogen() {
        let only_deployments = policy(
            "  annotations:\n    pod-policies.kyverno.io/autogen-controllers: Deployment\n",
            PODS,
        );
        assert_eq!(
            names(&only_deployments, "Deployment"),
            ["autogen-check-image"]
        );
        assert!(names(&only_deployments, "CronJob").is_empty());
        let none = policy(
            "  annotations:\n    pod-policies.kyverno.io/autogen-controllers: none\n",
            PODS,
        );
        assert!(names(&none, "Deployment").is_empty());
    }

    #[test]
    fn narrow_selection_or_mixed_kinds_skip_autogen() {
        let by_name = policy(
            "",
            "        any:\n          - resources:\n              kinds: [Pod]\n              names: ['demo-*']\n",
        );
        assert_eq!(
            names(&by_name, "Deployment"),
            ["check-image"],
            "the rule itself is returned, not generated"
        );
        let mixed = policy(
            "",
            "        any:\n          - resources:\n              kinds: [Pod, Service]\n",
        );
        assert_eq!(names(&mixed, "Deployment"), ["check-image"]);
    }

    #[test]
    fn generated_names_are_cut_at_63_characters() {
        let long = "x".repeat(80);
        assert_eq!(truncate(format!("autogen-cronjob-{long}")).len(), 63);
    }
}
