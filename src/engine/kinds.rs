//! The ten check kinds of the content model, each deciding a [`Verdict`] from what the
//! backends observe. Messages say what was seen; hints say what to do next.

use std::collections::BTreeMap;

use serde_json::Value;

use super::compare::{drift, is_ready};
use super::observe::{
    Cluster, DryRun, Observe, ObserveError, QuizSeen, Registry, Verification, Workdir,
};
use super::reports::{ReportFilter, policy_report};
use super::result::{Status, Verdict};
use crate::content::model::{EvidenceFormat, FailureMode, ReportResult};
use crate::policy::model::{joined, live_action, live_entry_actions};
use crate::supply::evidence::{parse_cosign_verify, parse_pod_image_ids};

/// A check with its placeholders filled and its files read: everything it needs but the world.
#[derive(Debug, Clone)]
pub enum Kind {
    /// `evidence-file`.
    EvidenceFile {
        /// Path in the working folder.
        path: String,
        /// How to read it.
        format: EvidenceFormat,
        /// The pack's policy names (a denial must name one).
        policies: Vec<String>,
        /// The repositories the lab's running-digest checks name: where a bare `sha256:`
        /// image ID (containerd may report only the digest) must be found.
        repositories: Vec<String>,
    },
    /// `digest-pinned`.
    DigestPinned {
        /// Resource kind.
        kind: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// `running-digest`.
    RunningDigest {
        /// Namespace of the pods.
        namespace: String,
        /// Their label selector.
        selector: String,
        /// The repository they must run from.
        repository: String,
        /// The promoted image, whose digest they must run.
        image: String,
    },
    /// `signature`.
    Signature {
        /// The image.
        image: String,
    },
    /// `sbom-attestation`.
    SbomAttestation {
        /// The image.
        image: String,
        /// The predicate type.
        predicate_type: String,
    },
    /// `policy-mode`.
    PolicyMode {
        /// Policy names.
        policies: Vec<String>,
        /// The mode they must be in.
        mode: FailureMode,
    },
    /// `policy-report`.
    PolicyReport {
        /// Namespace.
        namespace: String,
        /// Policy name.
        policy: String,
        /// Rule name.
        rule: String,
        /// Expected result.
        result: ReportResult,
        /// What the results must be about.
        about: ReportFilter,
    },
    /// `admission-denied`.
    AdmissionDenied {
        /// The manifest's path as the learner sees it.
        manifest: String,
        /// The object submitted.
        object: Value,
        /// The policy that must deny it.
        policy: String,
        /// Text the denial must contain.
        message_contains: String,
    },
    /// `guardrail-intact`.
    GuardrailIntact {
        /// Each policy's name and its rendered `spec` (Enforce).
        policies: BTreeMap<String, Value>,
        /// The namespace that must stay covered.
        namespace: String,
    },
    /// `quiz-passed`.
    QuizPassed {
        /// Minimum percent; the quiz's pass mark when absent.
        min_percent: Option<u8>,
    },
}

impl Kind {
    /// The kind's name as the lab file writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::EvidenceFile { .. } => "evidence-file",
            Kind::DigestPinned { .. } => "digest-pinned",
            Kind::RunningDigest { .. } => "running-digest",
            Kind::Signature { .. } => "signature",
            Kind::SbomAttestation { .. } => "sbom-attestation",
            Kind::PolicyMode { .. } => "policy-mode",
            Kind::PolicyReport { .. } => "policy-report",
            Kind::AdmissionDenied { .. } => "admission-denied",
            Kind::GuardrailIntact { .. } => "guardrail-intact",
            Kind::QuizPassed { .. } => "quiz-passed",
        }
    }

    /// The namespace whose objects the check reads, if it reads one.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Kind::DigestPinned { namespace, .. }
            | Kind::RunningDigest { namespace, .. }
            | Kind::PolicyReport { namespace, .. }
            | Kind::GuardrailIntact { namespace, .. } => Some(namespace),
            _ => None,
        }
    }

    /// Decides the verdict.
    pub async fn decide<C: Cluster, R: Registry, W: Workdir>(
        &self,
        world: &Observe<'_, C, R, W>,
    ) -> Verdict {
        let decided = match self {
            Kind::EvidenceFile {
                path,
                format,
                policies,
                repositories,
            } => evidence_file(world, path, *format, policies, repositories).await,
            Kind::DigestPinned {
                kind,
                namespace,
                name,
            } => digest_pinned(world.cluster, kind, namespace, name).await,
            Kind::RunningDigest {
                namespace,
                selector,
                repository,
                image,
            } => running_digest(world, namespace, selector, repository, image).await,
            Kind::Signature { image } => verified(world.registry, image, None).await,
            Kind::SbomAttestation {
                image,
                predicate_type,
            } => verified(world.registry, image, Some(predicate_type)).await,
            Kind::PolicyMode { policies, mode } => {
                policy_mode(world.cluster, policies, *mode).await
            }
            Kind::PolicyReport {
                namespace,
                policy,
                rule,
                result,
                about,
            } => policy_report(world, namespace, policy, rule, *result, about).await,
            Kind::AdmissionDenied {
                manifest,
                object,
                policy,
                message_contains,
            } => admission_denied(world.cluster, manifest, object, policy, message_contains).await,
            Kind::GuardrailIntact {
                policies,
                namespace,
            } => guardrail_intact(world.cluster, policies, namespace).await,
            Kind::QuizPassed { min_percent } => quiz_passed(world.workdir, *min_percent),
        };
        decided.unwrap_or_else(|e| e.verdict())
    }
}

type Decided = Result<Verdict, ObserveError>;

async fn evidence_file<C: Cluster, R: Registry, W: Workdir>(
    world: &Observe<'_, C, R, W>,
    path: &str,
    format: EvidenceFormat,
    policies: &[String],
    repositories: &[String],
) -> Decided {
    let Some(text) = world.workdir.read(path)? else {
        return Ok(Verdict::fail(
            format!("{path} does not exist"),
            format!("run the step's commands; they save their output to {path}"),
        ));
    };
    let bad = |why: String| {
        Ok(Verdict::fail(
            format!("{path} is not what the step saves: {why}"),
            format!("run the step's command again and save its whole output to {path}"),
        ))
    };
    match format {
        EvidenceFormat::PodImageIds => {
            let running = match parse_pod_image_ids(&text) {
                Ok(r) => r,
                Err(e) => return bad(e.to_string()),
            };
            let mut verdict =
                Verdict::pass(format!("{path} records {} image ID(s)", running.len()));
            for image in &running {
                // A bare digest is looked up under each repository the lab knows; a digest
                // no repository holds is no image the lab ran.
                let candidates: Vec<String> = match &image.repository {
                    Some(repo) => vec![format!("{repo}@{}", image.digest)],
                    None => repositories
                        .iter()
                        .map(|repo| format!("{repo}@{}", image.digest))
                        .collect(),
                };
                let mut found = None;
                for reference in candidates {
                    if world.registry.resolve(&reference).await?.is_some() {
                        found = Some(reference);
                        break;
                    }
                }
                let Some(reference) = found else {
                    let named = image.repository.as_ref().map_or_else(
                        || image.digest.to_string(),
                        |repo| format!("{repo}@{}", image.digest),
                    );
                    return Ok(Verdict::fail(
                        format!("{path} names {named}, which the lab registry does not hold"),
                        "record the imageIDs the pods report now; do not edit the file by hand",
                    ));
                };
                verdict = verdict.with("image ID", reference);
            }
            Ok(verdict)
        }
        EvidenceFormat::CosignVerifyJson => {
            let claims = match parse_cosign_verify(&text) {
                Ok(c) => c,
                Err(e) => return bad(e.to_string()),
            };
            for claim in &claims {
                let reference = format!("{}@{}", claim.docker_reference, claim.digest);
                match world.registry.verify(&reference, None).await? {
                    Verification::Verified { .. } => {
                        return Ok(Verdict::pass(format!(
                            "{path} records a signature of {reference}, and it verifies with the lab's key"
                        ))
                        .with("verified digest", claim.digest.to_string()));
                    }
                    Verification::NotVerified { .. } | Verification::NotFound => {}
                }
            }
            let digests: Vec<String> = claims.iter().map(|c| c.digest.to_string()).collect();
            Ok(Verdict::fail(
                format!(
                    "{path} names {}, but no signature on it verifies with the lab's key now",
                    digests.join(", ")
                ),
                "sign the promoted digest with your key, then run `cosign verify` again",
            ))
        }
        EvidenceFormat::AdmissionDenial => {
            if !text.contains("denied the request") {
                return bad("it holds no admission denial (`denied the request`)".into());
            }
            match policies.iter().find(|p| text.contains(p.as_str())) {
                Some(policy) => Ok(
                    Verdict::pass(format!("{path} records a denial by {policy}"))
                        .with("denied by", policy.clone()),
                ),
                None => bad(format!(
                    "the denial names none of the lab's policies ({})",
                    policies.join(", ")
                )),
            }
        }
        EvidenceFormat::Markdown => {
            let words = text
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .flat_map(str::split_whitespace)
                .count();
            if words < 10 {
                return Ok(Verdict::fail(
                    format!("{path} has {words} word(s) of text"),
                    format!("write in {path} what you did, why, and what you did not do"),
                ));
            }
            Ok(Verdict::pass(format!("{path} has {words} words")))
        }
    }
}

async fn digest_pinned<C: Cluster>(cluster: &C, kind: &str, ns: &str, name: &str) -> Decided {
    let Some(images) = cluster.workload_images(kind, ns, name).await? else {
        return Ok(Verdict::fail(
            format!("{kind} {ns}/{name} does not exist"),
            "run `lab start` again to restore the lab's objects",
        ));
    };
    let tagged: Vec<String> = images
        .iter()
        .filter(|(_, image)| !image.contains("@sha256:"))
        .map(|(c, image)| format!("{c}={image}"))
        .collect();
    if !tagged.is_empty() {
        return Ok(Verdict::fail(
            format!(
                "{kind} {ns}/{name} names images by tag: {}",
                tagged.join(", ")
            ),
            format!(
                "pin each image by digest: `kubectl set image -n {ns} {}/{name} CONTAINER=IMAGE@sha256:...`",
                kind.to_lowercase()
            ),
        ));
    }
    let mut verdict = Verdict::pass(format!(
        "every container of {kind} {ns}/{name} is pinned by digest"
    ));
    for (c, image) in images {
        verdict = verdict.with(&format!("container {c}"), image);
    }
    Ok(verdict)
}

async fn running_digest<C: Cluster, R: Registry, W: Workdir>(
    world: &Observe<'_, C, R, W>,
    ns: &str,
    selector: &str,
    repository: &str,
    image: &str,
) -> Decided {
    let Some(promoted) = world.registry.resolve(image).await? else {
        return Ok(Verdict::fail(
            format!("{image} is not in the lab registry"),
            "run `lab start` again: it seeds the registry with the scenario's images",
        ));
    };
    let pods: Vec<_> = world
        .cluster
        .pods(ns, selector)
        .await?
        .into_iter()
        .filter(|p| !p.terminating && p.phase != "Succeeded" && p.phase != "Failed")
        .collect();
    if pods.is_empty() {
        return Ok(Verdict::fail(
            format!("no pod in {ns} matches {selector}"),
            format!(
                "`kubectl get pods -n {ns} -l {selector}` shows why; `kubectl rollout status` waits"
            ),
        ));
    }
    let mut verdict = Verdict::pass(format!(
        "{} pod(s) in {ns} run {repository}@{promoted}",
        pods.len()
    ))
    .with("promoted digest", promoted.to_string());
    let repo_path = repository.split_once('/').map_or("", |(_, p)| p);
    for pod in &pods {
        for (container, spec_image, image_id) in &pod.containers {
            let ours = spec_image.starts_with(repository)
                || (!repo_path.is_empty() && image_id.contains(&format!("/{repo_path}@")));
            if !ours {
                continue;
            }
            let Some((_, digest)) = image_id.rsplit_once('@') else {
                return Ok(Verdict::fail(
                    format!(
                        "pod {}/{container} has not started an image yet ({})",
                        pod.name, pod.phase
                    ),
                    format!(
                        "wait for `kubectl rollout status -n {ns}`, or read `kubectl describe pod -n {ns} {}`",
                        pod.name
                    ),
                ));
            };
            if digest != promoted.as_str() {
                let mut fail = Verdict::fail(
                    format!(
                        "pod {}/{container} runs {digest}, not the promoted {promoted}",
                        pod.name
                    ),
                    "deploy the promoted build by digest (`kubectl set image ... @sha256:...`) and wait for the rollout",
                );
                fail.evidence = verdict.evidence;
                return Ok(fail.with(&format!("pod {}/{container}", pod.name), image_id.clone()));
            }
            verdict = verdict.with(&format!("pod {}/{container}", pod.name), image_id.clone());
        }
    }
    if verdict.evidence.len() == 1 {
        return Ok(Verdict::fail(
            format!("no container of the pods matching {selector} runs {repository}"),
            format!("deploy {repository}@{promoted}"),
        ));
    }
    Ok(verdict)
}

async fn verified<R: Registry>(registry: &R, image: &str, attestation: Option<&str>) -> Decided {
    let what = match attestation {
        None => "signature",
        Some(_) => "attestation",
    };
    Ok(match registry.verify(image, attestation).await? {
        Verification::Verified { digest, count } => Verdict::pass(format!(
            "{image} ({digest}) has {count} {what}(s) that verify with the lab's signer"
        ))
        .with("digest", digest.to_string()),
        Verification::NotVerified { digest, reason } => Verdict::fail(
            format!("{image} ({digest}): {reason}"),
            match attestation {
                None => "sign the digest (never the tag) with the key whose public half the policies hold".to_owned(),
                Some(t) => format!("attest the digest with your key: `cosign attest --type {} ...`", short_type(t)),
            },
        )
        .with("digest", digest.to_string()),
        Verification::NotFound => Verdict::fail(
            format!("{image} is not in the lab registry"),
            "run `lab start` again: it seeds the registry with the scenario's images",
        ),
    })
}

fn short_type(predicate_type: &str) -> &str {
    match predicate_type {
        "https://spdx.dev/Document" => "spdxjson",
        "https://cyclonedx.org/bom" => "cyclonedx",
        other => other,
    }
}

async fn policy_mode<C: Cluster>(cluster: &C, policies: &[String], want: FailureMode) -> Decided {
    let mut verdict = Verdict::pass(format!("{} in {want}", policies.join(" and ")));
    for name in policies {
        let Some(policy) = cluster.cluster_policy(name).await? else {
            return Ok(Verdict::fail(
                format!("policy {name} is not in the cluster"),
                "run `lab start` again to apply the lab's policies",
            ));
        };
        if live_action(&policy) != Some(want) {
            return Ok(Verdict::fail(
                format!(
                    "policy {name} is in {}",
                    joined(&live_entry_actions(&policy))
                ),
                format!(
                    "run `lab {}` (or edit the policy's failureAction), then check again",
                    want.lowercase()
                ),
            ));
        }
        if !is_ready(&policy) {
            return Ok(Verdict::fail(
                format!("policy {name} is in {want} but not Ready"),
                format!(
                    "`kubectl get clusterpolicy {name} -o yaml` shows why under status.conditions"
                ),
            ));
        }
        verdict = verdict.with(&format!("policy {name}"), want.as_str());
    }
    Ok(verdict)
}

async fn admission_denied<C: Cluster>(
    cluster: &C,
    manifest: &str,
    object: &Value,
    policy: &str,
    message_contains: &str,
) -> Decided {
    let hint = format!("move {policy} to Enforce (`lab enforce`), then check again");
    match cluster.dry_run_create(object).await? {
        DryRun::Admitted => Ok(Verdict::fail(
            format!("a server-side dry run of {manifest} was admitted"),
            hint,
        )),
        DryRun::Refused {
            code,
            reason,
            message,
        } if reason == "AlreadyExists" => Ok(Verdict::fail(
            format!(
                "{manifest} passed admission (the API server then found one of that name: {code})"
            ),
            hint,
        )
        .with("message", message)),
        DryRun::Refused { code, message, .. } => {
            let denied = matches!(code, 400 | 403) && message.contains("denied the request");
            let webhook = message.contains(".kyverno.svc");
            if denied && webhook && message.contains(policy) && message.contains(message_contains) {
                return Ok(Verdict::pass(format!("{manifest} is denied by {policy}"))
                    .with("status code", code.to_string())
                    .with("message", message.trim().to_owned()));
            }
            Ok(Verdict::fail(
                format!(
                    "{manifest} was refused ({code}), but not by {policy} for `{message_contains}`: {}",
                    message.trim()
                ),
                hint,
            ))
        }
    }
}

async fn guardrail_intact<C: Cluster>(
    cluster: &C,
    policies: &BTreeMap<String, Value>,
    namespace: &str,
) -> Decided {
    let hint = "restore the policy (`lab enforce` reapplies the lab's pack) and fix the incident without weakening it; see the runbook";
    let mut verdict = Verdict::pass(format!(
        "{} enforce on {namespace}, unchanged, with no exception",
        policies.keys().cloned().collect::<Vec<_>>().join(" and ")
    ));
    for (name, spec) in policies {
        let Some(live) = cluster.cluster_policy(name).await? else {
            return Ok(Verdict::fail(format!("policy {name} was deleted"), hint));
        };
        if live_action(&live) != Some(FailureMode::Enforce) {
            return Ok(Verdict::fail(
                format!(
                    "policy {name} is in {}, not Enforce",
                    joined(&live_entry_actions(&live))
                ),
                hint,
            ));
        }
        let changes = drift(spec, live.get("spec").unwrap_or(&Value::Null));
        if !changes.is_empty() {
            return Ok(Verdict::fail(
                format!("policy {name} was changed: {}", changes.join("; ")),
                hint,
            ));
        }
        verdict = verdict.with(&format!("policy {name}"), "Enforce, as the lab wrote it");
    }
    let webhooks = cluster.webhook_configurations().await?;
    for needed in [
        "kyverno-resource-mutating-webhook-cfg",
        "kyverno-resource-validating-webhook-cfg",
    ] {
        if !webhooks.iter().any(|w| w == needed) {
            return Ok(Verdict::fail(
                format!(
                    "Kyverno's webhook configuration {needed} is gone: nothing is admitted through Kyverno"
                ),
                "restart Kyverno's admission controller; it recreates its webhooks",
            ));
        }
    }
    for exception in cluster.policy_exceptions().await? {
        let names: Vec<&str> = exception
            .pointer("/spec/exceptions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("policyName").and_then(Value::as_str))
            .collect();
        if let Some(hit) = names.iter().find(|n| {
            let bare = n.rsplit('/').next().unwrap_or(n);
            policies.contains_key(bare)
        }) {
            let id = format!(
                "{}/{}",
                exception
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                exception
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            );
            return Ok(Verdict::fail(
                format!("PolicyException {id} exempts resources from {hit}"),
                "delete the exception: it is the guardrail switched off with extra steps",
            ));
        }
    }
    Ok(verdict.with("webhooks", "present"))
}

fn quiz_passed<W: Workdir>(workdir: &W, min_percent: Option<u8>) -> Decided {
    let (score, pass_mark) = match workdir.quiz()? {
        None => {
            return Ok(Verdict::fail(
                "the quiz has not been taken",
                "take the chapter quiz (`lab quiz`, or t in the walkthrough); your first attempt is the one recorded",
            ));
        }
        Some(QuizSeen::Recorded {
            answered,
            questions,
        }) => {
            return Ok(Verdict::pass(format!(
                "your answers are recorded ({answered} of {questions} questions answered); the quiz is graded, so `lab grade` judges them and awards its points"
            ))
            .with("first attempt", "recorded, judged by `lab grade`"));
        }
        Some(QuizSeen::Judged { score, pass_mark }) => (score, pass_mark),
    };
    let needed = min_percent.unwrap_or(pass_mark);
    if score >= needed {
        Ok(
            Verdict::pass(format!("quiz passed with {score}% (pass mark {needed}%)"))
                .with("first attempt", format!("{score}%")),
        )
    } else {
        Ok(Verdict {
            status: Status::Fail,
            message: format!("quiz scored {score}%, below the pass mark of {needed}%"),
            hint: Some("the first attempt is recorded; later attempts are practice".into()),
            evidence: vec![crate::engine::Evidence {
                what: "first attempt".into(),
                value: format!("{score}%"),
            }],
            cause: None,
        })
    }
}
