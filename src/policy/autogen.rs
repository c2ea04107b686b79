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

/// The rules Kyverno computes for a resource of `kind` (`computeRules` in
/// `pkg/autogen/v1/autogen.go`): the policy's own rules, and, when auto-gen applies to the
/// policy and covers `kind`, one generated rule per rule that matches Pods.
pub fn rules_for_kind<'a>(policy: &'a KyvernoPolicy, kind: &str) -> Vec<EffectiveRule<'a>> {
    let mut out: Vec<EffectiveRule<'a>> = policy
        .spec
        .rules
        .iter()
        .map(|rule| EffectiveRule {
            rule,
            name: rule.name.value.clone(),
            pod_spec: pod_spec_pointer(kind),
            generated: false,
        })
        .collect();
    if kind == "Pod" || !can_autogen(policy) || !controllers(policy).contains(&kind) {
        return out;
    }
    for rule in policy.spec.rules.iter().filter(|r| generates(r)) {
        let prefix = if kind == "CronJob" {
            "autogen-cronjob-"
        } else {
            "autogen-"
        };
        out.push(EffectiveRule {
            rule,
            name: truncate(format!("{prefix}{}", rule.name.value)),
            pod_spec: pod_spec_pointer(kind),
            generated: true,
        });
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

/// `CanAutoGen`: auto-gen is decided for the whole policy. No rule may select by `name`,
/// `names`, `selector` or `annotations`, or list Pod among other kinds in one description, and
/// some description must name Pods or a pod controller. (Generate rules and JSON6902 mutations
/// also turn it off; this model keeps those rules opaque, so a policy with a `generate` rule
/// counts as one without auto-gen.)
///
/// The two kind tests differ, as in Kyverno (`checkAutogenSupport`): "Pod among other kinds"
/// reads each kind as `ContainsKind` does ([`is_pod`]: `v1/Pod` is a Pod), but "names Pods or a
/// pod controller" compares the strings as written (`podControllersKindsSet.HasAny`): a policy
/// whose kinds are all written `v1/Pod` or `*/Pod` gets no auto-generated rules at all.
fn can_autogen(policy: &KyvernoPolicy) -> bool {
    let mut needed = false;
    for rule in &policy.spec.rules {
        if rule.generate.is_some() {
            return false;
        }
        let blocks = std::iter::once(&rule.match_resources).chain(rule.exclude.as_ref());
        for d in blocks.flat_map(descriptions) {
            let several_with_pod = d.kinds.len() > 1 && d.kinds.iter().any(|k| is_pod(k));
            if !d.names.is_empty()
                || d.name.is_some()
                || d.selector.is_some()
                || !d.annotations.is_empty()
                || several_with_pod
            {
                return false;
            }
            needed |= d
                .kinds
                .iter()
                .any(|k| k == "Pod" || POD_CONTROLLERS.contains(&k.as_str()) || k == "CronJob");
        }
    }
    needed
}

/// `generateRuleForControllers`: a rule gets a generated twin when its `match` names Pods and
/// its `exclude`, if it names kinds, names Pods too.
fn generates(rule: &Rule) -> bool {
    let kinds = |block: &MatchResources| -> Vec<String> {
        descriptions(block)
            .into_iter()
            .flat_map(|d| d.kinds.iter().cloned())
            .collect()
    };
    let matched = kinds(&rule.match_resources);
    let excluded = rule.exclude.as_ref().map(kinds).unwrap_or_default();
    matched.iter().any(|k| is_pod(k)) && (excluded.is_empty() || excluded.iter().any(|k| is_pod(k)))
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

/// Whether a kind of `match` or `exclude` names Pods to Kyverno's `ContainsKind`
/// (`pkg/utils/kube/kind.go`): the kind part of `GetKindFromGVK`, its subresource split off by
/// `SplitSubresource`, is `Pod`. So `Pod`, `v1/Pod`, `*/Pod`, `core/v1/Pod`, `Pod/status` and
/// `Pod.status` all do.
pub(crate) fn is_pod(kind: &str) -> bool {
    let is_version = |s: &str| s == "*" || super::matching::is_kube_version(s);
    // `formatSubresource`: the first `.` stands for `/`.
    let dotted = |s: &str| s.replacen('.', "/", 1);
    let parts: Vec<&str> = kind.split('/').collect();
    let kind_part = match parts.as_slice() {
        [one] => dotted(one),
        ["*", "*"] => "*/*".to_owned(),
        [version, kind] if is_version(version) => dotted(kind),
        [first, second] => format!("{first}/{second}"),
        [version, kind, sub] if is_version(version) => format!("{kind}/{sub}"),
        [_, _, kind] => dotted(kind),
        [_, _, kind, sub] => format!("{kind}/{sub}"),
        _ => String::new(),
    };
    // `SplitSubresource`: only a kind of exactly two parts has a subresource.
    let kind_only = match kind_part.split('/').collect::<Vec<_>>().as_slice() {
        [kind, _] => (*kind).to_owned(),
        _ => kind_part.clone(),
    };
    kind_only == "Pod"
}

/// The rules Kyverno generates for `policy` (what its `status.autogen` lists), each with the
/// kinds it applies to; empty when auto-gen does not apply.
pub fn generated_rules(policy: &KyvernoPolicy) -> Vec<(String, Vec<String>)> {
    if !can_autogen(policy) {
        return Vec::new();
    }
    let controllers = controllers(policy);
    let (cronjob, others): (Vec<&str>, Vec<&str>) =
        controllers.iter().partition(|c| **c == "CronJob");
    let others: Vec<String> = others
        .into_iter()
        .filter(|c| POD_CONTROLLERS.contains(c))
        .map(str::to_owned)
        .collect();
    let mut out = Vec::new();
    for rule in policy.spec.rules.iter().filter(|r| generates(r)) {
        if !others.is_empty() {
            out.push((
                truncate(format!("autogen-{}", rule.name.value)),
                others.clone(),
            ));
        }
        if !cronjob.is_empty() {
            out.push((
                truncate(format!("autogen-cronjob-{}", rule.name.value)),
                vec!["CronJob".to_owned()],
            ));
        }
    }
    out
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
        // computeRules returns the policy's rules and the generated ones.
        assert_eq!(
            names(&p, "Deployment"),
            ["check-image", "autogen-check-image"]
        );
        assert_eq!(
            names(&p, "CronJob"),
            ["check-image", "autogen-cronjob-check-image"]
        );
        assert_eq!(
            rules_for_kind(&p, "CronJob")[1].pod_spec,
            "/spec/jobTemplate/spec/template/spec"
        );
        assert_eq!(
            rules_for_kind(&p, "StatefulSet")[1].pod_spec,
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
            ["check-image", "autogen-check-image"]
        );
        assert_eq!(names(&only_deployments, "CronJob"), ["check-image"]);
        let none = policy(
            "  annotations:\n    pod-policies.kyverno.io/autogen-controllers: none\n",
            PODS,
        );
        assert_eq!(names(&none, "Deployment"), ["check-image"]);
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

    // autogen.go CanAutoGen: Pods and a controller in separate filters do not stop auto-gen;
    // the rule then answers for a Deployment twice, as itself and as its generated twin.
    #[test]
    fn pods_and_a_controller_in_separate_filters_still_autogen() {
        let p = policy(
            "",
            "        any:\n          - resources:\n              kinds: [Pod]\n          - resources:\n              kinds: [Deployment]\n",
        );
        assert_eq!(
            names(&p, "Deployment"),
            ["check-image", "autogen-check-image"]
        );
    }

    // CanAutoGen is decided per policy: one rule selecting by name turns it off for all.
    #[test]
    fn one_narrow_rule_turns_autogen_off_for_the_whole_policy() {
        let mut p = policy("", PODS);
        let mut narrow = p.spec.rules[0].clone();
        narrow.name.value = "by-name".into();
        narrow.match_resources.any[0]
            .resources
            .as_mut()
            .unwrap()
            .names = vec!["demo".into()];
        p.spec.rules.push(narrow);
        assert_eq!(names(&p, "Deployment"), ["check-image", "by-name"]);
    }

    #[test]
    fn autogen_is_decided_on_the_kinds_as_written() {
        // Kyverno's `checkAutogenSupport` asks whether a kind string is `Pod` or a controller:
        // `v1/Pod` and `*/Pod` match Pods, but generate nothing.
        for written in ["v1/Pod", "'*/Pod'", "core/v1/Pod"] {
            let p = policy(
                "",
                &format!(
                    "        any:\n          - resources:\n              kinds: [{written}]\n"
                ),
            );
            assert_eq!(names(&p, "Deployment"), ["check-image"], "{written}");
            assert!(generated_rules(&p).is_empty(), "{written}");
        }
        // One description written `Pod` is enough for the whole policy, and then the `v1/Pod`
        // rule gets its twin too (`generateRuleForControllers` reads kinds as `ContainsKind`).
        let text = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  rules:\n    - name: a\n      match: {any: [{resources: {kinds: [Pod]}}]}\n      verifyImages: [{imageReferences: ['*']}]\n    - name: b\n      match: {any: [{resources: {kinds: [v1/Pod]}}]}\n      verifyImages: [{imageReferences: ['*']}]\n";
        let p: KyvernoPolicy = serde_saphyr::from_str(text).unwrap();
        assert_eq!(
            names(&p, "Deployment"),
            ["a", "b", "autogen-a", "autogen-b"]
        );
        let generated: Vec<String> = generated_rules(&p).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            generated,
            [
                "autogen-a",
                "autogen-cronjob-a",
                "autogen-b",
                "autogen-cronjob-b"
            ]
        );
    }

    #[test]
    fn a_pod_is_any_spelling_contains_kind_reads_as_pod() {
        for pod in [
            "Pod",
            "v1/Pod",
            "*/Pod",
            "core/v1/Pod",
            "Pod/status",
            "Pod.status",
            "v1/Pod/status",
            "v1/Pod.status",
        ] {
            assert!(is_pod(pod), "{pod}");
        }
        for other in [
            "Pods",
            "v1/Deployment",
            "*/*",
            "*",
            "apps/v1/Deployment",
            "PodTemplate",
            "",
        ] {
            assert!(!is_pod(other), "{other}");
        }
    }

    #[test]
    fn the_generated_rules_follow_the_annotation() {
        let p = policy(
            &format!("  annotations:\n    {AUTOGEN_ANNOTATION}: Deployment,CronJob\n"),
            PODS,
        );
        assert_eq!(
            generated_rules(&p),
            [
                (
                    "autogen-check-image".to_owned(),
                    vec!["Deployment".to_owned()]
                ),
                (
                    "autogen-cronjob-check-image".to_owned(),
                    vec!["CronJob".to_owned()]
                ),
            ]
        );
        let none = policy(
            &format!("  annotations:\n    {AUTOGEN_ANNOTATION}: none\n"),
            PODS,
        );
        assert!(generated_rules(&none).is_empty());
    }

    #[test]
    fn generated_names_are_cut_at_63_characters() {
        let long = "x".repeat(80);
        assert_eq!(truncate(format!("autogen-cronjob-{long}")).len(), 63);
    }
}
