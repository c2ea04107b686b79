//! ch14's checks run against submissions packed as `lab submit` packs them: the CI build of the
//! chapter's fixtures (signed and attested with the committed TEST key) exported as the layout,
//! a hand-written record of the cluster, evidence files and a progress record.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;
use crate::content::files::CourseFiles;
use crate::engine::Status;
use crate::policy::model::FailureMode;
use crate::record::{CourseStamp, Event, RecordedCheck};
use crate::submission::archive::Limits;
use crate::submission::names::{LAYOUT_PREFIX, PUBLIC_KEY_FILE};
use crate::submission::open::open_submission;
use crate::submission::pack::{Contents, pack};
use crate::submission::sealed::SigningKey;
use crate::submission::statement::{
    Course, Image, Role, SUBMISSION_FORMAT, Signing, SigningMode, Submission, Tool,
};
use crate::supply::export::export_layout;
use crate::supply::fixture;
use crate::supply::layout::{COSIGN_KIND_ANNOTATION, KIND_ATTS, KIND_SIGS, LayoutStore};
use crate::supply::layout_source::LayoutFiles;
use crate::supply::registry::Retry;
use crate::supply::store::Store as _;
use crate::supply::{Digest, ImageRef};

const REPOSITORY: &str = "kind-registry:5000/courselab/demo";
const PROMOTED: &str = "kind-registry:5000/courselab/demo:1.4.2-ci";
/// The workstation rebuild's digest (`demo:1.4.2` of the fixtures), which no layout carries.
const WORKSTATION: &str = "sha256:7d78bbc57bfe977eac7726c624526ac7aedb52067d581361cfa31050e3d46b4d";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn keys() -> PathBuf {
    root().join("labs/ch14/tests/keys")
}

/// ch14 of this checkout, with its answer key, and its values as the grader renders them: the
/// learner's public key is the TEST signer's.
struct Ch14 {
    chapter: Chapter,
    values: BTreeMap<String, String>,
    prepared: Vec<PreparedCheck>,
}

fn ch14() -> Ch14 {
    let chapter = Chapter::find(CourseFiles::from_disk(&root()).unwrap(), "ch14").unwrap();
    let public = keys().join("test-only-signer.pub").display().to_string();
    let values = chapter
        .values(false, &[("cosign_public_key".into(), public)])
        .unwrap();
    let prepared = crate::engine::prepare(&chapter, &values).unwrap();
    Ch14 {
        chapter,
        values,
        prepared,
    }
}

impl Ch14 {
    /// The instructor's answer key.
    fn key(&self) -> AnswerKey {
        let (quiz, _) = crate::grade::quiz::find(&self.chapter).unwrap();
        let (_, key) = crate::grade::quiz::answer_key(&self.chapter, &quiz)
            .unwrap()
            .expect("the checkout holds ch14's answer key");
        key
    }

    /// The lab registry as the grader builds it: ch14's pack in Enforce, with its mirror.
    fn registry(&self) -> LabRegistry {
        let mut policies = Vec::new();
        for rel in self.chapter.pack_files(&self.values).unwrap() {
            policies.extend(
                self.chapter
                    .render_policies(&rel, &self.values, Some(FailureMode::Enforce))
                    .unwrap(),
            );
        }
        LabRegistry {
            aliases: vec!["kind-registry:5000".into()],
            host: "localhost:5001".into(),
            policies,
            retry: Retry::default(),
            layout: None,
        }
    }

    /// What a cluster where the learner finished the lab showed `lab submit`, as a recorded
    /// world: the promoted digest pinned and running, the pack in Enforce as rendered, Kyverno's
    /// webhooks, a passing report for the Pod and the unsigned Pod denied.
    fn finished_world(&self, digest: &Digest) -> Value {
        let pinned = format!("{REPOSITORY}@{digest}");
        let policies: serde_json::Map<String, Value> = self
            .chapter
            .policy_objects(&self.values, FailureMode::Enforce)
            .unwrap()
            .into_iter()
            .map(|mut policy| {
                policy["status"] = json!({"conditions": [{"type": "Ready", "status": "True"}]});
                let name = policy["metadata"]["name"].as_str().unwrap().to_owned();
                (name, policy)
            })
            .collect();
        json!({
            "workloads": {"Deployment/develop/demo": [["app", pinned]]},
            "pods": {"develop": [{"name": "demo-1", "labels": {"app": "demo"},
                                  "containers": [["app", pinned, pinned]]}]},
            "cluster_policies": policies,
            "policy_reports": {"develop": [{"scope": {"kind": "Pod", "name": "demo-1"},
                "results": [{"policy": "verify-signed-images", "rule": "verify-signature", "result": "pass", "message": "verified"}]}]},
            "webhooks": ["kyverno-resource-mutating-webhook-cfg", "kyverno-resource-validating-webhook-cfg"],
            "dry_run": {"code": 400, "reason": "BadRequest", "message": DENIAL},
        })
    }

    /// A progress record whose `audit-rollout` step was passed (its checks that hold only then
    /// passed) and whose first quiz attempt is the key's answers.
    fn progress(&self) -> Vec<u8> {
        let stamp = CourseStamp::of(&self.chapter);
        let mut progress = Progress::new("ch14");
        let passed = |check: &str| RecordedCheck {
            check: check.into(),
            status: Status::Pass,
            message: "held during the step".into(),
            evidence: Vec::new(),
        };
        let steps = [
            ("incident-hook", vec![]),
            ("pin-digest", vec![]),
            ("sbom-sign-attest", vec![]),
            ("verify-locally", vec![]),
            (
                "audit-rollout",
                vec![passed("policies-in-audit"), passed("audit-report-fail")],
            ),
        ];
        for (step, results) in steps {
            let event = Event::StepPassed {
                step: step.into(),
                results,
            };
            progress.append_at(event, "2026-12-06T10:00:00Z".into(), &stamp);
        }
        let answers = crate::grade::quiz::key_answers(&self.key());
        progress.append_at(
            crate::grade::quiz::attempt_event(&answers, true),
            "2026-12-06T10:05:00Z".into(),
            &stamp,
        );
        serde_json::to_vec_pretty(&progress).unwrap()
    }
}

const DENIAL: &str = "admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource Pod/develop/workstation-hotfix was blocked due to the following policies \n\nverify-signed-images:\n  verify-signature: 'failed to verify image kind-registry:5000/courselab/demo:1.4.2-hotfix: .attestors[0].entries[0].keys: no signatures found'";

/// The CI build exported from ch14's fixture layout as `lab submit` exports it, and its digest.
fn exported() -> (Digest, LayoutFiles) {
    let fixtures = LayoutStore::open(&root().join("labs/ch14/tests/images/demo")).unwrap();
    let reference = ImageRef::parse(PROMOTED).unwrap();
    let digest = crate::runtime::block_on(fixtures.resolve(&reference))
        .unwrap()
        .unwrap();
    let layout =
        crate::runtime::block_on(export_layout(&fixtures, &reference, &digest, LAYOUT_PREFIX))
            .unwrap()
            .unwrap();
    (digest, layout.files)
}

/// The evidence files of a learner who did every step. `cosign verify` names the image as it
/// was pushed, by this machine's name of the registry: the policies name it as the cluster
/// does, and it must still be found and verified by them.
fn evidence(digest: &Digest) -> Vec<(String, Vec<u8>)> {
    let claim = json!([{"critical": {"identity": {"docker-reference": "localhost:5001/courselab/demo"},
        "image": {"docker-manifest-digest": digest.as_str()}, "type": "cosign container image signature"},
        "optional": null}]);
    [
        ("evidence/pod-image-ids.txt", format!("{REPOSITORY}@{digest}")),
        ("evidence/cosign-verify.json", claim.to_string()),
        ("evidence/enforce-denial.txt", format!("Error from server: {DENIAL}")),
        (
            "evidence/remediation.md",
            "# Remediation\n\nThe workstation build never runs: develop stays on the promoted CI digest, and the fix goes through CI.\n".into(),
        ),
    ]
    .into_iter()
    .map(|(path, text)| (path.to_owned(), text.into_bytes()))
    .collect()
}

/// A submission packed as `lab submit` packs it, sealed with the TEST signer's key, and opened
/// as the grader opens it.
fn submit(
    digest: &Digest,
    world: &Value,
    evidence: Vec<(String, Vec<u8>)>,
    layout: LayoutFiles,
    progress: Vec<u8>,
) -> Opened {
    let mut contents = Contents::default();
    for (path, data) in evidence {
        contents
            .add(&format!("{WORK_PREFIX}{path}"), Role::Evidence, data)
            .unwrap();
    }
    contents
        .add(
            WORLD_FILE,
            Role::Cluster,
            serde_json::to_vec(world).unwrap(),
        )
        .unwrap();
    for (name, data) in layout {
        contents.add(&name, Role::Layout, data).unwrap();
    }
    let public = std::fs::read(keys().join("test-only-signer.pub")).unwrap();
    contents
        .add(PUBLIC_KEY_FILE, Role::PublicKey, public)
        .unwrap();
    contents
        .add(PROGRESS_FILE, Role::Progress, progress)
        .unwrap();
    let private = std::fs::read(keys().join("test-only-signer.key")).unwrap();
    let key = SigningKey::read(&private, b"").unwrap();
    let claimed = |check: &str| Outcome {
        step: "sbom-sign-attest".into(),
        check: check.into(),
        kind: "signature".into(),
        status: Status::Pass,
        message: "verified when submitted".into(),
        observed: Vec::new(),
    };
    let predicate = Submission {
        format: SUBMISSION_FORMAT,
        learner: "ada".into(),
        chapter: "ch14".into(),
        course: Course {
            lab: "ch14".into(),
            version: None,
            digest: format!("sha256:{}", "1".repeat(64)),
        },
        tool: Tool {
            name: "lab".into(),
            version: "0.1.0".into(),
        },
        claimed_time: "2026-12-06T10:10:00Z".into(),
        signing: Signing {
            mode: SigningMode::Key,
            public_key: PUBLIC_KEY_FILE.into(),
            identity: None,
        },
        values: Default::default(),
        image: Some(Image {
            repository: REPOSITORY.into(),
            digest: digest.as_str().into(),
            layout: LAYOUT_PREFIX.into(),
            layers_included: false,
        }),
        checks: vec![claimed("image-signed"), claimed("sbom-attested")],
        files: Vec::new(),
    };
    let archive = pack(contents, predicate, &key).unwrap();
    let opened = open_submission(&archive, Limits::default(), None).unwrap();
    assert_eq!(opened.tampering, []);
    opened
}

fn regrade(ch14: &Ch14, opened: &Opened) -> BTreeMap<String, Regraded> {
    let backends = SubmissionBackends::open(
        opened,
        &ch14.chapter,
        &ch14.prepared,
        ch14.registry(),
        Some(ch14.key()),
    )
    .unwrap();
    let runner = CheckRunner::for_submission(ch14.prepared.clone(), backends).unwrap();
    let regraded = runner.regrade(&opened.statement.predicate.checks).unwrap();
    assert_eq!(regraded.len(), ch14.prepared.len(), "one result per check");
    regraded
        .into_iter()
        .map(|r| (r.result.check.clone(), r))
        .collect()
}

fn summary(regraded: &BTreeMap<String, Regraded>) -> String {
    regraded
        .values()
        .map(|r| {
            format!(
                "{}: {:?} {:?} {}\n",
                r.result.check, r.basis, r.result.status, r.result.message
            )
        })
        .collect()
}

#[test]
fn a_finished_lab_regrades_every_check_from_the_archive_alone() {
    let ch14 = ch14();
    let (digest, layout) = exported();
    let world = ch14.finished_world(&digest);
    let opened = submit(&digest, &world, evidence(&digest), layout, ch14.progress());
    let regraded = regrade(&ch14, &opened);
    let all = summary(&regraded);
    assert!(
        regraded.values().all(|r| r.result.status == Status::Pass),
        "{all}"
    );
    let basis_of = |id: &str| regraded[id].basis;
    for id in [
        "image-signed",
        "sbom-attested",
        "pod-image-ids-evidence",
        "cosign-verify-evidence",
        "denial-evidence",
        "remediation-note",
        "quiz-passed",
    ] {
        assert_eq!(basis_of(id), Basis::Reverified, "{id}\n{all}");
    }
    for id in [
        "deployment-pinned",
        "running-digest-matches",
        "promoted-report-pass",
        "policies-enforcing",
        "unsigned-denied",
        "guardrail-intact",
        // Held only during its step: the record's result stands in.
        "policies-in-audit",
        "audit-report-fail",
    ] {
        assert_eq!(basis_of(id), Basis::Recorded, "{id}\n{all}");
    }
    let signed = &regraded["image-signed"];
    assert!(
        signed
            .result
            .evidence
            .iter()
            .any(|e| e.what == "digest" && e.value == digest.as_str()),
        "{all}"
    );
    assert_eq!(
        signed.submitted.as_ref().map(|o| o.status),
        Some(Status::Pass)
    );
    assert!(regraded["deployment-pinned"].submitted.is_none());
    // The graded quiz is judged with the instructor's key, not merely counted.
    assert!(
        regraded["quiz-passed"].result.message.contains("100"),
        "{all}"
    );
}

/// A cosign signature manifest and attestation manifest of `digest`, made with the TEST key the
/// policies do not trust, put in place of the layout's own.
fn signed_by_another_key(digest: &Digest, mut layout: LayoutFiles) -> LayoutFiles {
    let pem = std::fs::read(keys().join("test-only-other-signer.key")).unwrap();
    let other = fixture::SigningKey::from_pem(&pem).unwrap();
    let sig = fixture::signature_manifest(REPOSITORY, digest, &[&other]).unwrap();
    let statement = fixture::statement(
        REPOSITORY,
        digest,
        fixture::SPDX_PREDICATE_TYPE,
        fixture::spdx_document("demo"),
    );
    let envelope = fixture::envelope(&statement, &other).unwrap();
    let att = fixture::attestation_manifest(vec![(envelope, fixture::SPDX_PREDICATE_TYPE.into())]);
    let index_name = format!("{LAYOUT_PREFIX}/index.json");
    let mut index: Value = serde_json::from_slice(&layout[&index_name]).unwrap();
    for (built, kind) in [(sig, KIND_SIGS), (att, KIND_ATTS)] {
        for blob in built.blobs.iter().chain([&built.bytes]) {
            let name = Digest::sha256_of(blob);
            layout.insert(
                format!("{LAYOUT_PREFIX}/blobs/sha256/{}", name.hex()),
                blob.clone(),
            );
        }
        let entry = index["manifests"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|e| e["annotations"][COSIGN_KIND_ANNOTATION] == kind)
            .expect("the export holds the signature and the attestation");
        entry["digest"] = json!(built.digest.as_str());
        entry["size"] = json!(built.bytes.len());
    }
    layout.insert(index_name, serde_json::to_vec(&index).unwrap());
    layout
}

// What `lab submit` recorded (both passed) is the learner's word; the layout is verified again.
#[test]
fn signatures_by_a_key_the_policies_do_not_trust_fail_though_the_statement_says_they_passed() {
    let ch14 = ch14();
    let (digest, layout) = exported();
    let world = ch14.finished_world(&digest);
    let swapped = signed_by_another_key(&digest, layout);
    let opened = submit(&digest, &world, evidence(&digest), swapped, ch14.progress());
    let regraded = regrade(&ch14, &opened);
    let all = summary(&regraded);
    for id in ["image-signed", "sbom-attested", "cosign-verify-evidence"] {
        let r = &regraded[id];
        assert_eq!(r.result.status, Status::Fail, "{id}\n{all}");
        assert_eq!(r.basis, Basis::Reverified, "{id}");
    }
    assert_eq!(
        regraded["image-signed"]
            .submitted
            .as_ref()
            .map(|o| o.status),
        Some(Status::Pass),
        "the statement still claims it"
    );
    // The cluster's record is untouched: what it showed still passes.
    assert_eq!(
        regraded["running-digest-matches"].result.status,
        Status::Pass
    );
}

#[test]
fn cluster_checks_pass_or_fail_as_the_recorded_world_says() {
    let ch14 = ch14();
    let (digest, layout) = exported();
    let mut world = ch14.finished_world(&digest);
    world["workloads"]["Deployment/develop/demo"] = json!([["app", format!("{REPOSITORY}:1.4.2")]]);
    world["pods"]["develop"][0]["containers"] = json!([[
        "app",
        format!("{REPOSITORY}:1.4.2"),
        format!("{REPOSITORY}@{WORKSTATION}")
    ]]);
    world["cluster_policies"]["verify-signed-images"]["spec"]["rules"][0]["verifyImages"][0]["failureAction"] =
        json!("Audit");
    world["webhooks"] = json!([]);
    let opened = submit(&digest, &world, evidence(&digest), layout, ch14.progress());
    let regraded = regrade(&ch14, &opened);
    let all = summary(&regraded);
    for id in [
        "deployment-pinned",
        "running-digest-matches",
        "policies-enforcing",
        "guardrail-intact",
    ] {
        let r = &regraded[id];
        assert_eq!(
            (r.result.status, r.basis),
            (Status::Fail, Basis::Recorded),
            "{id}\n{all}"
        );
    }
    assert!(
        regraded["running-digest-matches"]
            .result
            .message
            .contains(WORKSTATION),
        "{all}"
    );
    // What the archive carries is judged as before.
    assert_eq!(
        regraded["image-signed"].result.status,
        Status::Pass,
        "{all}"
    );
}

#[test]
fn an_evidence_file_absent_from_the_archive_fails_and_one_naming_an_image_it_does_not_carry_errs() {
    let ch14 = ch14();
    let (digest, layout) = exported();
    let world = ch14.finished_world(&digest);
    let mut files = evidence(&digest);
    files.retain(|(path, _)| path != "evidence/remediation.md");
    for (path, data) in &mut files {
        if path == "evidence/pod-image-ids.txt" {
            *data = format!("{REPOSITORY}@{WORKSTATION}").into_bytes();
        }
    }
    let opened = submit(&digest, &world, files, layout, ch14.progress());
    let regraded = regrade(&ch14, &opened);
    let all = summary(&regraded);
    let note = &regraded["remediation-note"].result;
    assert_eq!(note.status, Status::Fail, "{all}");
    assert_eq!(note.message, "evidence/remediation.md does not exist");
    // The workstation build is not in the layout: that is no proof the registry lacked it.
    let ids = &regraded["pod-image-ids-evidence"].result;
    assert_eq!(ids.status, Status::Error, "{all}");
    assert!(
        ids.message.contains("cannot be looked up offline")
            && ids
                .message
                .contains(&format!("carries only {REPOSITORY}@{digest}")),
        "{}",
        ids.message
    );
}

#[test]
fn a_submission_without_the_clusters_record_is_refused_with_what_to_do() {
    let ch14 = ch14();
    let (digest, layout) = exported();
    let world = ch14.finished_world(&digest);
    let mut opened = submit(&digest, &world, evidence(&digest), layout, ch14.progress());
    std::sync::Arc::make_mut(&mut opened.files).remove(WORLD_FILE);
    let err = SubmissionBackends::open(
        &opened,
        &ch14.chapter,
        &ch14.prepared,
        ch14.registry(),
        None,
    )
    .err()
    .unwrap();
    assert_eq!(err.exit_code(), crate::exit_code::BAD_CONTENT_OR_USAGE);
    assert!(
        err.to_string()
            .starts_with("the submission of ada holds no cluster/world.json"),
        "{err}"
    );
}

#[test]
fn evidence_in_the_archive_is_held_to_the_working_folders_limits() {
    let ch14 = ch14();
    let files = Files::from([
        (
            "work/big.txt".to_owned(),
            vec![b'a'; EVIDENCE_LIMIT as usize + 1],
        ),
        ("work/binary.txt".to_owned(), vec![0xff, 0xfe]),
        ("work/ok.txt".to_owned(), b"fine".to_vec()),
        ("elsewhere.txt".to_owned(), b"not evidence".to_vec()),
    ]);
    let workdir = SubmissionWorkdir::of(&files, &ch14.chapter, None);
    assert_eq!(workdir.read("ok.txt").unwrap().as_deref(), Some("fine"));
    assert_eq!(workdir.read("elsewhere.txt").unwrap(), None);
    assert!(matches!(
        workdir.read("big.txt"),
        Err(ObserveError::Unusable { reason, .. }) if reason.contains("more than the 1048576")
    ));
    assert!(matches!(
        workdir.read("binary.txt"),
        Err(ObserveError::Unusable { reason, .. }) if reason == "it is not UTF-8 text"
    ));
    assert!(matches!(
        workdir.read("../progress.json"),
        Err(ObserveError::Content { .. })
    ));
    // No record: no attempt; a record that is not one is not as `lab` wrote it.
    assert_eq!(workdir.quiz().unwrap(), None);
    let mut files = files;
    files.insert(PROGRESS_FILE.to_owned(), b"{\"token\": \"s3cret\"".to_vec());
    let workdir = SubmissionWorkdir::of(&files, &ch14.chapter, None);
    match workdir.quiz() {
        Err(ObserveError::Tampered(message)) => {
            assert!(message.contains("progress.json"), "{message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_graded_quiz_without_the_key_is_only_counted() {
    let ch14 = ch14();
    let files = Files::from([(PROGRESS_FILE.to_owned(), ch14.progress())]);
    let counted = SubmissionWorkdir::of(&files, &ch14.chapter, None);
    assert!(matches!(
        counted.quiz().unwrap(),
        Some(QuizSeen::Recorded { answered, questions }) if answered == questions
    ));
    let judged = SubmissionWorkdir::of(&files, &ch14.chapter, Some(ch14.key()));
    assert!(matches!(
        judged.quiz().unwrap(),
        Some(QuizSeen::Judged { score: 100, .. })
    ));
}
