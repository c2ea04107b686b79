//! The check kinds against fake backends: each fail state a learner can reach, with the
//! message that explains it, and the pass state beside it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::kinds::Kind;
use super::observe::{
    Cluster, DryRun, Observe, ObserveError, PodView, QuizSeen, Registry, RolloutView, Verification,
    Workdir,
};
use super::reports::{ReportFilter, pods_without_report};
use super::result::{Status, Verdict};
use crate::content::model::{EvidenceFormat, ReportResult};
use crate::supply::Digest;

const A: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const B: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

#[derive(Default)]
struct Fake {
    pods: Vec<PodView>,
    rollouts: Vec<RolloutView>,
    policies: BTreeMap<String, Value>,
    reports: Vec<Value>,
    dry_run: Option<DryRun>,
    digests: BTreeMap<String, String>,
    verified: Option<Verification>,
    files: BTreeMap<String, String>,
    quiz: Option<QuizSeen>,
    unreachable: bool,
}

impl Cluster for Fake {
    async fn workload_images(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<Option<Vec<(String, String)>>, ObserveError> {
        Ok(Some(vec![("app".into(), format!("r/demo@{A}"))]))
    }
    async fn pods(&self, _: &str, _: &str) -> Result<Vec<PodView>, ObserveError> {
        Ok(self.pods.clone())
    }
    async fn rollouts(&self, _: &str, _: &str) -> Result<Vec<RolloutView>, ObserveError> {
        Ok(self.rollouts.clone())
    }
    async fn cluster_policy(&self, name: &str) -> Result<Option<Value>, ObserveError> {
        Ok(self.policies.get(name).cloned())
    }
    async fn policy_reports(&self, _: &str) -> Result<Vec<Value>, ObserveError> {
        Ok(self.reports.clone())
    }
    async fn policy_exceptions(&self) -> Result<Vec<Value>, ObserveError> {
        Ok(Vec::new())
    }
    async fn webhook_configurations(&self) -> Result<Vec<String>, ObserveError> {
        Ok(vec![
            "kyverno-resource-mutating-webhook-cfg".into(),
            "kyverno-resource-validating-webhook-cfg".into(),
        ])
    }
    async fn dry_run_create(&self, _: &Value) -> Result<DryRun, ObserveError> {
        Ok(self.dry_run.clone().unwrap_or(DryRun::Admitted))
    }
}

impl Registry for Fake {
    async fn resolve(&self, image: &str) -> Result<Option<Digest>, ObserveError> {
        if self.unreachable {
            return Err(ObserveError::Unreachable {
                what: "registry r".into(),
                reason: "connection refused".into(),
            });
        }
        Ok(self.digests.get(image).map(|d| Digest::parse(d).unwrap()))
    }
    async fn verify(&self, _: &str, _: Option<&str>) -> Result<Verification, ObserveError> {
        Ok(self.verified.clone().unwrap_or(Verification::NotFound))
    }
}

impl Workdir for Fake {
    fn read(&self, path: &str) -> Result<Option<String>, ObserveError> {
        Ok(self.files.get(path).cloned())
    }
    fn quiz(&self) -> Result<Option<QuizSeen>, ObserveError> {
        Ok(self.quiz)
    }
}

fn decide(kind: &Kind, fake: &Fake) -> Verdict {
    let world = Observe {
        cluster: fake,
        registry: fake,
        workdir: fake,
    };
    crate::runtime::block_on(kind.decide(&world)).unwrap()
}

fn evidence(path: &str, format: EvidenceFormat) -> Kind {
    Kind::EvidenceFile {
        path: path.into(),
        format,
        policies: vec!["verify-signed-images".into()],
        repositories: vec!["r/demo".into()],
    }
}

fn pod(name: &str, image_id: &str) -> PodView {
    PodView {
        name: name.into(),
        phase: "Running".into(),
        containers: vec![("app".into(), "r/demo:1.4.2".into(), image_id.into())],
        ready: true,
        ..PodView::default()
    }
}

#[test]
fn pod_image_ids_must_exist_parse_and_name_digests_the_registry_holds() {
    let kind = evidence("evidence/ids.txt", EvidenceFormat::PodImageIds);
    let mut fake = Fake::default();
    let v = decide(&kind, &fake);
    assert_eq!(
        (v.status, v.message.as_str()),
        (Status::Fail, "evidence/ids.txt does not exist")
    );
    fake.files
        .insert("evidence/ids.txt".into(), "r/demo:1.4.2".into());
    assert!(
        decide(&kind, &fake)
            .message
            .contains("is not what the step saves")
    );
    fake.files
        .insert("evidence/ids.txt".into(), format!("r/demo@{A}"));
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Fail);
    assert!(
        v.message.contains("which the lab registry does not hold"),
        "{}",
        v.message
    );
    fake.digests.insert(format!("r/demo@{A}"), A.into());
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Pass, "{}", v.message);
    assert_eq!(v.evidence[0].value, format!("r/demo@{A}"));
}

// A bare `sha256:000...0` passed the pod-image-ids check with no registry lookup.
#[test]
fn a_bare_digest_must_be_in_a_repository_the_lab_knows() {
    let kind = evidence("evidence/ids.txt", EvidenceFormat::PodImageIds);
    let mut fake = Fake::default();
    let zeros = format!("sha256:{}", "0".repeat(64));
    fake.files.insert("evidence/ids.txt".into(), zeros.clone());
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Fail, "{}", v.message);
    assert!(
        v.message.contains(&format!(
            "names {zeros}, which the lab registry does not hold"
        )),
        "{}",
        v.message
    );
    fake.files.insert("evidence/ids.txt".into(), A.into());
    fake.digests.insert(format!("r/demo@{A}"), A.into());
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Pass, "{}", v.message);
    assert_eq!(v.evidence[0].value, format!("r/demo@{A}"));
}

#[test]
fn cosign_output_passes_only_when_its_signature_verifies_now() {
    let kind = evidence(
        "evidence/cosign-verify.json",
        EvidenceFormat::CosignVerifyJson,
    );
    let payload = json!([{"critical": {"identity": {"docker-reference": "r/demo"}, "image": {"docker-manifest-digest": A}, "type": "cosign container image signature"}, "optional": null}]);
    let mut fake = Fake::default();
    fake.files
        .insert("evidence/cosign-verify.json".into(), payload.to_string());
    fake.verified = Some(Verification::NotVerified {
        digest: Digest::parse(A).unwrap(),
        reason: "no matching signatures".into(),
    });
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Fail);
    assert!(
        v.message.contains(A) && v.message.contains("no signature on it verifies"),
        "{}",
        v.message
    );
    fake.verified = Some(Verification::Verified {
        digest: Digest::parse(A).unwrap(),
        count: 1,
    });
    assert_eq!(decide(&kind, &fake).status, Status::Pass);
}

#[test]
fn a_denial_must_be_one_and_name_a_policy_of_the_pack() {
    let kind = evidence("evidence/denial.txt", EvidenceFormat::AdmissionDenial);
    let mut fake = Fake::default();
    fake.files.insert(
        "evidence/denial.txt".into(),
        "pod/workstation-hotfix created\n".into(),
    );
    assert!(
        decide(&kind, &fake)
            .message
            .contains("holds no admission denial")
    );
    fake.files.insert(
        "evidence/denial.txt".into(),
        "admission webhook \"x\" denied the request: other-policy".into(),
    );
    assert!(
        decide(&kind, &fake)
            .message
            .contains("names none of the lab's policies")
    );
    fake.files.insert(
        "evidence/denial.txt".into(),
        "Error from server: admission webhook \"mutate.kyverno.svc-fail\" denied the request: verify-signed-images: no signatures found".into(),
    );
    assert_eq!(decide(&kind, &fake).status, Status::Pass);
}

#[test]
fn a_remediation_note_needs_words_beyond_its_headings() {
    let kind = evidence("evidence/remediation.md", EvidenceFormat::Markdown);
    let mut fake = Fake::default();
    fake.files.insert(
        "evidence/remediation.md".into(),
        "# Remediation\n\nTODO\n".into(),
    );
    let v = decide(&kind, &fake);
    assert_eq!(
        (v.status, v.message.as_str()),
        (
            Status::Fail,
            "evidence/remediation.md has 1 word(s) of text"
        )
    );
    fake.files.insert(
        "evidence/remediation.md".into(),
        "Rolled back by digest to the CI build and kept both policies enforcing.\n".into(),
    );
    assert_eq!(decide(&kind, &fake).status, Status::Pass);
}

#[test]
fn running_digest_fails_for_pods_not_started_or_on_another_digest_and_ignores_terminating_ones() {
    let kind = Kind::RunningDigest {
        namespace: "develop".into(),
        selector: "app=demo".into(),
        repository: "r/demo".into(),
        image: "r/demo:1.4.2-ci".into(),
    };
    let mut fake = Fake::default();
    let v = decide(&kind, &fake);
    assert!(
        v.message
            .contains("r/demo:1.4.2-ci is not in the lab registry"),
        "{}",
        v.message
    );
    fake.digests.insert("r/demo:1.4.2-ci".into(), A.into());
    assert!(
        decide(&kind, &fake)
            .message
            .contains("no pod in develop matches app=demo")
    );
    fake.pods = vec![pod("demo-1", "")];
    assert!(
        decide(&kind, &fake)
            .message
            .contains("pod demo-1/app has not started an image yet")
    );
    fake.pods = vec![pod("demo-1", &format!("r/demo@{B}"))];
    let v = decide(&kind, &fake);
    assert_eq!(
        v.message,
        format!("pod demo-1/app runs {B}, not the promoted {A}")
    );
    let mut old = pod("demo-0", &format!("r/demo@{B}"));
    old.terminating = true;
    fake.pods = vec![old, pod("demo-1", &format!("r/demo@{A}"))];
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Pass, "{}", v.message);
}

#[test]
fn admission_denied_tells_an_admission_from_a_refusal_for_another_reason() {
    let kind = Kind::AdmissionDenied {
        manifest: "labs/ch14/manifests/workstation-hotfix-pod.yaml".into(),
        object: json!({}),
        policy: "verify-signed-images".into(),
        message_contains: "no signatures found".into(),
    };
    let mut fake = Fake::default();
    assert!(decide(&kind, &fake).message.contains("was admitted"));
    fake.dry_run = Some(DryRun::Refused {
        code: 409,
        reason: "AlreadyExists".into(),
        message: "pods \"workstation-hotfix\" already exists".into(),
    });
    assert!(
        decide(&kind, &fake)
            .message
            .contains("passed admission (the API server then found one of that name")
    );
    fake.dry_run = Some(DryRun::Refused {
        code: 403,
        reason: "Forbidden".into(),
        message: "pods is forbidden: exceeded quota".into(),
    });
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Fail);
    assert!(
        v.message.contains("but not by verify-signed-images"),
        "{}",
        v.message
    );
    for code in [400, 403] {
        fake.dry_run = Some(DryRun::Refused {
            code,
            reason: String::new(),
            message: "admission webhook \"mutate.kyverno.svc-fail\" denied the request: \n\nresource Pod/develop/workstation-hotfix was blocked due to the following policies \n\nverify-signed-images:\n  verify-signature: 'failed to verify image r/demo:1.4.2-hotfix: .attestors[0].entries[0].keys: no signatures found'\n".into(),
        });
        let v = decide(&kind, &fake);
        assert_eq!(v.status, Status::Pass, "{code}: {}", v.message);
    }
}

fn report_check(result: ReportResult, about: ReportFilter) -> Kind {
    Kind::PolicyReport {
        namespace: "develop".into(),
        policy: "verify-signed-images".into(),
        rule: "verify-signature".into(),
        result,
        about,
    }
}

/// A Kyverno v1.19 report: one per resource, the resource under `scope`.
fn report(kind: &str, name: &str, result: &str) -> Value {
    json!({"metadata": {"name": format!("uid-{name}")}, "scope": {"kind": kind, "name": name},
    "results": [{"policy": "verify-signed-images", "rule": "verify-signature", "result": result, "message": "m"}]})
}

fn running(name: &str, image: &str, image_id: &str) -> PodView {
    PodView {
        containers: vec![("app".into(), image.into(), image_id.into())],
        ..pod(name, "")
    }
}

#[test]
fn a_policy_report_with_another_result_says_what_it_reports() {
    let kind = report_check(ReportResult::Fail, ReportFilter::default());
    let mut fake = Fake::default();
    assert!(decide(&kind, &fake).message.contains(
        "no PolicyReport in develop has a result for verify-signed-images/verify-signature"
    ));
    fake.pods = vec![pod("workstation-hotfix", "")];
    fake.reports = vec![report("Pod", "workstation-hotfix", "pass")];
    assert_eq!(
        decide(&kind, &fake).message,
        "verify-signed-images/verify-signature in develop is reported as Pod workstation-hotfix: pass, not fail"
    );
    fake.reports = vec![report("Pod", "workstation-hotfix", "fail")];
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Pass, "{}", v.message);
    assert_eq!(v.evidence[0].value, "uid-workstation-hotfix");
}

// ch14's audit-report-fail passed as soon as its step opened: it read the report of the CI Pod
// an earlier step rolled out, not the workstation Pod the step asks for.
#[test]
fn a_policy_report_check_reads_only_the_resource_it_names() {
    let kind = report_check(
        ReportResult::Fail,
        ReportFilter {
            resource: Some(("Pod".into(), "workstation-hotfix".into())),
            image: None,
        },
    );
    let mut fake = Fake {
        pods: vec![running("demo-1", &format!("r/demo@{A}"), "")],
        reports: vec![report("Pod", "demo-1", "fail")],
        ..Fake::default()
    };
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Fail);
    assert_eq!(
        v.message,
        "no PolicyReport in develop has a result for verify-signed-images/verify-signature about Pod workstation-hotfix (its results are about Pod demo-1: fail)"
    );
    assert!(
        v.hint
            .as_deref()
            .unwrap()
            .starts_with("create Pod workstation-hotfix as the step says"),
        "{:?}",
        v.hint
    );
    fake.pods.push(pod("workstation-hotfix", ""));
    fake.reports
        .push(report("Pod", "workstation-hotfix", "fail"));
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Pass, "{}", v.message);
    assert_eq!(
        v.message,
        "Pod workstation-hotfix: verify-signed-images/verify-signature = fail"
    );
}

#[test]
fn a_policy_report_check_by_image_reads_the_pods_running_its_digest_and_every_one_must_pass() {
    let kind = report_check(
        ReportResult::Pass,
        ReportFilter {
            resource: None,
            image: Some("r/demo:1.4.2-ci".into()),
        },
    );
    let mut fake = Fake::default();
    fake.digests.insert("r/demo:1.4.2-ci".into(), A.into());
    // A Pod admitted before the digest was signed keeps its `fail`; the hotfix is another image.
    fake.pods = vec![
        running("demo-old", &format!("r/demo@{A}"), ""),
        running("hotfix", "r/demo:1.4.2-hotfix", &format!("r/demo@{B}")),
    ];
    fake.reports = vec![
        report("Pod", "demo-old", "fail"),
        report("Pod", "hotfix", "fail"),
    ];
    let v = decide(&kind, &fake);
    assert_eq!(
        v.message,
        "verify-signed-images/verify-signature about a resource running r/demo:1.4.2-ci in develop is reported as Pod demo-old: fail, not pass"
    );
    assert!(
        v.hint
            .as_deref()
            .unwrap()
            .contains("kubectl rollout restart -n develop")
    );
    // Restarted: the old Pod is on its way out, and its report with it; the new one passes,
    // started from the tag (its imageID names the digest).
    fake.pods[0].terminating = true;
    fake.pods.push(running(
        "demo-new",
        "r/demo:1.4.2-ci",
        &format!("r/demo@{A}"),
    ));
    fake.reports.push(report("Pod", "demo-new", "pass"));
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Pass, "{}", v.message);
    assert_eq!(
        v.message,
        "Pod demo-new: verify-signed-images/verify-signature = pass"
    );
    assert!(v.evidence.iter().any(|e| e.value == A), "{:?}", v.evidence);
}

#[test]
fn a_policy_report_about_a_pod_that_is_gone_or_another_image_is_not_read() {
    let kind = report_check(
        ReportResult::Pass,
        ReportFilter {
            resource: None,
            image: Some(format!("r/demo@{A}")),
        },
    );
    let mut fake = Fake::default();
    fake.digests.insert(format!("r/demo@{A}"), A.into());
    fake.pods = vec![running("other", &format!("r/other@{A}"), "")];
    fake.reports = vec![
        report("Pod", "gone", "fail"),
        report("Pod", "other", "pass"),
    ];
    let v = decide(&kind, &fake);
    assert_eq!(
        v.message,
        format!(
            "no PolicyReport in develop has a result for verify-signed-images/verify-signature about a resource running r/demo@{A} (its results are about Pod other: pass)"
        )
    );
    // A workload's report is about its pod template (the fake's Deployment runs r/demo@A).
    fake.reports.push(report("Deployment", "demo", "pass"));
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Pass, "{}", v.message);
    assert_eq!(
        v.message,
        "Deployment demo: verify-signed-images/verify-signature = pass"
    );
}

#[test]
fn pods_without_a_report_are_named_until_kyverno_writes_theirs() {
    let mut fake = Fake::default();
    let mut leaving = pod("leaving", "");
    leaving.terminating = true;
    fake.pods = vec![pod("demo-1", ""), pod("hotfix", ""), leaving];
    fake.reports = vec![
        report("Pod", "hotfix", "fail"),
        report("Deployment", "demo-1", "fail"),
    ];
    let missing = crate::runtime::block_on(pods_without_report(&fake, "develop"))
        .unwrap()
        .unwrap();
    assert_eq!(missing, ["demo-1"]);
    fake.reports.push(report("Pod", "demo-1", "fail"));
    let missing = crate::runtime::block_on(pods_without_report(&fake, "develop"))
        .unwrap()
        .unwrap();
    assert!(missing.is_empty(), "{missing:?}");
}

#[test]
fn the_quiz_passes_at_its_pass_mark_or_the_checks_own() {
    let mut fake = Fake::default();
    let kind = Kind::QuizPassed { min_percent: None };
    assert!(decide(&kind, &fake).message.contains("not been taken"));
    fake.quiz = Some(QuizSeen::Judged {
        score: 70,
        pass_mark: 80,
    });
    assert_eq!(
        decide(&kind, &fake).message,
        "quiz scored 70%, below the pass mark of 80%"
    );
    assert_eq!(
        decide(
            &Kind::QuizPassed {
                min_percent: Some(60)
            },
            &fake
        )
        .status,
        Status::Pass
    );
    // A graded quiz's check sees only that the answers are recorded.
    fake.quiz = Some(QuizSeen::Recorded {
        answered: 3,
        questions: 4,
    });
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Pass);
    assert!(
        v.message.contains("`lab grade` judges them"),
        "{}",
        v.message
    );
}

#[test]
fn an_unreachable_registry_is_an_error_not_a_fail() {
    let fake = Fake {
        unreachable: true,
        ..Fake::default()
    };
    let kind = Kind::RunningDigest {
        namespace: "d".into(),
        selector: "a=b".into(),
        repository: "r/demo".into(),
        image: "r/demo:1".into(),
    };
    let v = decide(&kind, &fake);
    assert_eq!(v.status, Status::Error);
    assert_eq!(v.cause, Some(super::result::Cause::Unreachable));
    assert_eq!(v.message, "cannot reach registry r: connection refused");
}

#[test]
fn check_results_read_as_a_learner_sees_them() {
    use super::result::CheckResult;
    let result = |check: &str, status: Status, message: &str, hint: Option<&str>| CheckResult {
        step: "pin-digest".into(),
        check: check.into(),
        title: format!("the {check} check"),
        kind: "running-digest",
        status,
        message: message.into(),
        hint: hint.map(str::to_owned),
        evidence: Vec::new(),
        cause: None,
        elapsed_ms: 3,
    };
    let results = [
        result(
            "deployment-pinned",
            Status::Pass,
            "every container is pinned",
            None,
        ),
        result(
            "running-digest-matches",
            Status::Fail,
            "pod demo-1/app runs sha256:2222, not the promoted sha256:1111",
            Some("deploy the promoted build by digest"),
        ),
        result(
            "image-signed",
            Status::Error,
            "cannot reach registry r: connection refused",
            Some("check that the lab is running (`lab status`)"),
        ),
    ];
    insta::assert_snapshot!(crate::report::checks::human(&results), @r"
    pin-digest
      pass  deployment-pinned: the deployment-pinned check
      FAIL  running-digest-matches: the running-digest-matches check
            pod demo-1/app runs sha256:2222, not the promoted sha256:1111
            try: deploy the promoted build by digest
      ERROR image-signed: the image-signed check
            cannot reach registry r: connection refused
            try: check that the lab is running (`lab status`)
    1 passed, 1 failed, 1 could not run
    ");
}

/// Runs `kind` as the engine does, with `settle`, on tokio's paused clock: the waits, as
/// long as they are, take no real time. Returns the result, the waits announced, and how
/// long it took on that clock.
fn run_settling(
    kind: Kind,
    fake: &Fake,
    settle: Duration,
) -> (super::CheckResult, Vec<String>, Duration) {
    let told = std::cell::RefCell::new(Vec::new());
    let on_wait = |w: &super::Waiting| told.borrow_mut().push(w.to_string());
    let engine = super::Engine {
        world: Observe {
            cluster: fake,
            registry: fake,
            workdir: fake,
        },
        settle,
        on_wait: &on_wait,
    };
    let check = super::PreparedCheck {
        step: "pin-digest".into(),
        id: "running".into(),
        title: "the pods run the promoted digest".into(),
        kind,
        invariant: false,
        during_step_only: false,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let (result, took) = runtime.block_on(async {
        let started = tokio::time::Instant::now();
        let result = engine.run(&check).await;
        (result, started.elapsed())
    });
    (result, told.into_inner(), took)
}

fn running_digest() -> Kind {
    Kind::RunningDigest {
        namespace: "develop".into(),
        selector: "app=demo".into(),
        repository: "r/demo".into(),
        image: "r/demo:1.4.2-ci".into(),
    }
}

// `lab check` waited the whole --wait (30 s) for every failing settling check, silently, on a
// lab where nothing was going to change.
#[test]
fn a_failing_check_with_nothing_settling_fails_at_once() {
    let mut fake = Fake::default();
    fake.digests.insert("r/demo:1.4.2-ci".into(), A.into());
    fake.pods = vec![pod("demo-1", &format!("r/demo@{B}"))];
    let (result, told, took) = run_settling(running_digest(), &fake, Duration::from_secs(30));
    assert_eq!(result.status, Status::Fail);
    assert_eq!(told, Vec::<String>::new());
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn a_failing_check_waits_while_a_rollout_is_in_progress_and_says_so_once() {
    let mut fake = Fake::default();
    fake.digests.insert("r/demo:1.4.2-ci".into(), A.into());
    fake.pods = vec![pod("demo-1", &format!("r/demo@{B}"))];
    fake.rollouts = vec![RolloutView {
        name: "demo".into(),
        generation: 2,
        observed_generation: 2,
        replicas: 1,
        updated: 1,
        available: 0,
        total: 2,
        stalled: false,
    }];
    let (result, told, took) = run_settling(running_digest(), &fake, Duration::from_secs(30));
    assert_eq!(result.status, Status::Fail);
    assert_eq!(
        told,
        ["waiting up to 30 s for deployment develop/demo to finish its rollout"]
    );
    assert!(
        took >= Duration::from_secs(29) && took <= Duration::from_secs(30),
        "the wait is bounded by --wait: {took:?}"
    );
    // The same rollout with its new Pod unable to pull: nothing to wait for.
    let mut stuck = pod("demo-2", "");
    stuck.ready = false;
    stuck.waiting = Some("ImagePullBackOff".into());
    fake.pods.push(stuck);
    let (result, told, took) = run_settling(running_digest(), &fake, Duration::from_secs(30));
    assert_eq!(result.status, Status::Fail);
    assert_eq!(told, Vec::<String>::new());
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn a_report_is_waited_for_only_until_its_window_after_admission_ends() {
    let kind = report_check(ReportResult::Fail, ReportFilter::default());
    let mut fake = Fake::default();
    let mut young = pod("workstation-hotfix", "");
    young.age = Some(Duration::from_secs(25));
    fake.pods = vec![young];
    let (result, told, took) = run_settling(kind, &fake, Duration::from_secs(30));
    assert_eq!(result.status, Status::Fail);
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].starts_with(
            "waiting up to 5 s for Kyverno's report on pod develop/workstation-hotfix"
        ),
        "{told:?}"
    );
    // The fake's Pod does not age: the bound from the first look is what ends the wait.
    assert!(
        took >= Duration::from_secs(4) && took <= Duration::from_secs(6),
        "{took:?}"
    );
}

#[test]
fn a_report_check_about_one_pod_does_not_wait_for_a_neighbours_report() {
    let about = ReportFilter {
        resource: Some(("Pod".into(), "workstation-hotfix".into())),
        image: None,
    };
    let mut fake = Fake::default();
    let mut neighbour = pod("demo-7d9f", "");
    neighbour.age = Some(Duration::from_secs(3));
    fake.pods = vec![neighbour];
    let (result, told, took) = run_settling(
        report_check(ReportResult::Fail, about),
        &fake,
        Duration::from_secs(30),
    );
    assert_eq!(result.status, Status::Fail);
    assert_eq!(told, Vec::<String>::new());
    assert!(took < Duration::from_secs(1), "{took:?}");
}
