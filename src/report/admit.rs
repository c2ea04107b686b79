//! The `lab admit` report: for every document of the manifest, Kyverno's verdict, the denial,
//! the digest patches and the report results; for people, or as one JSON document.

use serde::Serialize;

use crate::policy::evaluate::{AdmissionResult, Status};

/// The version of the `lab admit --json` document (README, "lab admit"); bumped on any
/// incompatible change.
pub const ADMIT_VERSION: u32 = 3;

#[derive(Serialize)]
struct Decision<'a> {
    resource: String,
    /// `admitted`, `denied`, or `undecided` (the offline evaluator cannot tell; `allowed` is
    /// then false, but nothing was denied).
    verdict: &'static str,
    #[serde(flatten)]
    result: &'a AdmissionResult,
}

#[derive(Serialize)]
struct AdmitJson<'a> {
    schema_version: u32,
    decisions: Vec<Decision<'a>>,
    /// Each policy's auto-generated rules.
    autogen: &'a [PolicyAutogen],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unreachable: Vec<String>,
}

/// The rules Kyverno generates for a policy's pod controllers (what its `status.autogen`
/// lists once it is installed).
#[derive(Debug, Clone, Serialize)]
pub struct PolicyAutogen {
    /// The policy (`ns/name` for a namespaced Policy).
    pub policy: String,
    /// Its generated rules, each with the kinds it applies to; empty when none are.
    pub rules: Vec<GeneratedRule>,
}

/// One auto-generated rule.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedRule {
    /// `autogen-<rule>` or `autogen-cronjob-<rule>`.
    pub name: String,
    /// The controller kinds it applies to.
    pub kinds: Vec<String>,
}

fn decisions(results: &[(String, AdmissionResult)]) -> Vec<Decision<'_>> {
    results
        .iter()
        .map(|(id, r)| Decision {
            resource: id.clone(),
            verdict: if r.is_undecided() {
                "undecided"
            } else if r.allowed {
                "admitted"
            } else {
                "denied"
            },
            result: r,
        })
        .collect()
}

/// The decisions as one JSON document; `unreachable` names the registries that could not be
/// asked, with why.
pub fn json(
    results: &[(String, AdmissionResult)],
    autogen: &[PolicyAutogen],
    unreachable: &[String],
) -> String {
    super::json::document(&AdmitJson {
        schema_version: ADMIT_VERSION,
        decisions: decisions(results),
        autogen,
        unreachable: unreachable.to_vec(),
    })
}

/// The decisions for people. Messages quote the manifest, the policies and the registry, so
/// their control characters are shown, not obeyed.
pub fn human(
    results: &[(String, AdmissionResult)],
    autogen: &[PolicyAutogen],
    unreachable: &[String],
) -> String {
    let mut text = decisions_text(&decisions(results), unreachable);
    text.push_str(&autogen_text(autogen));
    crate::text::printable_block(&text).into_owned()
}

/// Which rules Kyverno generates for each policy, as `kubectl get clusterpolicy -o yaml`
/// would show them under `status.autogen`.
fn autogen_text(autogen: &[PolicyAutogen]) -> String {
    let mut out = String::from("auto-generated rules (Kyverno's status.autogen):\n");
    for policy in autogen {
        let rules: Vec<String> = policy
            .rules
            .iter()
            .map(|r| format!("{} ({})", r.name, r.kinds.join(", ")))
            .collect();
        let rules = if rules.is_empty() {
            "none".to_owned()
        } else {
            rules.join(", ")
        };
        out.push_str(&format!("  {}: {rules}\n", policy.policy));
    }
    out
}

fn decisions_text(decisions: &[Decision<'_>], unreachable: &[String]) -> String {
    let mut out = String::new();
    for d in decisions {
        let r = d.result;
        match r.denied_by {
            None if r.is_undecided() => out.push_str(&format!(
                "{}: UNDECIDED: lab cannot tell offline what Kyverno would do (not a denial; check it in a cluster)\n",
                d.resource
            )),
            None => out.push_str(&format!("{}: admitted\n", d.resource)),
            Some(webhook) => out.push_str(&format!("{}: DENIED by {webhook}\n", d.resource)),
        }
        for why in &r.undecided {
            out.push_str(&format!("  cannot decide: {why}\n"));
        }
        if let Some(why) = &r.left_out {
            out.push_str(&format!("  {why}\n"));
        } else if r.rules.is_empty() {
            out.push_str("  no verifyImages rule applies\n");
        }
        for rule in &r.rules {
            out.push_str(&format!(
                "  {:<8} {}/{} ({:?}): {}: {}\n",
                rule.phase.as_str(),
                rule.policy,
                rule.rule,
                rule.action,
                rule.status.as_str(),
                rule.message
            ));
        }
        if let (Some(denial), Some(webhook)) = (&r.denial, r.denied_by) {
            out.push_str(&format!(
                "  admission webhook \"{webhook}\" denied the request:\n"
            ));
            for line in denial.trim_start_matches('\n').lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
        for patch in r
            .patches
            .iter()
            .filter(|p| !p.path.starts_with("/metadata/annotations"))
        {
            let value = patch
                .value
                .as_str()
                .map_or_else(|| patch.value.to_string(), str::to_owned);
            out.push_str(&format!("  patch: {} {} = {value}\n", patch.op, patch.path));
        }
        for (name, value) in &r.annotations {
            out.push_str(&format!("  annotation {name}: {value}\n"));
        }
        for result in &r.report {
            if result.result != Status::Pass {
                out.push_str(&format!(
                    "  PolicyReport: {} {}/{}: {}\n",
                    result.result.as_str(),
                    result.policy,
                    result.rule,
                    result.message
                ));
            }
        }
    }
    for u in unreachable {
        out.push_str(&format!("registry unreachable: {u}\n"));
    }
    if !unreachable.is_empty() {
        // The verdicts above are Kyverno's for a registry it cannot reach, not for the images.
        out.push_str("  the verdicts above are what Kyverno does when it cannot reach the registry; to judge the images, run where the registry resolves (a name such as `kind-registry:5000` resolves only inside the kind cluster: set the image registry variable to the address this machine pushes to, for ch14 `--set image_registry=localhost:5001/courselab`), add --insecure for a plain-HTTP registry that is not on loopback, or read the images from OCI layouts with --layouts DIR\n");
    }
    out
}
